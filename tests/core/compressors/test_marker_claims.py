"""Every number a marker states about what it dropped is true: re-computed from the drop, it is equal.

Runs the router (so every compressor that a real sample reaches) over each real sample in
tests/golden/inputs/ (any sample a colleague adds there is picked up) with questions drawn by hypothesis
from templates filled with the sample's own words: plain, negated, superlative, threshold and
identifier questions. For each marker it re-computes from the dropped content:

- the line count and line range (lines of the tool output) or item/entry count of the drop;
- "K with error/warning words", per unit of the compressor that said it (lines, grep matches, JSON items);
- "K mention 'term'" (and "0 mention 'a' or 'b'"): the units holding the term as a whole word;
- per-level counts of logs ("1180 INFO, 3 WARN");
- JSON value counts ("status: active x310, pending x20");
- counts of selected rows ("3 with size over 10 MB") are at most the drop's size.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headroom.core.compressors import Context, compress_text, facets
from headroom.core.compressors.json import _facet_value, _has_error
from headroom.core.compressors.logs import _LEVEL
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.search import _is_context, _parse
from headroom.core.compressors.select import select_lines
from headroom.core.markers import find_markers
from tests.core.compressors.helpers import line_span, span_body

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"
SAMPLES = sorted(p.name for p in INPUTS.iterdir() if p.is_file())
SETTINGS = settings(max_examples=4, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TEMPLATES = (
    "What does the output say about {a}?",
    "Which {a} failed, and why?",
    "Are there any errors besides {a}?",
    "Which {a} are not {b}?",
    "What are the 3 largest {a}?",
    "Which {a} took longer than 10 ms?",
    "Show every {a} over 1 MB",
    "Which steps took 0.005 s or less?",
    "Which {a} took at least 10 ms?",
    "What is {a} {n}?",
    "Where is the {a} {b} set?",
    "apart from {a}, what mentions {b}?",
)
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{3,20}")


def _words(text: str) -> list[str]:
    counts: dict[str, int] = {}
    for w in _WORD.findall(text[:200_000]):
        counts[w] = counts.get(w, 0) + 1
    # Both rare and common words of the sample: the rare single lines out, the common test the counts.
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return sorted(set(ranked[:40] + ranked[-40:]))


_TEXTS: dict[str, str] = {}


def _sample(name: str) -> str:
    if name not in _TEXTS:
        _TEXTS[name] = (INPUTS / name).read_text(encoding="utf-8", errors="replace")
    return _TEXTS[name]


@pytest.mark.parametrize("name", SAMPLES)
@SETTINGS
@given(data=st.data())
def test_every_number_in_a_marker_is_true_of_its_drop(name, data):
    text = _sample(name)
    words = _words(text)
    if len(words) < 2:
        return
    template = data.draw(st.sampled_from(TEMPLATES))
    question = template.format(a=data.draw(st.sampled_from(words)), b=data.draw(st.sampled_from(words)),
                               n=data.draw(st.integers(1, 400)))
    r = compress_text(text, Context(query=question))
    for mk in find_markers(r.text):
        assert mk.key in r.drops, mk.summary
        _check(mk.summary, r.drops[mk.key], r.content_type, question, text)


def _units(drop: str, content_type: str):
    """The units a marker of this content type counts, as (texts, severe flags)."""
    if content_type == "json" and drop[:1] in "[{":
        try:
            value = json.loads(drop)
        except ValueError:
            value = None
        if isinstance(value, list):
            return [_dumps(x) for x in value], [_has_error(x) for x in value], value
        if isinstance(value, dict):
            items = list(value.items())
            return [_dumps({k: v}) for k, v in items], [_has_error(v) for _, v in items], [v for _, v in items]
    lines = drop.split("\n")
    if content_type in ("search", "paths"):
        matches = []
        for ln in lines:
            p = _parse(ln)
            if p is not None and not _is_context(ln, p):
                matches.append(p[2])
        return matches, [facets.is_loud(t) for t in matches], None
    return lines, [facets.is_severe(t) for t in lines], None


def _dumps(v) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


_ITEMS = re.compile(r"^(?:item (?P<one>\d+)|items (?P<a>\d+)-(?P<b>\d+)) of (?P<of>\d+) omitted\b")
_ENTRIES = re.compile(r"^(?P<n>\d+) of (?P<of>\d+) entries omitted")
_SEVERE = re.compile(r"(?<![\w])(\d+) with error/warning words")
_MENTION = re.compile(r"(?<![\w])(\d+) mention ('[^']*'(?: or '[^']*')*)")
_LEVELS = re.compile(r"(?:^|, )(\d+) (TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE|CRIT|"
                     r"ALERT|EMERG)(?=,|$)")
_FACET = re.compile(r"(?:; |\()(?P<field>[\w.-]+): (?P<vals>(?:[^;,()]+ x\d+)(?:, [^;,()]+ x\d+)*)(?=;|$)")
_SELECTED = re.compile(r"(?<![\w])(\d+) (?:with|of the|not|naming|over|under|above|below|at least|at most|more than|"
                       r"less than|fewer than|longer than|shorter than|slower than|faster than|larger than|smaller than)\b")
# Content types whose "with error/warning words" counts are re-computed here (each compressor has its own
# notion of an error unit); line/item counts and "mention" counts are re-computed for every content type.
_SEVERE_COUNTED = ("logs", "json", "search", "paths")


class FalseMention(AssertionError):
    pass


def _check(summary: str, drop: str, content_type: str, question: str, original: str) -> None:
    inner = summary
    span = line_span(summary)
    if span:
        a, b = span
        assert b - a + 1 == len(drop.split("\n")), summary
        if content_type != "json":
            assert "\n".join(original.split("\n")[a - 1:b]) == drop, f"{summary}: not those lines of the output"
    m = _ITEMS.match(summary)
    if m:
        items = json.loads(drop)
        a = int(m.group("one") or m.group("a"))
        b = int(m.group("one") or m.group("b"))
        assert len(items) == b - a + 1 and b <= int(m.group("of")), summary
    m = _ENTRIES.match(summary)
    if m:
        assert int(m.group("n")) == len(json.loads(drop)) and int(m.group("n")) <= int(m.group("of")), summary
    # What the marker says of its drop: after "lines A-B omitted: ", or inside "items A-B of N omitted (...)".
    body = span_body(inner) if span else inner[inner.find("(") + 1:].rstrip(")")
    units, severe, values = _units(drop, content_type)
    size = len(units)
    for sm in _SEVERE.finditer(body):
        if content_type in _SEVERE_COUNTED:
            assert int(sm.group(1)) == sum(severe), f"{summary}: {sum(severe)} of the dropped report errors"
    q = parse_query(question)
    for mm in _MENTION.finditer(body):
        k = int(mm.group(1))
        for shown in re.findall(r"'([^']*)'", mm.group(2)):
            got = _mention_counts(shown, question, q, units)
            if not got:
                raise FalseMention(f"{summary}: {shown!r} is not a term of the question {question!r}")
            if k not in got:
                raise FalseMention(f"{summary}: {got} of the dropped units mention {shown!r}, not {k}")
    if content_type == "logs":
        for lm in _LEVELS.finditer(body):
            k, level = int(lm.group(1)), lm.group(2)
            real = sum(1 for ln in units if (x := _LEVEL.search(ln)) and x.group(1).upper() == level)
            assert k == real, f"{summary}: {real} {level} lines dropped"
    if content_type == "json" and values is not None:
        for fm in _FACET.finditer(body):
            f = fm.group("field")
            for part in fm.group("vals").split(", "):
                v, _, k = part.rpartition(" x")
                real = sum(1 for x in values if isinstance(x, dict) and f in x and _facet_value(x[f]) == v)
                assert int(k) == real, f"{summary}: {real} dropped items have {f}={v}"
    for sm in _SELECTED.finditer(body):
        assert int(sm.group(1)) <= size, summary
    if content_type in ("logs", "search", "paths"):
        # A numeric condition is a property of each line: re-count it on the dropped lines themselves.
        for cond in q.conditions:
            text = cond.describe()
            what = text if text[:1].isalpha() else "with " + text
            cm = re.search(r"(?<![\w])(\d+) " + re.escape(what) + r"(?=,|$)", body)
            if cm:
                real = len(select_lines(units, parse_query(question)).by.get(what, ()))
                assert int(cm.group(1)) == real, f"{summary}: {real} dropped lines {what}"


def _mention_counts(shown: str, question: str, q, units: list[str]) -> set[int]:
    """The counts a marker could truthfully give for the term it shows as `shown`: one per term of the
    question whose display is `shown` (a stem and its question word), units holding it as a whole word."""
    out = set()
    candidates = [t for t in dict.fromkeys((*q.strong, *q.words)) if facets.display(t, question) == shown]
    phrases = {f"{a}_{b}": (f"{a}-{b}", f"{a}_{b}", f"{a} {b}", f"{a}{b}") for a, b in q.phrases}
    candidates += [k for k in phrases if facets.display(k, question) == shown]
    for term in candidates:
        spellings = phrases.get(term, (term,))
        regexes = [q.term_regex(s) for s in spellings]
        out.add(sum(1 for u in units if any(r.search(u) for r in regexes)))
    return out
