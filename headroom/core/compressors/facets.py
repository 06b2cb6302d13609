"""What a dropped run holds, in the terms an aggregate question asks about: severity and question terms.

A marker that says "37 items omitted" is a silent loss for "which accounts are suspended?" or "are
there errors besides the timeout?": the model cannot tell whether the answer is inside. Every
compressor describes its dropped runs with the helpers here, so a marker says how many of the dropped
lines are errors/warnings and how many mention each term of the question that singles lines out
("0 mention 'suspend'"), and the model knows whether to retrieve.
"""
from __future__ import annotations

import bisect
import re
from typing import Iterable, Sequence

from headroom.core.compressors.query import Query

__all__ = ["SEVERE_WORDS", "CLASS_TERMS", "display", "informative_terms", "is_loud", "is_severe", "keep_all", "lines_with", "severe_lines", "term_counts"]

# Substrings (lower-case) that mark a line as an error, a warning or a failure in almost any system's
# output. (Logs, grep matches, table rows and JSON items are all checked against the same list.)
SEVERE_WORDS = (
    "error", "exception", "fail", "fatal", "critical", "panic", "abort", "denied", "refused", "timed out",
    "timeout", "unable", "cannot", "can't", "could not", "invalid", "unexpected", "traceback", "killed",
    "segfault", "corrupt", "unreachable", "forbidden", "not found", "warn", "severe", "emerg", "alert",
    "backoff",
)
# A term of the question in more than this share of the lines does not single any out (it is the
# subject of the whole output, like the searched-for pattern in grep output).
INFORMATIVE_MAX_SHARE = 0.5
TERMS_IN_MARKER = 3  # at most this many question terms are counted in one marker
# A term that singles out at most this share of the lines/items (and at most a compressor's own count)
# is kept wherever it appears: "suspended" in 20 of 330 accounts. A term in more of them ("issues" in
# a list of issues) is what the output is about; a sample is kept and markers count the rest.
KEEP_ALL_MAX_SHARE = 0.2


# Upper-case level words and tracebacks: an error in grep output over code or logs, where the lower-case
# words above are everyday identifiers (`log_error`, `error_content_type`, `on_failure`).
_LOUD = re.compile(r"\b(?:ERROR|ERR|FATAL|CRITICAL|CRIT|PANIC|FAIL|FAILED|FAILURE|WARN|WARNING|SEVERE|EMERG)\b|Traceback \(")


_CLASS_Q = re.compile(r"(?<![\w])([1-5])xx\b", re.I)
CLASS_TERMS = frozenset(f"{d}xx" for d in "12345")


def is_loud(text: str) -> bool:
    return _LOUD.search(text) is not None


def is_severe(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in SEVERE_WORDS)


def lines_with(words: Iterable[str], lines_lower: Sequence[str]) -> set[int]:
    """Indexes of the (lower-cased) lines that contain any of `words` (lower-case)."""
    ws = tuple(words)
    if not ws:
        return set()
    joined, starts = joined_lines(lines_lower)
    if joined.count("\n") != len(lines_lower) - 1 or "" in ws:  # a "line" holding a newline: test each one
        return {i for i, ln in enumerate(lines_lower) if any(w in ln for w in ws)}
    # Each word found with str.find over the whole text (C speed), one hit per line, instead of every word
    # tested in every line; a word with a newline in it is in no line.
    out: set[int] = set()
    for w in ws:
        if "\n" not in w:
            out |= lines_holding(w, joined, starts)
    return out


def lines_holding(word: str, joined: str, starts: Sequence[int]) -> set[int]:
    """The indexes of the lines of `joined` (lines starting at `starts`) that hold `word` (no newline in it):
    found with str.find, one hit per line, the search going on from the next line."""
    out: set[int] = set()
    n = len(starts)
    pos = joined.find(word)
    while pos != -1:
        i = bisect.bisect_right(starts, pos) - 1
        out.add(i)
        pos = joined.find(word, starts[i + 1]) if i + 1 < n else -1
    return out


def severe_lines(lines_lower: Sequence[str]) -> set[int]:
    return lines_with(SEVERE_WORDS, lines_lower)


def informative_terms(query: Query, texts: Sequence[str], names: Iterable[str] = (), *,
                      lowered: tuple[Sequence[str], str] | None = None,
                      found: dict | None = None) -> dict[str, set[int]]:
    """Terms of the question (identifiers, numbers, words) that appear in some of `texts` but not in
    most of them, each with the indexes of the texts holding it, the terms found in fewest first.

    A term is found as a whole word or identifier part ('cli' in 'CliRunner', never in 'click'). The
    spellings of one phrase of the question ("retry policy": retry_policy, retryPolicy, retry-policy) are
    one term. A term that names one of `names` (the columns or field names of the output) is not
    counted: "0 mention 'precipitation'" of rows under a `precipitation` column reads as "no data".
    `lowered`: the texts lower-cased and those joined by newlines, when the caller has them already (a log's
    are remembered by its text, core/memo.py). `found`: a cache of where each term's pattern is in these
    same texts (the caller keeps one per text, so a term a later question asks again is not searched again)."""
    if not query or not texts:
        return {}
    n = len(texts)
    out: dict[str, set[int]] = {}
    # "5xx", "4xx": a status code class names every code in it.
    for m in _CLASS_Q.finditer(query.text):
        cls = m.group(1)
        # Only where a number is a status: after "status"/"code"/"returned" or an access log's request.
        rx = re.compile(r"""(?:\bstatus(?:_?code)?|\bcode|\breturned|HTTP/[\d.]+")["']?\s*[=:]?\s*["']?"""
                        + cls + r"\d\d(?![\w.])", re.I)
        where = {i for i, t in enumerate(texts) if cls in t and rx.search(t)}
        if where and len(where) <= INFORMATIVE_MAX_SHARE * n:
            out[cls + "xx"] = where
    spellings: dict[str, str] = {}  # a phrase's spelling -> the one it is counted as
    for a, b in query.phrases:
        for s in (f"{a}-{b}", f"{a} {b}", f"{a}{b}"):
            spellings[s] = f"{a}_{b}"
    name_list = [nm for nm in names if nm]
    # Substring tests first (C speed), the word pattern on the few that pass; a term in no text is skipped with
    # one test of them all, not one per text.
    lows, everywhere = lowered if lowered is not None else ([t.lower() for t in texts], "\n".join(t.lower() for t in texts))
    joined: str | None = None
    starts: list[int] = []
    for term in dict.fromkeys((*query.strong, *query.words)):
        if len(term) < 3:
            continue
        key = spellings.get(term, term)
        if " " in key:
            continue  # a multi-word quote is a matching aid, not a term a reader would count by
        if name_list and any(query.contains(term, nm) for nm in name_list):
            continue
        kind = ("term", term, query.term_kind(term)[1])  # its key in the text's cache
        cached = found.get(kind) if found is not None else None
        if cached is not None:
            where = cached
        elif term not in everywhere:
            where = frozenset()
        else:
            rx = query.term_regex(term)
            cands = [i for i, t in enumerate(lows) if term in t]
            if len(cands) > JOINED_SEARCH_MIN:
                # One pass of the pattern over the whole output beats thousands of calls on its lines.
                if joined is None:
                    joined, starts = joined_lines(texts)
                where = frozenset(bisect.bisect_right(starts, m.start()) - 1 for m in rx.finditer(joined))
            else:
                where = frozenset(i for i in cands if rx.search(texts[i]))
        if found is not None and cached is None and len(found) < FOUND_MAX:
            found[kind] = where
        if where:
            out[key] = out.get(key, set()) | where
    out = {t: w for t, w in out.items() if len(w) <= INFORMATIVE_MAX_SHARE * n}
    # A term inside another found term ('suspend' in 'suspended') is counted once, as the longer one.
    for t in list(out):
        if any(t != u and t in u and out[u] == out[t] for u in out):
            del out[t]
    return dict(sorted(out.items(), key=lambda kv: (len(kv[1]), kv[0])))


FOUND_MAX = 256  # terms whose places one text's cache keeps (then it stops taking more: it is bounded)
JOINED_SEARCH_MIN = 64  # candidate texts beyond which a term is searched in the joined output at once


def joined_lines(texts: Sequence[str]) -> tuple[str, list[int]]:
    """The texts joined by newlines, and where each one starts (a term never spans a newline)."""
    starts, pos = [], 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    return "\n".join(texts), starts


def display(term: str, question: str) -> str:
    """The question's own word for a stemmed term ('upgrad' -> 'upgraded'), so markers read naturally."""
    if "_" in term:
        a, _, b = term.partition("_")
        pm = re.search(r"(?<![a-z0-9])" + re.escape(a) + r"[\s_-]?" + re.escape(b) + r"(?![a-z0-9])", question.lower())
        if pm:
            return pm.group()
    m = re.search(r"(?<![a-z0-9])" + re.escape(term) + r"[a-z]*", question.lower())
    return m.group() if m else term


def keep_all(where: set[int], n: int, max_count: int) -> bool:
    """Should every line/item holding a question term be kept (see KEEP_ALL_MAX_SHARE)?"""
    return len(where) <= max_count and len(where) <= KEEP_ALL_MAX_SHARE * n


def term_counts(terms: dict[str, set[int]], indexes: Iterable[int], severe: set[int] | None = None,
                question: str = "") -> list[str]:
    """["2 with error/warning words", "0 mention 'suspended'"]: how many of `indexes` are severe (when
    `severe`, the output's severe lines, is not empty) and hold each informative question term (zeros
    included: "none of the dropped match" is the point)."""
    idx = set(indexes)
    parts: list[str] = []
    if severe:
        # Zero included when the output has errors at all: "none of these" spares a retrieval.
        parts.append(f"{len(idx & severe)} with error/warning words")
    counted = [(term, len(idx & where)) for term, where in terms.items()]
    # Terms found in this run first (they say where to retrieve), then the rarest, which are zero here.
    counted.sort(key=lambda tc: tc[1] == 0)
    counted = counted[:TERMS_IN_MARKER]
    for term, k in counted:
        if k:
            parts.append(f"{k} mention {display(term, question)!r}")
    zeros = [repr(display(term, question)) for term, k in counted if not k]
    if zeros:
        # Said explicitly: "none of these lines match" is what spares the model a retrieval.
        parts.append("0 mention " + " or ".join(zeros))
    return parts



# "0 mention 'a' or 'b'": what term_counts says of the question's terms a drop does not hold.
_ZERO_CLAIM = re.compile(r"0 mention '[^'\n]*'(?: or '[^'\n]*')*")
ZERO_BELOW = " here or in the drops below"  # the claim said once for every marker of an output
SHARED_ZERO_MIN_MARKERS = 3  # two markers' copies cost about what the words saying "below" do


def _without(summary: str, claim: re.Match) -> str | None:
    """`summary` without the claim and its separator; None when it is not one clean part of it."""
    a, b = claim.start(), claim.end()
    if summary[a - 2:a] in (", ", "; ", ": ") and (b == len(summary) or summary[b] in ";,"):
        return summary[:a - 2] + summary[b:]
    return None


def _rewritten(text: str, summaries: dict[int, str]) -> str:
    """`text` with the markers at these positions (their start offsets) given new summaries, keys kept."""
    from headroom.core.markers import find_markers, format_marker

    out = []
    pos = 0
    for m in find_markers(text):
        if m.start in summaries:
            out += [text[pos:m.start], format_marker(summaries[m.start], m.key)]
            pos = m.end
    return "".join(out) + text[pos:]


def _zero_terms(claim: re.Match) -> list[str]:
    """The quoted terms of "0 mention 'a' or 'b'", as they are written (quotes included)."""
    return re.findall(r"'[^'\n]*'", claim.group(0))


def share_zero_claims(text: str) -> str:
    """Say a zero claim once per output: the terms every marker of `text` claims "0 mention" for are said
    once, at the end of the first marker, "; 0 mention 'a' or 'b' here or in the drops below"; each marker
    keeps its claim for the terms only some drops lack (a marker's key is its drop's, so the keys stay).
    Any other output (a marker without a zero claim, fewer than SHARED_ZERO_MIN_MARKERS markers, a term none
    of them all lack) is returned as it is."""
    from headroom.core.markers import find_markers

    markers = find_markers(text)
    if len(markers) < SHARED_ZERO_MIN_MARKERS:
        return text
    claims = [_ZERO_CLAIM.search(m.summary) for m in markers]
    if any(c is None for c in claims):
        return text
    terms = [_zero_terms(c) for c in claims]
    shared = [t for t in terms[0] if all(t in ts for ts in terms[1:])]
    if not shared:
        return text
    summaries = {}
    for m, c, ts in zip(markers, claims, terms):
        own = [t for t in ts if t not in shared]
        if own:
            rest = m.summary[:c.start()] + "0 mention " + " or ".join(own) + m.summary[c.end():]
        elif (rest := _without(m.summary, c)) is None:
            return text
        summaries[m.start] = rest
    summaries[markers[0].start] += "; 0 mention " + " or ".join(shared) + ZERO_BELOW
    return _rewritten(text, summaries)


def keep_shared_claim(before: str, after: str) -> str:
    """`after` is `before` with some runs put back (a later question named them): when the run of the marker
    that said the output's shared zero claim went, the first marker left says it (still true of every
    drop below it)."""
    from headroom.core.markers import find_markers

    first = next(iter(find_markers(before)), None)
    if first is None or not first.summary.endswith(ZERO_BELOW):
        return after
    left = find_markers(after)
    if not left or left[0].key == first.key:
        return after
    claim = first.summary[first.summary.rindex("; 0 mention "):]
    return _rewritten(after, {left[0].start: left[0].summary + claim})
