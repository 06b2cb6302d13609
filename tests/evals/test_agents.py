"""The shipped agent corpus is well formed: real requests of both agents, each fact an exact substring of a
tool output that headroom's own provider code finds in the body, so a fact can only be kept or lost by the
compressor, never missing from the input."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from headroom.core.pipeline import find_units
from headroom.core.providers import provider_for
from headroom.evals.agents import AGENTS, AgentCase, agent_cases

CASES = agent_cases()
HOSTS = {"anthropic": "api.anthropic.com", "openai_responses": "api.openai.com"}


def test_both_agents_are_present_with_many_cases():
    counts = Counter(c.agent for c in CASES)
    assert set(counts) == set(AGENTS), counts
    assert all(n >= 10 for n in counts.values()), counts


def test_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_is_a_real_request_of_its_provider(case: AgentCase):
    assert case.question.strip() and case.kind and case.agent_version
    assert case.later_question is None or case.later_question.strip()
    assert provider_for(HOSTS[case.provider], case.path) == case.provider
    # Claude Code's requests carry `messages`; Codex's Responses requests carry `input`.
    assert ("messages" in case.body) == (case.provider == "anthropic")
    assert ("input" in case.body) == (case.provider == "openai_responses")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_fact_is_in_a_tool_output(case: AgentCase):
    outputs = [u.text for u in find_units(case.provider, case.body)]
    assert outputs, "no tool output found in the body"
    assert case.facts, "a case needs at least one fact"
    missing = [f for f in case.facts if not f.strip() or not any(f in text for text in outputs)]
    assert not missing, missing


def _user_texts(case: AgentCase) -> list[str]:
    """The text of each user message of the body, in order (harness-injected parts included)."""
    items = case.body["messages"] if case.provider == "anthropic" else case.body["input"]
    out = []
    for item in items:
        if item.get("role") == "user" and item.get("type", "message") == "message":
            content = item.get("content")
            parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or []
                                                                 if isinstance(p, dict)]
            out.append("".join(p for p in parts if isinstance(p, str)))
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_questions_are_the_users_own_messages(case: AgentCase):
    """The question is a user message before the tool outputs; a multi-turn case's body is the request after
    its later question, which is the newest user message."""
    texts = _user_texts(case)
    assert any(case.question in t for t in texts)
    if case.later_question:
        assert case.later_question in texts[-1]


def test_the_corpus_covers_the_agents_tool_formats():
    kinds = {c.kind for c in CASES}
    for needed in ("read-full", "read-partial", "read-large", "read-repeat", "grep-content", "grep-files",
                   "grep-count", "glob", "bash-persisted", "bash-failing-tests", "edit", "write",
                   "codex-exec-nl", "codex-exec-rg", "codex-exec-truncated", "codex-exec-apply-patch", "codex-cmd-nl",
                   "codex-cmd-truncated"):
        assert needed in kinds, needed
    assert sum(bool(c.later_question) for c in CASES) >= 4


def test_a_zero_claim_every_marker_of_an_output_would_repeat_is_said_once_and_is_true_of_every_drop():
    """Rich's text.py read for one question, then asked about another: each of the view's ~30 markers would
    say "0 mention 'text.expand_tabs' or 'tab size'"; the first says it for all, once, and it stays said
    after the later question put runs back. Where the markers' zero claims differ (click's `git log --stat`:
    one release's drops mention 'changed', none mentions '8.1.7'), the terms they all lack are said once and
    each marker keeps the rest of its claim. Checked on every output of every case: no later marker says a
    shared term again, and every claim is true of its drops."""
    from headroom.core.compressors.facets import ZERO_BELOW
    from headroom.core.markers import find_markers
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.honesty import check_markers

    shared, kept_own = set(), set()
    for case in CASES:
        out = compress_body(case.provider, case.body, path=case.path)
        for orig, sent in zip(find_units(case.provider, case.body), find_units(case.provider, out.body)):
            markers = find_markers(sent.text)
            below = [m for m in markers if ZERO_BELOW in m.summary]
            if not below:
                continue
            shared.add(case.id)
            assert below == markers[:1]  # on the first marker only (a later question may have put runs back)
            said = below[0].summary[below[0].summary.rindex("; 0 mention ") + 12:-len(ZERO_BELOW)]
            for term in said.split(" or "):
                assert not any(f"0 mention {term}" in m.summary or f" or {term}" in m.summary for m in markers[1:])
            if any("0 mention" in m.summary for m in markers[1:]):
                kept_own.add(case.id)
            violations, checked, _ = check_markers(orig.text, sent.text, out.drops)
            assert violations == [] and checked
    assert "cc-later-read-rich-text" in shared and "cc-bash-git-log-stat-click" in kept_own


def test_the_head_of_a_cut_output_is_judged_by_the_whole_output_it_is_read_with():
    """Codex cut packaging's `git log -p` (120k tokens) to a head and a tail. The head alone, one release's
    diff of 12 files, is under what a diff keeps whole; with the tail, the model reads 11k tokens at once, so
    the head is outlined: every file header stays, the changed lines of the files the question does not
    name fold behind markers counting them."""
    import re

    from headroom.core.compressors import Context, compress_text
    from headroom.core.compressors.views import _result_object
    from headroom.core.pipeline import compress_body, find_units

    (case,) = [c for c in CASES if c.id == "cx-exec-truncated-packaging-log"]
    out = compress_body(case.provider, case.body, path=case.path)
    units = list(zip(find_units(case.provider, case.body), find_units(case.provider, out.body)))
    orig, sent = next((o, s) for o, s in units if "tokens truncated…" in o.text)
    assert len(sent.text) < 0.85 * len(orig.text)
    assert all(f in sent.text for f in case.facts)
    field = _result_object(orig.text.split("\n")[3])[1]
    head = field[:field.index("…")].rsplit("\n", 1)[0]  # the head, up to Codex's cut
    headers = re.findall(r"^diff --git .*$", head, re.M)
    assert len(headers) >= 2 and all(h in sent.text for h in headers)
    # Alone, the same head is a diff read whole.
    ctx = Context(query=orig.query, tool_name=orig.tool_name, tool_args=orig.tool_args)
    assert not compress_text(head, ctx).drops


def test_a_search_of_one_file_reads_the_question_s_words_in_its_matches_not_its_path():
    """Grep of `self` over tornado's web.py for "Where does tornado's RequestHandler.__init__ keep the
    application and the request ...": 'tornado' is the searched path's word (every match is in it), so a
    match holding `tornado.locale` is not picked for it; `self.application = application` is, and the match on
    the next line holding the question's 'request' stays with it (agents-4, measured held out first)."""
    from headroom.core.pipeline import compress_body, find_units

    (case,) = [c for c in CASES if c.id == "cc-grep-content-tornado-web"]
    out = compress_body(case.provider, case.body, path=case.path)
    sent = "\n".join(u.text for u in find_units(case.provider, out.body))
    assert "216:        self.application = application" in sent
    assert "217:        self.request = request" in sent
    assert "1330:    def locale(self) -> tornado.locale.Locale:" not in sent


def test_two_words_of_a_later_question_that_each_name_several_runs_bring_back_the_one_holding_both():
    """toolz's functoolz.py read for "what does the module define first?", then asked "What does curry raise
    when it is created without a function, or with something that is not callable?": 'raise' is in two folded
    bodies and 'callable' (negated, still a name) in three; only curry.__init__'s holds both, and it comes back
    whole (agents-4, measured held out first)."""
    from headroom.core.pipeline import compress_body, find_units

    (case,) = [c for c in CASES if c.id == "cx-direct-later-toolz-functoolz"]
    out = compress_body(case.provider, case.body, path=case.path)
    sent = "\n".join(u.text for u in find_units(case.provider, out.body))
    assert all(f in sent for f in case.facts)
    assert "body of apply" in sent  # the other runs holding one of the words stay folded
