"""The shipped real-world workloads: they load, are many and varied, and every fact is in its text."""
from __future__ import annotations

from collections import Counter

from headroom.evals.workloads import REALWORLD_PATH, realworld_cases


def test_shipped_file_loads_and_is_compact():
    cases = realworld_cases()
    assert cases
    assert REALWORLD_PATH.stat().st_size < 3_000_000


def test_at_least_60_workloads_over_25_kinds():
    cases = realworld_cases()
    kinds = Counter(c.kind for c in cases)
    assert len(cases) >= 60
    assert len(kinds) >= 25


def test_every_fact_is_a_substring_of_its_text():
    for c in realworld_cases():
        assert c.facts, c.id
        for fact in (*c.facts, *c.later_facts):
            assert fact and fact in c.tool_output, (c.id, fact)


def test_workloads_are_real_and_described():
    cases = realworld_cases()
    assert len({c.id for c in cases}) == len(cases)
    for c in cases:
        assert not c.generated, c.id
        assert c.source and c.question and c.tool_name, c.id
        assert bool(c.later_question) == bool(c.later_facts), c.id


def test_later_questions_are_a_turn_after_the_tool_result():
    c = next(c for c in realworld_cases() if c.later_question)
    msgs = c.openai_messages()
    roles = [m["role"] for m in msgs]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert msgs[1]["content"] == c.question and msgs[-1]["content"] == c.later_question
    assert msgs[3]["content"] == c.tool_output


def test_there_are_later_turn_questions_in_many_kinds():
    kinds_with_later = {c.kind for c in realworld_cases() if c.later_question}
    assert len(kinds_with_later) >= 25
