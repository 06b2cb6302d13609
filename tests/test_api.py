"""The library API: same shape out as in, numbers per unit, drops stored (or not) for retrieval."""
from __future__ import annotations

import copy
import json

import pytest

from headroom import compress
from headroom.core.markers import find_markers
from headroom.storage.store import open_store

LOG = "\n".join(
    f"2024-03-0{1 + i % 9} 12:{i % 60:02d}:{(7 * i) % 60:02d} INFO cache.Sync: synced shard {i % 17} in {i % 50} ms"
    for i in range(600)
) + "\n2024-03-09 23:59:59 ERROR cache.Sync: shard 9 checksum mismatch, quarantined"


def openai_messages():
    return [
        {"role": "system", "content": "You are an agent."},
        {"role": "user", "content": "Did the cache sync report errors?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "cat sync.log"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": LOG},
    ]


def anthropic_messages():
    return [
        {"role": "user", "content": "Did the cache sync report errors?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "cat sync.log"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": LOG}]},
    ]


@pytest.mark.parametrize("make,shape", [(openai_messages, "openai_chat"), (anthropic_messages, "anthropic")])
def test_same_shape_out_and_input_untouched(make, shape):
    messages = make()
    snapshot = copy.deepcopy(messages)
    r = compress(messages, model="gpt-4o")
    assert messages == snapshot
    assert r.shape == shape
    assert len(r.messages) == len(messages)
    assert [m["role"] for m in r.messages] == [m["role"] for m in messages]
    assert r.tokens_after < r.tokens_before * 0.5
    out = json.dumps(r.messages)
    assert "checksum mismatch, quarantined" in out  # the error line survives
    (unit,) = r.units
    assert unit.content_type == "logs" and unit.tokens_before == r.tokens_before and unit.ms >= 0
    assert r.messages[0] == messages[0]  # non-tool messages untouched


def test_drops_are_stored_and_retrievable():
    r = compress(openai_messages())
    assert r.drops
    store = open_store()
    for key, text in r.drops.items():
        assert store.get(key) == text
    for marker in find_markers(r.messages[-1]["content"]):
        assert store.get(marker.key) is not None


def test_store_false_keeps_nothing():
    r = compress(openai_messages(), store=False)
    assert r.drops
    store = open_store()
    assert all(store.get(k) is None for k in r.drops)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(TypeError, match="list of messages"):
        compress({"messages": []})
    with pytest.raises(ValueError, match="shape must be one of"):
        compress(openai_messages(), shape="cohere")


def test_top_level_import_is_lazy_and_works():
    import headroom

    assert headroom.compress is compress
