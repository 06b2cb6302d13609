"""SSE parsing: any chunking gives the same events, with their exact bytes."""
from __future__ import annotations

from hypothesis import given, strategies as st

from headroom.core.retrieval.sse import SSEParser, encode

STREAM = (b"event: message_start\ndata: {\"a\": 1}\n\n: comment\n\nevent: ping\r\ndata: {}\r\n\r\n"
          b"data: line1\ndata: line2\n\ndata: [DONE]\n\n")


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=10))
def test_any_chunking_same_events(cuts):
    p = SSEParser()
    events = []
    prev = 0
    for c in sorted(set(cuts)) + [len(STREAM)]:
        events += p.feed(STREAM[prev:c])
        prev = c
    events += p.close()
    assert b"".join(e.raw for e in events) == STREAM
    named = [(e.event, e.data) for e in events if e.data or e.event]
    assert named == [("message_start", '{"a": 1}'), ("ping", "{}"), (None, "line1\nline2"), (None, "[DONE]")]


def test_unterminated_last_event_is_kept():
    p = SSEParser()
    assert p.feed(b"data: {\"x\": 1}") == []
    assert [e.json() for e in p.close()] == [{"x": 1}]


def test_encode_round_trips():
    ev = encode({"type": "ping", "t": "é"}, "ping")
    (back,) = SSEParser().feed(ev.raw)
    assert (back.event, back.json()) == ("ping", {"type": "ping", "t": "é"})
