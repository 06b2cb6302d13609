"""Which rows or items a question selects by their field values, and which items are the odd ones out.

Any compressor whose content is rows or items with fields (JSON arrays of objects, CSV/TSV rows, `ls -l`
entries, `kubectl get` rows, package lists) calls this with the rows as dicts of field -> value (strings,
numbers, booleans, None; nested dicts and lists are fine for JSON, see `flatten`) and the parsed question:

    sel = select(rows, parse_query(question))
    keep |= sel.rows                    # every row some criterion selects (capped by the caller)
    marker_parts += sel.describe(run)   # ["2 with size > 10 MB", "1 with phase not 'Running'"] for a dropped run

Criteria (each only where the rows' structure supports it, else it selects nothing):
- identifiers: "issue 7", "#7", "id 42" select rows whose identifier field (integer values distinct across
  the rows, or a field named after the label) equals the number, or a string value naming it (`#7`).
- numeric conditions: "over 10 MB", "> 500 ms", "at least 25 mm of precipitation" select rows whose
  field meets it: the field the condition names (`precipitation_sum`), else every field whose values are
  quantities of the condition's dimension (`"size": "12 MB"`, `duration_ms`). A bare number with no named
  field is ambiguous and selects nothing.
- extremes: "the three largest", "slowest", "most recent", "top 5 by memory" select the top-k rows by the
  field named, or else by the one field of the extreme's kind (sizes, durations, timestamps).
- negations: "not Running", "other than pip" select the complement among the rows where the negated value
  lives (the field holding it): the rows of the other states, when they are not most rows.

`rare_values(rows)` finds the anomalies without a question: values of a field that few siblings share while
most share one value (`status: "True"` in the one Degraded condition among 30 operators).
Pure and deterministic; the rows' order is the only order used.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from headroom.core.compressors.query import Quantity, Query, parse_quantity, split_identifier, stem, unit_of_name

__all__ = ["Selection", "flatten", "identity_field", "rare_values", "select", "select_lines"]

FLATTEN_DEPTH = 6  # nested deeper than this is a document, not a record's fields
FLATTEN_MAX_LEAVES = 400  # per row: beyond that a row is a document and its leaves are not compared
# A field whose values are quantities/numbers in at least this share of the rows holding it has that type.
TYPED_SHARE = 0.8
# An identifier field: integers (or digit strings) distinct in at least this share of the rows.
ID_DISTINCT_SHARE = 0.9
# The complement of a negated value is selected only when it is at most this share of the rows: "pods
# not Running" among 200 Running and 3 Pending; "not Running" where half are Running selects nothing.
COMPLEMENT_MAX_SHARE = 0.5
# rare_values: a value is rare when at most this share of the siblings holding the field have it
# (at least one), while one value is shared by at least DOMINANT_SHARE of them (a norm to stand out from).
RARE_SHARE = 0.05
DOMINANT_SHARE = 0.8
RARE_VALUE_CHARS = 40  # longer strings are messages and texts, not categories
CATEGORY_MAX_VALUES_SHARE = 0.25  # a field with more distinct values than this share of rows is not a category


def flatten(value: Any) -> dict[str, Any]:
    """Scalar leaves of a JSON value by path: {"status.phase": "Running", "spec.containers[].image": ...}.

    Arrays of objects contribute each element's leaves under `path[]` and, for the scalar fields of an
    element, the same leaves keyed by a sibling field's value as well (`status.conditions[type=Degraded].status`),
    so "the Degraded condition's status" is one field across rows even though conditions are a list."""
    out: dict[str, Any] = {}

    def put(path: str, v: Any) -> None:
        if len(out) < FLATTEN_MAX_LEAVES and path not in out:
            out[path] = v

    def walk(v: Any, path: str, depth: int) -> None:
        if len(out) >= FLATTEN_MAX_LEAVES:
            return
        if isinstance(v, dict):
            if depth >= FLATTEN_DEPTH:
                return
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else str(k), depth + 1)
        elif isinstance(v, list):
            if depth >= FLATTEN_DEPTH or not v:
                return
            if all(isinstance(x, dict) for x in v):
                for el in v:
                    scalars = {k: x for k, x in el.items() if _is_category(x)}
                    for k, x in el.items():
                        if isinstance(x, (dict, list)):
                            walk(x, f"{path}[].{k}", depth + 1)
                    for k, x in scalars.items():
                        put(f"{path}[].{k}", x)
                        for g, gv in scalars.items():
                            if g != k and isinstance(gv, str):
                                put(f"{path}[{g}={gv}].{k}", x)
            elif all(not isinstance(x, (dict, list)) for x in v) and len(v) <= 8:
                put(path, tuple(v))
        else:
            put(path, v)

    walk(value, "", 0)
    return out


def _is_category(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int)) or (isinstance(v, str) and len(v) <= RARE_VALUE_CHARS and "\n" not in v)


def _key(v: Any) -> Any:
    """A hashable form of a leaf (tuples of scalars are already hashable; floats stay floats)."""
    return v if not isinstance(v, list) else tuple(v)


def _show(v: Any) -> str:
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, tuple):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


def _last(path: str) -> str:
    """The field's own name: `status.conditions[type=Degraded].status` -> `status`."""
    return re.split(r"[.\]]", path)[-1] or path


def _names(path: str, query_words: Iterable[str]) -> bool:
    """Does the field at `path` carry one of the (stemmed) words: `precipitation_sum` for 'precip'?"""
    parts = set()
    for seg in re.split(r"[.\[\]=]", path):
        parts.update(split_identifier(seg))
    stems = {stem(p) for p in parts} | parts
    # A name may abbreviate the word: `lat` for latitude, `temp` for temperature.
    return any(any(s.startswith(w) or w.startswith(s) and len(s) >= 3 for s in stems) for w in query_words if w)


@dataclass(frozen=True)
class Selection:
    """`by`: for each criterion (in words a marker can show: "size > 10 MB", "largest 3 by size",
    "phase not 'Running'", "issue 7"), the indexes of the rows that meet it."""

    by: Mapping[str, frozenset[int]] = field(default_factory=dict)

    @property
    def rows(self) -> frozenset[int]:
        out: set[int] = set()
        for s in self.by.values():
            out |= s
        return frozenset(out)

    def __bool__(self) -> bool:
        return any(self.by.values())

    def describe(self, indexes: Iterable[int], kept: Iterable[int] = ()) -> list[str]:
        """["2 with size > 10 MB", "1 not 'Running'"]: how many of `indexes` (a dropped run) meet each
        criterion. A zero is said only for a criterion some of whose rows are dropped (not all in `kept`):
        then "0 here" tells the model which marker not to retrieve."""
        idx = set(indexes)
        kept_set = set(kept)
        out = []
        for what, rows in self.by.items():
            k = len(idx & rows)
            if k or not rows <= kept_set:
                out.append(f"{k} {what}")
        return out


def select(rows: Sequence[Mapping[str, Any]], query: Query) -> Selection:
    """The rows the question selects, by criterion (see the module docstring). `rows` may be raw JSON
    objects (they are flattened) or flat dicts of field -> scalar."""
    if not rows or not (query.ids or query.conditions or query.extremes or query.negated):
        return Selection()
    flat = [r if all(not isinstance(v, (dict, list)) for v in r.values()) else flatten(r) for r in rows]
    fields = _fields(flat)
    by: dict[str, frozenset[int]] = {}
    for label, num in query.ids:
        hit = _by_id(flat, fields, label, num, query)
        if hit:
            by[f"naming #{num}" if label == "#" else f"naming {label} {num}"] = hit
    for cond in query.conditions:
        for name, hit in _by_condition(flat, fields, cond):
            by[f"with {name} {cond.describe()}"] = hit
    for ext in query.extremes:
        got = _by_extreme(flat, fields, ext)
        if not got and query.words:
            # "Which car is the heaviest, and what does it weigh?": another word of the question names the field.
            got = _by_extreme(flat, fields, replace(ext, words=(*ext.words, *query.words)), named_only=True)
        if got:
            name, hit = got
            by[f"of the {_extreme_text(ext)} by {name}"] = hit
    for term in query.negated:
        got = _by_complement(flat, fields, term, query)
        if got:
            name, shown, hit = got
            by[f"with {name} not {shown!r}"] = hit
    return Selection({k: v for k, v in by.items() if v})


def _extreme_text(ext) -> str:
    """"the 3 largest" -> "3 largest", "top 5" -> "top 5": the extreme as the question put it."""
    return re.sub(r"^the\s+", "", ext.text, flags=re.I).strip()


def _fields(flat: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    """field -> the rows holding it, in row order."""
    out: dict[str, list[int]] = {}
    for i, r in enumerate(flat):
        for k in r:
            out.setdefault(k, []).append(i)
    return out


def _by_id(flat, fields, label: str, num: str, query: Query) -> frozenset[int]:
    n = int(num)
    hit: set[int] = set()
    for name, holders in fields.items():
        if "[" in name:
            continue  # an element of a nested list is not the row's identifier
        values = [flat[i][name] for i in holders]
        ints = [_as_int(v) for v in values]
        numeric = [x for x in ints if x is not None]
        named = label != "#" and label in split_identifier(_last(name))
        distinct = len(numeric) >= TYPED_SHARE * len(values) and len(set(numeric)) >= ID_DISTINCT_SHARE * len(numeric)
        if named or (distinct and len(numeric) >= 2):
            hit.update(i for i, x in zip(holders, ints) if x == n)
        for i, v in zip(holders, values):
            if isinstance(v, str) and len(v) <= 80 and query.id_hits(v):
                hit.add(i)
    return frozenset(hit)


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.isdigit() and len(v) <= 12:
        return int(v)
    return None


def _quantities(flat, name: str, holders: list[int]):
    hint = unit_of_name(_last(name))
    return [(i, parse_quantity(flat[i][name], hint)) for i in holders]


def _typed(qs) -> bool:
    got = [q for _, q in qs if q is not None]
    return bool(got) and len(got) >= TYPED_SHARE * len(qs)


def _by_condition(flat, fields, cond):
    named = [nm for nm in fields if _names(nm, cond.words)] if cond.words else []
    out = []
    for name in named or list(fields):
        qs = _quantities(flat, name, fields[name])
        if not _typed(qs):
            continue
        dims = {q.dim for _, q in qs if q is not None}
        if not named:
            # No field named: only the fields whose values carry the condition's dimension.
            if cond.dim in ("",) or dims - {""} != {cond.dim}:
                continue
        elif not all(cond.compatible(q) for _, q in qs if q is not None):
            continue
        hit = frozenset(i for i, q in qs if cond.accepts(q))
        out.append((_last(name) if "[" not in name else name, hit))
    return out


_KIND_DIM = {"size": "bytes", "duration": "seconds"}
_KIND_NAMES = {"size": ("size", "bytes", "length"), "duration": ("duration", "elapsed", "latency", "took"),
               "time": ("time", "date", "timestamp", "created", "updated", "modified")}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def _by_extreme(flat, fields, ext, named_only: bool = False):
    cands: list[tuple[str, list[tuple[int, Any]]]] = []
    for name, holders in fields.items():
        if "[" in name or len(holders) < 2:
            continue
        named = bool(ext.words) and _names(name, ext.words)
        if ext.kind == "time":
            vals = [(i, flat[i][name]) for i in holders if isinstance(flat[i][name], str) and _ISO.match(flat[i][name])]
            if len(vals) >= TYPED_SHARE * len(holders):
                cands.append((name, vals) if named or not ext.words else (name, vals))
            continue
        qs = _quantities(flat, name, holders)
        if not _typed(qs):
            continue
        dims = {q.dim for _, q in qs if q is not None}
        kind_dim = _KIND_DIM.get(ext.kind)
        by_kind = bool(kind_dim) and kind_dim in dims or any(w in split_identifier(_last(name)) for w in _KIND_NAMES.get(ext.kind, ()))
        if named or (not ext.words and by_kind) or (ext.words and by_kind and not ext.kind == ""):
            vals = [(i, q.value) for i, q in qs if q is not None]
            cands.append(("!" + name if named else name, vals))
    if not cands:
        return None
    named = [c for c in cands if c[0].startswith("!")]
    if named_only and not named:
        return None
    pool = named or cands
    if len(pool) > 1 and not named:
        return None  # two fields of that kind and none named: which one the question means is a guess
    name, vals = pool[0]
    return _last(name.lstrip("!")), frozenset(_top(vals, ext))


TIES_MAX_FACTOR = 2  # ties at the cut are kept up to twice the count asked for; beyond, the first ones


def _top(scored: list[tuple[int, Any]], ext) -> list[int]:
    """The indexes of the `ext.count` best values (ties at the cut included, within TIES_MAX_FACTOR:
    "the largest" of three equal sizes is each of them; sixty equal zeros are not "the 5 slowest")."""
    ranked = sorted(scored, key=lambda iv: iv[0])
    ranked.sort(key=lambda iv: iv[1], reverse=ext.direction == "max")
    if len(ranked) <= ext.count:
        return [i for i, _ in ranked]
    edge = ranked[ext.count - 1][1]
    ties = [i for i, v in ranked if (v >= edge if ext.direction == "max" else v <= edge)]
    return ties if len(ties) <= TIES_MAX_FACTOR * ext.count else [i for i, _ in ranked[:ext.count]]


def _by_complement(flat, fields, term: str, query: Query):
    best = None
    for name, holders in fields.items():
        with_term = [i for i in holders if isinstance(flat[i][name], str) and query.contains(term, flat[i][name])]
        if not with_term or len(with_term) < (1 - COMPLEMENT_MAX_SHARE) * len(holders):
            continue  # the negated value is not the norm of this field: its complement is not "the others"
        rest = frozenset(i for i in holders if i not in set(with_term))
        if not rest:
            continue
        shown = flat[with_term[0]][name]
        cand = (len(with_term), _last(name), shown, rest)
        if best is None or cand[0] > best[0]:
            best = cand
    if best is None:
        return None
    _, name, shown, rest = best
    return name, shown, rest


def rare_values(rows: Sequence[Mapping[str, Any]], flat: Sequence[Mapping[str, Any]] | None = None,
                query: Query | None = None) -> tuple[dict[int, list[str]], frozenset[int]]:
    """The rows holding a value few siblings share where most share one value, and which of them to keep.

    Per field path (see `flatten`), over the rows holding it: the field is a category (few distinct short
    values), one value is held by at least DOMINANT_SHARE of the rows, and a value held by at most
    RARE_SHARE of them (at least one row) is rare. Returns ({row: ["conditions[type=Degraded].status=True"]},
    rows to keep): every row whose rare value the question names (in the field's path or the value:
    "which operator is degraded?"), and otherwise the rows of the most striking fields (fewest holders
    first) while they are at most RARE_SHARE of the rows: an output with odd values everywhere has no
    anomaly, and the markers count the rest by value."""
    if flat is None:
        flat = [flatten(r) for r in rows]
    n = len(flat)
    if n < 2:
        return {}, frozenset()
    counts: dict[str, dict[Any, int]] = {}
    for r in flat:
        for k, v in r.items():
            if _is_category(v):
                c = counts.setdefault(k, {})
                c[v] = c.get(v, 0) + 1
    rare: dict[str, set[Any]] = {}
    for k, c in counts.items():
        present = sum(c.values())
        if present < DOMINANT_SHARE * n or len(c) < 2 or len(c) > max(2, CATEGORY_MAX_VALUES_SHARE * present):
            continue
        if max(c.values()) < DOMINANT_SHARE * present:
            continue
        limit = max(1, int(RARE_SHARE * present))
        vals = {v for v, m in c.items() if m <= limit}
        if vals:
            rare[k] = vals
    out: dict[int, list[str]] = {}
    holders: dict[str, set[int]] = {}
    asked: set[int] = set()
    for i, r in enumerate(flat):
        for k, vals in rare.items():
            if k in r and r[k] in vals:
                desc = f"{_show_path(k)}={_show(r[k])}"
                out.setdefault(i, []).append(desc)
                holders.setdefault(k, set()).add(i)
                if query and (query.strong_hits(desc) or query.word_hits(desc)):
                    asked.add(i)
    keep = set(asked)
    budget = max(1, int(RARE_SHARE * n))
    unasked: set[int] = set()
    for k in sorted(holders, key=lambda k: (len(holders[k]), min(holders[k]), k)):
        if len(unasked | (holders[k] - asked)) > budget:
            break
        unasked |= holders[k] - asked
    return out, frozenset(keep | unasked)


def identity_field(flat: Sequence[Mapping[str, Any]]) -> str | None:
    """The field that names each row: the first (in the rows' own order) whose values are short strings,
    present in every row and all distinct (`metadata.name`, `filePath`, `name`), or None."""
    if len(flat) < 2:
        return None
    for path in flat[0]:
        if "[" in path:
            continue
        vals = [r.get(path) for r in flat]
        if all(isinstance(v, str) and 0 < len(v) <= 80 and "\n" not in v for v in vals) and len(set(vals)) == len(vals):
            if not _ISO.match(vals[0]):
                return path
    return None


def _show_path(path: str) -> str:
    """`status.conditions[type=Degraded].status` -> `conditions[type=Degraded].status` (the last two parts)."""
    parts = re.findall(r"[^.\[]+(?:\[[^\]]*\])?", path)
    return ".".join(parts[-2:]) if len(parts) > 2 else path


# --- lines: logs, grep matches, any line-per-record output -------------------------------------------

# A number with a unit in free text: "took 523ms", "in 1.2 s", "12.5 MB", "97%".
_LINE_QTY = re.compile(
    r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s?(?P<unit>ns|us|µs|ms|msec|s|sec|secs|seconds?|min|mins|minutes?|h|hrs?|hours?|"
    r"days?|[KMGT]i?B|[kKMGT]i?|B|bytes|%)(?![\w.]\w)(?!\w)")
# A named number: "retries=5", "duration_ms: 340", "status 503" is not (no separator), "latency=1.2s".
_LINE_FIELD = re.compile(r"(?P<name>[A-Za-z_][\w.-]{0,40})\"?\s*[=:]\s*\"?(?P<num>-?\d+(?:\.\d+)?)(?P<unit>[A-Za-zµ%]{0,7})(?![\w.]\w)")


# An HTTP status where a line reports one: an access log's `"GET /x HTTP/1.1" 503`, `returned 404`.
_LINE_STATUS = re.compile(r"""(?:HTTP/[\d.]+"|\breturned|\bstatus)\s+(?P<num>[1-5]\d\d)(?![\w.])""")


def _line_values(line: str):
    """[(field name or "", Quantity)] for the numbers with units or names in a line."""
    out = []
    for m in _LINE_STATUS.finditer(line):
        out.append(("status_code", Quantity(float(m.group("num")), "")))
    for m in _LINE_FIELD.finditer(line):
        q = parse_quantity(m.group("num") + m.group("unit"), unit_of_name(m.group("name")))
        if q is not None:
            out.append((m.group("name"), q))
    for m in _LINE_QTY.finditer(line):
        q = parse_quantity(m.group("num") + m.group("unit"))
        if q is not None and q.dim:
            out.append(("", q))
    return out


def select_lines(lines: Sequence[str], query: Query) -> Selection:
    """The lines the question selects, by criterion: numeric conditions and extremes on the numbers a
    line carries (with a unit, or after a field name the condition names: `retries=5`), identifiers
    (`#7`, `issue-7`), and the complement of a negated term among the lines of the same shape (the
    other states: "not Running" -> the lines where `Running` stands as `Pending`), when that complement
    is not most of those lines."""
    if not lines or not (query.ids or query.conditions or query.extremes or query.negated):
        return Selection()
    by: dict[str, frozenset[int]] = {}
    if query.conditions or query.extremes:
        values = [_line_values(ln) if any(c.isdigit() for c in ln) else [] for ln in lines]
        for cond in query.conditions:
            hit = set()
            for i, vals in enumerate(values):
                for name, q in vals:
                    named = bool(name) and bool(cond.words) and _names(name, cond.words)
                    if (named and cond.compatible(q) or (cond.dim and q.dim == cond.dim)) and cond.holds(q.value):
                        hit.add(i)
                        break
            if hit:
                text = cond.describe()
                by[text if text[:1].isalpha() else "with " + text] = frozenset(hit)
        for ext in query.extremes:
            dim = _KIND_DIM.get(ext.kind)
            scored = []
            for i, vals in enumerate(values):
                best = None
                for name, q in vals:
                    if (dim and q.dim == dim) or (name and ext.words and _names(name, ext.words)):
                        best = q.value if best is None else max(best, q.value) if ext.direction == "max" else min(best, q.value)
                if best is not None:
                    scored.append((i, best))
            if ext.words:
                # "the 5 slowest teardowns": among the lines that say what is ranked, when there are enough.
                rxs = [query.term_regex(w) for w in ext.words]
                named = [(i, v) for i, v in scored if any(r.search(lines[i]) for r in rxs)]
                if len(named) >= min(ext.count, 2):
                    scored = named
            if len(scored) >= 2:
                by["of the " + _extreme_text(ext)] = frozenset(_top(scored, ext))
    for label, num in query.ids:
        cands = [i for i, ln in enumerate(lines) if num in ln]
        # One look at those lines together first: lines with none of the labels, '#' or '"' name no identifier
        # (and the identifiers' pattern, new with each question, is then never compiled).
        if not cands or not query.may_name_ids("\n".join([lines[i] for i in cands])):
            continue
        hit = frozenset(i for i in cands if query.id_hits(lines[i]))
        if hit:
            by[f"naming #{num}" if label == "#" else f"naming {label} {num}"] = hit
    for term in query.negated:
        got = _line_complement(lines, term, query)
        if got:
            shown, hit = got
            by[f"not {shown!r}"] = hit
    return Selection({k: v for k, v in by.items() if v})


_WORDS = re.compile(r"\S+")


def _line_complement(lines: Sequence[str], term: str, query: Query):
    """Lines of the same shape as those holding `term` with another value where `term` stands: as many
    words, the same word before it (numbers masked) and the same text before it in its word
    (`phase=Running` -> `phase=Pending`)."""
    rx = query.term_regex(term)
    shapes: dict[int, set[tuple[int, str, str | None]]] = {}
    prevs: dict[tuple[int, int, str], set[str]] = {}
    shown = ""
    with_term = 0
    for ln in lines:
        if term not in ln.lower() or not query.contains(term, ln):
            continue
        toks = _WORDS.findall(ln)
        for p, t in enumerate(toks):
            m = rx.search(t)
            if m:
                shown = shown or m.group()
                prev = _DIGITS.sub("#", toks[p - 1]) if p else ""
                shapes.setdefault(len(toks), set()).add((p, t[:m.start()], prev))
                prevs.setdefault((len(toks), p, t[:m.start()]), set()).add(prev)
        with_term += 1
    if not shapes:
        return None
    # A word before the term that varies among the lines holding it (a test's name before PASSED) is a
    # value, not a label: any word may stand there.
    for size, found in list(shapes.items()):
        shapes[size] = {(p, prefix, None if len(prevs[(size, p, prefix)]) > 1 else prev) for p, prefix, prev in found}
    others = set()
    for i, ln in enumerate(lines):
        if term in ln.lower() and query.contains(term, ln):
            continue
        toks = _WORDS.findall(ln)
        for p, prefix, prev in shapes.get(len(toks), ()):
            t = toks[p]
            if len(t) > len(prefix) and t.startswith(prefix) and (
                    prev is None or (_DIGITS.sub("#", toks[p - 1]) if p else "") == prev):
                others.add(i)
                break
    if not others or len(others) > COMPLEMENT_MAX_SHARE * (len(others) + with_term):
        return None  # the negated word is not the norm among these lines: its complement is not "the others"
    return shown, frozenset(others)


_DIGITS = re.compile(r"\d+")
