"""OpenAI's Codex CLI (npm `@openai/codex`, a Rust binary) under `headroom wrap`, with a dummy API key, talking
to the fake upstream (api.openai.com routed to it): `codex exec` runs a shell command the fake asks for and
prints the fake's final answer. Its Responses requests reach the fake through the proxy (TLS name
api.openai.com: it trusted the headroom CA through SSL_CERT_FILE and used HTTPS_PROXY), its WebSocket
attempt is turned down by the proxy so it uses HTTPS at once, and the command's large output is
compressed in its second request (a marker whose dropped lines are in the store) and resent as the same
bytes in the third.

Codex is installed from npm into <repo>/.cache/e2e-codex (git-ignored, reused across runs); the native
binary comes in its platform package, from the same registry.
"""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

from headroom.core.markers import MARKER_RE
from tests.e2e.agents import CACHE, dropped_text, npm_install
from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import FakeUpstream, Reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PREFIX = CACHE / "e2e-codex"
CODEX = PREFIX / "node_modules" / ".bin" / "codex"
PACKAGE = "@openai/codex@0.169"  # pinned: Codex changes its tools and transports often
INSTALL_TIMEOUT = 300  # seconds; two tarballs, ~70 MB for the native one
RUN_TIMEOUT = 120

LOG_LINES = 300
COMMAND = (f'for i in $(seq 1 {LOG_LINES}); do echo "2026-01-01 12:00:00 INFO worker $i processed batch ok"; '
           'done; echo "ERROR disk full on /var"')
# Codex 0.169 offers the model one tool, `exec`: JavaScript that calls the nested tools (exec_command runs
# a shell command) and returns what it passes to text().
EXEC_JS = f"const r = await tools.exec_command({{cmd: {json.dumps(COMMAND)}, login: false}});\ntext(r.output);\n"


@pytest.fixture(scope="session")
def codex_cli() -> Path:
    return npm_install(PREFIX, PACKAGE, CODEX, timeout=INSTALL_TIMEOUT)


class CodexFake(FakeUpstream):
    """The fake upstream, plus Responses `custom_tool_call` replies (Codex's `exec` tool is a custom,
    free-form tool), queued with `queue_custom_call` and used before the ordinary reply queue."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_calls: list[tuple[str, str]] = []
        self.retrieve_marker = False  # answer the next request with a marker by retrieving its first key
        self.tail = 0.0  # seconds between a custom call's response.completed and its end of body

    def queue_custom_call(self, name: str, input_: str) -> None:
        with self._lock:
            self.custom_calls.append((name, input_))

    def _answer(self, h, rec):
        if rec.method == "POST" and rec.route.endswith("/responses") and isinstance(rec.json, dict):
            with self._lock:
                call = self.custom_calls.pop(0) if self.custom_calls else None
            if call is not None:
                return self._custom_call(h, rec.json, *call)
            marker = MARKER_RE.search(rec.decoded.decode("utf-8", "replace"))
            with self._lock:
                if self.retrieve_marker and marker:
                    self.retrieve_marker = False
                    self._replies.insert(0, Reply.tool_call("headroom_retrieve", {"key": marker.group("key")}))
        return super()._answer(h, rec)

    def _custom_call(self, h, body, name, input_):
        n = next(self._ids)
        item = {"type": "custom_tool_call", "id": f"ctc_fake{n}", "call_id": f"call_fake{n}", "name": name,
                "input": input_, "status": "completed"}
        usage = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 120}

        def response(status, output, usage_):
            return {"id": f"resp_fake{n}", "object": "response", "created_at": int(time.time()), "status": status,
                    "model": body.get("model"), "output": output, "usage": usage_, "error": None,
                    "incomplete_details": None, "metadata": {}, "parallel_tool_calls": True, "tools": [],
                    "tool_choice": "auto", "text": {"format": {"type": "text"}}, "store": False}

        seq = itertools.count()

        def ev(type_, **data):
            data = {"type": type_, "sequence_number": next(seq), **data}
            return f"event: {type_}\ndata: {json.dumps(data)}\n\n".encode()

        events = [
            ev("response.created", response=response("in_progress", [], None)),
            ev("response.output_item.added", output_index=0, item={**item, "input": "", "status": "in_progress"}),
            ev("response.custom_tool_call_input.delta", item_id=item["id"], output_index=0, delta=input_),
            ev("response.custom_tool_call_input.done", item_id=item["id"], output_index=0, input=input_),
            ev("response.output_item.done", output_index=0, item=item),
            ev("response.completed", response=response("completed", [item], usage)),
        ]
        h.send_stream(events, 0.0, tail=self.tail)


@pytest.fixture
def codex_fake(fake_pki):
    with CodexFake(fake_pki) as fake:
        yield fake


def ledger_errors(home: Path, n: int, timeout: float = 10.0) -> list[int]:
    """The `error` of the ledger's Responses rows once there are `n` (bounded wait)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    rows: list[int] = []
    while time.monotonic() < deadline:
        path = home / "ledger.sqlite3"
        if path.exists():
            conn = sqlite3.connect(path)
            try:
                rows = [r[0] for r in conn.execute(
                    "SELECT error FROM requests WHERE provider = 'openai_responses' ORDER BY id")]
            except sqlite3.OperationalError:
                rows = []
            finally:
                conn.close()
        if len(rows) >= n:
            break
        time.sleep(0.1)
    return rows


def _outputs(request) -> list[str]:
    """The text of the tool outputs in a Responses request (string or list-of-parts output)."""
    out = []
    for item in request.json.get("input", []):
        if isinstance(item, dict) and item.get("type", "").endswith("_call_output"):
            o = item.get("output")
            out.append(o if isinstance(o, str) else "".join(p.get("text", "") for p in o if isinstance(p, dict)))
    return out


def codex_env(fake: FakeUpstream, user_home: Path) -> dict:
    """wrap's environment for a fresh Codex user with a dummy key, nothing of the developer's settings."""
    env = wrap_env(fake, HOME=str(user_home))
    for var in list(env):  # nothing of the developer's Codex or OpenAI settings
        if var.startswith(("CODEX_", "OPENAI_")):
            del env[var]
    env["CODEX_API_KEY"] = "sk-dummy-codex-key"  # how `codex exec` takes a key non-interactively
    env["HEADROOM_ROUTE"] += " " + fake.route_for("chatgpt.com")  # its model list: answered, not retried
    return env


def test_codex_exec_under_wrap(codex_cli, codex_fake, tmp_path, headroom_home):
    # Each stream's end of body comes a second after response.completed, which Codex does not wait for: it
    # closes then, and those fully delivered answers were counted as errors in the ledger.
    codex_fake.tail = 1.0
    codex_fake.queue_custom_call("exec", EXEC_JS)
    codex_fake.queue_custom_call("exec", EXEC_JS)  # twice: the first output is resent on the next turn
    codex_fake.queue(Reply.text("PONG from the fake upstream, via codex", tail=1.0))
    user_home = tmp_path / "user"
    user_home.mkdir()
    work = tmp_path / "project"
    work.mkdir()
    env = codex_env(codex_fake, user_home)
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                 "--dangerously-bypass-approvals-and-sandbox", "Check the worker log, then say pong."),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream, via codex" in r.stdout, r.stdout + r.stderr
    # rustls (Codex is Rust) verified leaves of a CA limited by name constraints (docs/team.md's table).
    from headroom.certs.ca import ca_files, load_ca, permitted_domains

    assert "api.openai.com" in (permitted_domains(load_ca(ca_files(headroom_home))[0]) or [])

    posts = [rec for rec in codex_fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert len(posts) == 3, [(rec.method, rec.path) for rec in codex_fake.requests]
    assert all(rec.tls_server_name == "api.openai.com" for rec in posts)
    assert posts[0].headers.get("authorization") == "Bearer sk-dummy-codex-key"
    assert posts[0].json["stream"] is True
    # The proxy turned the WebSocket down itself: no upgrade reached the upstream.
    assert not any("websocket" in rec.headers.get("upgrade", "").lower() for rec in codex_fake.requests)

    full = "\n".join(f"2026-01-01 12:00:00 INFO worker {i} processed batch ok" for i in range(1, LOG_LINES + 1))
    (output,) = _outputs(posts[1])  # the command's output, as the second request carried it upstream
    # Next turn, Codex resends the whole history: the same output goes out as the same bytes (the
    # provider's cached prefix still matches), next to the new run's (its wall time differs), compressed too.
    older, newest = _outputs(posts[2])
    assert older == output
    assert MARKER_RE.search(newest) and "ERROR disk full on /var" in newest and len(newest) < len(full) / 4
    assert "ERROR disk full on /var" in output
    assert len(output) < len(full) / 4
    assert MARKER_RE.search(output)
    assert "worker 150 processed batch ok" in dropped_text(headroom_home, output)
    assert ledger_errors(headroom_home, 3) == [0, 0, 0]  # three whole answers, none an error


def test_codex_retrieval_is_answered_by_the_proxy(codex_cli, codex_fake, tmp_path, headroom_home):
    """The model asks for what was dropped from Codex's tool output: the proxy answers from the store and
    continues upstream; Codex never sees the call (it would say 'unsupported call') and prints the answer."""
    codex_fake.queue_custom_call("exec", EXEC_JS)
    codex_fake.retrieve_marker = True
    codex_fake.queue(Reply.text("worker 150 was fine; PONG"))
    work = tmp_path / "project"
    work.mkdir()
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = codex_env(codex_fake, user_home)
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                 "--dangerously-bypass-approvals-and-sandbox", "Did worker 150 finish?"),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "worker 150 was fine; PONG" in r.stdout, r.stdout + r.stderr
    assert "headroom_retrieve" not in r.stdout + r.stderr  # the agent never saw the hidden call

    posts = [rec for rec in codex_fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert len(posts) == 3, [(rec.method, rec.path) for rec in codex_fake.requests]
    assert any(t.get("name") == "headroom_retrieve" for t in posts[1].json.get("tools") or [])
    # The continuation carries the original lines as the retrieve call's output.
    items = posts[2].json["input"]
    call = next(i for i in items if i.get("type") == "function_call" and i.get("name") == "headroom_retrieve")
    answer = next(i for i in items if i.get("type") == "function_call_output" and i.get("call_id") == call["call_id"])
    marker = MARKER_RE.search(json.dumps(posts[1].json))
    assert call["arguments"] and json.loads(call["arguments"])["key"] == marker.group("key")
    original = dropped_text(headroom_home, marker.group(0))
    assert original and "processed batch ok" in original
    assert original in answer["output"]  # exactly the dropped lines, as they were


class MarkerFollowingCodexFake(CodexFake):
    """CodexFake acting on what a marker says, as a model would: when a request shows a folded body, its next
    answer runs the `nl -ba FILE | sed -n A,Bp` the marker names for it (once)."""

    HINT = re.compile(r"(?:body of|definitions, signatures and bodies:) [\w.]+[^;\]]*; (nl -ba \S+ \| sed -n (\d+),(\d+)p)[;\]]")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.followed: re.Match | None = None

    def _answer(self, h, rec):
        if (self.followed is None and rec.method == "POST" and rec.route.endswith("/responses")
                and not self.custom_calls):
            hint = self.HINT.search(rec.decoded.decode("utf-8", "replace"))
            if hint is not None:
                self.followed = hint
                self.queue_custom_call("exec", _exec_js(hint.group(1)))
        return super()._answer(h, rec)


def _exec_js(cmd: str) -> str:
    return (f"const r = await tools.exec_command({{cmd: {json.dumps(cmd)}, login: false, max_output_tokens: 60000}});\n"
            "text(r.output);\n")


def test_codex_views_a_large_file_compressed_and_rereads_a_folded_body_by_its_hint(codex_cli, fake_pki, tmp_path,
                                                                                    headroom_home):
    work = tmp_path / "project"
    work.mkdir()
    source = work / "calendar.py"  # ~9k tokens through nl: under what Codex itself cuts from a script's output
    source.write_text((Path(sysconfig.get_paths()["stdlib"]) / "calendar.py").read_text())
    user_home = tmp_path / "user"
    user_home.mkdir()
    with MarkerFollowingCodexFake(fake_pki) as fake:
        fake.queue_custom_call("exec", _exec_js("nl -ba calendar.py | sed -n 1,2000p"))
        env = codex_env(fake, user_home)
        r = subprocess.run(
            headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                     "--dangerously-bypass-approvals-and-sandbox",
                     "How does HTMLCalendar.formatmonth build the month's table?"),
            env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
        )
        posts = [rec for rec in fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(posts) == 3, [(rec.method, rec.path) for rec in fake.requests]
    (view,) = _outputs(posts[1])
    lines = source.read_text().split("\n")
    # Compressed: nl's numbered lines kept as nl printed them, bodies folded behind markers in the file's
    # line numbers that name the command showing them.
    numbered = "\n".join(f"{n:6d}\t{ln}" for n, ln in enumerate(lines, 1))
    assert len(view) < 0.75 * len(numbered) and MARKER_RE.search(view)
    start = next(i for i, ln in enumerate(lines) if "def formatmonth(" in ln and "theyear, themonth, withyear" in ln
                 and "HTML" in "".join(lines[:i])[-20000:]) + 1
    assert f"{start:6d}\t    def formatmonth(" in view
    assert fake.followed is not None
    a, b = int(fake.followed.group(2)), int(fake.followed.group(3))
    # The model followed the hint: the re-read is exactly the folded lines, whole, and the view goes out again
    # as the same bytes.
    first_again, reread = _outputs(posts[2])
    assert first_again == view
    assert all(f"{n:6d}\t{lines[n - 1]}" in reread for n in range(a, b + 1))
    assert not MARKER_RE.search(reread)
    (marker,) = [m.group(0) for m in MARKER_RE.finditer(view) if f"sed -n {a},{b}p" in m.group(0)]
    assert dropped_text(headroom_home, marker) == "\n".join(f"{n:6d}\t{lines[n - 1]}" for n in range(a, b + 1))


def test_codex_under_wrap_with_the_output_shaper(codex_cli, codex_fake, tmp_path, headroom_home):
    """`HEADROOM_OUTPUT_SHAPER=1 headroom wrap -- codex exec`: Codex's own `instructions` reach the upstream as
    it sent them (ChatGPT's Codex backend refuses any other), the level's instruction is a developer message
    of its own after Codex's leading ones, the same bytes in every request, the proxy's own retrieval
    continuation included; the turn after the tool output gets a sent reasoning effort lowered."""
    from headroom.core.shaper import instruction

    codex_fake.queue_custom_call("exec", EXEC_JS)
    codex_fake.retrieve_marker = True  # the relay's continuation is a request of the proxy's own: shaped too
    codex_fake.queue(Reply.text("worker 150 was fine; PONG"))
    work = tmp_path / "project"
    work.mkdir()
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = {**codex_env(codex_fake, user_home), "HEADROOM_OUTPUT_SHAPER": "1"}
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                 "--dangerously-bypass-approvals-and-sandbox", "Did worker 150 finish?"),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "worker 150 was fine; PONG" in r.stdout, r.stdout + r.stderr
    posts = [rec.json for rec in codex_fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert len(posts) == 3
    ours = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": instruction(2)}]}
    places = []
    for body in posts:
        # 0.169 sends no `instructions`; a Codex that does gets them through as it sent them.
        assert body.get("instructions") == posts[0].get("instructions")
        assert "<headroom_output_shaping>" not in (body.get("instructions") or "")
        items = body["input"]
        assert items.count(ours) == 1
        i = items.index(ours)
        assert i > 0 and all(it.get("role") in ("developer", "system") for it in items[:i])  # after Codex's preamble,
        assert items[i + 1].get("role") not in ("developer", "system")  # all of it (its additional_tools item too)
        places.append(i)
    assert len(set(places)) == 1  # the same place, the same bytes, every request
    # Codex 0.169 sends reasoning.effort "low" here already: nothing to lower, and nothing is raised or added.
    assert [b.get("reasoning") for b in posts] == [posts[0].get("reasoning")] * 3


class SedFollowingCodexFake(CodexFake):
    """CodexFake acting on a marker's `sed -n A,Bp FILE` hint (once), calling exec_command directly."""

    HINT = re.compile(r"body of [\w.]+[^;\]]*; (sed -n (\d+),(\d+)p \S+)[;\]]")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.followed: re.Match | None = None

    def _answer(self, h, rec):
        if self.followed is None and rec.method == "POST" and rec.route.endswith("/responses"):
            hint = self.HINT.search(rec.decoded.decode("utf-8", "replace"))
            if hint is not None:
                self.followed = hint
                with self._lock:
                    self._replies.insert(0, Reply.tool_call("exec_command", {"cmd": hint.group(1)}))
        return super()._answer(h, rec)


def test_codex_cat_of_a_file_it_truncates_gets_markers_in_the_files_line_numbers(codex_cli, fake_pki, tmp_path,
                                                                                    headroom_home):
    """`cat FILE` of a file larger than Codex's output budget: Codex keeps a head and a tail around its own cut
    and says how many lines the whole output had. Markers on both sides give the file's line numbers and the
    `sed -n` that shows them; a model following one gets exactly the folded lines, whole."""
    work = tmp_path / "project"
    work.mkdir()
    source = work / "argparse.py"  # ~2,700 lines, ~25k tokens: over Codex's 10k-token budget for an output
    source.write_text((Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text())
    lines = source.read_text().split("\n")
    user_home = tmp_path / "user"
    user_home.mkdir()
    with SedFollowingCodexFake(fake_pki) as fake:
        fake.queue(Reply.tool_call("exec_command", {"cmd": "cat argparse.py"}))
        env = codex_env(fake, user_home)
        r = subprocess.run(
            headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                     "--dangerously-bypass-approvals-and-sandbox", "Print argparse.py: how does it format usage?"),
            env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
        )
        posts = [rec for rec in fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(posts) == 3, [(rec.method, rec.path) for rec in fake.requests]
    (view,) = _outputs(posts[1])
    assert "tokens truncated…" in view and "Total output lines: " in view  # Codex's own cut, kept
    cut = next(i for i, ln in enumerate(view.split("\n")) if "tokens truncated…" in ln)
    ranges = []
    for m in MARKER_RE.finditer(view):
        got = re.search(r"; sed -n (\d+),(\d+)p argparse\.py(?:;|$)", m.group("summary"))
        assert got, m.group(0)  # every marker names the sed -n that shows its lines, in the file's numbers
        a, b = int(got.group(1)), int(got.group(2))
        assert dropped_text(headroom_home, m.group(0)) == "\n".join(lines[a - 1:b]), m.group(0)
        ranges.append((view[:m.start()].count("\n") > cut, a))
    assert any(after for after, _ in ranges) and any(not after for after, _ in ranges)  # both sides of the cut
    assert fake.followed is not None
    a, b = int(fake.followed.group(2)), int(fake.followed.group(3))
    first_again, reread = _outputs(posts[2])
    assert first_again == view  # the next turn sends the view as the same bytes
    assert "\n".join(lines[a - 1:b]) in reread and not MARKER_RE.search(reread)  # the folded body, whole
