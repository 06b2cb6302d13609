"""Logs: template mining. Rare kinds of line are kept whole, frequent kinds are folded into markers.

Every line is reduced to a template by masking what varies between lines of the same kind (numbers,
hex ids, addresses). Templates are then kept from the rarest up, whole, within a budget; the frequent
templates that make up the bulk of a log keep a sample (their first line), their error/warning lines
and the lines that mention what the question asks about. Each run of dropped lines becomes one marker
saying how many lines of which kinds it holds.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from headroom.core.compressors import facets, select
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.facets import SEVERE_WORDS
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary
from headroom.core.memo import MEMO

__all__ = ["compress_logs", "kinds_of", "looks_like_log", "looks_repetitive", "template"]

HEAD_LINES = 2  # the start of a log says what produced it
TAIL_LINES = 2  # the end says where it stopped
# Templates are kept whole from the rarest up while their lines stay within this share of the log:
# the rare kinds of line are where the signal is, the frequent ones are the noise floor.
RARE_BUDGET_FRACTION = 0.12
RARE_BUDGET_MIN_LINES = 40
COARSE_WORDS = 3
FINE_DIVERSITY_MAX = 0.5  # more distinct templates than this share of lines: cluster coarsely
ALWAYS_RARE_COUNT = 3  # a kind of line seen at most this often is always kept
SEVERE_PER_TEMPLATE = 3  # error/warning lines kept per frequent template (the first ones)
QUERY_WORD_PER_TEMPLATE = 3  # lines sharing only a plain word with the question, per frequent template
QUERY_STRONG_MAX = 60  # lines containing an identifier/number from the question
# An aggregate question ("which jobs failed?", "any errors besides the timeout?") needs every matching
# line: when a question term or the error/warning lines are this few in the whole log, all are kept;
# beyond that a sample is kept and every marker counts how many of its lines match.
QUERY_ALL_MAX = 40
SEVERE_ALL_MAX = 40

# From a digit to the end of the token: numbers, addresses, ports, hex ids, versions. (A regex that also
# takes hex letters before the digit is four times slower and finds the same templates in practice.)
_MASK = re.compile(r"\d[\w.:-]*")
_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|FATAL|CRITICAL|SEVERE|notice|error|warn(?:ing)?|info|debug|crit|alert|emerg)\b")
# A date is not part of a path: "versions/3.11.7/lib" and "python3.11/" are not timestamps.
_TIMESTAMPISH = re.compile(
    r"(?<![\w./])\d{1,4}[-/:.]\d{1,2}[-/:.]\d{1,4}(?![\w.]*/)|\d\d:\d\d:\d\d|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b|^\d{6,}"
)


def template(line: str) -> str:
    """The kind of a log line: what varies between lines of the same kind masked as '#'."""
    return _MASK.sub("#", line)


def coarse(temp: str) -> str:
    """A looser kind, for logs whose variable parts are words (package names, hosts, users): the first
    COARSE_WORDS fixed words of the template and its length in tokens ("status installed <pkg> <ver>")."""
    toks = temp.split()
    fixed = [t for t in toks if "#" not in t][:COARSE_WORDS]
    return " ".join(fixed) + f" /{len(toks)}"


def kinds_of(temps: list[str]) -> list[str]:
    """Templates; when they barely repeat (most lines are one of a kind), templates with the one word
    that varies among lines of one shape masked, or else their coarse form."""
    limit = FINE_DIVERSITY_MAX * max(1, len(temps))
    if len(set(temps)) <= limit:
        return temps
    # Only where the templates barely repeat: masking a word in a log that already folds well would
    # merge kinds whose word is the fact (a component name, a state).
    merged = mask_varying_word(temps)
    if len(set(merged)) > limit:
        return [coarse(t) for t in temps]
    return merged


MERGE_MIN_TEMPLATES = 3  # this many templates differing in one word are one kind (the word is a variable)
MERGE_MAX_TOKENS = 40
MERGE_MAX_TEMPLATES = 2500  # beyond that the mining costs more than it finds (~0.1 s): the coarse form takes over


def mask_varying_word(temps: list[str]) -> list[str]:
    """`Compiling serde v#`, `Compiling tokio v#`, ... -> `Compiling * v#`: templates that are equal
    but for one word (a crate, a package, a host, a user), at least MERGE_MIN_TEMPLATES of them, are
    one kind with that word masked. Each template takes the mask shared by most templates."""
    uniq = list(dict.fromkeys(temps))
    if len(uniq) < MERGE_MIN_TEMPLATES or len(uniq) > MERGE_MAX_TEMPLATES:
        return temps
    members: dict[str, int] = {}
    sigs: dict[str, list[str]] = {}
    for t in uniq:
        toks = t.split()
        if len(toks) < 2 or len(toks) > MERGE_MAX_TOKENS:
            continue
        own = []
        for p in range(len(toks)):
            if toks[p] == "#":
                continue  # already a variable
            sig = " ".join((*toks[:p], "*", *toks[p + 1:]))
            members[sig] = members.get(sig, 0) + 1
            own.append(sig)
        sigs[t] = own
    mapping: dict[str, str] = {}
    for t, own in sigs.items():
        best = max(own, key=lambda sg: members[sg], default=None)  # max keeps the first of equals
        if best is not None and members[best] >= MERGE_MIN_TEMPLATES:
            mapping[t] = best
    if not mapping:
        return temps
    return [mapping.get(t, t) for t in temps]


def looks_like_log(lines: list[str]) -> bool:
    """Most lines carry a timestamp or a level, and lines repeat in a few shapes."""
    body = [ln for ln in lines if ln.strip()]
    if len(body) < 20:
        return False
    sample = body[:: max(1, len(body) // 200)]
    stamped = sum(1 for ln in sample if _TIMESTAMPISH.search(ln[:40]) or _LEVEL.search(ln[:80]))
    if stamped < 0.6 * len(sample):
        return False
    kinds = len(set(kinds_of([template(ln) for ln in sample])))
    return kinds < 0.8 * len(sample)


REPETITIVE_MIN_LINES = 50
REPETITIVE_KINDS_SHARE = 0.25  # at most this many kinds per line...
REPETITIVE_TOP_KINDS = 5  # ...and this many kinds cover...
REPETITIVE_TOP_SHARE = 0.5  # ...at least this share of the lines: a build or test run's output


def looks_repetitive(lines: list[str]) -> bool:
    """Output made of a few kinds of line repeated (a verbose test run, a compiler's progress, a
    package manager's log) without timestamps: folded like a log, which is what it is."""
    body = [ln for ln in lines if ln.strip()]
    if len(body) < REPETITIVE_MIN_LINES:
        return False
    sample = body[:: max(1, len(body) // 400)]
    kinds = Counter(kinds_of([template(ln) for ln in sample]))
    return (len(kinds) <= REPETITIVE_KINDS_SHARE * len(sample)
            and sum(c for _, c in kinds.most_common(REPETITIVE_TOP_KINDS)) >= REPETITIVE_TOP_SHARE * len(sample))


def lines_containing(words: tuple[str, ...], text: str) -> set[int]:
    """Indexes of the lines of `text` that contain any of `words` (lower-case), case-insensitively.

    Substring tests run at C speed; a regex alternation tried at every position of a 300 KB log is
    several times slower.
    """
    low, starts = facets.joined_lines(text.lower().split("\n"))
    return _containing(words, low, starts)


def _containing(words: tuple[str, ...], low: str, starts: list[int], found: dict | None = None) -> set[int]:
    """Indexes of the lines of `low` (lower-case, lines starting at `starts`) holding any of `words`: each
    word found with str.find over the whole text, one hit per line, not tested against every line.
    `found`: the text's cache of each word's lines (_Base.found)."""
    out: set[int] = set()
    n = len(starts)
    for w in words:
        if "\n" in w:
            continue  # a line never holds a newline
        if not w:
            return set(range(n))  # the empty word is in every line
        if found is not None:
            lines = found.get(("in", w))
            if lines is None:
                lines = frozenset(_containing((w,), low, starts))
                if len(found) < facets.FOUND_MAX:
                    found[("in", w)] = lines
            out |= lines
            continue
        out |= facets.lines_holding(w, low, starts)
    return out


def _levels(lines: list[str]) -> list[str | None]:
    """Each line's log level (upper-case), or None."""
    return [m.group(1).upper() if (m := _LEVEL.search(ln)) else None for ln in lines]


def _run_kinds(level_of: list[str | None], temps: list[str], i: int, j: int,
               severe: set[int]) -> tuple[tuple[str, ...], bool]:
    """What a marker says of lines i..j-1 from the text alone: their levels and dominant kind; and whether
    it should count their severe lines (no levels to say it, or some severe line among them)."""
    levels = Counter(lvl for lvl in level_of[i:j] if lvl)
    kinds = Counter(temps[i:j])
    # Every level, not the top ones: "1180 INFO, 3 WARN" is how the model knows whether to retrieve.
    parts = [f"{n} {lvl}" for lvl, n in levels.most_common()]
    top, n_top = kinds.most_common(1)[0]
    if j - i >= 10 and n_top * 2 >= j - i:
        # Name the dominant kind of line so the model knows what it would get back.
        # Without its leading timestamp/pid fields (all masked), the shape says what the lines are.
        shape = re.sub(r"^(?:[#\W]*#[\W]*\s+)+", "", re.sub(r"\s+", " ", top).strip()) or top.strip()
        shape = shape[:70] + ("..." if len(shape) > 70 else "")
        parts.append(f"{n_top}x '{shape}'")
    # Levels already say "no ERROR here"; an explicit "0 with error/warning words" only where there are none.
    return tuple(parts), not levels or any(k in severe for k in range(i, j))


def _describe(level_of: list[str | None], temps: list[str], i: int, j: int, terms: dict[str, set[int]],
              severe: set[int], question: str, sel: select.Selection | None = None, kept: set[int] | None = None,
              offset: int = 0, found: dict | None = None) -> str:
    got = found.get(("run", i, j)) if found is not None else None
    if got is None:
        got = _run_kinds(level_of, temps, i, j, severe)
        if found is not None and len(found) < facets.FOUND_MAX:
            found[("run", i, j)] = got
    fixed, count_severe = got
    parts = list(fixed)
    sev = severe if count_severe else None
    if sel:
        parts.extend(sel.describe(range(i, j), kept or ()))
    parts.extend(facets.term_counts(terms, range(i, j), sev, question))
    return lines_summary(i, j, ", ".join(parts), offset=offset)


@dataclass(frozen=True)
class _Base:
    """What compress_logs decides from the text alone (memoized by it: core/memo.py). Never mutated but for
    `found`, a cache that only grows."""

    lines: list[str]
    lower: list[str]  # each line lower-case
    low: str  # the whole text lower-case, and where each line starts in it
    starts: list[int]
    temps: list[str]
    levels: list[str | None]  # each line's level, for the markers' counts
    severe: frozenset[int]
    keep: tuple[bool, ...]  # head, tail, rare kinds, each kind's first line, severe lines
    open: tuple[int, ...]  # the lines left for the question to keep, in order
    # What later questions find in this same text, kept with it (and forgotten with it): the lines holding a
    # term, where a term's pattern is, a run's levels and kinds. Pure functions of the text and their key,
    # so a question that asks a term again, or folds the same run, reads them here; a race between two
    # threads computes a value twice, the same. At most facets.FOUND_MAX entries (then no more are taken).
    found: dict = field(default_factory=dict, compare=False, repr=False)


def _base(text: str) -> _Base:
    lines = text.split("\n")
    n = len(lines)
    # One pass over the whole text is several times faster than one regex call per line; the mask
    # never matches a newline, so the lines stay aligned.
    temps = kinds_of(template(text).split("\n"))
    lower = text.lower().split("\n")
    severe_lines = facets.severe_lines(lower)
    counts = Counter(temps)
    keep = [False] * n
    for i in range(min(HEAD_LINES, n)):
        keep[i] = True
    for i in range(max(0, n - TAIL_LINES), n):
        keep[i] = True

    first_seen: dict[str, int] = {}
    for i, t in enumerate(temps):
        first_seen.setdefault(t, i)
    budget = max(RARE_BUDGET_MIN_LINES, int(RARE_BUDGET_FRACTION * n))
    rare: set[str] = set()
    used = 0
    for t in sorted(counts, key=lambda t: (counts[t], first_seen[t])):
        c = counts[t]
        if c <= ALWAYS_RARE_COUNT or used + c <= budget:
            rare.add(t)
            used += c
        else:
            break
    if len(severe_lines) <= SEVERE_ALL_MAX:
        for i in severe_lines:
            keep[i] = True
    severe_taken: Counter[str] = Counter()
    left: list[int] = []
    for i, (ln, t) in enumerate(zip(lines, temps)):
        if t in rare or not ln.strip():
            keep[i] = keep[i] or bool(ln.strip()) or t in rare
            continue
        if first_seen[t] == i:
            keep[i] = True
            continue
        if i in severe_lines and severe_taken[t] < SEVERE_PER_TEMPLATE:
            severe_taken[t] += 1
            keep[i] = True
            continue
        left.append(i)
    low, starts = facets.joined_lines(lower)
    return _Base(lines, lower, low, starts, temps, _levels(lines), frozenset(severe_lines), tuple(keep), tuple(left))


def compress_logs(text: str, ctx: Context) -> Compressed:
    base = MEMO.get(_base, text, lambda: _base(text))
    lines, temps, severe_lines = base.lines, base.temps, base.severe
    n = len(lines)
    keep = list(base.keep)

    query = parse_query(ctx.query)
    # Lines holding a query term, found in one pass per term; plain words are then confirmed per line.
    strong_lines = _containing(query.strong, base.low, base.starts, base.found) if query.strong else set()
    word_lines = _containing(query.words, base.low, base.starts, base.found) if query.words else set()
    terms = facets.informative_terms(query, lines, lowered=(base.lower, base.low), found=base.found)
    for where in terms.values():
        if facets.keep_all(where, n, QUERY_ALL_MAX):
            for i in where:
                keep[i] = keep[i] or bool(lines[i].strip())
    word_taken: Counter[str] = Counter()
    strong_taken = 0
    for i in base.open:
        if i in strong_lines or i in word_lines:
            if strong_taken < QUERY_STRONG_MAX and i in strong_lines:
                strong_taken += 1
                keep[i] = True
            elif word_taken[temps[i]] < QUERY_WORD_PER_TEMPLATE and i in word_lines and query.word_hits(lines[i]):
                word_taken[temps[i]] += 1
                keep[i] = True

    # Lines the question selects by value: numbers meeting its condition, its extremes, the other states
    # of a negated word ("not Running"), its identifiers. All kept while few; the markers count them.
    sel = select.select_lines(lines, query) if query else select.Selection()
    for rows in sel.by.values():
        if len(rows) <= QUERY_ALL_MAX:
            for i in rows:
                keep[i] = True
    kept = {i for i, k in enumerate(keep) if k}
    out, drops = fold(lines, keep, lambda i, j: _describe(base.levels, temps, i, j, terms, severe_lines, ctx.query or "",
                                                          sel, kept, ctx.line_offset, base.found))
    return Compressed(out, "logs", "logs", drops)
