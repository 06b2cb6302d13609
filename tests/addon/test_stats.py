"""Stats addon on real mitmproxy flows: one exact ledger row per LLM flow, streams watched, never altered."""
from __future__ import annotations

import gzip
import json
import sqlite3
from dataclasses import dataclass

import pytest
from mitmproxy import flow
from mitmproxy.test import taddons, tflow, tutils

from headroom.addon.state import STATE_KEY, LLMRequest
from headroom.addon.stats import Stats
from headroom.core import tokens
from headroom.storage.ledger import ledger_path


@dataclass(frozen=True)
class Unit:  # the fields of core.pipeline.UnitReport that Stats reads
    content_type: str
    compressor: str
    tokens_before: int
    tokens_after: int
    ms: float


@dataclass(frozen=True)
class Outcome:  # the fields of core.pipeline.Outcome that Stats reads
    units: tuple
    tokens_before: int
    tokens_after: int


ORIGINAL = json.dumps({"model": "gpt-4o", "messages": [
    {"role": "user", "content": "why does the build fail?"},
    {"role": "tool", "tool_call_id": "c1", "content": "\n".join(f"INFO step {i} ok" for i in range(300))},
]}).encode()
SENT = json.dumps({"model": "gpt-4o", "messages": [
    {"role": "user", "content": "why does the build fail?"},
    {"role": "tool", "tool_call_id": "c1", "content": "INFO step 0 ok\n[headroom: 299 lines omitted]"},
]}).encode()
OUTCOME = Outcome(units=(Unit("logs", "log_lines", 1200, 20, 1.5),), tokens_before=1200, tokens_after=20)


def rows() -> list[dict]:
    conn = sqlite3.connect(ledger_path())
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY id")]


def llm_flow(*, original=ORIGINAL, sent=SENT, outcome=OUTCOME, resp_body=b"", resp_headers=(), modified=True):
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", path=b"/v1/chat/completions", content=sent))
    f.request.timestamp_start, f.request.timestamp_end = 1000.0, 1000.010
    f.metadata[STATE_KEY] = LLMRequest(provider="openai_chat", host="api.openai.com", path="/v1/chat/completions",
                                       body=json.loads(sent), modified=modified, outcome=outcome,
                                       compress_ms=2.5, original=original)
    f.response = tutils.tresp(content=resp_body, headers=list(resp_headers) or [(b"content-type", b"application/json")])
    return f


@pytest.fixture
def stats():
    s = Stats()
    with taddons.context(s) as tctx:
        s.running()
        yield s, tctx
        s.done()


def test_buffered_response_gives_one_exact_row(stats):
    s, _ = stats
    usage = {"prompt_tokens": 40, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 16}}
    f = llm_flow(resp_body=json.dumps({"model": "gpt-4o-2024-08-06", "usage": usage}).encode())
    s.request(f)
    s.responseheaders(f)
    assert not f.response.stream  # nobody asked for streaming: Stats does not change that
    s.response(f)
    s.response(f)  # a second end event must not give a second row
    assert s.flush()
    (r,) = rows()
    assert r["tokens_before"] == tokens.count(ORIGINAL.decode()) > r["tokens_after"] == tokens.count(SENT.decode())
    assert (r["tool_tokens_before"], r["tool_tokens_after"], r["compressed"]) == (1200, 20, 1)
    assert (r["usage_input"], r["usage_cache_read"], r["usage_output"], r["usage_reported"]) == (40, 16, 7, 1)
    assert r["model"] == "gpt-4o" and r["provider"] == "openai_chat" and r["host"] == "api.openai.com"
    assert r["compress_ms"] == 2.5 and r["error"] == 0 and r["status"] == 200
    conn = sqlite3.connect(ledger_path())
    assert conn.execute("SELECT content_type, compressor, units, tokens_before FROM units").fetchall() == [
        ("logs", "log_lines", 1, 1200)]


@pytest.mark.parametrize("big", [False, True])
def test_a_small_flows_row_is_counted_on_the_loop_a_large_ones_in_a_worker(stats, monkeypatch, big):
    from headroom.addon.intercept import INLINE_MAX_BYTES

    s, _ = stats
    submitted = []
    real = s._pool.submit
    monkeypatch.setattr(s._pool, "submit", lambda *a, **k: submitted.append(a[0]) or real(*a, **k))
    original = ORIGINAL if not big else json.dumps({"model": "gpt-4o", "messages": [
        {"role": "tool", "tool_call_id": "c1", "content": "x" * INLINE_MAX_BYTES}]}).encode()
    f = llm_flow(original=original, resp_body=b"{}")
    s.request(f)
    s.responseheaders(f)
    s.response(f)
    assert len(submitted) == (1 if big else 0)
    assert s.flush()
    (r,) = rows()
    assert r["tokens_before"] == tokens.count(original.decode())


def sse_chunks() -> list[bytes]:
    events = [{"choices": [{"delta": {"content": "hi"}}], "usage": None},
              {"choices": [], "usage": {"prompt_tokens": 99, "completion_tokens": 3}}]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    return [body[i:i + 11] for i in range(0, len(body), 11)]


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_stream_is_watched_and_passed_through_unchanged(stats, encoding):
    s, _ = stats
    chunks = sse_chunks()
    headers = [(b"content-type", b"text/event-stream")]
    if encoding == "gzip":
        raw = gzip.compress(b"".join(chunks))
        chunks = [raw[i:i + 9] for i in range(0, len(raw), 9)]
        headers.append((b"content-encoding", b"gzip"))
    f = llm_flow(resp_headers=headers)
    s.request(f)
    f.response.stream = True  # what Intercept sets for a streamed LLM response
    s.responseheaders(f)
    assert callable(f.response.stream)
    out = [f.response.stream(c) for c in chunks] + [f.response.stream(b"")]
    assert out[-1] == []  # nothing at the end, not b"": mitmproxy would send an HTTP/1.1 client an empty chunk
    assert all(isinstance(o, bytes) and o for o in out[:-1]) and b"".join(out[:-1]) == b"".join(chunks)
    f.response.content = b""  # a streamed response has no buffered body when it ends
    s.response(f)
    assert s.flush()
    (r,) = rows()
    assert (r["usage_input"], r["usage_output"], r["streaming"]) == (99, 3, 1)
    assert r["ttfb_ms"] is not None


def test_composes_with_another_addons_stream_callable(stats):
    s, _ = stats
    seen = []

    def other(chunk: bytes):  # e.g. Retrieve rewriting the stream: yields pieces
        seen.append(chunk)
        return [chunk.replace(b"hi", b"HI")] if chunk else []

    chunks = sse_chunks()
    f = llm_flow(resp_headers=[(b"content-type", b"text/event-stream")])
    s.request(f)
    f.response.stream = other
    s.responseheaders(f)
    out = b"".join(f.response.stream(c) or b"" for c in chunks + [b""])
    assert seen == chunks + [b""]  # the other addon still sees every chunk, end marker included
    assert out == b"".join(chunks).replace(b"hi", b"HI")
    s.response(f)
    assert s.flush()
    assert rows()[0]["usage_input"] == 99


def test_unmodified_request_counts_the_same_before_and_after(stats):
    s, _ = stats
    f = llm_flow(original=None, sent=ORIGINAL, outcome=None, modified=False)
    s.request(f)
    s.response(f)
    assert s.flush()
    (r,) = rows()
    assert r["tokens_before"] == r["tokens_after"] == tokens.count(ORIGINAL.decode())
    assert r["compressed"] == 0 and r["compress_ms"] is None and r["usage_reported"] == 0


def test_error_flow_is_recorded_as_error(stats):
    s, _ = stats
    f = llm_flow()
    f.response = None
    f.metadata[STATE_KEY].fail_open = "upstream reset"
    s.request(f)
    s.error(f)
    assert s.flush()
    (r,) = rows()
    assert (r["error"], r["fail_open"], r["status"]) == (1, 1, None)


@pytest.mark.parametrize("cut, error", [(None, 0), (-1, 1)], ids=["after-the-final-event", "before-it"])
def test_a_client_that_leaves_after_the_final_event_is_no_error(stats, cut, error):
    s, _ = stats
    f = llm_flow(resp_headers=[(b"content-type", b"text/event-stream")])
    s.request(f)
    f.response.stream = True
    s.responseheaders(f)
    body = b"".join(sse_chunks())
    events = body.split(b"\n\n")[:-1][:cut]  # [DONE] last, or all but it
    for ev in events:
        f.response.stream(ev + b"\n\n")
    f.error = flow.Error("Client disconnected.")
    s.error(f)  # mitmproxy's hook: the client closed before the upstream's end of body
    assert s.flush()
    (r,) = rows()
    assert (r["error"], r["status"], r["usage_input"]) == (error, 200, 99)


def test_non_llm_flows_are_ignored_and_untouched(stats):
    s, _ = stats
    f = tflow.tflow(resp=True)
    f.response.stream = True
    s.request(f)
    s.responseheaders(f)
    assert f.response.stream is True
    s.response(f)
    assert s.flush()
    assert not ledger_path().exists() or rows() == []


def test_gemini_model_from_the_path(stats):
    s, _ = stats
    f = llm_flow(original=None, outcome=None, modified=False,
                 resp_body=json.dumps({"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1}}).encode())
    st = f.metadata[STATE_KEY]
    st.provider, st.body = "gemini", {"contents": []}
    f.request.path = "/v1beta/models/gemini-2.5-pro:generateContent"
    s.request(f)
    s.response(f)
    assert s.flush()
    r = rows()[0]
    assert r["model"] == "gemini-2.5-pro" and r["usage_input"] == 5


def test_the_row_names_the_model_the_pipeline_tokenized_with(stats):
    """One reading of a request's model (its Provider's model_of): a Gemini body naming `models/...` beside
    the path's model was recorded as "models/gemini-2.5-pro" (unpriced) while the tokenizer read the path."""
    from headroom.core.providers import get_provider

    s, _ = stats
    f = llm_flow(original=None, outcome=None, modified=False,
                 resp_body=json.dumps({"usageMetadata": {"promptTokenCount": 5}, "modelVersion": "x"}).encode())
    st = f.metadata[STATE_KEY]
    st.provider, st.body = "gemini", {"model": "models/gemini-2.5-pro", "contents": []}
    f.request.path = "/v1beta/models/gemini-2.5-pro:generateContent"
    s.request(f)
    s.response(f)
    assert s.flush()
    assert rows()[0]["model"] == get_provider("gemini").model_of(st.body, f.request.path) == "gemini-2.5-pro"


def test_the_response_names_the_model_when_the_request_does_not(stats):
    s, _ = stats
    f = llm_flow(original=None, outcome=None, modified=False,
                 resp_body=json.dumps({"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 3}}).encode())
    f.metadata[STATE_KEY].body = {"messages": []}
    s.request(f)
    s.response(f)
    assert s.flush()
    assert rows()[0]["model"] == "gpt-4o-2024-08-06"


def test_ledger_off_records_nothing():
    s = Stats()
    with taddons.context(s) as tctx:
        tctx.configure(s, headroom_ledger=False)
        s.running()
        f = llm_flow()
        s.request(f)
        s.response(f)
        assert s.flush()
        s.done()
    assert not ledger_path().exists()


def test_content_encoded_request_bodies_are_counted_decoded(stats):
    s, _ = stats
    f = llm_flow(original=gzip.compress(ORIGINAL), resp_body=b"{}")
    f.request.headers["content-encoding"] = "gzip"
    f.request.raw_content = gzip.compress(SENT)
    s.request(f)
    s.response(f)
    assert s.flush()
    (r,) = rows()
    assert (r["tokens_before"], r["tokens_after"]) == (tokens.count(ORIGINAL.decode()), tokens.count(SENT.decode()))


def test_ledger_off_from_the_environment():
    from headroom.settings import Settings

    s = Stats()
    with taddons.context(s) as tctx:
        # The CLI reads the variable into Settings and hands the addon its option.
        tctx.configure(s, headroom_ledger=Settings.from_env({"HEADROOM_LEDGER": "0"}).options()["headroom_ledger"])
        assert tctx.options.headroom_ledger is False
        s.running()
        assert s.ledger is None
        s.done()


# --- dropped, then needed ----------------------------------------------------------------------------------

def anthropic_flow(body: dict, *, retrieved=()):
    """A finished /v1/messages flow whose body went through the real pipeline."""
    from headroom.core.pipeline import compress_body

    out = compress_body("anthropic", body)
    sent = json.dumps(out.body).encode()
    f = tflow.tflow(req=tutils.treq(host="api.anthropic.com", path=b"/v1/messages", content=sent))
    st = LLMRequest(provider="anthropic", host="api.anthropic.com", path="/v1/messages", body=json.loads(sent),
                    modified=True, outcome=out, original=json.dumps(body).encode())
    st.retrieved_keys.extend(retrieved)
    f.metadata[STATE_KEY] = st
    f.response = tutils.tresp(content=b"{}", headers=[(b"content-type", b"application/json")])
    return f, out


def needs_of(r: dict) -> tuple[int, int, int, int]:
    return r["needed_retrieved"], r["needed_reread"], r["needed_guessed"], r["reexpanded"]


def guessing_turn():
    from tests.core.test_needed import SOURCE, claude_body, folded_runs, next_turn, tool_result, tool_use, unshown_line
    from headroom.core.pipeline import compress_body

    body = claude_body()
    out = compress_body("anthropic", body)
    text = out.body["messages"][2]["content"][0]["content"]
    run = folded_runs(text, out.drops)[1]
    edit = tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=unshown_line(run, text), new_string="x")
    return body, run, next_turn(body, [edit], [tool_result("toolu_e", "The file has been updated.")])


def test_a_guessed_edit_is_one_row_count_and_a_retry_counts_nothing(stats):
    s, _ = stats
    _, _, edited = guessing_turn()
    for _ in range(2):  # the agent retries the same request: same newest turn, counted once
        f, _ = anthropic_flow(edited)
        s.request(f)
        s.response(f)
        assert s.flush()
    first, retry = rows()
    assert needs_of(first) == (0, 0, 1, 0) and needs_of(retry) == (0, 0, 0, 0)


def test_a_run_the_relay_retrieved_is_counted_and_no_longer_a_guess(stats):
    s, _ = stats
    body, run, edited = guessing_turn()
    f, _ = anthropic_flow(body, retrieved=[run.key])  # the model asked for it in this answer
    s.request(f)
    s.response(f)
    assert s.flush()
    f, _ = anthropic_flow(edited)  # its next turn edits those lines: it had them
    s.request(f)
    s.response(f)
    assert s.flush()
    asked, edit = rows()
    assert needs_of(asked) == (1, 0, 0, 0) and needs_of(edit) == (0, 0, 0, 0)


def test_a_re_expansion_counts_once_per_conversation(stats):
    """A later question names a folded function: the pipeline re-expands the Read (one cache miss), and every
    later request of the conversation carries the same question and the same re-expansion."""
    import re

    s, _ = stats

    from headroom.core.markers import find_markers
    from headroom.core.pipeline import compress_body
    from tests.core.test_needed import claude_body

    body = claude_body()
    text = compress_body("anthropic", body).body["messages"][2]["content"][0]["content"]
    name = next(m for m in (re.search(r"body of ([\w.]+)", k.summary) for k in find_markers(text)) if m).group(1)
    asked = {**body, "messages": body["messages"] + [
        {"role": "assistant", "content": [{"type": "text", "text": "It returns text/plain."}]},
        {"role": "user", "content": [{"type": "text", "text": f"And what does {name} do with its argument?"}]}]}
    for _ in range(2):
        f, out = anthropic_flow(asked)
        assert out.reexpanded == 1
        s.request(f)
        s.response(f)
        assert s.flush()
    first, again = rows()
    assert needs_of(first) == (0, 0, 0, 1) and needs_of(again) == (0, 0, 0, 0)


def test_an_outcome_that_only_counts_re_expansions_is_recorded_as_counted(stats):
    from types import SimpleNamespace

    s, _ = stats
    body, _, _ = guessing_turn()
    f, out = anthropic_flow(body)
    f.metadata[STATE_KEY].outcome = SimpleNamespace(body=out.body, changed=True, drops=out.drops, units=out.units,
                                                    tokens_before=out.tokens_before, tokens_after=out.tokens_after,
                                                    reexpanded=2)
    s.request(f)
    s.response(f)
    assert s.flush()
    assert needs_of(rows()[0]) == (0, 0, 0, 2)


def test_a_body_that_is_not_json_still_gets_its_row(stats):
    s, _ = stats
    _, _, edited = guessing_turn()
    f, _ = anthropic_flow(edited)
    f.metadata[STATE_KEY].original = b"\xff not json"
    s.request(f)
    s.response(f)
    assert s.flush()
    (r,) = rows()
    assert needs_of(r) == (0, 0, 0, 0) and r["compressed"] == 1


def first_counted_slower(monkeypatch, first: bytes):
    """Both rows to the workers, and the row of the flow whose original is `first` counted after the next
    one's (as under load: a large turn, then a small one). Returns the event the next row's counting sets."""
    import threading

    import headroom.addon.stats as stats_module

    monkeypatch.setattr(stats_module, "INLINE_MAX_BYTES", 0)
    next_counted = threading.Event()
    real = stats_module._parsed_once  # where a row's work on the client's body begins

    def parsed_once(data):
        if data == first:
            next_counted.wait(timeout=5)
        else:
            next_counted.set()
        return real(data)

    monkeypatch.setattr(stats_module, "_parsed_once", parsed_once)
    return next_counted


def test_rows_meet_the_bill_in_the_order_their_flows_ended(stats, monkeypatch):
    """A conversation's turn whose row is counted faster than the turn before it (a small turn after a large
    one, two workers) is still billed after it: compared the other way round it was a cache break the client
    never made, and the conversation's history counted as new."""
    from tests.core.test_needed import claude_body, tool_result, tool_use

    s, _ = stats
    first = claude_body()
    second = claude_body(([tool_use("toolu_b", "Bash", command="make test")], [tool_result("toolu_b", "ok")]))
    for body in (first, second):  # Claude Code's breakpoint: the newest block
        body["messages"][-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    second_counted = first_counted_slower(monkeypatch, json.dumps(first).encode())
    for body in (first, second):
        f, _ = anthropic_flow(body)
        s.request(f)
        s.response(f)
    assert s.flush()
    assert second_counted.is_set()
    one, two = sorted(rows(), key=lambda r: r["tokens_before"])
    assert one["cache_break"] is None and two["cache_break"] is None
    # The second turn removed what the first had (already in its history) and nothing new.
    assert one["removed_new"] > 0 and two["removed_again"] == one["removed_new"]


def test_what_a_turn_needed_is_judged_after_the_turns_before_it(stats, monkeypatch):
    """The relay retrieved a run for one turn; the next turn edits those lines. Counted faster, the edit's
    row must still see the retrieval, or it counts a guess the model never made."""
    s, _ = stats
    body, run, edited = guessing_turn()
    edit_counted = first_counted_slower(monkeypatch, json.dumps(body).encode())
    for b, retrieved in ((body, [run.key]), (edited, [])):
        f, _ = anthropic_flow(b, retrieved=retrieved)
        s.request(f)
        s.response(f)
    assert s.flush()
    assert edit_counted.is_set()
    asked, edit = sorted(rows(), key=lambda r: r["tokens_before"])
    assert needs_of(asked) == (1, 0, 0, 0) and needs_of(edit) == (0, 0, 0, 0)


def test_a_resent_logs_row_is_exact_when_its_count_comes_from_memory(stats):
    # tokens.count_body cuts the original's long strings out and remembers their pieces: the row's
    # tokens_before must still be the whole body's count, turn after turn.
    s, _ = stats
    log = "".join(f"2026-11-24 04:{j % 60:02d}:00 INFO worker-{j % 7} seq={j}\n" for j in range(300)) + "05:00 ERROR disk full 7\n"
    originals = [json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": f"request {i}: why did the job fail?"},
        {"role": "tool", "tool_call_id": "c1", "content": log}]}).encode() for i in range(3)]
    for original in originals:
        f = llm_flow(original=original, resp_body=b"{}")
        s.request(f)
        s.responseheaders(f)
        s.response(f)
    assert s.flush()
    assert [r["tokens_before"] for r in rows()] == [tokens.count(o.decode()) for o in originals]


def test_real_agent_bodies_are_counted_exactly_turn_after_turn():
    """A row's counts are the whole bodies' exact counts, the second time from memory too: real Claude Code
    and Codex requests (their tool definitions and outputs resent every turn), as sent and compressed."""
    from headroom.addon.stats import build_entry
    from headroom.core.jsonstyle import detect, dumps
    from headroom.core.memo import MEMO
    from headroom.core.pipeline import compress_body
    from headroom.evals.agents import agent_cases
    from headroom.core.usage import Usage

    picked = {}
    for case in agent_cases():  # the first case of each agent and provider with a body of 20 KB or more
        raw = json.dumps(case.body).encode()
        if len(raw) >= 20_000:
            picked.setdefault((case.agent, case.provider), (case, raw))
    assert len(picked) == 2
    hits = MEMO.hits
    for case, raw in picked.values():
        outcome = compress_body(case.provider, json.loads(raw))
        assert outcome.changed
        sent = dumps(outcome.body, detect(raw, json.loads(raw)))
        for original, wire in ((raw, sent), (raw, raw)):
            for _ in range(2):
                e = build_entry(ts=0.0, provider=case.provider, host="h", model="claude-sonnet-4-5", original=original,
                                sent=wire, outcome=outcome, modified=wire != original, usage=Usage(),
                                streaming=False, status=200, compress_ms=None, overhead_ms=None, upstream_ms=None,
                                ttfb_ms=None, total_ms=None, retrievals=0, fail_open=False, bypass=False, error=False,
                                within=tokens.long_strings(json.loads(original)))
                assert e.tokens_before == tokens.count(original.decode(), remember=False)
                assert e.tokens_after == tokens.count(wire.decode(), remember=False)
    # Resent strings came from memory (those with a place to cut them: a digit next to a non-digit near
    # each end), so this was not the plain whole count.
    assert MEMO.hits > hits
