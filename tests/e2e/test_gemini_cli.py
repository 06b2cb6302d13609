"""The real Gemini CLI under `headroom wrap`, on both of its login paths, against the fake upstream (which
refuses what Google refuses: unknown fields, empty parts, unanswered calls, a Gemini 3 call turn without
its thought signature).

One scripted session: the model runs a shell command whose large output arrives compressed; it retrieves
what a marker dropped (the proxy answers, the CLI never sees the call); it calls a client tool in the same
answer's continuation; the CLI runs it; a later turn calls another tool, and the model answers. Every
request the provider receives after the retrieval carries the hidden exchange back in its place, with the
CLI's own call ids, without the thought parts the CLI drops, its text merged, and never an empty turn.
(A second `gemini -p --resume latest` is not used: the CLI 0.61 rebuilds a resumed history with every
function response twice, which a strict Gemini API refuses with or without the proxy.)

The Gemini CLI is installed from npm into <repo>/.cache/e2e-gemini (git-ignored, reused across runs).
Its "Login with Google" path (Cloud Code Assist) runs offline with GOOGLE_GENAI_USE_GCA=true and
GOOGLE_CLOUD_ACCESS_TOKEN (the CLI's oauth2.ts takes the token as given; its user-info lookup failing is
only logged), GOOGLE_CLOUD_PROJECT, and the fake answering :loadCodeAssist as for a set-up user.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from headroom.core.markers import MARKER_RE
from headroom.storage.ledger import LEDGER_FILENAME
from tests.e2e.agents import CACHE, dropped_text, npm_install
from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import Reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PREFIX = CACHE / "e2e-gemini"
GEMINI = PREFIX / "node_modules" / ".bin" / "gemini"
PACKAGE = "@google/gemini-cli@0.61.0"  # pinned: the CLI's history handling is what these tests are about
INSTALL_TIMEOUT = 300
RUN_TIMEOUT = 180
MODEL = "gemini-3.1-pro-preview"  # named, so the CLI's model router (its own JSON-mode calls) stays out

LINES = 3000
COMMAND = f"seq 1 {LINES} | sed 's/^/INFO worker ok batch /'; echo 'ERROR disk full on /var'"
SIG = "ZmFrZS1zaWduYXR1cmU="  # the fake's thought signature (Gemini 3 puts one on a turn's first call)
HOSTS = ("generativelanguage.googleapis.com", "cloudcode-pa.googleapis.com")


@pytest.fixture(scope="session")
def gemini_cli() -> Path:
    return npm_install(PREFIX, PACKAGE, GEMINI, timeout=INSTALL_TIMEOUT)


def _contents(rec) -> list:
    body = rec.json or {}
    return (body.get("request") or {}).get("contents") if "request" in body else body.get("contents")


def _output(body: dict) -> str:
    """The newest tool output of a request, as the tool's text."""
    (part,) = ((body.get("request") or body)["contents"])[-1]["parts"]
    return part["functionResponse"]["response"]["output"]


def _retrieve_the_first_marker(body: dict) -> Reply:
    """The model reads the marker in the newest tool output and asks for what it dropped."""
    key = MARKER_RE.search(_output(body)).group("key")
    return Reply.parts_([{"text": "The log was cut; ", "thought": True},
                         {"text": "Let me see the omitted lines."},
                         {"functionCall": {"name": "headroom_retrieve", "args": {"key": key}}, "thoughtSignature": SIG}])


def _script(fake) -> None:
    fake.queue(
        Reply.parts_([{"text": "I should run it.", "thought": True},
                      {"functionCall": {"name": "run_shell_command", "args": {"command": COMMAND}},
                       "thoughtSignature": SIG}]),
        Reply.dynamic(_retrieve_the_first_marker),
        # The continuation after the retrieval: more text, then a client tool call.
        Reply.parts_([{"text": "Workers were fine. "},
                      {"functionCall": {"name": "run_shell_command", "args": {"command": "df -h /var | tail -1"}},
                       "thoughtSignature": SIG}]),
        # A later turn: another client call, then the answer; each request carries the whole history.
        Reply.parts_([{"functionCall": {"name": "run_shell_command", "args": {"command": "echo checked"}},
                       "thoughtSignature": SIG}]),
        Reply.text("PONG: /var is full."),
    )


def _run(cli, fake, tmp_path, home, prompt, *extra, **env_extra) -> subprocess.CompletedProcess:
    env = wrap_env(fake, HOME=str(home), GEMINI_CLI_TRUST_WORKSPACE="true", NO_COLOR="1", **env_extra)
    env["HEADROOM_ROUTE"] = " ".join(fake.route_for(h) for h in HOSTS)
    return subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(cli), "-m", MODEL, "--yolo", "-p", prompt, *extra),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, stdin=subprocess.DEVNULL)


def _session(cli, fake, tmp_path, headroom_home, route, **login) -> list:
    _script(fake)
    home = tmp_path / "user"
    home.mkdir()
    r = _run(cli, fake, tmp_path, home, "Check the worker log, then tell me what is wrong.", **login)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG: /var is full." in r.stdout
    assert "headroom_retrieve" not in r.stdout + r.stderr  # the CLI never saw the hidden call
    assert fake.refused == []  # no request was ever malformed, as Google would judge it
    sent = [rec for rec in fake.requests if rec.route.endswith(route)]
    assert len(sent) == 5, [rec.path for rec in fake.requests]
    # 1: the prompt. 2: the command's output, compressed; what it dropped is in the local store.
    output = _output(sent[1].json)
    assert MARKER_RE.search(output) and "ERROR disk full on /var" in output and len(output) < LINES * 5
    assert "INFO worker ok batch 2900" in dropped_text(headroom_home, output)
    first_marker = MARKER_RE.search(output).group(0)
    # 3: the proxy's continuation: the hidden call and its answer, the original lines in it.
    hidden_call, hidden_answer = _contents(sent[2])[-2:]
    assert hidden_call["parts"][-1]["functionCall"]["name"] == "headroom_retrieve"
    assert hidden_call["parts"][-1]["thoughtSignature"] == SIG
    answer = hidden_answer["parts"][0]["functionResponse"]
    assert answer["name"] == "headroom_retrieve"
    assert answer["response"]["content"] == dropped_text(headroom_home, first_marker) != ""
    # 4 and 5: the CLI's own history (its call ids, no thoughts, text merged) with the hidden exchange back
    # in its place, exactly as it went upstream, and the client's call after it.
    for rec in sent[3:]:
        contents = _contents(rec)
        at = next(i for i, c in enumerate(contents) if c == hidden_call)
        assert contents[at + 1] == hidden_answer
        client_turn, client_answer = contents[at + 2:at + 4]
        assert [p["functionCall"]["name"] for p in client_turn["parts"] if "functionCall" in p] == ["run_shell_command"]
        assert "".join(p.get("text", "") for p in client_turn["parts"]) == "Workers were fine. "
        assert client_answer["parts"][0]["functionResponse"]["name"] == "run_shell_command"
        names = [p["functionCall"]["name"] for c in contents for p in c["parts"] if "functionCall" in p]
        assert names.count("headroom_retrieve") == 1
    later = _contents(sent[4])
    assert later[-2]["parts"][0]["functionCall"]["args"] == {"command": "echo checked"}
    return sent


def _ledger(headroom_home, provider) -> list[tuple]:
    """(model, usage reported, input tokens, output tokens, retrievals) of the provider's rows, in order."""
    with sqlite3.connect(headroom_home / LEDGER_FILENAME) as conn:
        return conn.execute("SELECT model, usage_reported, usage_input, usage_output, retrievals FROM requests "
                            "WHERE provider = ? AND streaming = 1 ORDER BY id", (provider,)).fetchall()


def _assert_usage_read(rows, models) -> None:
    assert len(rows) == 4, rows  # the proxy's continuation is part of its request's row
    assert [r[0] for r in rows] == models
    assert all(reported == 1 and inp > 0 and out > 0 for _, reported, inp, out, _ in rows), rows
    assert [r[4] for r in rows] == [0, 1, 0, 0]


def test_gemini_cli_api_key(gemini_cli, fake_upstream, tmp_path, headroom_home):
    sent = _session(gemini_cli, fake_upstream, tmp_path, headroom_home, ":streamGenerateContent",
                    GEMINI_API_KEY="fake-gemini-key")
    assert all(rec.tls_server_name == "generativelanguage.googleapis.com" for rec in sent)
    assert all("headroom_retrieve" in json.dumps(rec.json["tools"]) for rec in sent[1:])
    _assert_usage_read(_ledger(headroom_home, "gemini"), [MODEL] * 4)


def test_gemini_cli_login_with_google(gemini_cli, fake_upstream, tmp_path, headroom_home):
    sent = _session(gemini_cli, fake_upstream, tmp_path, headroom_home, "/v1internal:streamGenerateContent",
                    GOOGLE_GENAI_USE_GCA="true", GOOGLE_CLOUD_ACCESS_TOKEN="fake-access-token",
                    GOOGLE_CLOUD_PROJECT="fake-project")
    assert all(rec.tls_server_name == "cloudcode-pa.googleapis.com" for rec in sent)
    assert all(set(rec.json) <= {"model", "project", "user_prompt_id", "request", "enabled_credit_types"}
               for rec in sent)
    assert all("headroom_retrieve" in json.dumps(rec.json["request"]["tools"]) for rec in sent[1:])
    # Read through the envelope; the model is the one the CLI asked Code Assist for.
    _assert_usage_read(_ledger(headroom_home, "code_assist"), [sent[i].json["model"] for i in (0, 1, 3, 4)])
