"""Behind a corporate proxy: the proxy chains to a real squid that wants credentials, in a network namespace
where nothing else is reachable (issue 15, item 2).

The world: the headroom proxy runs inside a network namespace whose only way out is a veth to this host, where
squid listens (and wants Basic credentials). The fake LLM upstream listens on this host's 127.0.0.1, which the
namespace cannot reach: a request that bypassed the chain fails. Squid reaches the fake by a name its own hosts
file resolves (`fake.upstream.test`), so every --route names that and squid's CONNECT log says what went
through it. A second fake lives inside the namespace, for what NO_PROXY exempts (squid refuses those names).
Clients run inside the namespace too (a thread entered into it, or a process started there).
"""
from __future__ import annotations

import json
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from headroom.core.markers import find_markers
from tests.support.fake_upstream import FakeUpstream, Reply, make_pki
from tests.support.netns import Netns, NetnsUnavailable
from tests.support.proxy import ProxyProcess, launch_proxy
from tests.support.squid import PASSWORD, USER, Squid, SquidUnavailable

pytestmark = pytest.mark.e2e

UPSTREAM_NAME = "fake.upstream.test"  # the fake LLM upstream, as squid resolves it
TUNNEL_NAME = "files.example.test"  # a host that is not an LLM host: tunnelled, never decrypted
DIRECT_LLM = "llm.corp.test"  # an internal LLM gateway that NO_PROXY exempts (.corp.test)
NO_PROXY = ".corp.test"  # and the namespace's own subnet, as a CIDR range (World.no_proxy)
LOG = "".join(f"2026-12-02 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-12-02 05:00:00 ERROR disk /dev/sda1 full\n"
HEADERS = {"authorization": "Bearer sk-test-fake"}


def chat(stream: bool = False, question: str = "why did the job fail?") -> dict:
    return {"model": "gpt-4o", "stream": stream, "messages": [
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": LOG}],
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]}


class World:
    def __init__(self, ns: Netns, squid: Squid, fake: FakeUpstream, inner: FakeUpstream, pki_dir: Path) -> None:
        self.ns, self.squid, self.fake, self.inner, self.pki_dir = ns, squid, fake, inner, pki_dir

    @property
    def no_proxy(self) -> str:
        return f"{NO_PROXY},{self.ns.inner_ip.rsplit('.', 1)[0]}.0/24"

    def proxy_args(self) -> list[str]:
        return ["--route", f"api.openai.com={UPSTREAM_NAME}:{self.fake.port}",
                "--route", f"{DIRECT_LLM}={self.inner.host}:{self.inner.port}",
                "--upstream-ca", str(self.fake.ca_cert)]

    def start_proxy(self, home: Path, upstream_proxy: str, **env: str) -> ProxyProcess:
        return launch_proxy(None, home, *self.proxy_args(), env={"HEADROOM_UPSTREAM_PROXY": upstream_proxy,
                                                                   "NO_PROXY": self.no_proxy, **env},
                            prefix=tuple(self.ns.prefix))

    def client(self, proxy: ProxyProcess, cafile: Path | None = None) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(cafile or proxy.client_ca_bundle))
        return httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False)

    def post(self, proxy: ProxyProcess, url: str, body: dict) -> httpx.Response:
        with self.ns.entered(), self.client(proxy) as c:
            return c.post(url, json=body, headers=HEADERS)

    def run_inside(self, *cmd: str, env: dict, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run([*self.ns.prefix, *cmd], env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).resolve().parents[2])

    def free_port_inside(self) -> int:
        with self.ns.entered(), socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


@pytest.fixture(scope="module")
def world():
    try:
        ns = Netns.create()
    except NetnsUnavailable as e:
        pytest.fail(f"these tests need a network namespace and cannot make one: {e}")
    pki_dir = Path(tempfile.mkdtemp(prefix="headroom-chain-pki-"))
    try:
        pki = make_pki(pki_dir, (UPSTREAM_NAME, TUNNEL_NAME, DIRECT_LLM, ns.inner_ip))
        fake = FakeUpstream(pki).start()
        with ns.entered():  # its listening socket lives in the namespace
            inner = FakeUpstream(pki, host=ns.inner_ip, default_text="Hello from inside.").start()
        try:
            squid = Squid.start(ns.outer_ip, {UPSTREAM_NAME: "127.0.0.1", TUNNEL_NAME: "127.0.0.1"})
        except SquidUnavailable as e:
            pytest.fail(str(e))
        try:
            yield World(ns, squid, fake, inner, pki_dir)
        finally:
            squid.stop()
            inner.stop()
            fake.stop()
    finally:
        ns.destroy()


@pytest.fixture(scope="module")
def chained(world, tmp_path_factory):
    proxy = world.start_proxy(tmp_path_factory.mktemp("chain-home"), world.squid.url)
    yield proxy
    proxy.stop()


def test_inside_the_namespace_only_squid_is_reachable(world):
    """The control: a connection that bypassed squid could not reach the fake upstream at all."""
    with world.ns.entered():
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", world.fake.port), timeout=3).close()
        socket.create_connection((world.squid.host, world.squid.port), timeout=3).close()


def test_an_intercepted_request_goes_through_squid_with_its_credentials(world, chained):
    before = len(world.fake.requests)
    r = world.post(chained, "https://api.openai.com/v1/chat/completions", chat())
    assert r.status_code == 200, r.text
    sent = world.fake.wait_for(before + 1)[-1]
    assert find_markers(sent.decoded.decode()), "the tool output was not compressed"
    assert sent.tls_server_name == "api.openai.com"  # TLS inside the tunnel names the real host
    assert "proxy-authorization" not in sent.headers  # squid's credentials stop at squid
    world.squid.wait_for_connect(f"{UPSTREAM_NAME}:{world.fake.port}")


def test_a_streamed_answer_streams_through_the_chain(world, chained):
    world.fake.queue(Reply.text("one two three four five six", chunks=6, interval=0.05))
    with world.ns.entered(), world.client(chained) as c:
        with c.stream("POST", "https://api.openai.com/v1/chat/completions", json=chat(stream=True),
                      headers=HEADERS) as r:
            assert r.status_code == 200
            assert "event-stream" in r.headers["content-type"]
            chunks = [line for line in r.iter_lines() if line.startswith("data: {")]
    text = "".join(json.loads(c[6:])["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "one two three four five six"
    assert len(chunks) >= 6


def test_a_tunnelled_connect_goes_through_squid_undecrypted(world, chained):
    # Verified with the fake's own CA only: it passes only if the proxy did not decrypt (its CA is not trusted).
    with world.ns.entered(), world.client(chained, cafile=world.fake.ca_cert) as c:
        r = c.get(f"https://{TUNNEL_NAME}:{world.fake.port}/some/file")
    assert r.status_code == 200 and r.json()["path"] == "/some/file"
    assert world.fake.last.tls_server_name == TUNNEL_NAME
    world.squid.wait_for_connect(f"{TUNNEL_NAME}:{world.fake.port}")


def test_a_relayed_retrieval_round_goes_through_squid(world, chained):
    world.fake.queue(Reply.text("noted"))
    r = world.post(chained, "https://api.openai.com/v1/chat/completions", chat(question="what was seq=7 about?"))
    assert r.status_code == 200
    key = find_markers(world.fake.last.decoded.decode())[0].key
    before = len(world.fake.requests)
    world.fake.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("the disk was full"))
    r = world.post(chained, "https://api.openai.com/v1/chat/completions", chat(question="and the full log?"))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "the disk was full"
    rounds = world.fake.wait_for(before + 2)[before:]
    assert len(rounds) == 2  # the relay's first request and its continuation with the retrieved text
    tool_msgs = [m for m in rounds[1].json["messages"] if m.get("role") == "tool"]
    assert any("seq=7" in (m.get("content") or "") for m in tool_msgs), "the continuation lacks the original"
    assert all("proxy-authorization" not in q.headers for q in rounds)


def test_a_streamed_retrieval_round_through_the_relay_goes_through_squid(world, chained):
    world.fake.queue(Reply.text("noted"))
    r = world.post(chained, "https://api.openai.com/v1/chat/completions", chat(question="what was seq=9 about?"))
    key = find_markers(world.fake.last.decoded.decode())[0].key
    before = len(world.fake.requests)
    world.fake.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("it was a heartbeat", chunks=3))
    with world.ns.entered(), world.client(chained) as c:
        with c.stream("POST", "https://api.openai.com/v1/chat/completions", headers=HEADERS,
                      json=chat(stream=True, question="and seq=9 itself?")) as r:
            assert r.status_code == 200
            lines = [line for line in r.iter_lines() if line.startswith("data: {")]
    text = "".join(json.loads(x[6:])["choices"][0]["delta"].get("content") or "" for x in lines)
    assert text == "it was a heartbeat" and "headroom_retrieve" not in "".join(lines)
    rounds = world.fake.wait_for(before + 2)[before:]
    assert any("seq=9" in (m.get("content") or "") for m in rounds[1].json["messages"] if m.get("role") == "tool")
    assert all("proxy-authorization" not in q.headers for q in rounds)


def test_no_proxy_hosts_go_direct_decrypted_or_tunnelled(world, chained):
    before = len(world.inner.requests)
    r = world.post(chained, f"https://{DIRECT_LLM}/v1/chat/completions", chat())
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "Hello from inside."
    got = world.inner.wait_for(before + 1)[-1]
    assert find_markers(got.decoded.decode()), "an exempted LLM host is still compressed"
    with world.ns.entered(), world.client(chained, cafile=world.fake.ca_cert) as c:
        r = c.get(f"https://{world.inner.host}:{world.inner.port}/x")  # NO_PROXY's CIDR range
    assert r.status_code == 200 and r.json()["path"] == "/x"
    targets = " ".join(t for _, _, t in world.squid.requests())
    assert "corp.test" not in targets and world.inner.host not in targets  # squid never saw them


def test_credentials_never_show_in_identity_stats_logs_or_ledger(world, chained):
    r = world.post(chained, "https://api.openai.com/v1/chat/completions", chat())
    assert r.status_code == 200
    from headroom.proxyinfo import probe_health

    with world.ns.entered():
        info = probe_health(chained.port)
        assert info is not None
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(info["admin_url"] + "/stats",
                                                                                timeout=10) as resp:
            stats = resp.read().decode()
    shown = json.dumps(info)
    assert info["upstream_proxy"] == {"url": f"http://{USER}:***@{world.squid.host}:{world.squid.port}",
                                      "no_proxy": world.no_proxy.split(",")}
    quoted = urllib.request.quote(PASSWORD, safe="")
    for text in (shown, stats, chained.stderr_text(), chained.start_line):
        assert PASSWORD not in text and quoted not in text
    from headroom.storage.ledger import LEDGER_FILENAME

    ledger = next(Path(chained.home).rglob(LEDGER_FILENAME), None)
    assert ledger is not None, "no ledger written"
    rows = 0
    deadline = time.monotonic() + 10  # a flow's row is written when it ends
    while not rows and time.monotonic() < deadline:
        time.sleep(0.1)
        with sqlite3.connect(ledger) as conn:
            rows = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert rows, "the ledger has no row of these requests"
    # Every file of the home: the ledger and its write-ahead log, the store, the logs, the run files.
    files = [f for f in Path(chained.home).rglob("*") if f.is_file()]
    assert any(f.name.startswith("ledger") for f in files)
    for f in files:
        data = f.read_bytes()
        assert PASSWORD.encode() not in data and quoted.encode() not in data, f


def test_wrong_or_missing_credentials_say_407_and_what_to_do(world, tmp_path):
    wrong = world.start_proxy(tmp_path / "wrong", world.squid.url_with(USER, "not-the-password"))
    bare = world.start_proxy(tmp_path / "bare", world.squid.bare_url)
    try:
        r = world.post(wrong, "https://api.openai.com/v1/chat/completions", chat())
        assert r.status_code == 502 and "407" in r.text
        r = world.post(bare, "https://api.openai.com/v1/chat/completions", chat())
        assert r.status_code == 502 and "407" in r.text
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "407" not in bare.stderr_text():
            time.sleep(0.1)
        assert f"refused the credentials of http://{USER}:***@" in wrong.stderr_text()
        assert "not-the-password" not in wrong.stderr_text()
        assert "wants credentials (407): put them in its URL, --upstream-proxy http://USER:PASSWORD@" in bare.stderr_text()
    finally:
        wrong.stop()
        bare.stop()


def _doctor(world, proxy: ProxyProcess) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HEADROOM_HOME": str(proxy.home), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = world.run_inside(sys.executable, "-m", "headroom", "doctor", "--port", str(proxy.port), "--json", env=env)
    return {c["name"]: c for c in json.loads(r.stdout)["checks"]}


def test_doctor_checks_the_chain(world, chained, tmp_path):
    checks = _doctor(world, chained)
    assert checks["chain"]["status"] == "pass", checks["chain"]
    assert checks["proxy"]["summary"].endswith(f", through http://{USER}:***@{world.squid.host}:{world.squid.port}")
    assert f"CONNECT {UPSTREAM_NAME}:{world.fake.port} allowed" in checks["chain"]["summary"]
    assert "upstream" not in checks  # a direct reachability check would only say the network forbids it
    assert checks["probe python"]["status"] == "pass", checks["probe python"]  # the proxy's own probe, chained
    wrong = world.start_proxy(tmp_path / "wrong", world.squid.url_with(USER, "nope"))
    try:
        checks = _doctor(world, wrong)
    finally:
        wrong.stop()
    assert checks["chain"]["status"] == "fail"
    assert "407" in checks["chain"]["summary"]
    assert checks["chain"]["fix"].startswith(f"the upstream proxy {world.squid.host}:{world.squid.port} refused the "
                                             f"credentials of http://{USER}:***@")
    assert "nope" not in json.dumps(checks)


CHILD = textwrap.dedent("""
    import json, os, sys, httpx
    with httpx.Client(timeout=30) as c:  # trust_env: HTTPS_PROXY and SSL_CERT_FILE as wrap set them
        r = c.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o", "messages": [
            {"role": "user", "content": "hi"}]}, headers={"authorization": "Bearer sk-test-fake"})
    print(json.dumps({"status": r.status_code, "no_proxy": os.environ.get("NO_PROXY"),
                      "https_proxy": os.environ.get("HTTPS_PROXY")}))
""")


def test_wrap_picks_up_https_proxy_and_reuses_only_a_proxy_chained_the_same(world, tmp_path):
    port = world.free_port_inside()
    home = tmp_path / "wrap-home"
    base = {"PATH": "/usr/bin:/bin", "HEADROOM_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "HEADROOM_ROUTE": f"api.openai.com={UPSTREAM_NAME}:{world.fake.port}",
            "HEADROOM_UPSTREAM_CA": str(world.fake.ca_cert)}
    env = {**base, "HTTPS_PROXY": world.squid.url, "NO_PROXY": f"{NO_PROXY},build.internal"}
    before = world.squid.connects().count(f"{UPSTREAM_NAME}:{world.fake.port}")
    r = world.run_inside(sys.executable, "-m", "headroom", "wrap", "--port", str(port), "--keep", "--",
                         sys.executable, "-c", CHILD, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    assert out["https_proxy"].endswith(f"@127.0.0.1:{port}")  # the agent talks to headroom ...
    assert {".corp.test", "build.internal", "127.0.0.1"} <= set(out["no_proxy"].split(","))  # ... and keeps its exemptions
    world.squid.wait_for_connect(f"{UPSTREAM_NAME}:{world.fake.port}", before + 1)  # ... and headroom used squid
    from headroom.proxyinfo import probe_health

    with world.ns.entered():
        info = probe_health(port)
    try:
        assert info["upstream_proxy"]["url"] == f"http://{USER}:***@{world.squid.host}:{world.squid.port}"
        r = world.run_inside(sys.executable, "-m", "headroom", "wrap", "--port", str(port), "--", "true", env=base)
        assert r.returncode == 1
        line = r.stderr.strip().splitlines()[-1]
        assert f"chains to http://{USER}:***@{world.squid.host}:{world.squid.port}" in line
        assert "this shell connects directly" in line and PASSWORD not in r.stderr
    finally:
        import os
        import signal

        os.kill(info["pid"], signal.SIGTERM)
