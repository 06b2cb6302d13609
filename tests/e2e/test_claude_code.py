"""The flagship: the real Claude Code CLI under `headroom wrap`, with a dummy key, talking to the fake upstream
(api.anthropic.com routed to it), runs a tool twice and prints the fake's answer; its requests arrive at the
upstream with its tool output compressed on every turn, as the same bytes (a retrieval marker whose original
is in the store).

Claude Code is installed from npm into <repo>/.cache/e2e-npm (git-ignored, reused across runs).
"""
from __future__ import annotations

import json
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from headroom.core.markers import MARKER_RE
from tests.e2e.agents import CACHE, dropped_text, npm_install
from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PREFIX = CACHE / "e2e-npm"
CLAUDE = PREFIX / "node_modules" / ".bin" / "claude"
PACKAGE = "@anthropic-ai/claude-code@2"
INSTALL_TIMEOUT = 300  # seconds; the package is two small tarballs (a few seconds on a normal link)
RUN_TIMEOUT = 180

LOG_LINES = 400  # under Claude Code's own "output too large" cut-off, so the output reaches the request whole
COMMAND = (f'for i in $(seq 1 {LOG_LINES}); do echo "2026-01-01 12:00:00 INFO worker $i processed batch ok"; '
           'done; echo "ERROR disk full on /var"')


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    return npm_install(PREFIX, PACKAGE, CLAUDE, timeout=INSTALL_TIMEOUT)


def _tool_results(request) -> list[str]:
    out = []
    for message in request.json.get("messages", []):
        if isinstance(message.get("content"), list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    c = block["content"]
                    out.append(c if isinstance(c, str) else "".join(p.get("text", "") for p in c))
    return out


def test_claude_code_under_wrap(claude_cli, fake_upstream, tmp_path, headroom_home):
    call = Reply.tool_call("Bash", {"command": COMMAND, "description": "show the worker log"})
    fake_upstream.queue(call, call, Reply.text("PONG from the fake upstream"))
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = wrap_env(
        fake_upstream,
        ANTHROPIC_API_KEY="sk-ant-dummy-key",
        HOME=str(user_home),  # a fresh user: no Claude Code config, nothing of the developer's
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
    )
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(claude_cli), "-p", "Check the worker log, then say pong.",
                 "--allowedTools", "Bash"),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream" in r.stdout  # the agent showed the fake's answer

    messages = [rec for rec in fake_upstream.requests if rec.route == "/v1/messages"]
    assert len(messages) == 3, [rec.path for rec in fake_upstream.requests]
    assert all(rec.tls_server_name == "api.anthropic.com" for rec in messages)
    assert messages[0].headers.get("x-api-key") == "sk-ant-dummy-key"
    # Claude Code marks its newest tool result for prompt caching and moves the mark on next turn. The
    # output is compressed on its first send all the same, and a turn later (unmarked) it goes out as the
    # same bytes, so the provider's cached prefix still matches; the error line is kept...
    full_output = "\n".join(f"2026-01-01 12:00:00 INFO worker {i} processed batch ok"
                            for i in range(1, LOG_LINES + 1)) + "\nERROR disk full on /var"
    (first,) = _tool_results(messages[1])
    older, newest = _tool_results(messages[2])
    assert older == first and newest == first  # the same output, the same bytes, every turn
    assert len(older) < len(full_output) / 5
    assert "ERROR disk full on /var" in older
    assert MARKER_RE.search(older)
    # ...whose dropped lines are in the local store under the marker's key.
    assert "worker 200 processed batch ok" in dropped_text(headroom_home, older)
    # Claude Code sets cache breakpoints, so the retrieval tool goes on from its first request
    # (HEADROOM_RETRIEVE_FROM=first): no request breaks the cached prefix, ours or Claude Code's own (its
    # billing header, a new hash on every request, is not prompt).
    assert all("headroom_retrieve" in {t.get("name") for t in rec.json.get("tools", [])} for rec in messages)
    report = json.loads(subprocess.run(headroom("perf", "--format", "json"), env=env, capture_output=True, text=True,
                                       timeout=60, check=True).stdout)
    assert report["totals"]["cache_breaks_headroom"] == report["totals"]["cache_breaks_client"] == 0


def read_paths(decoded: bytes) -> list[str]:
    """The files the model's Read calls named, in order, in a Messages request body."""
    body = json.loads(decoded)
    return [b["input"]["file_path"] for m in body.get("messages", []) if isinstance(m.get("content"), list)
            for b in m["content"] if b.get("type") == "tool_use" and b.get("name") == "Read"]


class MarkerFollowingFake(FakeUpstream):
    """The fake upstream acting on what a marker says, as a model would: when a request's newest tool result
    folds a function body, it answers with the Read the marker names for it (once), then with text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.followed: dict | None = None

    def _next_reply(self, generation, decoded=b""):
        reply = super()._next_reply(generation, decoded)
        if reply is not None or not generation or self.followed is not None:
            return reply
        text = decoded.decode("utf-8", "replace")
        hint = re.search(r"(?:body of|definitions, signatures and bodies:) [\w.]+[^;\]]*; Read offset=(\d+) limit=(\d+)[;\]]", text)
        if hint is None:
            return None
        # The marker names the lines; the file is the one the model's own Read showed.
        self.followed = {"file_path": read_paths(decoded)[-1], "offset": int(hint.group(1)),
                         "limit": int(hint.group(2))}
        return Reply.tool_call("Read", self.followed)


@pytest.fixture
def marker_following_fake(fake_pki):
    with MarkerFollowingFake(fake_pki) as fake:
        yield fake


def test_claude_code_reads_a_large_file_compressed_and_rereads_a_folded_body_by_its_hint(
        claude_cli, marker_following_fake, tmp_path, headroom_home):
    fake = marker_following_fake
    source = tmp_path / "argparse.py"
    source.write_text((Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text())
    fake.queue(Reply.tool_call("Read", {"file_path": str(source)}))
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = wrap_env(fake, ANTHROPIC_API_KEY="sk-ant-dummy-key", HOME=str(user_home),
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1")
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(claude_cli), "-p",
                 "How does parse_known_args report a missing required argument?", "--allowedTools", "Read"),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    messages = [rec for rec in fake.requests if rec.route == "/v1/messages"]
    assert len(messages) == 3, [rec.path for rec in fake.requests]
    (view,) = _tool_results(messages[1])
    # The Read arrived compressed: numbered lines kept as Read printed them, bodies folded behind markers
    # that give the file's lines and the Read that shows them.
    assert len(view) < 0.6 * len(source.read_text())
    assert re.search(r"(?m)^\s*\d+(\t|→)    def parse_known_args\(", view)
    assert fake.followed is not None and fake.followed["file_path"] == str(source)
    # The model followed the hint: the re-read shows exactly the folded lines, whole; and the first output
    # goes out again as the same bytes (the provider's cached prefix still matches).
    first_again, reread = _tool_results(messages[2])
    assert first_again == view
    offset, limit = fake.followed["offset"], fake.followed["limit"]
    wanted = source.read_text().split("\n")[offset - 1 : offset - 1 + limit]
    assert wanted and all(line in reread for line in wanted)
    assert not MARKER_RE.search(reread)
    # What the marker folded is in the store, with Read's own line prefixes.
    (marker,) = [m.group(0) for m in MARKER_RE.finditer(view) if f"offset={offset} limit={limit};" in m.group(0)]
    stored = dropped_text(headroom_home, marker)
    assert re.match(rf"{offset}(\t|→){re.escape(wanted[0])}\n", stored) and stored.count("\n") == limit - 1


def test_claude_code_under_wrap_with_the_output_shaper(claude_cli, fake_upstream, tmp_path, headroom_home):
    """`HEADROOM_OUTPUT_SHAPER=1 headroom wrap -- claude`: every request Claude Code sends reaches the upstream
    with the level's instruction as a final system block of its own (no cache_control), the same bytes on
    every turn, after Claude Code's own blocks, which arrive as it sent them; the turn after the tool result is
    mechanical, and an effort Claude Code sent is lowered there only."""
    from headroom.core.shaper import instruction, is_instruction

    fake_upstream.queue(Reply.tool_call("Bash", {"command": "echo worker ok", "description": "check the worker"}),
                        Reply.text("PONG from the fake upstream"))
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = wrap_env(fake_upstream, ANTHROPIC_API_KEY="sk-ant-dummy-key", HOME=str(user_home),
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1",
                   HEADROOM_OUTPUT_SHAPER="1")
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(claude_cli), "-p", "Check the worker, then say pong.",
                 "--allowedTools", "Bash"),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream" in r.stdout
    messages = [rec for rec in fake_upstream.requests if rec.route == "/v1/messages"]
    assert len(messages) == 2, [rec.path for rec in fake_upstream.requests]
    systems = [rec.json["system"] for rec in messages]
    for system in systems:
        assert system[-1] == {"type": "text", "text": instruction(2)}  # the tail, no cache_control of ours
        assert sum(is_instruction(b.get("text")) for b in system) == 1
        assert any("Claude" in b.get("text", "") for b in system[:-1])  # Claude Code's own prompt, before it
    # Ours is byte-identical on every turn. (Claude Code's own first block is not: a billing header with a
    # per-request hash, `cch=`, which it sends without cache_control, ahead of its cached blocks.)
    assert json.dumps(systems[0][-1]) == json.dumps(systems[1][-1]) and len(systems[0]) == len(systems[1])
    assert [b.get("cache_control") for b in systems[0]] == [b.get("cache_control") for b in systems[1]]
    first, second = (rec.json for rec in messages)
    assert [b["type"] for b in second["messages"][-1]["content"]][:1] == ["tool_result"]  # a mechanical turn
    # The first request is a new ask: its effort goes as Claude Code sent it (2.x: output_config.effort "high"
    # with adaptive thinking). The turn after the tool result gets a sent effort lowered, thinking untouched.
    effort = (first.get("output_config") or {}).get("effort")
    if effort in ("medium", "high", "xhigh", "max"):
        assert second["output_config"] == {**first["output_config"], "effort": "low"}
    else:
        assert second.get("output_config") == first.get("output_config")
    if (first.get("thinking") or {}).get("type") != "enabled":
        assert second.get("thinking") == first.get("thinking")  # adaptive or absent: never toggled, never added
