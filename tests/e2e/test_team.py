"""Issue 18, the team topology: replicas of `headroom proxy` sharing one real redis-server as their store.

Each replica has a headroom home of its own (its own SQLite files, its own CA), so only the shared store can
let one answer a marker the other made.
"""
from __future__ import annotations

import pytest

from headroom.core.markers import make_marker
from headroom.storage.redis_store import RedisStore
from tests.e2e.test_retrieve_http import body, learn_key, post, sse_text
from tests.support.fake_upstream import Reply
from tests.support.servers import free_port, redis_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path / "redis", password="team-pass") as url:
        yield url


def replicas(start_proxy, tmp_path, url: str, n: int = 2) -> list:
    return [start_proxy(home=tmp_path / f"home-{i}", env={"HEADROOM_STORE": url}) for i in range(n)]


def test_a_marker_made_on_one_replica_is_answered_by_another_in_a_stream(start_proxy, fake_upstream, tmp_path,
                                                                       redis_url):
    a, b = replicas(start_proxy, tmp_path, redis_url)
    key = learn_key(a, fake_upstream, "anthropic")
    original = RedisStore(redis_url).get(key)
    assert original, "replica A did not keep its drop in Redis"
    marker = make_marker("398 lines omitted", original)[0]
    # The agent's next turn reaches B (the balancer's next connection) with the marker already in its history.
    req = body("anthropic", True)
    req["messages"][2]["content"][0]["content"] = f"2026-11-24 04:00:00 INFO start\n{marker}\nERROR disk full\n"
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("disk full"))
    r = post(b, "anthropic", req)
    assert r.status_code == 200 and sse_text("anthropic", r.text) == "disk full"
    cont = fake_upstream.wait_for(2)[1]
    assert cont.json["messages"][-1]["content"][0]["content"] == original
    for p in (a, b):
        assert "team-pass" not in p.stderr_text()


def test_a_store_that_is_down_sends_the_request_upstream_byte_identical(start_proxy, fake_upstream, tmp_path):
    url = f"redis://u:down-pass@127.0.0.1:{free_port()}/0"
    (p,) = replicas(start_proxy, tmp_path, url, n=1)
    fake_upstream.queue(Reply.text("noted"))
    import json

    raw = json.dumps(body("anthropic", False)).encode()
    from tests.e2e.test_retrieve_http import client

    with client(p) as c:
        r = c.post("https://api.anthropic.com/v1/messages", content=raw,
                   headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
                            "content-type": "application/json"})
    assert r.status_code == 200
    assert fake_upstream.last.decoded == raw
    log = p.stderr_text()
    assert "store unreachable" in log and "down-pass" not in log


def two_users_cases(start_proxy, fake_upstream, tmp_path, redis_url) -> None:
    """Where the two-users cases go once per-user credentials land (team-ops): a user without a token is refused,
    and two users' retrieval keys are isolated across replicas (the store's `scope`)."""
