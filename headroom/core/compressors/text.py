"""Prose and markdown: every heading kept, the sections the question is about kept whole, the rest
reduced to their first line.

A document is cut into sections at its headings (markdown `#` headings outside code fences); a
document without headings is cut into paragraphs. The lead (what comes before the second heading)
is kept: it says what the document is. Sections are ranked by the question's terms (weighted by how
few sections contain them) and, when it is available, by the learned relevance model. A section picked
for a term found only in some entries of its list (a release's changes, one of which names the asked
function) keeps those entries whole and folds the others: the entries are the units then.
"""
from __future__ import annotations

import math
import re

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.claims import counted_terms
from headroom.core.compressors.query import asks_for_all, parse_query
from headroom.core.compressors.runs import OUTLINE_MAX_TOKENS, fold, lines_summary, outline_over

__all__ = ["compress_text_doc"]

MAX_RELEVANT_SECTIONS = 4  # sections kept whole for matching the question, best first
RELATIVE_SCORE = 0.4
MODEL_MIN_SIMILARITY = 0.4
LEXICAL_CLEAR = 0.8  # sections scoring within this share of the best are "as good" lexically
LEAD_MAX_LINES = 40
MAX_SECTION_LINES = 80  # longer sections are split at paragraphs
BLOCK_LINES = LEAD_MAX_LINES  # text with no paragraphs is judged in blocks this long; the first is the lead
OUTLINE_LEVELS = 2
SUMMARY_NAMES_CHARS = 200
NAME_CHARS = 50  # a heading or first line quoted in a marker is cut here (a cut quote is still its start)  # section names listed in a marker, then "and N more"
MIN_HEADINGS = 2
MIN_PARAGRAPHS = 3
PROSE_SHARE = 0.5  # at least this share of the lines read as sentences (several words in a row)
_PROSE = re.compile(r"[A-Za-z][a-z']+[,;:]? [A-Za-z][a-z']*[,;:]? [A-Za-z(][a-z')]*")
_HEADING = re.compile(r"^#{1,6}\s+\S")
_FENCE = re.compile(r"^\s*(```|~~~)")


# A title over (and maybe under) a rule of one punctuation mark at least as long: a reStructuredText
# heading, or Markdown's Setext one.
_RULE = re.compile(r"^(?P<c>[=\-~^*+#`'\".:_])(?P=c){2,}\s*$")


def _headings(lines: list[str]) -> dict[int, int]:
    """The headings of a document, line index -> level, outside code fences and comment blocks: Markdown
    `#` headings (level = the number of `#`) and underlined titles. In a document with `#` headings an
    underline is Setext's (`===` level 1, `---` level 2, nothing else); in one without, it is
    reStructuredText's, levels in the order the marks first appear."""
    out: dict[int, int] = {}
    fenced = False
    comments = _comment_blocks(lines)
    underlined: list[tuple[int, str]] = []
    for i, ln in enumerate(lines):
        if _FENCE.match(ln):
            fenced = not fenced
            continue
        if fenced or i in comments:
            continue
        if _HEADING.match(ln):
            out[i] = len(ln) - len(ln.lstrip("#"))
            continue
        title = ln.strip()
        if (i + 1 < len(lines) and title and not _RULE.match(ln) and (m := _RULE.match(lines[i + 1]))
                and len(lines[i + 1].rstrip()) >= len(ln.rstrip())
                and (i == 0 or not lines[i - 1].strip() or _RULE.match(lines[i - 1]))):
            underlined.append((i, m.group("c")))
    if out:
        out.update({i: 1 if c == "=" else 2 for i, c in underlined if c in "=-"})
    else:
        order: dict[str, int] = {}
        for i, c in underlined:
            out[i] = order.setdefault(c, len(order) + 1)
    return dict(sorted(out.items()))


def _sections(lines: list[str], heads: dict[int, int] | None = None) -> tuple[list[tuple[int, int]], set[int]]:
    """(start, end) line ranges, a section starting at its heading; and which of them are blocks cut
    from text with no paragraphs at all (they have no heading or topic sentence of their own)."""
    heads = _headings(lines) if heads is None else heads
    # An overlined title's section starts at its overline.
    starts = [0] + [i - 1 if i > 0 and _RULE.match(lines[i - 1]) else i for i in heads if i > 0]
    starts = sorted(set(starts))
    if len(starts) < 3:
        # No structure to speak of: paragraphs are the sections.
        starts = [0] + [i + 1 for i in range(len(lines) - 1) if not lines[i].strip() and lines[i + 1].strip()]
    bounds = starts + [len(lines)]
    sections = [(bounds[k], bounds[k + 1]) for k in range(len(starts)) if bounds[k] < bounds[k + 1]]
    # A very long section is a document of its own: its paragraphs are judged one by one, and a run
    # with no paragraphs at all (a wall of text, an unstructured dump) in blocks of BLOCK_LINES.
    out: list[tuple[int, int]] = []
    blocks: set[int] = set()
    for a, b in sections:
        if b - a <= MAX_SECTION_LINES:
            out.append((a, b))
            continue
        cuts = [a] + [i + 1 for i in range(a + 1, b - 1) if not lines[i].strip() and lines[i + 1].strip()
                      and not _inside_fence(lines, a, i)]
        cuts.append(b)
        for k in range(len(cuts) - 1):
            c, d = cuts[k], cuts[k + 1]
            if d - c <= MAX_SECTION_LINES:
                out.append((c, d))
                continue
            for e in range(c, d, BLOCK_LINES):
                if e > c or c not in heads:
                    blocks.add(len(out))
                out.append((e, min(e + BLOCK_LINES, d)))
    return out, blocks


COMMENT_RUN = 3  # this many "#" lines in a row are a comment block (a config file, a .tab file), not headings


def _comment_blocks(lines: list[str]) -> set[int]:
    out: set[int] = set()
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j].startswith("#"):
            j += 1
        if j - i >= COMMENT_RUN:
            out.update(range(i, j))
        i = max(j, i + 1)
    return out


def _inside_fence(lines: list[str], a: int, i: int) -> bool:
    return sum(1 for ln in lines[a:i] if _FENCE.match(ln)) % 2 == 1


def has_structure(lines: list[str]) -> bool:
    """Is this prose with a structure to cut along: markdown headings, or paragraphs of sentences?

    Anything else (one wall of text, a dump with no blank lines, output of a kind nothing recognised)
    has no unit a reader would skip whole, so only lossless steps apply to it (the router's fallback)."""
    if len(_headings(lines)) >= MIN_HEADINGS:
        return True
    body = [ln for ln in lines if ln.strip()]
    paragraphs = sum(1 for i in range(1, len(lines)) if not lines[i - 1].strip() and lines[i].strip())
    if not body or paragraphs < MIN_PARAGRAPHS or len(body) / (paragraphs + 1) > MAX_SECTION_LINES:
        return False
    return sum(1 for ln in body if _PROSE.search(ln)) >= PROSE_SHARE * len(body)


def compress_text_doc(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    if not has_structure(lines):
        return Compressed(text, "text", "text")
    heading_at = _headings(lines)
    sections, blocks = _sections(lines, heading_at)
    query = parse_query(ctx.query)
    n = len(sections)
    whole: set[int] = set()
    partial: set[int] = set()  # lines of whole sections that are list items the question is not about
    if sections and sections[0][1] - sections[0][0] <= LEAD_MAX_LINES:
        whole.add(0)
    blocks.discard(0)
    # A section starts at its heading, or at the overline above it.
    title_of = [a + 1 if a + 1 in heading_at and _RULE.match(lines[a]) else a for a, _ in sections]
    levels = [heading_at.get(t, 0) for t in title_of]
    spans = [_span_end(levels, k) for k in range(n)]
    if query and n:
        hits = [query.strong_hits("\n".join(lines[a:b])) | query.word_hits("\n".join(lines[a:b])) for a, b in sections]
        heads = [query.strong_hits(lines[a]) | query.word_hits(lines[a]) for a, _ in sections]
        df: dict[str, int] = {}
        for h in hits:
            for t in h:
                df[t] = df.get(t, 0) + 1
        weight = {t: math.log(1 + n / c) for t, c in df.items()}
        # A section is judged with its subsections ("# Testing" owns "## Check the result"): the terms
        # found anywhere in it, plus those in its heading again (a heading says what a section is about).
        # A span over half the document (a title) is judged alone, or it would always win.
        # A span over a quarter of the document (a title, or one chapter of a document printed several
        # times) is judged alone too: its best subsections are picked instead.
        span_max = max(MAX_SECTION_LINES, len(lines) / 4)
        ends = [spans[k] if sections[spans[k] - 1][1] - sections[k][0] <= span_max else k + 1 for k in range(n)]
        scores = [sum(weight[t] for t in set().union(*hits[k:ends[k]])) + sum(weight.get(t, 0.0) for t in heads[k])
                  for k in range(n)]
        best = max(scores, default=0.0)
        picks: set[int] = set()
        if best > 0:
            ranked = sorted((k for k in range(n) if scores[k] >= RELATIVE_SCORE * best), key=lambda k: (-scores[k], k))
            picks.update(ranked[:MAX_RELEVANT_SECTIONS])
        # The model is asked only where the words are ambiguous: nothing matched, or more sections
        # matched about as well as the best than can be kept. A clear lexical winner is not second-guessed.
        close = sum(1 for sc in scores if sc >= LEXICAL_CLEAR * best) if best > 0 else 0
        if best <= 0 or close > MAX_RELEVANT_SECTIONS:
            from headroom.core import relevance

            order = sorted(range(n), key=lambda k: (-scores[k], k))[:12]
            sims = relevance.similarities(query.text, [_gist(lines, *sections[k]) for k in order])
            if sims is not None:
                picks.update(k for k, s in zip(order, sims) if s >= MODEL_MIN_SIMILARITY)
        partial = _unasked_items(lines, sections, [(k, m) for k in picks for m in range(k, ends[k])], query)
        # Releases the question spans ("from 3.0.1 to 3.2.0", "what changed since 2.4?"): each is what was asked,
        # all of its entries, whether or not they hold the question's words.
        for k in _asked_releases(lines, sections, title_of, heading_at, query.text):
            a, b = sections[k]
            partial.difference_update(range(a, b))
            picks.add(k)
        for k in picks:
            whole.update(range(k, ends[k]))

            # A paragraph ending with a colon introduces what follows it ("Supported formats are:").
            last = ends[k] - 1
            while last + 1 < n and _introduces(lines, *sections[last]) and levels[last + 1] == 0:
                last += 1
                whole.add(last)
    keep = [True] * len(lines)
    repeat_of = _repeats(lines, sections)
    # The outline: headings of the two shallowest levels in use are always shown.
    outline = set(sorted({lv for lv in levels if lv})[:OUTLINE_LEVELS])
    for k, (a, b) in enumerate(sections):
        if k in repeat_of:
            # An exact repeat of an earlier section (a page printed twice, a boilerplate block): one
            # marker for all of it, heading included, saying which lines it repeats.
            for i in range(a, b):
                keep[i] = False
            continue
        if k in whole:
            for i in range(a, b):
                if i in partial:
                    keep[i] = False
            continue
        if levels[k] and levels[k] not in outline and not _leads_with_strong_term(query, lines, a, b):
            # A deep subsection the question is not about ("### Handler.flush" in a reference of
            # hundreds): dropped with its heading, which the marker names, so the outline stays short.
            # One whose heading or first line holds an identifier of the question keeps them.
            for i in range(a, b):
                keep[i] = False
            continue
        if k in blocks:
            # A block cut from a wall of text has no topic sentence: dropped whole (one marker for a
            # run of them), except the first, the lead, which says what the text is.
            for i in range(a, b):
                keep[i] = False
            continue
        # The heading and the first line of text: the section's topic sentence.
        t = title_of[k]
        body = t + 2 if t in heading_at and t + 1 < b and _RULE.match(lines[t + 1]) else t + 1
        first_text = next((i for i in range(body, b) if lines[i].strip()), b) if t in heading_at else a
        for i in range(first_text + 1, b):
            keep[i] = False
    _fold_section_runs(lines, sections, levels, spans, whole, keep, query, ctx.encoding)
    counted = {t: w for t, w in counted_terms(query, lines).items() if " " not in t}
    qtext = ctx.query or ""

    def describe(i: int, j: int) -> str:
        reps = [k for k, (a, b) in enumerate(sections) if a >= i and b <= j and k in repeat_of]
        if not reps:
            # What the run holds: the headings of the sections in it, or the section it is part of and
            # its first line; and how many of its lines hold the question's terms.
            names = [lines[title_of[k]].lstrip("#").strip() for k, (a, b) in enumerate(sections) if i <= a < j and levels[k]]
            counts = facets.term_counts(counted, range(i, j), None, qtext)
            if not names:
                first = next((ln.strip() for ln in lines[i:j] if ln.strip()), "")
                owner = next((lines[title_of[k]].lstrip("#").strip() for k, (a, b) in reversed(list(enumerate(sections)))
                              if a < i and levels[k]), "")
                what = (f"rest of section {owner[:NAME_CHARS]}, " if owner else "") + f"from {first[:NAME_CHARS]!r}"
                return lines_summary(i, j, ", ".join([what, *counts]), offset=ctx.line_offset)
            listed = ""
            for m, name in enumerate(names):
                if len(listed) + len(name) > SUMMARY_NAMES_CHARS:
                    listed += f" and {len(names) - m} more"
                    break
                listed += (", " if listed else "") + name
            return lines_summary(i, j, ", ".join([f"section{'s' if len(names) > 1 else ''} {listed}", *counts]), offset=ctx.line_offset)
        off = ctx.line_offset
        n_rep = sum(sections[k][1] - sections[k][0] for k in reps)
        same = [repeat_of[k] for k in reps]
        if same == list(range(same[0], same[0] + len(same))):
            src = f"lines {sections[same[0]][0] + 1 + off}-{sections[same[-1]][1] + off}"
        else:
            src = f"{len(set(same))} earlier sections"
        lead = "all" if n_rep == j - i else f"{n_rep} of them"
        return lines_summary(i, j, f"{lead} an exact repeat of {src}", offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "text", "text", drops)


# A question about a document's sections as a whole: "list the releases", "every version", "which sections
# does it have?" (not "which versions fixed X": those hold X, and are kept for it).
LISTS_SECTIONS = asks_for_all("sections|versions|releases|chapters|headings|topics", "does it have|are there|exist")


def _fold_section_runs(lines: list[str], sections: list[tuple[int, int]], levels: list[int], spans: list[int],
                       whole: set[int], keep: list[bool], query, encoding: str) -> None:
    if query and LISTS_SECTIONS.search(query.text):
        return  # "list the releases", "which sections does it have?": the outline is the answer
    if not outline_over(lines, keep, OUTLINE_MAX_TOKENS, encoding):
        return
    n = len(sections)
    strong = set()
    if query and query.strong:
        strong = {i for i, ln in enumerate(lines) if query.strong_hits(ln)}

    def foldable(k: int) -> bool:
        a, b = sections[k][0], sections[spans[k] - 1][1]
        return (levels[k] > 0 and not any(m in whole for m in range(k, spans[k]))
                and not any(i in strong for i in range(a, b)))

    run: list[int] = []

    def flush() -> None:
        if len(run) >= 2:
            for k in run:
                for i in range(sections[k][0], sections[spans[k] - 1][1]):
                    keep[i] = False
        run.clear()

    k = 0
    while k < n:
        if foldable(k):
            run.append(k)
            k = spans[k]
            continue
        flush()
        k += 1
    flush()


REPEAT_MIN_CHARS = 80  # a shorter section ("Returns: None") repeating is normal, not a duplicate page


def _repeats(lines: list[str], sections: list[tuple[int, int]]) -> dict[int, int]:
    """Sections that repeat an earlier section exactly (trailing blank lines aside): index -> first copy."""
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for k, (a, b) in enumerate(sections):
        body = "\n".join(lines[a:b]).rstrip()
        if len(body) < REPEAT_MIN_CHARS:
            continue
        if body in first:
            out[k] = first[body]
        else:
            first[body] = k
    return out


# A list item: a bullet or a number, then text. Its continuation lines are indented past the bullet.
_ITEM = re.compile(r"^(?P<indent>\s*)(?:[-*+\u2022]|\d{1,3}[.)])\s+\S")
ITEMS_MIN = 6  # a section is read item by item from this many items on
ITEMS_SHARE = 0.6  # ... when its items hold this share of its non-blank lines (it is a list, not prose)
ITEMS_ASKED_MAX_SHARE = 0.5  # more items than this share hold the question's terms: the section is the topic


def _items(lines: list[str], a: int, b: int) -> list[tuple[int, int]]:
    """The top-level list items of lines a..b, as (start, end) line ranges: an item runs from its bullet to
    the next bullet at its indent or less, or to the first line after a blank that is not indented past it."""
    out: list[tuple[int, int]] = []
    i = a
    while i < b:
        m = _ITEM.match(lines[i])
        if m is None:
            i += 1
            continue
        indent = len(m.group("indent"))
        j = i + 1
        while j < b:
            ln = lines[j]
            if ln.strip():
                lead = len(ln) - len(ln.lstrip())
                if lead <= indent:
                    break
            elif j + 1 < b and lines[j + 1].strip() and len(lines[j + 1]) - len(lines[j + 1].lstrip()) <= indent:
                break
            j += 1
        while j > i + 1 and not lines[j - 1].strip():
            j -= 1
        out.append((i, j))
        i = j
    return out


def _unasked_items(lines: list[str], sections: list[tuple[int, int]], picked: list[tuple[int, int]], query) -> set[int]:
    """The lines of picked sections' list items that hold none of the question's terms, in a section that is a
    list the question names only some items of: a release's changes when one entry holds the asked names.
    A section's heading and its text outside the items stay. A section is the topic, and stays whole, when
    a term is outside its items (its heading, a line of its own) that few sections have outside theirs (a
    "version" in every heading names none of them), or when its owner section's heading is the topic, or when
    most of its items are about the question (ranked as sections are), or when it is not much of a list.
    `picked`: (the picked section, one of the sections it spans)."""
    if not picked:
        return set()
    split = [_items(lines, a, b) for a, b in sections]
    outside: list[set[str]] = []
    for (a, b), items in zip(sections, split):
        in_items = {i for s, e in items for i in range(s, e)}
        text = "\n".join(lines[i] for i in range(a, b) if i not in in_items)
        outside.append(query.strong_hits(text) | query.word_hits(text))
    df: dict[str, int] = {}
    for terms in outside:
        for t in terms:
            df[t] = df.get(t, 0) + 1
    names = [any(df[t] < ITEMS_ASKED_MAX_SHARE * len(sections) or len(sections) == 1 for t in terms)
             for terms in outside]
    out: set[int] = set()
    for k, m in picked:
        items = split[m]
        if names[k] or names[m] or len(items) < ITEMS_MIN:
            continue
        a, b = sections[m]
        in_items = {i for s, e in items for i in range(s, e)}
        body = [i for i in range(a, b) if lines[i].strip()]
        if len(in_items & set(body)) < ITEMS_SHARE * len(body):
            continue
        # Items are ranked as sections are: by the question's terms, each weighted by how few items hold it
        # ("fix" in half a release's entries tells less than "open_file" in one).
        hits = [query.strong_hits("\n".join(lines[s:e])) | query.word_hits("\n".join(lines[s:e])) for s, e in items]
        idf: dict[str, int] = {}
        for h in hits:
            for t in h:
                idf[t] = idf.get(t, 0) + 1
        scores = [sum(math.log(1 + len(items) / idf[t]) for t in h) for h in hits]
        best = max(scores)
        asked = [item for item, sc in zip(items, scores) if best > 0 and sc >= RELATIVE_SCORE * best]
        if not asked or len(asked) > ITEMS_ASKED_MAX_SHARE * len(items):
            continue
        out |= in_items - {i for s, e in asked for i in range(s, e)}
    return out


# A release's heading: its version first, maybe after a word or two and a bracket ("3.1.0 (2023-07-29)",
# "## [2.4.0] - 2021-10-06", "Version 1.2", "pyflakes v0.9.1:").
_RELEASE = re.compile(r"^(?:[A-Za-z][\w.-]*\s+){0,2}\[?v?(\d+(?:\.\d+)+)\]?(?=[\s(:,;\]-]|$)")
_QUESTION_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)(?![\w]|\.\d)")
# A version the question counts from ("since 2.4", "after v1.2", "upgrading from 3.0.1").
_FROM_VERSION = re.compile(r"\b(?:since|after|from|newer than|later than|past)\s+(?:\S+\s+){0,2}?v?(\d+(?:\.\d+)+)\b", re.I)


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()  # 3.2 is 3.2.0
    return tuple(parts)


def _asked_releases(lines: list[str], sections: list[tuple[int, int]], title_of: list[int], heading_at: dict[int, int],
                    question: str) -> list[int]:
    """The sections of a changelog the question spans: it names two releases the document has titles for
    (from A to B: the releases after A up to B), or one that it counts from (since A: every later one).
    A release is a section whose title (a heading, or a paragraph of one line) starts with its version,
    and the sections after it up to the next release's. Versions the document has no release for
    ("Python 3.7") bound nothing."""
    starts: list[tuple[int, tuple[int, ...]]] = []
    for k, t in enumerate(title_of):
        b = sections[k][1]
        title = lines[t].lstrip("#").strip()
        one_line = not any(ln.strip() for ln in lines[t + 1:b])
        if (m := _RELEASE.match(title)) and (t in heading_at or one_line):
            starts.append((k, _version(m.group(1))))
    if len(starts) < 2:
        return []
    known = {v for _, v in starts}
    named = sorted({v for m in _QUESTION_VERSION.finditer(question) if (v := _version(m.group(1))) in known})
    since = [v for m in _FROM_VERSION.finditer(question) if (v := _version(m.group(1))) in known]
    if len(named) >= 2:
        lo, hi = named[0], named[-1]
    elif since:
        lo, hi = min(since), max(known)
    else:
        return []
    bounds = [k for k, _ in starts] + [len(sections)]
    return [m for (k, v), end in zip(starts, bounds[1:]) if lo < v <= hi for m in range(k, end)]


def _introduces(lines: list[str], a: int, b: int) -> bool:
    tail = next((lines[i].rstrip() for i in range(b - 1, a - 1, -1) if lines[i].strip()), "")
    return tail.endswith(":")


def _leads_with_strong_term(query, lines: list[str], a: int, b: int) -> bool:
    if not query or not query.strong:
        return False
    first = next((i for i in range(a + 1, b) if lines[i].strip()), a)
    return bool(query.strong_hits(lines[a]) or query.strong_hits(lines[first]))


def _span_end(levels: list[int], k: int) -> int:
    """One past the last section that belongs to section k: its subsections and continuation paragraphs."""
    if levels[k] == 0:
        return k + 1
    m = k + 1
    while m < len(levels) and (levels[m] == 0 or levels[m] > levels[k]):
        m += 1
    return m


def _gist(lines: list[str], a: int, b: int) -> str:
    """A section's heading and first lines: what the relevance model compares to the question."""
    return " ".join(ln.strip().lstrip("#").strip() for ln in lines[a : min(b, a + 6)] if ln.strip())[:400]
