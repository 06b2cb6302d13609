"""Dropped, then needed, through the real proxy: Claude Code-shaped conversations about a real module whose Read
the proxy folds; in one the model Edits a folded line it was never shown (guessed), in one it asks
headroom_retrieve first (the relay answers; retrieved, and its Edit is no guess), in one it Reads the folded
range again (re-read); in one a later question names a folded function (re-expanded, once for two requests).
`headroom perf`, /stats, /metrics and the dashboard then show exactly those counts.
And the real agents under `headroom wrap`: Claude Code, told by the fake to Edit a folded line it never saw,
really edits the file, then Reads another folded body as its marker says; Codex patches a folded line it
never saw (apply_patch inside its `exec` JavaScript) and re-reads another body with the `nl -ba | sed -n`
its marker names. Each: one guess, one re-read."""
from __future__ import annotations

import json
import socket
import re
import ssl
import subprocess
import sys
import sysconfig
import urllib.request
from email import message as email_message
from pathlib import Path

import httpx
import pytest

from headroom.core.markers import MARKER_RE
from headroom.storage.store import open_store
from headroom.proxyinfo import probe_health
from tests.e2e.test_claude_code import claude_cli, read_paths  # noqa: F401 - the fixtures that install the real CLIs
from tests.e2e.test_codex import CodexFake, codex_cli, codex_env  # noqa: F401
from tests.e2e.test_savings import wait_for_rows
from tests.e2e.test_savings_dashboard import NO_BROWSER, _ById, chromium
from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import FakeUpstream, Reply

pytestmark = pytest.mark.e2e

URL = "https://api.anthropic.com/v1/messages"
SOURCE = Path(email_message.__file__)
MIN_LINE = 30  # lines this long are specific to the run that holds them


class RetrievingFake(FakeUpstream):
    """The fake upstream, acting on marker text as a model would: when `retrieve_next` is set, it answers the
    next request that carries a marker by calling headroom_retrieve with that marker's key."""

    retrieve_next = False

    def _next_reply(self, generation: bool, decoded: bytes = b""):
        marker = MARKER_RE.search(decoded.decode("utf-8", "replace"))
        with self._lock:
            if generation and self.retrieve_next and marker:
                self.retrieve_next = False
                return Reply.tool_call("headroom_retrieve", {"key": marker.group("key")})
        return super()._next_reply(generation, decoded)


@pytest.fixture
def fake(fake_pki):
    with RetrievingFake(fake_pki) as f:
        yield f


def read_result(offset: int = 1, limit: int | None = None) -> str:
    lines = SOURCE.read_text().splitlines()
    end = len(lines) if limit is None else offset - 1 + limit
    return "\n".join(f"{n}\t{lines[n - 1]}" for n in range(offset, min(end, len(lines)) + 1))


def first_body(question: str) -> dict:
    return {"model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": True, "messages": [
        {"role": "user", "content": [{"type": "text", "text": question}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_read", "name": "Read",
                                           "input": {"file_path": str(SOURCE)}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_read", "content": read_result()}]},
    ]}


def then(body: dict, call: dict, result: str) -> dict:
    return {**body, "messages": body["messages"] + [
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": result}]}]}


class Client:
    def __init__(self, proxy, fake):
        self.fake = fake
        self.http = httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.client_ca_bundle)),
                                 timeout=60)

    def send(self, body: dict) -> dict:
        """POST through the proxy; the body the upstream received first for it."""
        before = len(self.fake.requests)
        with self.http.stream("POST", URL, content=json.dumps(body).encode(), headers={
                "content-type": "application/json", "x-api-key": "sk-ant-test-fake",
                "anthropic-version": "2023-06-01"}) as resp:
            resp.read()
            assert resp.status_code == 200, resp.text
        return self.fake.wait_for(before + 1)[before].json


def folded(received: dict, home: Path, index: int) -> tuple[list[int], str]:
    """The `index`-th run the proxy folded in the Read (by its marker, read back from the store) that holds a
    line the model was not shown: the run's file line numbers and that line."""
    text = received["messages"][2]["content"][0]["content"]
    store = open_store(home)
    try:
        runs = []
        for m in MARKER_RE.finditer(text):
            numbered = [ln.split("\t", 1) for ln in (store.get(m.group("key")) or "").splitlines()]
            unseen = [t for _, t in numbered if len(t.strip()) >= MIN_LINE and t.strip() not in text]
            if unseen:
                runs.append(([int(n) for n, _ in numbered], unseen[0]))
    finally:
        store.close()
    assert len(runs) > index, "the proxy folds several function bodies of a 1,200-line module"
    return runs[index]


def test_guessed_retrieved_and_re_read_show_in_perf_stats_metrics_and_the_dashboard(start_proxy, fake, headroom_home,
                                                                                   tmp_path):
    proxy = start_proxy(upstream=fake)
    client = Client(proxy, fake)

    # Guessed: the model Edits a folded line it never saw and never asked for.
    a = first_body("What does get_content_type return when there is no Content-Type header?")
    _, line = folded(client.send(a), headroom_home, 1)
    edit = {"type": "tool_use", "id": "toolu_edit", "name": "Edit",
            "input": {"file_path": str(SOURCE), "old_string": line, "new_string": line + "  # fixed"}}
    client.send(then(a, edit, f"The file {SOURCE} has been updated."))
    perf = wait_for_rows(2)
    assert perf["needed"] == {"total": 1, "retrieved": 0, "reread": 0, "guessed": 1, "reexpanded": 0}

    # Retrieved: the model asks for the first folded run (the relay answers), then Edits a line of it.
    b = first_body("Which headers does set_param rewrite, and how?")
    fake.retrieve_next = True
    received = client.send(b)
    assert not fake.retrieve_next  # it did call headroom_retrieve, and the proxy answered it
    _, line = folded(received, headroom_home, 0)
    edit = {**edit, "id": "toolu_edit_b", "input": {**edit["input"], "old_string": line}}
    client.send(then(b, edit, f"The file {SOURCE} has been updated."))

    # Re-read: the model Reads the folded range with the offset/limit the marker names.
    c = first_body("How does walk() visit the subparts of a multipart message?")
    numbers, _ = folded(client.send(c), headroom_home, 2)
    read = {"type": "tool_use", "id": "toolu_reread", "name": "Read",
            "input": {"file_path": str(SOURCE), "offset": numbers[0], "limit": len(numbers)}}
    client.send(then(c, read, read_result(numbers[0], len(numbers))))

    # Re-expanded: a later question names a folded function; the proxy sends that Read's body whole again,
    # and the next request of the conversation (same question, same re-expansion) costs no second miss.
    d = first_body("Where does the Message class keep its headers?")
    received = client.send(d)
    name = next(m.group(1) for m in re.finditer(r"body of ([\w.]+)", received["messages"][2]["content"][0]["content"]))
    d = {**d, "messages": d["messages"] + [
        {"role": "assistant", "content": [{"type": "text", "text": "In self._headers."}]},
        {"role": "user", "content": [{"type": "text", "text": f"And what does {name} do?"}]}]}
    for _ in range(2):
        received = client.send(d)
        assert f"body of {name}" not in received["messages"][2]["content"][0]["content"]
    client.http.close()

    perf = wait_for_rows(9)  # one row per request (the relay's continuation is part of its request's row)
    assert perf["needed"] == {"total": 3, "retrieved": 1, "reread": 1, "guessed": 1, "reexpanded": 1}, perf["needed"]
    table = subprocess.run([sys.executable, "-m", "headroom", "perf"], capture_output=True, text=True, timeout=60)
    assert "Dropped, then needed: 3 (retrieved 1, re-read 1, guessed 1)" in table.stdout, table.stdout
    assert "re-expanded for a later question: 1" in table.stdout

    admin = probe_health(proxy.port)["admin_url"]
    with urllib.request.urlopen(f"{admin}/stats?since=24h", timeout=10) as resp:
        assert json.load(resp)["needed"] == perf["needed"]
    with urllib.request.urlopen(f"{admin}/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    for kind in ("retrieved", "reread", "guessed"):
        assert f'headroom_dropped_needed_total{{replica="{socket.gethostname()}",kind="{kind}"}} 1' in metrics
    assert f'headroom_reexpanded_total{{replica="{socket.gethostname()}"}} 1' in metrics

    if NO_BROWSER:  # everything above was checked; the page itself needs a browser
        pytest.skip("the dashboard part needs the Debian chromium package (.ci/run installs it)")
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", f"{admin}/dashboard#since=24h", tmp=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _ById()
    page.feed(dom.stdout)
    assert page.text["needed-total"] == "3"
    assert page.text["needed-line"] == "dropped, then needed: 3 (retrieved 1, re-read 1, guessed 1)"
    assert page.text["reexpanded"] == "1"
    flags = [row[-1] for row in page.rows["recent"][1:]]
    assert sum("1 guessed" in f for f in flags) == 1 and sum("1 re-read" in f for f in flags) == 1


class EditingFake(FakeUpstream):
    """The fake upstream as a model: when a request's newest tool result folds function bodies (each marker
    names the Read that shows it), it answers with an Edit of a line of the first body it was not shown,
    taken from the file itself (a guess); next, with the Read the last marker names (a re-read); then text."""

    HINT = re.compile(r"; Read offset=(\d+) limit=(\d+)[;\]]")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edited: dict | None = None
        self.reread: dict | None = None

    def _next_reply(self, generation, decoded=b""):
        reply = super()._next_reply(generation, decoded)
        if reply is not None or not generation or self.reread is not None:
            return reply
        text = decoded.decode("utf-8", "replace")
        hints = list(self.HINT.finditer(text))
        if not hints:
            return None
        path = read_paths(decoded)[0]  # the file the model's Read showed (a marker names lines, not the file)
        if self.edited is not None:
            self.reread = {"file_path": path, "offset": int(hints[-1].group(1)), "limit": int(hints[-1].group(2))}
            return Reply.tool_call("Read", self.reread)
        for hint in hints:
            offset, limit = int(hint.group(1)), int(hint.group(2))
            body = Path(path).read_text().split("\n")[offset - 1: offset - 1 + limit]
            unseen = [ln for ln in body if len(ln.strip()) >= MIN_LINE and json.dumps(ln.strip())[1:-1] not in text]
            if unseen:
                self.edited = {"file_path": path, "old_string": unseen[0], "new_string": unseen[0] + "  # edited"}
                return Reply.tool_call("Edit", self.edited)
        return None


@pytest.fixture
def editing_fake(fake_pki):
    with EditingFake(fake_pki) as fake:
        yield fake


@pytest.mark.slow
def test_real_claude_code_edits_a_folded_line_it_never_saw_then_re_reads_another(
        claude_cli, editing_fake, tmp_path, headroom_home):
    fake = editing_fake
    source = tmp_path / "message.py"
    source.write_text(SOURCE.read_text())
    fake.queue(Reply.tool_call("Read", {"file_path": str(source)}))
    user_home = tmp_path / "user"
    user_home.mkdir()
    env = wrap_env(fake, ANTHROPIC_API_KEY="sk-ant-dummy-key", HOME=str(user_home),
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_AUTOUPDATER="1")
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(claude_cli), "-p",
                 "What does get_content_type return when there is no Content-Type header?",
                 "--allowedTools", "Read,Edit"),
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert fake.edited is not None, "the Read was compressed with a folded body"
    assert fake.edited["new_string"] in source.read_text()  # Claude Code really applied the Edit
    messages = [rec for rec in fake.requests if rec.route == "/v1/messages"]
    assert fake.reread is not None
    assert len(messages) == 4, [rec.path for rec in fake.requests]
    perf = wait_for_rows(4)
    assert perf["needed"] == {"total": 2, "retrieved": 0, "reread": 1, "guessed": 1, "reexpanded": 0}, perf["needed"]


class GuessingCodexFake(CodexFake):
    """CodexFake as a model: shown a view with folded bodies, it first patches a line of the first folded body
    it was not shown (apply_patch through its `exec` JavaScript), then re-reads the second one with the
    `nl -ba FILE | sed -n A,Bp` its marker names, then answers."""

    HINT = re.compile(r"(?:body of|definitions, signatures and bodies:) [\w.]+[^;\]]*; (nl -ba (\S+) \| sed -n (\d+),(\d+)p)[;\]]")

    def __init__(self, *args, work: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.work = work
        self.patched: str | None = None
        self.reread: str | None = None

    def _answer(self, h, rec):
        if rec.method == "POST" and rec.route.endswith("/responses") and not self.custom_calls:
            text = rec.decoded.decode("utf-8", "replace")
            hints = list(self.HINT.finditer(text))
            if self.patched is None and len(hints) >= 2:
                path, a, b = hints[0].group(2), int(hints[0].group(3)), int(hints[0].group(4))
                lines = (self.work / path).read_text().split("\n")[a - 1:b]
                line = next(ln for ln in lines if len(ln.strip()) >= MIN_LINE and json.dumps(ln)[1:-1] not in text)
                self.patched = line
                patch = (f"*** Begin Patch\n*** Update File: {path}\n@@\n-{line}\n+{line}  # patched\n"
                         "*** End Patch\n")
                self.queue_custom_call("exec", f"const r = await tools.apply_patch({json.dumps(patch)});\ntext(r);\n")
            elif self.patched is not None and self.reread is None and len(hints) >= 2:
                self.reread = hints[1].group(1)
                self.queue_custom_call("exec", f"const r = await tools.exec_command({{cmd: {json.dumps(self.reread)}, "
                                               "login: false, max_output_tokens: 60000});\ntext(r.output);\n")
        return super()._answer(h, rec)


@pytest.mark.slow
def test_real_codex_patches_a_folded_line_it_never_saw_then_re_reads_another(codex_cli, fake_pki, tmp_path,
                                                                             headroom_home):
    work = tmp_path / "project"
    work.mkdir()
    source = work / "calendar.py"
    source.write_text((Path(sysconfig.get_paths()["stdlib"]) / "calendar.py").read_text())
    user_home = tmp_path / "user"
    user_home.mkdir()
    with GuessingCodexFake(fake_pki, work=work) as fake:
        fake.queue_custom_call("exec", "const r = await tools.exec_command({cmd: \"nl -ba calendar.py | sed -n "
                                       "1,2000p\", login: false, max_output_tokens: 60000});\ntext(r.output);\n")
        env = codex_env(fake, user_home)
        r = subprocess.run(
            headroom("wrap", "--port", str(free_port()), "--", str(codex_cli), "exec", "--skip-git-repo-check",
                     "--dangerously-bypass-approvals-and-sandbox",
                     "How does HTMLCalendar.formatmonth build the month's table?"),
            env=env, capture_output=True, text=True, timeout=180, cwd=work, stdin=subprocess.DEVNULL,
        )
        posts = [rec for rec in fake.requests if rec.method == "POST" and rec.route == "/v1/responses"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert fake.patched is not None and fake.reread is not None, [len(p.decoded) for p in posts]
    assert fake.patched + "  # patched" in source.read_text()  # Codex really applied the patch
    assert len(posts) == 4, [(rec.method, rec.path) for rec in fake.requests]
    perf = wait_for_rows(4)
    assert perf["needed"] == {"total": 2, "retrieved": 0, "reread": 1, "guessed": 1, "reexpanded": 0}, perf["needed"]
