"""The captured agent corpus: real Claude Code and Codex requests carrying their own tools' outputs.

Each case is one request body exactly as the agent sent it (captured by scripts/capture_agents.py: the
real CLI driven by the fake upstream to run its built-in tools on real code bases), the user's question(s)
and the facts: exact strings of tool outputs in that body that the question needs. Compress a case with
`headroom.core.pipeline.compress_body(case.provider, case.body, path=case.path)`.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["AGENTS", "AgentCase", "agent_cases", "load_agent_cases"]

AGENTS = ("claude-code", "codex")
# The first capture (scripts/capture_agents.py: h11, click, tabulate, hypothesis, httpx), the second
# (scripts/capture_holdout.py: idna, pyparsing, jinja2, rich) and the third (scripts/capture_holdout3.py:
# packaging, more-itertools, typer, h2), the fourth (capture_holdout4.py: sqlparse, toolz, tornado, wsproto) and
# the fifth (capture_holdout5.py: cachetools, wcwidth, werkzeug, hpack) and the sixth (capture_holdout6.py: pathspec,
# itsdangerous, markdown_it, pluggy), the seventh (capture_holdout7.py: xmltodict, six, sortedcontainers, blinker),
# the eighth (capture_holdout8.py: parse, tomlkit, flask, asgiref), the ninth (capture_holdout9.py: pyflakes,
# webcolors, prometheus_client, anyio) and the tenth (capture_holdout10.py: mistune, semantic_version, redis,
# psycopg), each measured held out before it was shipped.
DATA_FILES = ("agents.jsonl.gz", "agents-2.jsonl.gz", "agents-3.jsonl.gz", "agents-4.jsonl.gz",
              "agents-5.jsonl.gz", "agents-6.jsonl.gz", "agents-7.jsonl.gz", "agents-8.jsonl.gz",
              "agents-9.jsonl.gz", "agents-10.jsonl.gz")


@dataclass(frozen=True)
class AgentCase:
    id: str
    agent: str  # "claude-code" | "codex"
    agent_version: str  # the CLI's own version, e.g. "2.1.197"
    provider: str  # "anthropic" | "openai_responses" (headroom.core.providers names)
    path: str  # the request path it was sent to, e.g. "/v1/messages"
    kind: str  # the tool-output format, e.g. "read-full", "grep-content", "codex-exec-nl"
    question: str  # the user's question before the tool calls
    later_question: str | None  # a later user turn (multi-turn cases): the body is the request after it
    body: dict[str, Any]  # the request body, untouched
    facts: tuple[str, ...]  # exact substrings of tool outputs in `body` that the question needs


def _parse(raw: bytes) -> tuple[AgentCase, ...]:
    cases = []
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(AgentCase(**{**row, "facts": tuple(row["facts"])}))
    return tuple(cases)


@lru_cache(maxsize=1)
def _load() -> tuple[AgentCase, ...]:
    return tuple(case for name in DATA_FILES
                 for case in _parse(resources.files("headroom.evals").joinpath("data", name).read_bytes()))


def agent_cases() -> list[AgentCase]:
    """Every case of the shipped corpus, in capture order (bodies are shared: do not mutate them)."""
    return list(_load())


def load_agent_cases(path: Path) -> list[AgentCase]:
    """Every case of another corpus file in the same format (a held-out capture, say), in file order."""
    return list(_parse(Path(path).read_bytes()))
