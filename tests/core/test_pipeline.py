"""compress_body: only tool outputs change, the input is never mutated, results are kept only if smaller."""
from __future__ import annotations

import copy
import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import headroom.core.pipeline as pipeline
from headroom.core.compressors.base import Compressed, Context
from headroom.core.markers import find_markers, make_marker
from headroom.core.pipeline import DeadlineExceeded, compress_body


def drop_debug(text: str, ctx: Context) -> Compressed:
    """A line-dropping test compressor: DEBUG lines go, one marker per run, as the real ones do."""
    lines = text.split("\n")
    debug = [ln for ln in lines if "DEBUG" in ln]
    if not debug:
        return Compressed(text, "text", "drop_debug")
    dropped = "\n".join(debug)
    marker, key = make_marker(f"{len(debug)} DEBUG lines omitted", dropped)
    kept = [ln for ln in lines if "DEBUG" not in ln] + [marker]
    return Compressed("\n".join(kept), "logs", "drop_debug", {key: dropped})


@pytest.fixture
def use(monkeypatch):
    def _use(fn):
        # The pipeline hands compress_text the token floor too; these stand-ins have no floor.
        monkeypatch.setattr(pipeline, "compress_text", lambda text, ctx, floor=None: fn(text, ctx))
    return _use


LOG = "\n".join(f"DEBUG step {i} fine" if i % 4 else f"ERROR step {i} failed" for i in range(200))


def chat_body(*tool_texts: str) -> dict:
    msgs: list = [{"role": "system", "content": "DEBUG system text stays"}, {"role": "user", "content": "why red?"}]
    for i, t in enumerate(tool_texts):
        msgs.append({"role": "assistant", "content": None,
                     "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]})
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "content": t})
    return {"model": "gpt-4o", "messages": msgs, "tools": [{"type": "function", "function": {"name": "bash"}}]}


def test_only_tool_outputs_change_and_input_is_not_mutated(use):
    use(drop_debug)
    body = chat_body(LOG, "short ok")
    snapshot = copy.deepcopy(body)
    out = compress_body("openai_chat", body)
    assert body == snapshot
    assert out.changed
    new = out.body["messages"]
    assert "DEBUG step" not in new[3]["content"] and "ERROR step 0 failed" in new[3]["content"]
    # Everything but the compressed tool output is the same object, or equal.
    for i, (a, b) in enumerate(zip(snapshot["messages"], new)):
        if i != 3:
            assert a == b
    assert out.body["tools"] is body["tools"] and out.body["model"] == "gpt-4o"


def test_drops_and_token_counts_add_up(use):
    use(drop_debug)
    out = compress_body("openai_chat", chat_body(LOG))
    (marker,) = find_markers(out.body["messages"][3]["content"])
    assert out.drops[marker.key].count("DEBUG") == 150
    (report,) = out.units
    assert report.location == "messages[3].content" and report.tool_name == "bash" and report.compressor == "drop_debug"
    assert out.tokens_before == report.tokens_before > out.tokens_after == report.tokens_after > 0
    assert report.ms >= 0 and report.note == ""


def test_each_unit_gets_the_user_text_that_preceded_it(use):
    seen = []

    def spy(text, ctx):
        seen.append((text, ctx.query, ctx.tool_name, ctx.encoding))
        return Compressed(text, "text", "spy")

    use(spy)
    body = chat_body("first")
    body["messages"] += [{"role": "user", "content": "second question"},
                         {"role": "assistant", "tool_calls": [{"id": "z", "function": {"name": "grep"}}]},
                         {"role": "tool", "tool_call_id": "z", "content": "second"}]
    out = compress_body("openai_chat", body, model="gpt-4-0613")
    assert seen == [("first", "why red?", "bash", "cl100k_base"), ("second", "second question", "grep", "cl100k_base")]
    assert not out.changed and out.body == body and out.body is not body


def test_a_result_that_is_not_smaller_is_not_used(use):
    use(lambda text, ctx: Compressed(text + "\nextra words here", "text", "grower"))
    out = compress_body("openai_chat", chat_body(LOG))
    assert not out.changed and out.units[0].note == "no gain"
    assert out.tokens_after == out.tokens_before


def test_an_empty_result_is_refused(use):
    use(lambda text, ctx: Compressed("  ", "text", "eraser"))
    out = compress_body("openai_chat", chat_body(LOG))
    assert not out.changed and out.units[0].note == "empty result refused"


def test_retrieval_outputs_are_never_compressed_again(use):
    use(drop_debug)
    body = chat_body(LOG)
    body["messages"][2]["tool_calls"][0]["function"]["name"] = "headroom_retrieve"
    out = compress_body("openai_chat", body)
    assert not out.changed and out.units[0].note == "retrieval output"


def test_deadline_past_raises(use):
    use(drop_debug)
    with pytest.raises(DeadlineExceeded):
        compress_body("openai_chat", chat_body(LOG), deadline=time.monotonic() - 1)


def test_gemini_whole_json_result_must_stay_an_object(use):
    use(lambda text, ctx: Compressed("[1]", "json", "bad"))
    rows = {"rows": [{"id": i, "name": f"DEBUG row {i}"} for i in range(100)]}
    body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "q", "response": rows}}]}]}
    out = compress_body("gemini", body, path="/v1beta/models/gemini-2.5-pro:generateContent")
    assert not out.changed and out.units[0].note == "result not a valid object"

    use(lambda text, ctx: Compressed('{"rows":[{"id":0}]}', "json", "good"))
    out = compress_body("gemini", body)
    assert out.changed and out.body["contents"][0]["parts"][0]["functionResponse"]["response"] == {"rows": [{"id": 0}]}
    assert body["contents"][0]["parts"][0]["functionResponse"]["response"] is rows


def test_anthropic_cache_control_block_is_compressed_the_same_and_keeps_its_mark(use):
    use(drop_debug)

    def body(marked: bool) -> dict:
        block = {"type": "tool_result", "tool_use_id": "t", "content": LOG}
        if marked:
            block["cache_control"] = {"type": "ephemeral"}
        return {"model": "claude", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [block]},
        ]}

    marked, unmarked = compress_body("anthropic", body(True)), compress_body("anthropic", body(False))
    assert marked.changed and unmarked.changed
    out_block = marked.body["messages"][2]["content"][0]
    assert out_block["cache_control"] == {"type": "ephemeral"}
    # Turn N sends it marked, turn N+1 unmarked: the content the provider caches is the same bytes.
    assert out_block["content"] == unmarked.body["messages"][2]["content"][0]["content"] != LOG


def test_results_are_cached_per_text_and_context(use):
    calls = []

    def counting(text, ctx):
        calls.append((text, ctx.query))
        return drop_debug(text, ctx)

    use(counting)
    body = chat_body(LOG, LOG + "\nERROR one more")
    first = compress_body("openai_chat", body)
    assert len(calls) == 2
    # The next turn resends the same outputs: nothing is compressed again, and the result is the same.
    body["messages"].append({"role": "user", "content": "thanks"})
    second = compress_body("openai_chat", body)
    assert len(calls) == 2
    assert second.body["messages"][:-1] == first.body["messages"] and second.drops == first.drops
    assert second.tokens_before == first.tokens_before and second.tokens_after == first.tokens_after
    # Same text under another question is another context: computed afresh.
    other = chat_body(LOG)
    other["messages"][1]["content"] = "a different question"
    compress_body("openai_chat", other)
    assert calls[-1] == (LOG, "a different question") and len(calls) == 3


def test_the_token_floor_reaches_the_router_and_keys_the_cache():
    # HEADROOM_MIN_TOKENS is passed in, never read inside; the same output under two floors is two results.
    log = "\n".join(f"2024-01-01 10:00:{i % 60:02d} INFO worker heartbeat ok" for i in range(60))
    body = chat_body(log)
    default = compress_body("openai_chat", body)
    assert default.changed and default.drops
    high = compress_body("openai_chat", body, min_tokens=5000)
    assert not high.changed and high.units[0].tokens_before < 5000  # under this floor: untouched
    again = compress_body("openai_chat", body)  # the high floor's result is not served to the default
    assert again.changed and again.body == default.body


def test_cache_is_bounded():
    cache = pipeline._ResultCache(max_entries=3, max_chars=800)
    done = pipeline._Done("x" * 50, "text", "t", {}, 10, 5)
    for i in range(10):
        cache.put((i,), done)
    assert cache.get((0,)) is None and cache.get((9,)) is done and len(cache._items) == 3
    cache.put(("big",), pipeline._Done("y" * 200, "text", "t", {}, 10, 5))  # over an eighth of the cap: not kept
    assert cache.get(("big",)) is None
    many = pipeline._ResultCache(max_entries=100, max_chars=800)
    for i in range(40):
        many.put((i,), done)
    assert many._chars <= 800 and len(many._items) == 16


# -- with the real compressor ------------------------------------------------------------------
REAL_LOG = "\n".join(
    f"2026-11-24T04:{i // 60:02d}:{i % 60:02d} INFO request {i} served in {i % 7} ms" for i in range(600)
) + "\n2026-11-24T05:00:00 ERROR database connection refused"


def test_real_compressor_is_deterministic_and_idempotent():
    body = chat_body(REAL_LOG)
    pipeline.clear_cache()
    a = compress_body("openai_chat", body)
    pipeline.clear_cache()  # recompute, not recall
    b = compress_body("openai_chat", copy.deepcopy(body))
    assert json.dumps(a.body) == json.dumps(b.body)
    again = compress_body("openai_chat", a.body)
    assert again.body == a.body
    assert a.tokens_after <= a.tokens_before


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_text, st.lists(_text, max_size=30).map("\n".join)), min_size=1, max_size=4), _text)
def test_property_valid_body_in_valid_body_out_and_non_tool_parts_equal(outputs, question):
    body = chat_body(*outputs)
    body["messages"][1]["content"] = question
    snapshot = copy.deepcopy(body)
    out = compress_body("openai_chat", body)
    assert body == snapshot
    json.dumps(out.body, ensure_ascii=False)
    assert [m for m in out.body["messages"] if m["role"] != "tool"] == [m for m in body["messages"] if m["role"] != "tool"]
    assert out.tokens_after <= out.tokens_before
    for key, text in out.drops.items():
        assert any(key in m["content"] for m in out.body["messages"] if m["role"] == "tool")


def _shape_body(provider: str, outputs: list[str]) -> dict:
    """A request of `provider` whose tool outputs are `outputs`, plus parts that must never change."""
    if provider == "openai_chat":
        return chat_body(*outputs)
    if provider == "openai_responses":
        items: list = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
                       {"type": "reasoning", "encrypted_content": "opaque", "summary": []}]
        for i, o in enumerate(outputs):
            items += [{"type": "function_call", "call_id": f"c{i}", "name": "sh", "arguments": "{}"},
                      {"type": "function_call_output", "call_id": f"c{i}", "output": o}]
        return {"model": "gpt-5", "instructions": "DEBUG keep", "input": items}
    if provider == "anthropic":
        msgs: list = [{"role": "user", "content": "q"}]
        for i, o in enumerate(outputs):
            msgs += [{"role": "assistant", "content": [{"type": "thinking", "thinking": "DEBUG t", "signature": "s"},
                                                       {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": o}]}]
        return {"model": "claude", "system": "DEBUG system", "messages": msgs}
    contents: list = [{"role": "user", "parts": [{"text": "q"}]}]
    for o in outputs:
        contents += [{"role": "model", "parts": [{"functionCall": {"name": "sh", "args": {}}}]},
                     {"role": "user", "parts": [{"functionResponse": {"name": "sh", "response": {"output": o, "code": 0}}}]}]
    return {"contents": contents, "systemInstruction": {"parts": [{"text": "DEBUG sys"}]}}


def _without_units(provider: str, body: dict) -> str:
    """The body with every tool output blanked: what must be identical before and after."""
    out = copy.deepcopy(body)
    for unit in pipeline.find_units(provider, body):
        node = out
        for key in unit.path[:-1]:
            node = node[key]
        node[unit.path[-1]] = None
    return json.dumps(out, sort_keys=True)


@pytest.mark.parametrize("provider", ["openai_chat", "openai_responses", "anthropic", "gemini"])
@settings(max_examples=15, deadline=None)
@given(outputs=st.lists(st.lists(st.sampled_from(["DEBUG noise", "ERROR real", "INFO ok", ""]), max_size=40)
                        .map("\n".join), min_size=1, max_size=3))
def test_property_every_shape_changes_only_tool_outputs(provider, outputs):
    import headroom.core.pipeline as p

    original = p.compress_text
    p.compress_text = lambda text, ctx, floor=None: drop_debug(text, ctx)  # hypothesis and function-scoped monkeypatch do not mix; restore by hand
    try:
        body = _shape_body(provider, outputs)
        snapshot = copy.deepcopy(body)
        out = compress_body(provider, body, path="/v1beta/models/gemini-2.5-pro:generateContent")
    finally:
        p.compress_text = original
    assert body == snapshot
    assert _without_units(provider, out.body) == _without_units(provider, body)
    # Each tool output is either the compressor's result (when it is smaller) or left exactly as it was.
    from headroom.core import tokens

    for before, after in zip(pipeline.find_units(provider, body), pipeline.find_units(provider, out.body),
                             strict=True):
        result = drop_debug(before.text, Context()).text
        smaller = result.strip() and tokens.count(result) < tokens.count(before.text)
        assert after.text == (result if smaller else before.text)


def test_a_read_that_follows_a_marker_of_an_earlier_view_of_the_file_comes_back_whole():
    # A real file read as Claude Code shows it; the model then Reads the range one marker names.
    import inspect
    import functools as real

    src = inspect.getsource(real)
    path = real.__file__
    view = "\n".join(f"{n}\t{ln}" for n, ln in enumerate(src.split("\n"), 1))

    def body(*reads: tuple[dict, str]) -> dict:
        msgs: list = [{"role": "user", "content": "How does functools.reduce work?"}]
        for i, (args, text) in enumerate(reads):
            msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "Read", "input": args}]})
            msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": text}]})
        return {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": msgs}

    first = compress_body("anthropic", body(({"file_path": path}, view)))
    shown = first.body["messages"][2]["content"][0]["content"]
    hint = next(m for m in find_markers(shown) if "Read offset=" in m.summary)
    a, limit = (int(x) for x in re.search(r"offset=(\d+) limit=(\d+)", hint.summary).groups())
    # The agent's Read of that range with some lines around it: a page worth compressing, were it not asked.
    lo = max(1, a - 60)
    page = "\n".join(view.split("\n")[lo - 1 : a - 1 + limit + 60])
    args = {"file_path": path, "offset": lo, "limit": a + limit + 60 - lo}
    after = compress_body("anthropic", body(({"file_path": path}, view), (args, page)))
    assert after.body["messages"][2] == first.body["messages"][2]  # the earlier turn is byte-identical
    assert after.body["messages"][4]["content"][0]["content"] == page
    # The same Read with no earlier view in the conversation is a page like any other: compressed.
    alone = compress_body("anthropic", body((args, page)))
    assert alone.body["messages"][2]["content"][0]["content"] != page


def test_the_items_of_one_tool_output_are_read_together():
    # Codex's Code Mode answers a long `git log -p` with a list of text items: the head, a note and the
    # tail (a real capture). The head alone has fewer changed lines than a diff read whole; with its tail it
    # has more, and the model reads both at once: the head is outlined only when its tail is there.
    from headroom.core.compressors.diff import DIFF_WHOLE_MAX_TOKENS
    from headroom.core.tokens import count
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cx-exec-truncated-pyparsing-log")
    call = next(k for k, item in enumerate(case.body["input"]) if item.get("type") == "custom_tool_call_output")
    items = case.body["input"][call]["output"]
    head = max(range(len(items)), key=lambda k: len(items[k]["text"]) if k < len(items) - 1 else 0)
    assert head < len(items) - 1
    assert sum(count(it["text"]) for it in items) > DIFF_WHOLE_MAX_TOKENS

    def head_after(body) -> tuple[int, int]:
        out = compress_body(case.provider, body, path=case.path)
        rep = next(u for u in out.units if u.location.endswith(f"output[{head}].text"))
        return rep.tokens_before, rep.tokens_after

    before, after = head_after(case.body)
    assert after < before
    alone = copy.deepcopy(case.body)
    del alone["input"][call]["output"][head + 1:]
    before, after = head_after(alone)
    assert after == before
