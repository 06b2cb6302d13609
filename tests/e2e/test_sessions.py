"""Settings per wrapped session, end to end: real `headroom wrap` subprocesses registering their sessions with
one real proxy, real clients (curl here; Claude Code and Codex below) carrying the session's credential in
their proxy URL, and what the fake upstream received from each.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest

from headroom.addon.sessions import sessions_dir
from headroom.proxyinfo import probe_health
from tests.e2e.test_claude_code import claude_cli  # noqa: F401 - the fixture: installs Claude Code once
from tests.e2e.test_codex import codex_cli, codex_fake  # noqa: F401 - the fixtures: Codex and its fake
from tests.e2e.test_proxy import LOG, chat_body
from tests.e2e.test_wrap import WRAP_TIMEOUT, headroom

pytestmark = pytest.mark.e2e

SESSION_LINE = re.compile(r"headroom: session ([0-9a-f]{16})")
WAIT_TICKS = 600  # the child's wait for its go-flag: 600 x 0.05 s at most


def _wrap(proxy, body: dict, out, flag=None, **env) -> subprocess.Popen:
    """`headroom wrap` of a shell that sends `body` with curl through HTTPS_PROXY and says 'sent', then (given
    a flag file) waits for it, a bounded number of ticks: so two wraps are alive at once."""
    data = out.with_suffix(".body")
    data.write_text(json.dumps(body))
    script = (f"curl -sS --max-time 30 https://api.openai.com/v1/chat/completions -H 'content-type: application/json' "
              f"-H 'authorization: Bearer sk-test' --data-binary @{data} > {out} && echo sent")
    if flag:
        script += f"; i=0; while [ ! -e {flag} ] && [ $i -lt {WAIT_TICKS} ]; do sleep 0.05; i=$((i+1)); done"
    return subprocess.Popen(headroom("wrap", "--port", str(proxy.port), "--", "sh", "-c", script),
                            env=proxy.env(**env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _admin(proxy, path: str) -> dict:
    url = probe_health(proxy.port)["admin_url"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url + path, timeout=10) as r:
        return json.loads(r.read())


def _received(fake, marker: str):
    (rec,) = [r for r in fake.requests if marker in r.body.decode("utf-8", "replace")]
    return rec


def test_two_wraps_at_once_each_gets_its_own_settings(start_proxy, fake_upstream, tmp_path, headroom_home):
    proxy = start_proxy()  # compression on: the proxy's own settings
    plain_body, off_body = chat_body(), chat_body()
    plain_body["messages"][1]["content"] = "plain wrap: why did checkout fail?"
    off_body["messages"][1]["content"] = "uncompressed wrap: why did checkout fail?"
    flag = tmp_path / "go"
    off = _wrap(proxy, off_body, tmp_path / "off.json", flag, HEADROOM_COMPRESS="0")
    try:
        assert off.stdout.readline().strip() == "sent"  # its request is through; it stays alive
        plain = _wrap(proxy, plain_body, tmp_path / "plain.json")
        out_plain, err_plain = plain.communicate(timeout=WRAP_TIMEOUT)
        assert plain.returncode == 0, err_plain
        live = _admin(proxy, "/sessions")["sessions"]
        assert len(live) == 1 and live[0]["settings"]["compress"] is False  # the plain one ended with its child
    finally:
        flag.touch()
    _, err_off = off.communicate(timeout=WRAP_TIMEOUT)
    assert off.returncode == 0, err_off
    assert "HEADROOM_COMPRESS=0 for this wrap's traffic only" in err_off
    assert "differ" not in err_off  # a per-session setting: no advice to restart the proxy

    # At the upstream: the session with compression off sent its bytes untouched, the plain one compressed.
    untouched = _received(fake_upstream, "uncompressed wrap")
    assert untouched.json == off_body and untouched.body == json.dumps(off_body).encode()
    compressed = _received(fake_upstream, "plain wrap")
    assert compressed.json["messages"][:3] == plain_body["messages"][:3]
    assert len(compressed.json["messages"][3]["content"]) < len(LOG) / 3
    # The credential was the proxy's: it never reaches an upstream.
    assert not [k for rec in fake_upstream.requests for k in rec.headers if k.lower() == "proxy-authorization"]
    # Each session ended with its child: nothing registered, no session file left.
    assert _admin(proxy, "/sessions")["sessions"] == []
    assert list(sessions_dir(headroom_home).glob("*.json")) == []

    # The ledger knows each request's session: perf reports one session alone.
    off_id = SESSION_LINE.search(err_off).group(1)
    plain_id = SESSION_LINE.search(err_plain).group(1)
    assert off_id != plain_id
    for sid, compressed_requests in ((off_id, 0), (plain_id, 1)):
        r = subprocess.run(headroom("perf", "--since", "all", "--session", sid, "--format", "json"),
                           env=proxy.env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        totals = json.loads(r.stdout)["totals"]
        assert (totals["requests"], totals["compressed_requests"]) == (1, compressed_requests)


def test_a_wrap_turns_on_what_the_proxy_has_off(start_proxy, fake_upstream, tmp_path):
    proxy = start_proxy("--no-compress")
    p = _wrap(proxy, chat_body(), tmp_path / "out.json")
    _, err = p.communicate(timeout=WRAP_TIMEOUT)
    assert p.returncode == 0, err
    assert "HEADROOM_COMPRESS=1 for this wrap's traffic only" in err
    assert len(fake_upstream.last.json["messages"][3]["content"]) < len(LOG) / 3


def test_a_client_that_drops_the_credential_gets_the_proxys_settings(start_proxy, fake_upstream, tmp_path):
    proxy = start_proxy()
    # Inside a wrap with compression off, curl told to use the proxy without the credential: the proxy's own.
    script = (f"curl -sS --max-time 30 -x http://127.0.0.1:{proxy.port} https://api.openai.com/v1/chat/completions "
              "-H 'content-type: application/json' -H 'authorization: Bearer sk-test' --data-binary @-")
    r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", "sh", "-c", script),
                       env=proxy.env(HEADROOM_COMPRESS="0"), input=json.dumps(chat_body()), capture_output=True,
                       text=True, timeout=WRAP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert len(fake_upstream.last.json["messages"][3]["content"]) < len(LOG) / 3


def test_an_unknown_session_gets_the_proxys_settings_and_is_counted(start_proxy, fake_upstream, tmp_path):
    proxy = start_proxy()
    body = json.dumps(chat_body())
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "-x", f"http://headroom:0123456789abcdef@127.0.0.1:{proxy.port}",
                        "https://api.openai.com/v1/chat/completions", "-H", "content-type: application/json",
                        "-H", "authorization: Bearer sk-test", "--data-binary", body],
                       env=proxy.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(fake_upstream.last.json["messages"][3]["content"]) < len(LOG) / 3
    assert _admin(proxy, "/sessions")["unknown_flows"] == 1
    assert "session 0123456789abcdef, which this proxy does not know" in proxy.stderr_text()


def test_a_proxy_without_sessions_leaves_the_wrap_on_its_settings_and_says_so(start_proxy, fake_upstream, tmp_path):
    proxy = start_proxy(env={"HEADROOM_ADMIN_PORT": "-1"})  # no admin API: nowhere to register
    r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", sys.executable, "-c",
                                "import os; print(os.environ['HTTPS_PROXY'])"),
                       env=proxy.env(HEADROOM_COMPRESS="0"), capture_output=True, text=True, timeout=WRAP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == proxy.url  # no credential: nothing would recognise it
    assert "takes no per-session settings" in r.stderr and "HEADROOM_COMPRESS: off here, on in the proxy" in r.stderr


def test_a_restarted_proxy_takes_the_sessions_back(start_proxy, fake_upstream, tmp_path):
    first = start_proxy()
    port = first.port
    ready = tmp_path / "restarted"
    body = json.dumps(chat_body())
    # The child sends once, waits until the proxy was restarted, then sends again on a new connection.
    send = (f"curl -sS --max-time 30 https://api.openai.com/v1/chat/completions -H 'content-type: application/json' "
            f"-H 'authorization: Bearer sk-test' -d '{body}' > /dev/null")
    script = (f"{send} && echo sent; i=0; while [ ! -e {ready} ] && [ $i -lt {WAIT_TICKS} ]; do sleep 0.05; "
              f"i=$((i+1)); done; {send} && echo again")
    p = subprocess.Popen(headroom("wrap", "--port", str(port), "--", "sh", "-c", script),
                         env=first.env(HEADROOM_COMPRESS="0"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "sent"
        first.stop()
        second = start_proxy("--port", str(port))
        ready.touch()
        assert p.stdout.readline().strip() == "again"
        out, err = p.communicate(timeout=WRAP_TIMEOUT)
        assert p.returncode == 0, err
        # Both requests went out untouched: the restarted proxy took the session back from its file.
        assert [r.body for r in fake_upstream.requests] == [body.encode(), body.encode()]
        assert "took back 1 wrapped session" in second.stderr_text()
    finally:
        ready.touch()
        if p.poll() is None:
            p.kill()
            p.wait(10)


# --- the real agents: each one carries the credential, so its wrap's settings reach its traffic -------------

def _agent_base(user_home, drop: tuple[str, ...] = ()) -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | {"HOME": str(user_home)}


@pytest.mark.slow
def test_claude_code_runs_with_its_wraps_settings_not_the_proxys(claude_cli, start_proxy, fake_upstream, tmp_path):
    from tests.e2e.test_claude_code import COMMAND, LOG_LINES, _tool_results
    from tests.support.fake_upstream import Reply

    proxy = start_proxy("--no-compress")  # the proxy's own: nothing compressed
    full = "\n".join(f"2026-01-01 12:00:00 INFO worker {i} processed batch ok" for i in range(1, LOG_LINES + 1))
    results = {}
    for name, extra in (("session compresses", {}), ("session as the proxy", {"HEADROOM_COMPRESS": "0"})):
        user_home = tmp_path / name.replace(" ", "-")
        user_home.mkdir()
        call = Reply.tool_call("Bash", {"command": COMMAND, "description": "show the worker log"})
        fake_upstream.queue(call, Reply.text("PONG from the fake upstream"))
        before = len(fake_upstream.requests)
        env = proxy.env(_agent_base(user_home), ANTHROPIC_API_KEY="sk-ant-dummy-key",
                        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1",
                        **extra)
        r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", str(claude_cli), "-p",
                                    "Check the worker log, then say pong.", "--allowedTools", "Bash"),
                           env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "PONG from the fake upstream" in r.stdout
        messages = [rec for rec in fake_upstream.requests[before:] if rec.route == "/v1/messages"]
        assert len(messages) == 2, [rec.path for rec in fake_upstream.requests[before:]]
        (results[name],) = _tool_results(messages[1])
    # Under the wrap that compresses, Claude Code's tool output arrived compressed though the proxy compresses
    # nothing of its own; under the other wrap it arrived whole.
    assert len(results["session compresses"]) < len(full) / 5
    assert "ERROR disk full on /var" in results["session compresses"]
    assert full in results["session as the proxy"]


@pytest.mark.slow
def test_codex_runs_with_its_wraps_settings_not_the_proxys(codex_cli, codex_fake, start_proxy, tmp_path):
    from tests.e2e.test_codex import EXEC_JS, LOG_LINES, _outputs
    from tests.support.fake_upstream import LLM_HOSTS, Reply

    proxy = start_proxy("--no-compress", upstream=codex_fake, routes=(*LLM_HOSTS, "chatgpt.com"))
    codex_fake.queue_custom_call("exec", EXEC_JS)
    codex_fake.queue(Reply.text("PONG from the fake upstream, via codex"))
    user_home, work = tmp_path / "user", tmp_path / "project"
    user_home.mkdir()
    work.mkdir()
    env = proxy.env(_agent_base(user_home, ("CODEX_", "OPENAI_")), CODEX_API_KEY="sk-dummy-codex-key")
    r = subprocess.run(
        headroom("wrap", "--port", str(proxy.port), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                 "--dangerously-bypass-approvals-and-sandbox", "Check the worker log, then say pong."),
        env=env, capture_output=True, text=True, timeout=120, cwd=work, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream, via codex" in r.stdout, r.stdout + r.stderr
    posts = [rec for rec in codex_fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert len(posts) == 2, [(rec.method, rec.path) for rec in codex_fake.requests]
    # The session's settings decided the WebSocket too: turned down (compressing), so Codex used HTTPS.
    assert not any("websocket" in rec.headers.get("upgrade", "").lower() for rec in codex_fake.requests)
    (output,) = _outputs(posts[1])
    full = "\n".join(f"2026-01-01 12:00:00 INFO worker {i} processed batch ok" for i in range(1, LOG_LINES + 1))
    assert "ERROR disk full on /var" in output and len(output) < len(full) / 4


OPENAI_SDK = ("import json, sys, openai\n"
              "c = openai.OpenAI(api_key='sk-test', max_retries=0, timeout=30)\n"
              "print(c.chat.completions.create(**json.load(open(sys.argv[1]))).choices[0].message.content)\n")
ANTHROPIC_SDK = ("import json, sys, anthropic\n"
                 "c = anthropic.Anthropic(api_key='sk-ant-test', max_retries=0, timeout=30)\n"
                 "print(c.messages.create(**json.load(open(sys.argv[1]))).content[0].text)\n")


def _anthropic_body() -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [
        {"role": "user", "content": "Why did checkout fail?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_logs", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": LOG}]}]}


@pytest.mark.parametrize("client", ["openai-sdk", "anthropic-sdk", "node-undici"])
def test_each_client_carries_the_session(client, start_proxy, fake_upstream, tmp_path):
    """A wrap with compression off on a compressing proxy: the request arrives as the client sent it, which
    it would not if the client had dropped the credential (the proxy's own settings compress)."""
    import shutil

    from tests.e2e.test_proxy_node import NODE_DIR
    from tests.e2e.test_wrap import CLIENTS_PY

    proxy = start_proxy()
    body = _anthropic_body() if client == "anthropic-sdk" else chat_body()
    if client == "node-undici":
        body["stream"] = True
    data = tmp_path / "body.json"
    data.write_text(json.dumps(body))
    if client == "node-undici":
        if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "undici").is_dir():
            pytest.skip("needs node and `make node-deps`")
        cmd = ["node", str(NODE_DIR / "stream_chat.mjs"), json.dumps(body)]
    else:
        if not CLIENTS_PY.exists():
            pytest.skip("needs `make clients` (.venv-clients with the SDKs)")
        script = tmp_path / "agent.py"
        script.write_text(OPENAI_SDK if client == "openai-sdk" else ANTHROPIC_SDK)
        cmd = [str(CLIENTS_PY), str(script), str(data)]
    r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", *cmd), env=proxy.env(HEADROOM_COMPRESS="0",
                       OPENAI_API_KEY="sk-test"), capture_output=True, text=True, timeout=WRAP_TIMEOUT, cwd=NODE_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert first == ('{"status":200}' if client == "node-undici" else "Hello from the fake upstream."), r.stdout
    got = fake_upstream.last
    assert got.json == body  # untouched: the session's settings, not the proxy's
    assert (_admin(proxy, "/sessions")["unknown_flows"], len(fake_upstream.requests)) == (0, 1)


FORGET_AND_DOCTOR = """
import json, os, subprocess, sys, urllib.parse, urllib.request
from headroom.proxyinfo import probe_health
sid = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"]).password
admin = probe_health(int(sys.argv[1]))["admin_url"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(urllib.request.Request(f"{admin}/sessions/{sid}", method="DELETE"), timeout=10).read()
r = subprocess.run([sys.executable, "-m", "headroom", "doctor", "--json"], capture_output=True, text=True, timeout=120)
print(json.dumps([c for c in json.loads(r.stdout)["checks"] if c["name"] == "session"]))
"""


def test_doctor_says_when_this_shells_session_is_unknown_to_the_proxy(start_proxy, tmp_path):
    proxy = start_proxy()
    script = tmp_path / "forget.py"
    script.write_text(FORGET_AND_DOCTOR)
    r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", sys.executable, str(script), str(proxy.port)),
                       env=proxy.env(), capture_output=True, text=True, timeout=WRAP_TIMEOUT)
    assert r.returncode == 0, r.stderr
    (check,) = json.loads(r.stdout)
    assert check["status"] == "warn" and "is not known to the proxy: its traffic gets the proxy's own" in check["summary"]


def test_doctor_says_when_the_proxy_cannot_take_sessions(start_proxy):
    proxy = start_proxy(env={"HEADROOM_ADMIN_PORT": "-1"})
    r = subprocess.run(headroom("doctor", "--json", "--port", str(proxy.port)), env=proxy.env(), capture_output=True,
                       text=True, timeout=WRAP_TIMEOUT)
    (check,) = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "session"]
    assert check["status"] == "warn" and "wraps cannot register their settings" in check["summary"]


def test_a_shaped_wrap_and_a_plain_one_on_one_proxy(start_proxy, fake_upstream, tmp_path):
    """Issue 13: `HEADROOM_OUTPUT_SHAPER=1 headroom wrap` shapes its own traffic on a proxy already running
    without the shaper, and a plain wrap on the same proxy at the same time is left unshaped."""
    from headroom.core.shaper import DEFAULT_LEVEL, instruction

    proxy = start_proxy()  # the proxy's own settings: no shaper
    shaped_body, plain_body = chat_body(), chat_body()
    shaped_body["messages"][1]["content"] = "shaped wrap: why did checkout fail?"
    plain_body["messages"][1]["content"] = "plain wrap: why did checkout fail?"
    flag = tmp_path / "go"
    shaped = _wrap(proxy, shaped_body, tmp_path / "shaped.json", flag, HEADROOM_OUTPUT_SHAPER="1")
    try:
        assert shaped.stdout.readline().strip() == "sent"
        plain = _wrap(proxy, plain_body, tmp_path / "plain.json")
        _, err_plain = plain.communicate(timeout=WRAP_TIMEOUT)
        assert plain.returncode == 0, err_plain
    finally:
        flag.touch()
    _, err_shaped = shaped.communicate(timeout=WRAP_TIMEOUT)
    assert shaped.returncode == 0, err_shaped
    system_shaped = _received(fake_upstream, "shaped wrap").json["messages"][0]["content"]
    system_plain = _received(fake_upstream, "plain wrap").json["messages"][0]["content"]
    assert system_shaped.endswith(instruction(DEFAULT_LEVEL))
    assert system_shaped.startswith(shaped_body["messages"][0]["content"])
    assert system_plain == plain_body["messages"][0]["content"]


def test_claude_code_is_shaped_by_its_wrap_on_a_proxy_that_is_not(claude_cli, start_proxy, fake_upstream, tmp_path):
    """Issue 13's done-when: `HEADROOM_OUTPUT_SHAPER=1 headroom wrap -- claude` shapes Claude Code's requests
    at the fake upstream, on a proxy already running without the shaper."""
    from headroom.core.shaper import DEFAULT_LEVEL, instruction
    from tests.support.fake_upstream import Reply

    proxy = start_proxy()
    user_home = tmp_path / "user"
    user_home.mkdir()
    fake_upstream.queue(Reply.text("PONG from the fake upstream"))
    env = proxy.env(_agent_base(user_home), ANTHROPIC_API_KEY="sk-ant-dummy-key",
                    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1",
                    HEADROOM_OUTPUT_SHAPER="1")
    r = subprocess.run(headroom("wrap", "--port", str(proxy.port), "--", str(claude_cli), "-p", "Say pong."),
                       env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream" in r.stdout
    (rec,) = [rec for rec in fake_upstream.requests if rec.route == "/v1/messages"]
    assert rec.json["system"][-1] == {"type": "text", "text": instruction(DEFAULT_LEVEL)}


def test_a_wrap_against_a_team_proxy_carries_the_user_token_and_its_session(start_proxy, fake_upstream, tmp_path,
                                                                            headroom_home):
    """HEADROOM_TEAM=1 on loopback: wrap's child sends NAME:TOKEN.SESSION; the proxy takes the user from it
    (Team) and the session's settings (Sessions); without HEADROOM_TEAM_TOKEN the child is refused 407."""
    from headroom.storage.users import Users, users_path

    token = Users(users_path(headroom_home)).add("alice")
    proxy = start_proxy(env={"HEADROOM_TEAM": "1"})
    body = chat_body()
    p = _wrap(proxy, body, tmp_path / "team.json", HEADROOM_TEAM="1", HEADROOM_TEAM_TOKEN=f"alice:{token}",
              HEADROOM_COMPRESS="0")
    _, err = p.communicate(timeout=WRAP_TIMEOUT)
    assert p.returncode == 0, err
    sid = SESSION_LINE.search(err).group(1)
    assert fake_upstream.last.json["messages"][3]["content"] == LOG  # the session's HEADROOM_COMPRESS=0
    for args, requests in ((["--user", "alice"], 1), (["--session", sid], 1), (["--user", "bob"], 0)):
        r = subprocess.run(headroom("perf", "--since", "all", "--format", "json", *args), env=proxy.env(),
                           capture_output=True, text=True, timeout=60)
        assert json.loads(r.stdout)["totals"]["requests"] == requests, (args, r.stderr)
    refused = _wrap(proxy, body, tmp_path / "none.json", HEADROOM_TEAM="1")
    out, err = refused.communicate(timeout=WRAP_TIMEOUT)
    assert "sent" not in out and "407" in err, err
    assert len(fake_upstream.requests) == 1
