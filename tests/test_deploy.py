"""deploy/compose.yaml (Docker does not run here): it parses, every HEADROOM_* it sets is a setting the code
reads, and it describes the topology the e2e tests run (same services, same variables, the same drain notice;
deploy/haproxy.cfg, which those tests run in a real haproxy: TCP, round-robin, /readyz checks). The file is read
by tests/support/compose.py, which tests/e2e/test_team_ledger.py also uses to run the whole topology."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from headroom.addon.ops import READY_PATH
from headroom.settings import VARIABLES, Settings
from tests.e2e.test_team import DRAIN_NOTICE_SECONDS, TOPOLOGY_SERVICES, TOPOLOGY_VARIABLES
from tests.support.compose import LAUNCHED, REPLICAS, load, replica_env

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


def haproxy() -> str:
    return (DEPLOY / "haproxy.cfg").read_text()


def test_the_services_are_the_tested_topology(compose):
    assert set(compose["services"]) == TOPOLOGY_SERVICES


def test_every_headroom_variable_is_a_setting_and_the_tests_set_the_same(compose):
    envs = [replica_env(compose, r) for r in REPLICAS]
    names = [env.pop("HEADROOM_REPLICA") for env in envs]
    assert names == list(REPLICAS)  # each replica its own name in the shared ledger and /metrics
    assert envs[0] == envs[1]  # and otherwise the replicas differ in nothing
    names_set = set(envs[0]) | {"HEADROOM_REPLICA"}
    assert names_set <= set(VARIABLES), names_set - set(VARIABLES)
    assert names_set - LAUNCHED == TOPOLOGY_VARIABLES
    settings = Settings.from_env(envs[0])  # values the proxy accepts, the ledger's URL among them
    assert settings.effective()["HEADROOM_STORE"].startswith("redis://")
    assert envs[0]["HEADROOM_LEDGER"].startswith("postgresql://")


def test_the_store_is_the_redis_service_with_a_password_and_an_eviction_policy(compose):
    store = replica_env(compose, "headroom-a")["HEADROOM_STORE"]
    assert re.fullmatch(r"redis://:redis_password-value@redis:6379/0", store)
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--requirepass ${REDIS_PASSWORD" in command and "--maxmemory-policy volatile-lru" in command


def test_the_replicas_share_one_ca_and_one_users_file_and_their_grace_covers_the_drain(compose):
    env = replica_env(compose, "headroom-a")
    volumes = [set(compose["services"][r]["volumes"]) for r in REPLICAS]
    assert volumes[0] == volumes[1]
    targets = {v.split(":")[1]: v.split(":")[0] for v in volumes[0]}
    assert targets[env["HEADROOM_HOME"] + "/ca"] == "./ca"
    assert targets[str(Path(env["HEADROOM_TEAM_USERS"]).parent)] == "./team"
    grace = int(compose["services"]["headroom-a"]["stop_grace_period"].rstrip("s"))
    assert grace > int(env["HEADROOM_DRAIN_NOTICE_SECONDS"]) + int(env["HEADROOM_DRAIN_SECONDS"])


def test_the_balancer_is_tcp_round_robin_over_both_replicas_checked_on_readyz(compose):
    cfg = haproxy()
    port = replica_env(compose, "headroom-a")["HEADROOM_PORT"]
    assert re.search(r"^\s*mode tcp$", cfg, re.M) and re.search(r"^\s*balance roundrobin$", cfg, re.M)
    assert re.search(rf"^\s*http-check send meth GET uri {READY_PATH} .*hdr Host headroom\.proxy$", cfg, re.M)
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+) check$", cfg, re.M)
    assert [(name, host, p) for name, host, p in servers] == [(r, r, port) for r in REPLICAS]
    (bind,) = re.findall(r"^\s*bind :(\d+)$", cfg, re.M)
    assert compose["services"]["balancer"]["ports"] == [f"{bind}:{bind}"]
    assert "haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in compose["services"]["balancer"]["volumes"][0]
    inter, fall = re.search(r"inter (\d+)s fall (\d+)", cfg).groups()  # type: ignore[union-attr]
    # The balancer stops sending before a draining replica closes its listener, with the notice the drain test
    # of tests/e2e/test_team.py gives its replicas (where haproxy running this file shows it).
    notice = replica_env(compose, "headroom-a")["HEADROOM_DRAIN_NOTICE_SECONDS"]
    assert int(inter) * int(fall) < int(notice) and notice == DRAIN_NOTICE_SECONDS
