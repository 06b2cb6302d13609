"""XML documents: runs of sibling elements of one tag (JUnit testcases, catalogue entries) cut down to the
ones that matter, the document kept valid XML with every kept element byte-identical.

Element-granular, as JSON is item-granular: a report printed on one line (pytest's --junitxml) has
no lines to drop. A dropped run of siblings becomes one XML comment holding the marker, in the place of
the run, so the document still parses and has the same schema.

JUnit reports: every <testcase> holding a <failure>, <error> or <skipped> is kept, as is every
<testsuite> start tag (its summary: tests, failures, errors, skipped, time); passing testcases are folded
under markers that count them per classname and name the first of them. Other XML: the first item of
each run, items holding the question's terms, and items whose attribute values are rare among their
siblings are kept; markers say how many elements of which tag, and the values of attributes that vary.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.claims import counted_terms
from headroom.core.compressors.query import parse_query
from headroom.core.markers import make_marker

__all__ = ["compress_xml", "looks_like_xml"]

MIN_ITEMS = 8  # fewer siblings are read whole
HEAD_ITEMS = 1  # the first item of a run shows what an item looks like
MAX_MATCHED_ITEMS = 40
RARE_MAX = 2  # an attribute value held by at most this many siblings (and a small share) is an odd one out
RARE_SHARE = 0.1
FEW_VALUES = 6
VALUE_CHARS = 30
MIN_DROP_CHARS = 200  # a run shorter than this costs about as much as its marker
SUMMARY_CHARS = 320
FAILURES_WHOLE_MAX = 10  # up to this many failing testcases are kept whole; beyond, only those asked about
_NOT_OK = ("failure", "error", "skipped")  # JUnit: a testcase holding one of these is a result to read

_TOKEN = re.compile(
    r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>"
    r"|<(?P<close>/)?(?P<tag>[A-Za-z_][\w.:-]*)(?P<attrs>(?:\s+[\w.:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(?P<empty>/)?>",
    re.S)
_TAG_NAME = re.compile(r"</?[A-Za-z_][\w.:-]*")
_ATTR = re.compile(r"([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


@dataclass
class _El:
    tag: str
    start: int
    end: int = -1
    open_end: int = -1  # end of the start tag
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)


def looks_like_xml(stripped: str) -> bool:
    """A whole document that parses as XML and is not an HTML page."""
    if not stripped.startswith("<"):
        return False
    head = stripped[:500].lower()
    if "<html" in head or head.startswith("<!doctype html"):
        return False
    try:
        ET.fromstring(stripped.encode("utf-8"))
    except (ET.ParseError, ValueError):
        return False
    return True


def _elements(text: str) -> list[_El]:
    els: list[_El] = []
    stack: list[int] = []
    for m in _TOKEN.finditer(text):
        tag = m.group("tag")
        if tag is None:
            continue
        if m.group("close"):
            while stack:
                k = stack.pop()
                els[k].end = m.end()
                if els[k].tag == tag:
                    break
            continue
        el = _El(tag, m.start(), open_end=m.end(),
                 attrs={a: (v if v is not None else w) for a, v, w in _ATTR.findall(m.group("attrs") or "")})
        if stack:
            els[stack[-1]].children.append(len(els))
        if m.group("empty"):
            el.end = m.end()
            els.append(el)
        else:
            stack.append(len(els))
            els.append(el)
    if stack or any(e.end < 0 for e in els):
        raise ValueError("unbalanced XML")
    return els


def _runs(els: list[_El]) -> list[tuple[int, str, list[int]]]:
    """(parent, tag, children) for every parent with at least MIN_ITEMS children of one tag."""
    out = []
    for p, el in enumerate(els):
        counts = Counter(els[c].tag for c in el.children)
        for tag, n in counts.items():
            if n >= MIN_ITEMS:
                out.append((p, tag, [c for c in el.children if els[c].tag == tag]))
    return out


def compress_xml(text: str, ctx: Context) -> Compressed:
    stripped = text.strip()
    if not looks_like_xml(stripped):
        raise ValueError("not an XML document")
    els = _elements(text)
    query = parse_query(ctx.query)
    drops: dict[str, str] = {}
    cuts: list[tuple[int, int, str]] = []  # (start, end, marker comment) in text order
    for _, tag, items in _runs(els):
        if any(els[c].children and _runs_inside(els, c) for c in items[:1]):
            continue  # items that hold runs of their own (testsuites of testcases) are judged inside
        texts = [text[els[c].start:els[c].end] for c in items]
        n = len(items)
        keep = [k < HEAD_ITEMS for k in range(n)]
        junit = tag == "testcase"
        not_ok = [any(els[g].tag in _NOT_OK for g in _descendants(els, c)) for c in items]
        for k in range(n):
            if not_ok[k]:
                keep[k] = True
        # Terms are matched in values and text, not in tag names (every failing testcase has a <failure>).
        plain = [_TAG_NAME.sub(" ", t) for t in texts]
        terms = facets.informative_terms(query, plain) if query else {}
        counted = counted_terms(query, texts)
        score = Counter()
        for where in terms.values():
            for k in where:
                score[k] += 1.0 / len(where)
        for k, _ in sorted(score.items(), key=lambda ks: (-ks[1], ks[0]))[:MAX_MATCHED_ITEMS]:
            keep[k] = True
        for k in _extremes(query, els, items):
            keep[k] = True
        # Many failures: those the question is not about keep their tags and message, not their traceback.
        if sum(not_ok) > FAILURES_WHOLE_MAX:
            asked = set(score)
            for k, c in enumerate(items):
                if not_ok[k] and k not in asked:
                    for g in _descendants(els, c):
                        if els[g].tag in _NOT_OK:
                            cut = _body_cut(text, els[g], drops)
                            if cut:
                                cuts.append(cut)
        # Attribute values rare among the siblings' few values.
        names = Counter(a for c in items for a in els[c].attrs)
        for a in names:
            vals = Counter(els[c].attrs.get(a, "") for c in items)
            if 2 <= len(vals) <= FEW_VALUES:
                for k, c in enumerate(items):
                    if vals[els[c].attrs.get(a, "")] <= min(RARE_MAX, RARE_SHARE * n):
                        keep[k] = True
        k = 0
        while k < n:
            if keep[k]:
                k += 1
                continue
            m = k
            while m < n and not keep[m]:
                m += 1
            a, b = els[items[k]].start, els[items[m - 1]].end
            dropped = text[a:b]
            if len(dropped) >= MIN_DROP_CHARS:
                summary = (_junit_summary if junit else _summary)(els, items[k:m], tag, counted, range(k, m), ctx.query or "")
                marker, key = make_marker(summary.replace("--", "- -"), dropped)
                drops[key] = dropped
                cuts.append((a, b, f"<!-- {marker} -->"))
            k = m
    if not cuts:
        return Compressed(text, "xml", "xml")
    cuts.sort()
    out, pos = [], 0
    for a, b, rep in cuts:
        out.append(text[pos:a])
        out.append(rep)
        pos = b
    out.append(text[pos:])
    return Compressed("".join(out), "xml", "xml", drops)


def _extremes(query, els: list[_El], items: list[int]) -> set[int]:
    """Items holding the extreme values of a numeric attribute the question asks about ("the 3 slowest
    tests": the largest `time`), by the attribute's name or its kind (a duration, a size)."""
    out: set[int] = set()
    for e in query.extremes if query else ():
        names = Counter(a for c in items for a in els[c].attrs)
        attr = next((a for a in names if any(w in a.lower() for w in e.words)), None)
        if attr is None:
            attr = next((a for a in names if a.lower() in _KIND_ATTRS.get(e.kind, ())), None)
        if attr is None:
            continue
        vals = []
        for k, c in enumerate(items):
            try:
                vals.append((float(els[c].attrs.get(attr, "")), k))
            except ValueError:
                continue
        vals.sort()
        count = max(e.count, 1)
        out.update(k for _, k in (vals[-count:] if e.direction == "max" else vals[:count]))
    return out


_KIND_ATTRS = {"duration": ("time", "duration", "elapsed"), "size": ("size", "bytes", "length"),
               "time": ("timestamp", "date", "time")}


def _body_cut(text: str, el: _El, drops: dict[str, str]) -> tuple[int, int, str] | None:
    """The text of an element (a failure's traceback) as a comment marker between its tags."""
    close = text.rfind("</", el.start, el.end)
    if close < 0 or close - el.open_end < MIN_DROP_CHARS:
        return None
    body = text[el.open_end:close]
    first = next((ln.strip() for ln in body.split("\n") if ln.strip()), "")
    summary = f"{body.count(chr(10)) + 1} lines of <{el.tag}> text omitted, from {first[:80]!r}"
    marker, key = make_marker(summary.replace("--", "- -"), body)
    drops[key] = body
    return (el.open_end, close, f"<!-- {marker} -->")


def _runs_inside(els: list[_El], c: int) -> bool:
    counts = Counter(els[g].tag for g in els[c].children)
    return any(n >= MIN_ITEMS for n in counts.values())


def _descendants(els: list[_El], c: int) -> list[int]:
    out, todo = [], list(els[c].children)
    while todo:
        g = todo.pop()
        out.append(g)
        todo.extend(els[g].children)
    return out


def _fit(parts: list[str]) -> str:
    out = ""
    for p in parts:
        if len(out) + len(p) + 2 > SUMMARY_CHARS:
            break
        out += ("; " if out else "") + p
    return out


def _junit_summary(els: list[_El], run: list[int], tag: str, terms, idx, question: str) -> str:
    """"52 passing testcases omitted; tests.core.test_x: 40 (test_a, test_b, ...); tests.core.test_y: 12"."""
    by: dict[str, list[str]] = {}
    for c in run:
        by.setdefault(els[c].attrs.get("classname", ""), []).append(els[c].attrs.get("name", ""))
    parts = [f"{len(run)} passing {tag} elements omitted"]
    parts += facets.term_counts(terms, idx, None, question)
    for cls, names in by.items():
        first = ", ".join(nm for nm in names[:2] if len(nm) <= 60)
        parts.append(f"{cls or 'no classname'}: {len(names)}" + (f" ({first}{', ...' if len(names) > 2 else ''})" if first else ""))
    return _fit(parts)


def _summary(els: list[_El], run: list[int], tag: str, terms, idx, question: str) -> str:
    parts = [f"{len(run)} <{tag}> elements omitted"]
    parts += facets.term_counts(terms, idx, None, question)
    attrs = Counter(a for c in run for a in els[c].attrs)
    ident = next((a for a in ("name", "id", "key", "code") if attrs.get(a) == len(run)), None)
    if ident:
        parts.append(f"{ident} from {els[run[0]].attrs[ident][:VALUE_CHARS]!r} to {els[run[-1]].attrs[ident][:VALUE_CHARS]!r}")
    for a in attrs:
        if attrs[a] < len(run):
            continue  # an attribute only some elements have: its values would not describe the run
        vals = Counter(els[c].attrs[a] for c in run)
        if len(vals) <= FEW_VALUES and all(len(v) <= VALUE_CHARS for v in vals) and a != ident:
            parts.append(f"{a}: " + ", ".join(f"{v!r} x{k}" for v, k in sorted(vals.items(), key=lambda vk: (-vk[1], vk[0]))))
    return _fit(parts)
