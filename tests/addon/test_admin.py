"""The admin server: /stats is the ledger's one summary, /metrics parses as Prometheus text, loopback only."""
from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from mitmproxy.test import taddons
from prometheus_client.parser import text_string_to_metric_families

from headroom.addon.admin import Admin, AdminServer, _host_is_loopback, is_loopback
from headroom.storage.ledger import Entry, Ledger, UnitRow, ledger_path, open_reader
from headroom.storage.report import build_report, report_json


def seed(n: int = 6) -> None:
    led = Ledger(ledger_path()).start()
    now = time.time()
    for i in range(n):
        led.record(Entry(ts=now - 30 * i, provider="anthropic", host="api.anthropic.com",
                         model="claude-sonnet-4-5" if i % 2 else "unpriced-model", tokens_before=5_000 + i,
                         tokens_after=1_000 + i, tool_tokens_before=4_500, tool_tokens_after=500, compressed=True,
                         compress_ms=1.0 + i, overhead_ms=2.0 + i, ttfb_ms=50.0 + i, upstream_ms=80.0 + i,
                         usage_reported=True, usage_input=1_000, usage_cache_read=600, usage_output=9,
                         retrievals=i % 3 == 0, fail_open=i == 5,
                         units=(UnitRow("json", "json_array", 1, 4_500, 500, 1.0),)))
    assert led.flush(10)
    led.close()


@pytest.fixture
def server():
    s = AdminServer(live=lambda: {"ledger_dropped": 0}).start()
    yield s
    s.stop()


def get(server, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def test_stats_is_the_summary(server):
    seed()
    status, headers, body = get(server, "/stats?since=24h")
    assert status == 200 and headers["Content-Type"] == "application/json"
    got = json.loads(body)
    again = report_json(build_report(open_reader(), since=got["period"]["since"], now=got["period"]["until"]))
    for key in ("totals", "per_model", "per_content_type", "latency_ms", "series"):
        assert got[key] == again[key]
    assert got["totals"]["requests"] == 6 and len(got["recent"]) == 6
    assert got["period"]["label"] == "24h"


def test_stats_bad_period_is_a_400(server):
    status, _, body = get(server, "/stats?since=forever")
    assert status == 400 and "24h" in json.loads(body)["error"]


def test_metrics_parse_as_prometheus_and_match_the_summary(server):
    seed()
    status, headers, body = get(server, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    total = report_json(build_report(open_reader()))["totals"]

    def value(name, **labels):
        (sample,) = [s for s in fams[name].samples if all(s.labels.get(k) == v for k, v in labels.items())]
        return sample.value

    assert fams["headroom_requests"].type == "counter"
    assert value("headroom_requests") == total["requests"] == 6
    assert value("headroom_tokens_before", scope="request") == total["tokens_before"]
    assert value("headroom_tokens_after", scope="tool_outputs") == total["tool_tokens_after"]
    assert value("headroom_tokens_saved", scope="request") == total["tokens_saved"]
    assert value("headroom_provider_usage_tokens", kind="cache_read") == 3_600
    assert value("headroom_fail_open") == 1 and value("headroom_retrievals") == total["retrievals"] == 2
    assert value("headroom_usd_saved") == total["usd_saved"]
    models = {s.labels["model"]: s.value for s in fams["headroom_model_requests"].samples}
    assert models == {"claude-sonnet-4-5": 3, "unpriced-model": 3}
    lat = {(s.labels["stage"], s.labels["quantile"]): s.value for s in fams["headroom_latency_ms"].samples}
    assert lat[("ttfb", "1")] == 55.0 and lat[("compression", "0.5")] == 3.0


def test_metrics_with_an_empty_ledger_still_parse(server):
    status, _, body = get(server, "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert status == 200 and fams["headroom_requests"].samples[0].value == 0
    assert "headroom_usd_saved" not in fams  # unknown, not $0


def test_dashboard_files_are_served_locally(server):
    status, headers, body = get(server, "/dashboard")
    assert status == 200 and b"/dashboard/app.js" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for name in ("app.js", "style.css"):
        status, _, body = get(server, f"/dashboard/{name}")
        assert status == 200 and body
    html = get(server, "/dashboard")[2].decode() + get(server, "/dashboard/app.js")[2].decode()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no CDN, nothing remote
    assert "https://" not in html
    for bad in ("/dashboard/../admin.py", "/dashboard/.hidden.js", "/dashboard/x.py", "/nope"):
        assert get(server, bad)[0] == 404


def test_foreign_host_header_is_refused(server):
    # A web page whose name was rebound to 127.0.0.1 sends its own Host: it must not read the numbers.
    status, _, body = get(server, "/stats", headers={"Host": "evil.example.com"})
    assert status == 403 and b"loopback" in body
    assert get(server, "/stats", headers={"Host": f"localhost:{server.port}"})[0] == 200
    assert get(server, "/stats", headers={"Host": f"[::1]:{server.port}"})[0] == 200


def _non_loopback_address() -> str | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only asks the kernel which source it would use
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if is_loopback(ip) else ip


def test_non_loopback_peer_is_refused(server):
    ip = _non_loopback_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    c = socket.socket()
    c.settimeout(5)
    c.bind((ip, 0))
    c.connect(("127.0.0.1", server.port))
    c.sendall(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        data = c.recv(65536)
    except ConnectionResetError:
        data = b""
    c.close()
    assert b"requests" not in data and not data.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("peer, ok", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                      ("::ffff:127.0.0.1", True), ("192.0.2.2", False), ("10.0.0.1", False),
                                      ("::ffff:10.0.0.1", False), ("fd00::2", False), ("garbage", False)])
def test_peer_check(peer, ok):
    assert is_loopback(peer) is ok


@pytest.mark.parametrize("host, ok", [(None, True), ("127.0.0.1:8788", True), ("localhost", True),
                                      ("dash.localhost:9", True), ("[::1]:8788", True), ("example.com", False),
                                      ("127.0.0.1.nip.io:8788", False), ("192.168.1.5:8788", False)])
def test_host_check(host, ok):
    assert _host_is_loopback(host) is ok


def test_refuses_to_listen_beyond_loopback():
    with pytest.raises(ValueError, match="loopback only"):
        AdminServer("0.0.0.0", 0)


def test_addon_starts_on_proxy_port_plus_one_and_reports_url():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    proxy_port = free.getsockname()[1]
    free.close()
    a = Admin()
    with taddons.context(a) as tctx:
        tctx.options.listen_port = proxy_port
        a.running()
        try:
            assert a.url is not None and a.url.startswith("http://127.0.0.1:")
            # proxy port + 1 unless that happened to be taken, then any free port
            status, _, _ = get(a.server, "/stats")
            assert status == 200
        finally:
            a.done()
        assert a.server is None


def test_addon_busy_port_falls_back_to_a_free_one():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    a = Admin()
    try:
        with taddons.context(a) as tctx:
            tctx.configure(a, headroom_admin_port=busy.getsockname()[1])
            a.running()
            assert a.server.port != busy.getsockname()[1]
            a.done()
    finally:
        busy.close()


def test_addon_can_be_off():
    a = Admin()
    with taddons.context(a) as tctx:
        tctx.configure(a, headroom_admin_port=-1)
        a.running()
        assert a.url is None and a.server is None


def test_admin_port_from_the_environment():
    from headroom.settings import Settings

    a = Admin()
    with taddons.context(a) as tctx:
        # The CLI reads the variable into Settings and hands the addon its option.
        tctx.configure(a, headroom_admin_port=Settings.from_env({"HEADROOM_ADMIN_PORT": "-1"}).admin_port)
        assert tctx.options.headroom_admin_port == -1
        a.running()
        assert a.server is None


def test_bad_admin_port_option_is_refused():
    from mitmproxy import exceptions

    a = Admin()
    with taddons.context(a) as tctx:
        with pytest.raises(exceptions.OptionsError, match="-1 \\(off\\), 0 \\(auto\\)"):
            tctx.configure(a, headroom_admin_port=70000)


def test_stats_and_metrics_carry_dropped_then_needed(server):
    led = Ledger(ledger_path()).start()
    now = time.time()
    for i, (retrieved, reread, guessed, reexpanded) in enumerate([(1, 0, 0, 0), (0, 2, 1, 0), (0, 0, 1, 3)]):
        led.record(Entry(ts=now - 10 * i, provider="anthropic", host="api.anthropic.com", model="claude-sonnet-4-5",
                         tokens_before=100, tokens_after=50, compressed=True, needed_retrieved=retrieved,
                         needed_reread=reread, needed_guessed=guessed, reexpanded=reexpanded))
    assert led.flush(10)
    led.close()
    got = json.loads(get(server, "/stats?since=24h")[2])
    assert got["needed"] == {"total": 5, "retrieved": 1, "reread": 2, "guessed": 2, "reexpanded": 3}
    fams = {f.name: f for f in text_string_to_metric_families(get(server, "/metrics")[2].decode())}
    assert fams["headroom_dropped_needed"].type == "counter"
    assert {s.labels["kind"]: s.value for s in fams["headroom_dropped_needed"].samples} == {
        "retrieved": 1, "reread": 2, "guessed": 2}
    assert fams["headroom_reexpanded"].samples[0].value == 3
    js = get(server, "/dashboard/app.js")[2].decode()
    html = get(server, "/dashboard")[2].decode()
    assert 'id="needed-line"' in html and "re-expanded for a later question" in html
    assert "dropped, then needed: " in js and "s.needed" in js


def test_the_users_price_file_reaches_stats_through_the_option(tmp_path):
    # HEADROOM_PRICING is read by the CLI into Settings; the Admin addon hands its option to the server.
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"as_of": "2030-01-01", "families": [
        {"family": "cheap-4o", "prefixes": ["gpt-4o"], "input": 1.0, "output": 2.0}]}))
    seed()
    a = Admin()
    with taddons.context(a) as tctx:
        tctx.configure(a, headroom_admin_port=0, headroom_pricing=str(prices))
        a.running()
        try:
            _, _, body = get(a.server, "/stats")
            assert "2030-01-01" in json.loads(body)["pricing"]["as_of"]
        finally:
            a.done()
    s = AdminServer().start()  # without the option: the shipped table alone
    try:
        _, _, body = get(s, "/stats")
        assert "2030-01-01" not in json.loads(body)["pricing"]["as_of"]
    finally:
        s.stop()


def _sessions_server(root):
    from headroom.addon.sessions import Sessions

    return AdminServer(sessions=Sessions(root)).start()


def _call(server, method, path, body=None, ctype="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        conn.request(method, path, body=data, headers={"Content-Type": ctype} if data is not None else {})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def test_sessions_are_registered_listed_and_ended(headroom_home):
    import os

    server = _sessions_server(headroom_home)
    try:
        sid = "0123456789abcdef"
        status, got = _call(server, "POST", "/sessions", {"id": sid, "pid": os.getpid(),
                                                          "settings": {"compress": False}})
        assert status == 201 and got["settings"]["compress"] is False
        status, got = _call(server, "GET", "/sessions")
        assert status == 200 and [s["id"] for s in got["sessions"]] == [sid] and got["unknown_flows"] == 0
        assert _call(server, "GET", f"/sessions/{sid}")[1]["flows"] == 0
        assert _call(server, "DELETE", f"/sessions/{sid}") == (200, {"ended": True})
        assert _call(server, "DELETE", f"/sessions/{sid}")[0] == 404
        assert _call(server, "GET", f"/sessions/{sid}")[0] == 404
    finally:
        server.stop()


def test_a_registration_a_web_page_could_send_or_a_bad_one_is_refused(headroom_home):
    server = _sessions_server(headroom_home)
    try:
        good = {"id": "0123456789abcdef", "settings": {}}
        assert _call(server, "POST", "/sessions", good, ctype="text/plain")[0] == 415  # no CORS preflight
        assert _call(server, "POST", "/sessions", {"id": "nope"}) == (
            400, {"error": "session id must be 8 to 32 lowercase hex digits"})
        assert _call(server, "POST", "/sessions", b"{not json")[0] == 400
        assert _call(server, "POST", "/stats", good)[0] == 405
        assert _call(server, "GET", "/sessions")[1]["sessions"] == []
    finally:
        server.stop()


def test_without_a_registry_posts_stay_refused(server):
    assert _call(server, "POST", "/sessions", {"id": "0123456789abcdef"})[0] == 405


def test_metrics_have_a_user_label_in_team_mode(tmp_path):
    from headroom.addon.admin import render_metrics

    path = tmp_path / "ledger.sqlite3"
    led = Ledger(path).start()
    now = time.time()
    for user, before in (("alice", 1000), ("bob", 3000), ("bob", 1000), (None, 500)):
        led.record(Entry(ts=now - 60, provider="openai_chat", host="api.openai.com", model="gpt-4o",
                         tokens_before=before, tokens_after=before // 2, user=user))
    assert led.flush(10)
    led.close()
    report = build_report(open_reader(path), now=now)
    text = render_metrics(report, report, {})
    samples = {(s.name, s.labels.get("user")): s.value for fam in text_string_to_metric_families(text)
               for s in fam.samples if "user" in s.labels}
    assert samples[("headroom_user_requests_total", "bob")] == 2
    assert samples[("headroom_user_tokens_saved", "bob")] == 2000
    assert samples[("headroom_user_requests_total", "alice")] == 1
    assert len({u for _, u in samples}) == 2  # rows of no user are in the totals, not under a user
    plain = build_report(None, now=now)
    assert "headroom_user_" not in render_metrics(plain, plain, {})


def test_every_metrics_series_carries_the_replica_label(tmp_path):
    """A team scrapes several replicas: every sample says which one it came from (HEADROOM_REPLICA)."""
    import socket

    from headroom.addon.admin import Admin, render_metrics

    path = tmp_path / "ledger.sqlite3"
    led = Ledger(path).start()
    now = time.time()
    led.record(Entry(ts=now - 60, provider="openai_chat", host="api.openai.com", model="gpt-4o",
                     tokens_before=900, tokens_after=300, user="ann", ttfb_ms=12.0))
    assert led.flush(10)
    led.close()
    report = build_report(open_reader(path), now=now)
    live = {"ledger_dropped": 0, "shared_ledger_dropped": 3, "shared_ledger_written": 7}
    samples = [s for fam in text_string_to_metric_families(render_metrics(report, report, live, replica="proxy-a"))
               for s in fam.samples]
    assert len(samples) > 20
    assert {s.labels.get("replica") for s in samples} == {"proxy-a"}
    by_name = {s.name: s.value for s in samples}
    assert by_name["headroom_shared_ledger_dropped_total"] == 3 and by_name["headroom_requests_total"] == 1
    assert Admin()._live()["replica"] == socket.gethostname()  # the default: the host name
