"""The dashboard in a real headless Chromium: after real traffic through the real proxy, the numbers it
renders are the ones `headroom perf` prints; a screenshot is kept under test-output/."""
from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from headroom.cli.perf import fmt_int, fmt_ms, fmt_pct, fmt_usd
from headroom.proxyinfo import probe_health

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Skipped on a developer's machine without a browser; in CI (.ci/run installs chromium) a missing one fails.
NO_BROWSER = CHROMIUM is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
ROWS = json.dumps([{"id": i, "name": f"user{i}", "active": i % 2 == 0, "plan": "free"} for i in range(200)])


class _ById(HTMLParser):
    """Text content of every element with an id, plus table rows and SVG rect classes."""

    def __init__(self):
        super().__init__()
        self.text: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.rects: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        if tag == "tr" and self._table:
            self.rows.setdefault(self._table, []).append([])
        if tag in ("td", "th") and self._table:
            self._cell = []
        if tag == "rect":
            self.rects.append(a.get("class", ""))
        if tag not in ("rect", "line", "meta", "link", "br", "input"):
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.rows[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, id_ in self._open:
            if id_:
                self.text[id_] += data
        if self._cell is not None:
            self._cell.append(data)

def _dump_page(url: str, profile: Path, budget_ms: int = 5000) -> tuple[subprocess.CompletedProcess, "_ById"]:
    """The dashboard at `url` as headless Chromium renders it: (its run, the page's elements by id)."""
    dom = chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", url, tmp=profile)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _ById()
    page.feed(dom.stdout)
    return dom, page



def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed: apt-get install chromium (.ci/run does)"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(NO_BROWSER, reason="needs the Debian chromium package (.ci/run installs it)")
def test_dashboard_renders_perfs_numbers(proxy, fake_upstream, tmp_path):
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30) as client:
        for model in ("gpt-4o", "gpt-4o", "my-local-model"):
            body = {"model": model, "messages": [
                {"role": "user", "content": "Which users are inactive?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "query", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": ROWS}]}
            r = client.post("https://api.openai.com/v1/chat/completions", json=body,
                            headers={"authorization": "Bearer sk-test-fake"})
            assert r.status_code == 200
    deadline = time.monotonic() + 20
    while True:
        out = subprocess.run([sys.executable, "-m", "headroom", "perf", "--format", "json"], capture_output=True,
                             text=True, timeout=60)
        perf = json.loads(out.stdout)
        if perf["totals"]["requests"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t = perf["totals"]
    assert t["requests"] == 3 and t["tokens_saved"] > 0

    url = probe_health(proxy.port)["admin_url"] + "/dashboard#since=24h"
    dom, page = _dump_page(url, tmp_path / "profile", 5000)
    shown = page.text
    assert shown["requests"] == fmt_int(t["requests"]) == "3"
    assert shown["saved-pct-request"] == fmt_pct(t["saved_pct_of_request"])
    assert shown["saved-pct-tools"] == fmt_pct(t["saved_pct_of_tool_outputs"])
    assert shown["tokens-before"] == fmt_int(t["tokens_before"])
    assert shown["tokens-after"] == fmt_int(t["tokens_after"])
    assert shown["tool-tokens-saved"] == fmt_int(t["tool_tokens_saved"])
    assert shown["usd-saved"] == fmt_usd(t["usd_saved"]) != "unknown"  # gpt-4o is priced
    assert "1 request(s) of unpriced models not counted" in shown["pricing-note"]
    assert shown["cache-read-share"] == fmt_pct(t["usage"]["cache_read_share_pct"])
    assert shown["fail-open"] == fmt_int(t["fail_open"])
    models = {row[0]: row for row in page.rows["per-model"][1:]}
    assert set(models) == {"gpt-4o", "my-local-model"}
    for m in perf["per_model"]:
        assert models[m["model"]][1] == fmt_int(m["requests"])
        assert models[m["model"]][4] == fmt_pct(m["saved_pct_of_request"])
        assert models[m["model"]][7] == fmt_usd(m["usd_saved"])
    assert models["my-local-model"][7] == "unknown"
    latency = {row[0]: row for row in page.rows["latency"][1:]}
    assert latency["Compression"][1] == fmt_ms(perf["latency_ms"]["compression"]["p50"])
    assert latency["Time to first byte"][4] == fmt_int(perf["latency_ms"]["ttfb"]["count"])
    types = [row[0] for row in page.rows["per-type"][1:]]
    assert types == [c["content_type"] for c in perf["per_content_type"]]
    assert len(page.rows["recent"]) == 1 + 3
    assert page.rects.count("before") == len(perf["series"]["points"]) >= 1  # the chart drew its bars
    assert "live" in shown["status"]

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "dashboard.png"
    shot.unlink(missing_ok=True)
    r = chromium("--virtual-time-budget=5000", "--window-size=1280,1400", f"--screenshot={shot}", url,
                 tmp=tmp_path / "profile2")
    assert r.returncode == 0 and shot.stat().st_size > 20_000


@pytest.mark.skipif(NO_BROWSER, reason="needs the Debian chromium package (.ci/run installs it)")
def test_dashboard_updates_live_and_says_when_the_proxy_is_gone(tmp_path, monkeypatch):
    """One page load: the first poll sees 1 request, the next sees 2 (no reload), then the server goes
    away and the page says the proxy must be running, keeping the last figures."""
    import threading

    from headroom.addon import admin as admin_mod
    from headroom.storage.ledger import Entry, Ledger, ledger_path

    monkeypatch.setattr(admin_mod, "STATS_TTL_S", 0.0)

    def add_row(tokens_before: int) -> None:
        led = Ledger(ledger_path()).start()
        led.record(Entry(ts=time.time(), provider="openai_chat", host="api.openai.com", model="gpt-4o",
                         tokens_before=tokens_before, tokens_after=100))
        assert led.flush(10)
        led.close()

    class Scripted(admin_mod.AdminServer):
        calls = 0

        def stats(self, since_seconds, label):
            out = super().stats(since_seconds, label)
            Scripted.calls += 1
            if Scripted.calls == 1:
                add_row(2_000)  # arrives between two polls
            elif Scripted.calls == 2:
                self.stopped = True  # the proxy goes away: nothing more is answered
                threading.Thread(target=self.stop, daemon=True).start()
            return out

    add_row(1_000)
    server = Scripted().start()
    try:
        dom, page = _dump_page(server.url + "/dashboard", tmp_path / "profile", 20000)
    finally:
        server.stop()
    assert Scripted.calls == 2
    assert page.text["requests"] == "2" and page.text["tokens-before"] == "3,000"
    assert page.text["status"] == "proxy not answering"
    assert "proxy must be running" in page.text["offline"]
    assert '<div id="offline" class="banner" hidden' not in dom.stdout


@pytest.mark.skipif(NO_BROWSER, reason="needs the Debian chromium package (.ci/run installs it)")
def test_dashboard_shows_the_team_view_of_the_shared_ledger(tmp_path, monkeypatch):
    """A replica with a shared ledger (a real postgres that replicas a and b wrote for ann and bob): the page
    shows every replica and user with perf --ledger's digits; with the database gone, it says "shared ledger
    unavailable" and shows the replica's own figures as before."""
    from typer.testing import CliRunner

    from headroom.addon.admin import AdminServer
    from headroom.cli.main import app
    from headroom.storage.ledger import Entry
    from headroom.storage.pg_ledger import PgLedger
    from headroom.storage.team_view import TeamView
    from tests.support.servers import free_port, postgres_server, require_psycopg

    require_psycopg()
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    with postgres_server(password="dash-pw-8812") as url:
        for replica, user, n in (("a", "ann", 2), ("a", "bob", 1), ("b", "bob", 3)):
            led = PgLedger(url, replica=replica).start()
            for _ in range(n):
                led.record(Entry(ts=time.time(), provider="openai", host="api.openai.com", model="gpt-4o",
                                 tokens_before=1200, tokens_after=300, user=user))
            assert led.flush(20)
            led.close()
        perf = json.loads(CliRunner().invoke(app, ["perf", "--ledger", url, "--format", "json"]).stdout)
        server = AdminServer(team=TeamView(url)).start()
        try:
            dom, page = _dump_page(server.url + "/dashboard", tmp_path / "profile", 5000)
        finally:
            server.stop()
    assert '<section class="panel" id="team" hidden' not in dom.stdout
    assert page.text["team-requests"] == fmt_int(perf["totals"]["requests"]) == "6"
    assert page.text["team-saved-pct-request"] == fmt_pct(perf["totals"]["saved_pct_of_request"])
    assert "2 replica(s), 2 user(s)" in page.text["team-status"] and "dash-pw-8812" not in dom.stdout
    replicas = {row[0]: row[1:] for row in page.rows["team-replicas"][1:]}
    users = {row[0]: row[1:] for row in page.rows["team-users"][1:]}
    for got, want, key in ((replicas, perf["per_replica"], "replica"), (users, perf["per_user"], "user")):
        assert set(got) == {g[key] for g in want}
        for g in want:
            assert got[g[key]][:4] == [fmt_int(g["requests"]), fmt_int(g["tokens_before"]),
                                       fmt_int(g["tokens_after"]), fmt_int(g["tokens_saved"])]
    assert replicas["b"][0] == "3" and users["bob"][0] == "4"
    assert page.text["requests"] == "0"  # this replica's own ledger is its own

    down = AdminServer(team=TeamView(f"postgresql://headroom:dash-pw-8812@127.0.0.1:{free_port()}/postgres")).start()
    try:
        dom, page = _dump_page(down.url + "/dashboard", tmp_path / "profile2", 5000)
    finally:
        down.stop()
    assert "shared ledger unavailable" in page.text["team-unavailable"]
    assert page.text["team-error"] == "OperationalError: connection refused"
    assert '<div id="team-unavailable" class="banner" hidden' not in dom.stdout
    assert '<div id="team-figures" hidden' in dom.stdout and "live" in page.text["status"]
    assert "dash-pw-8812" not in dom.stdout
