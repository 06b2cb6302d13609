"""The Health addon answers its identity and the HTTPS probe itself, and leaves every other flow alone."""
from __future__ import annotations

import asyncio
import json
import os

from mitmproxy.test import taddons, tflow, tutils

from headroom import __version__
from headroom.addon.health import Health
from headroom.proxyinfo import HEALTH_HOST, PROBE_HEADER, PROBE_PATH, effective_settings
from headroom.settings import Settings


def _flow(host: str, path: str, scheme: str = "http", method: str = "GET"):
    return tflow.tflow(req=tutils.treq(host=host, port=80 if scheme == "http" else 443, scheme=scheme.encode(),
                                        path=path.encode(), method=method.encode(), authority=b""))


def answer(h: Health, f) -> None:
    asyncio.run(h.request(f))  # an async hook: the identity's store check runs off the event loop


def test_health_identity(headroom_home, monkeypatch):
    monkeypatch.setenv("HEADROOM_ROUTE", "api.openai.com=127.0.0.1:9")
    monkeypatch.setenv("HEADROOM_PROXY_TOKEN", "hunter2")
    h = Health(Settings.from_env(os.environ).reported)  # what `headroom proxy` hands it
    with taddons.context(h):
        f = _flow(HEALTH_HOST, "/health")
        answer(h, f)
    assert f.response.status_code == 200
    info = json.loads(f.response.content)
    assert info["service"] == "headroom" and info["version"] == __version__ and info["pid"] == os.getpid()
    assert info["home"] == str(headroom_home)
    assert info["settings"]["HEADROOM_ROUTE"] == "api.openai.com=127.0.0.1:9"
    assert info["settings"]["HEADROOM_PROXY_TOKEN"] == "***"  # never echo a secret
    assert "admin_url" in info and info["started"] > 0


def test_health_other_paths_are_404_and_never_forwarded():
    h = Health()
    with taddons.context(h):
        f = _flow(HEALTH_HOST, "/nope")
        answer(h, f)
    assert f.response.status_code == 404


def test_probe_on_intercepted_https_host():
    h = Health()
    with taddons.context(h):
        f = _flow("api.anthropic.com", PROBE_PATH + "?x=1", scheme="https")
        answer(h, f)
    body = json.loads(f.response.content)
    assert body["probe"] == "ok" and body["host"] == "api.anthropic.com" and body["intercepted"] is True


def test_other_flows_untouched():
    h = Health()
    with taddons.context(h):
        for f in (_flow("api.anthropic.com", "/v1/messages", scheme="https", method="POST"),
                  _flow("example.com", "/health"),
                  _flow("example.com", PROBE_PATH)):  # plain HTTP: not a proof of interception
            answer(h, f)
            assert f.response is None


def test_probe_connect_opens_tunnel_without_upstream():
    h = Health()
    with taddons.context(h):
        f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, path=b"",
                                        authority=b"api.openai.com:443"))
        f.request.headers[PROBE_HEADER] = "1"
        h.http_connect(f)
        assert f.response.status_code == 200
        plain = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, path=b"",
                                            authority=b"api.openai.com:443"))
        h.http_connect(plain)
        assert plain.response is None


def test_the_identity_reports_the_effective_settings_and_what_the_environment_reports_stays():
    env = {"HEADROOM_PORT": "1", "HEADROOM_HOST": "x", "HEADROOM_COMPRESS": "0", "PATH": "/bin"}
    assert Settings.from_env(env).reported == {"HEADROOM_COMPRESS": "0"}  # HOST/PORT are the identity's port
    effective = Settings.from_env({}).effective(extra_hosts=["llm.example.com"])  # `--extra-host llm.example.com`
    h = Health(Settings.from_env({}).reported, effective=effective)
    with taddons.context(h):
        f = _flow(HEALTH_HOST, "/health")
        answer(h, f)
    info = json.loads(f.response.content)
    assert info["effective"] == effective and info["effective"]["HEADROOM_EXTRA_HOSTS"] == "llm.example.com"
    assert info["settings"] == {}  # no variable set: the flag shows only in the effective settings
    assert effective_settings({"HEADROOM_EXTRA_HOSTS": "LLM.example.com"}) == effective  # wrap's side, the same


def test_the_identity_reports_the_store_kind_and_whether_it_answers_without_its_password(headroom_home):
    from headroom.addon.intercept import Intercept
    from tests.support.servers import free_port

    reports = {}
    for name, url in (("sqlite", ""), ("redis", f"redis://u:s3cret-pass@127.0.0.1:{free_port()}/0")):
        intercept = Intercept()
        intercept.store_url = (url, "")
        h = Health(intercept=intercept)
        with taddons.context(h):
            f = _flow(HEALTH_HOST, "/health")
            answer(h, f)
        assert b"s3cret-pass" not in f.response.content
        reports[name] = json.loads(f.response.content)["store"]
    assert reports["sqlite"]["kind"] == "sqlite" and reports["sqlite"]["answers"] is True
    assert reports["sqlite"]["where"].startswith(str(headroom_home))
    assert reports["redis"]["kind"] == "redis" and reports["redis"]["answers"] is False  # nothing listens there
    assert reports["redis"]["error"] == "StoreUnreachable" and "***" in reports["redis"]["where"]
