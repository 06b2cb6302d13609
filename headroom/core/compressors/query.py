"""The user's question as a small model: filter terms, identifiers, negations, extremes and numeric conditions.

The query is the question that preceded the tool call (never a later message), so relevance, and
therefore the compressed form, never changes from one turn to the next. `parse_query` parses a question
once (lru-cached, pure, deterministic) into a `Query`:

- `strong` / `words`: the terms that single lines or items out (identifiers, numbers, quoted strings,
  paths; ordinary words stemmed), as before. Words that only shape the question are not among them:
  the words of a condition ("under 2 s"), of an extreme ("the three largest"), of a count, words that
  describe the output rather than select from it ("json", "file", "lines", "show") and negated terms.
- `negated`: terms the question excludes or asks the complement of ("not Running", "isn't ready",
  "apart from X", "besides X", "other than X", "except X", "excluding X", "without X", "non-default").
  A compressor selects the lines/items WITHOUT them (the other states), never only those with them.
- `extremes`: `Extreme(direction, kind, count, words)`: "top 5" -> max, count 5; "three largest" ->
  max size, 3; "the 10 slowest tests" -> max duration, 10; "most recent" -> max time; "oldest" -> min time.
- `conditions`: `Condition(op, value, dim, unit, words)`: "at least 25 mm" -> (>=, 25, "mm");
  "over 10 MB" -> (>, 10e6, "bytes"); "> 500 ms" -> (>, 0.5, "seconds"); "more than 3 retries" ->
  (>, 3, "", words ("retri",)); "non-zero" -> (!=, 0). Values are normalised (bytes, seconds, percent),
  so a compressor compares a field's value with `parse_quantity` + `Condition.accepts`.
- `ids`: identifiers with a number: "#7", "issue 7", "PR 12", "id 42", "line 120" -> ("issue", "7");
  `id_hits` finds them in text as `#7`, `issue-7`, `issue 7`, `"number": 7`.
- `phrases`: adjacent content words ("retry policy"), matched as `retry_policy`, `retryPolicy`,
  `RetryPolicy`, `retry-policy` (also added to `strong` in those spellings).
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

__all__ = [
    "Condition",
    "Extreme",
    "Quantity",
    "Query",
    "asks_for_all",
    "parse_quantity",
    "parse_query",
    "split_identifier",
    "stem",
]

# Not stopwords here, though they are in English lists: up/down/off/out/over/under/above/below say what
# state a host, a service or a value is in ("which hosts are down?").
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being between both but by
    can could did do does doing done during each few for from further had has have having he her here hers how
    i if in into is it its itself just me more most my no nor not now of on once only or other our own
    same she should so some such than that the their them then there these they this those through to too
    until very was we were what when where which while who whom why will with would you your yours name names
    show tell give find list explain describe summarize summarise please happen happened any anything work works
    did does thing things use used using get got make made way see look like want need know there here these
    every besides many whether""".split()
)
# Words that describe the output or the shape of the answer rather than select from it: "which lines of
# this json file", "show the three rows": as filter terms they match everything or nothing.
NOISE = frozenset(
    """json yaml yml csv tsv xml html text file files output outputs line lines row rows
    entry entries item items record records result results field fields print printed shown display
    displayed count counts total under much ones one two three four five six seven eight
    nine ten eleven twelve fifteen twenty dozen top bottom""".split()
)
# What is left of a contraction once the tokenizer splits it at the apostrophe ("isn't" -> isn, t).
CONTRACTIONS = frozenset("isn aren wasn weren don doesn didn can won couldn wouldn shouldn haven hasn hadn mustn".split())
# Words too short to mean anything on their own outside an identifier.
MIN_WORD_LEN = 3

# A quote opens where a word cannot go on (not after a letter or digit: "tabulate's" is a possessive) and
# closes with the same mark where the word ends.
_QUOTED = re.compile(r"""(?<![A-Za-z0-9])(["'`])([^"'`\n]{2,80})\1(?![A-Za-z0-9])""")
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/:@#]*[A-Za-z0-9_]|[A-Za-z0-9_]")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(name: str) -> list[str]:
    """`export_html` -> [export, html]; `prepareRequest` -> [prepare, request]; lower-cased."""
    parts: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return [p for p in parts if p]


STEM_MAX = 6  # words are matched by their first letters: 'configured' finds 'config', 'certificates' 'certifi'


@functools.lru_cache(maxsize=8192)  # a pure function of a word; questions and texts repeat their words
def stem(word: str) -> str:
    """A crude, deterministic English stem, matched as a prefix: 'timeouts'~'timeout', 'retries'~'retry'."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        # A plural of four letters is one too ("pods", "jobs", "logs"), not "bus" or "this".
        short_plural = suffix == "s" and len(w) == 4 and w[-2] not in "su"
        if (len(w) > len(suffix) + 3 or short_plural) and w.endswith(suffix):
            w = w[: -len(suffix)] + repl
            break
    return w[:STEM_MAX]


# ---------------------------------------------------------------------------------------------------
# Quantities: a number with its unit, normalised to one unit per dimension.

# unit (lower-case, as written) -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {}
for _names, _dim, _f in (
    ("b byte bytes", "bytes", 1.0),
    ("kb kbyte kbytes kilobyte kilobytes", "bytes", 1e3),
    ("mb mbyte mbytes megabyte megabytes", "bytes", 1e6),
    ("gb gbyte gbytes gigabyte gigabytes", "bytes", 1e9),
    ("tb terabyte terabytes", "bytes", 1e12),
    # Binary prefixes, and the single letters of `ls -h`, `du -h` and Kubernetes quantities (Ki, Mi).
    ("k ki kib", "bytes", 1024.0),
    ("m mi mib", "bytes", 1024.0 ** 2),  # "m" alone is minutes unless it follows a size question (see below)
    ("g gi gib", "bytes", 1024.0 ** 3),
    ("t ti tib", "bytes", 1024.0 ** 4),
    ("ns nanosecond nanoseconds", "seconds", 1e-9),
    ("us µs microsecond microseconds", "seconds", 1e-6),
    ("ms msec msecs millisecond milliseconds", "seconds", 1e-3),
    ("s sec secs second seconds", "seconds", 1.0),
    ("min mins minute minutes", "seconds", 60.0),
    ("h hr hrs hour hours", "seconds", 3600.0),
    ("d day days", "seconds", 86400.0),
    ("w wk week weeks", "seconds", 7 * 86400.0),
    ("% pct percent", "percent", 1.0),
    ("mm millimeter millimeters millimetre millimetres", "length", 1e-3),
    ("cm centimeter centimeters", "length", 1e-2),
    ("km kilometer kilometers", "length", 1e3),
):
    for _n in _names.split():
        _UNITS[_n] = (_dim, _f)
_UNITS["m"] = ("seconds", 60.0)  # `5m` is five minutes in kubectl, systemd, Go durations; sizes say M/Mi/MB
_UNITS["M"] = ("bytes", 1024.0 ** 2)

_NUMBER_WORDS = {w: k for k, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS["dozen"] = 12
_NUM = r"(?:\d+(?:[.,]\d+)*(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_QTY = re.compile(r"^\s*(?P<num>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(?P<unit>[A-Za-zµ%]{0,12})\s*$")


@dataclass(frozen=True)
class Quantity:
    """A number in its dimension's base unit: bytes, seconds, percent, length (m); dim "" for a plain
    number, or the unit word itself when it is not a known unit ("retries")."""

    value: float
    dim: str


def _unit(unit: str) -> tuple[str, float] | None:
    if not unit:
        return ("", 1.0)
    if unit in _UNITS:
        return _UNITS[unit]
    low = unit.lower()
    if low in _UNITS:
        return _UNITS[low]
    return None


def _number(s: str) -> float | None:
    low = s.lower()
    if low in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[low])
    s = s.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", s) else s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def parse_quantity(value: object, unit_hint: str = "") -> Quantity | None:
    """`"12.5 MB"` -> Quantity(12.5e6, "bytes"); `"340ms"` -> (0.34, "seconds"); `"3Gi"`; `"45%"`; `7` ->
    (7.0, ""); a bare number takes `unit_hint` (a field named `size_bytes` or `duration_ms` says its unit).
    None when the value is not one number with at most a unit."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        num, unit = float(value), ""
    elif isinstance(value, str) and len(value) <= 32:
        m = _QTY.match(value)
        if not m:
            return None
        num, unit = float(m.group("num")), m.group("unit")
    else:
        return None
    if not unit and unit_hint:
        unit = unit_hint
    u = _unit(unit)
    if u is None:
        return Quantity(num, unit.lower())
    return Quantity(num * u[1], u[0])


def unit_of_name(name: str) -> str:
    """The unit a field's name states (`size_bytes`, `duration_ms`, `precipitation_sum_mm`, `cpu_pct`)."""
    parts = split_identifier(name)
    for p in reversed(parts):
        if p in _UNITS and len(p) > 1:
            return p
    return ""


_OPS: tuple[tuple[str, str], ...] = (
    (">=", r"at\s+least|no\s+less\s+than|not\s+less\s+than|no\s+fewer\s+than|a\s+minimum\s+of|>=|≥|=>"),
    ("<=", r"at\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|a\s+maximum\s+of|<=|≤|=<"),
    (">", r"(?:more|greater|larger|bigger|higher|longer|slower|heavier|wider|taller|older)\s+than|over|above|"
          r"exceed(?:s|ing)?|in\s+excess\s+of|(?:north|east)\s+of|>"),
    ("<", r"(?:less|fewer|smaller|lower|shorter|faster|lighter|narrower|younger)\s+than|under|below|"
          r"(?:south|west)\s+of|<"),
    ("==", r"exactly|equal\s+to|equals|==|="),
    ("!=", r"!="),
)
_OP_RE = "|".join(f"(?P<op{k}>{alt})" for k, (_, alt) in enumerate(_OPS))
# "over 10 MB", "> 500 ms", "at least 25 mm", "more than 3 retries"
_CONDITION = re.compile(
    r"(?<![\w])(?:" + _OP_RE + r")\s*(?:(?P<field>latitude|longitude|lat|lon|lng|altitude|elevation)\s+)?"
    r"(?P<num>[-+]?" + _NUM + r")(?![\w.]*\d)\s*(?P<unit>%|[A-Za-zµ]+)?", re.I)
# "10 MB or more", "3 retries or fewer"
_POSTFIX = re.compile(
    r"(?<![\w.])(?P<num>" + _NUM + r")\s*(?P<unit>%|[A-Za-zµ]+)?\s+or\s+(?P<dir>more|greater|higher|above|larger|"
    r"less|fewer|lower|below|smaller)\b", re.I)
_BETWEEN = re.compile(
    r"\bbetween\s+(?P<a>" + _NUM + r")\s*(?P<ua>%|[A-Za-zµ]+)?\s+and\s+(?P<b>" + _NUM + r")\s*(?P<unit>%|[A-Za-zµ]+)?",
    re.I)
_NON_ZERO = re.compile(r"\bnon[- ]?(?:zero|0)\b", re.I)


@dataclass(frozen=True)
class Condition:
    """A numeric comparison: `value` in the base unit of `dim` ("bytes", "seconds", "percent", "length",
    "" for a plain number, or the unit word when it is not a unit, like "retries"); `words`: stemmed words
    naming what is compared ("precip", "retry"), from the unit word or the word before the comparison."""

    op: str
    value: float
    dim: str
    unit: str
    words: tuple[str, ...]
    text: str

    def holds(self, x: float) -> bool:
        v = self.value
        return {">": x > v, ">=": x >= v, "<": x < v, "<=": x <= v, "==": x == v, "!=": x != v}[self.op]

    def compatible(self, q: Quantity) -> bool:
        """Can `q` be compared with this condition: same dimension, or either side a plain number
        (a bare `25` in a column the question names in mm)."""
        if self.dim in ("", q.dim) or q.dim == "":
            return True
        return bool(self.words) and stem(q.dim) in self.words  # "3 retries" vs a value in "retries"

    def accepts(self, q: Quantity | None) -> bool:
        return q is not None and self.compatible(q) and self.holds(q.value)

    def describe(self) -> str:
        """"> 500 ms": the condition in the question's own unit, for markers."""
        return self.text


_EXTREMES: dict[str, tuple[str, str, str]] = {}  # word -> (direction, kind, attribute word or "")
for _ws, _d, _k, _a in (
    ("largest biggest greatest huge", "max", "size", ""),
    ("smallest tiniest", "min", "size", ""),
    ("heaviest", "max", "", "weight"),
    ("lightest", "min", "", "weight"),
    ("highest most max maximum peak top", "max", "", ""),
    ("lowest least fewest min minimum bottom", "min", "", ""),
    ("slowest longest", "max", "duration", ""),
    ("fastest quickest shortest", "min", "duration", ""),
    ("newest latest recent youngest last", "max", "time", ""),
    ("oldest earliest first", "min", "time", ""),
    ("hottest warmest", "max", "", "temperature"),
    ("coldest coolest", "min", "", "temperature"),
    ("wettest rainiest", "max", "", "precipitation"),
    ("driest", "min", "", "precipitation"),
    ("windiest", "max", "", "wind"),
    ("busiest", "max", "count", ""),
    ("northernmost northmost", "max", "", "latitude"),
    ("southernmost southmost", "min", "", "latitude"),
    ("easternmost", "max", "", "longitude"),
    ("westernmost", "min", "", "longitude"),
    ("cheapest", "min", "", "price"),
    ("priciest", "max", "", "price"),
):
    for _w in _ws.split():
        _EXTREMES[_w] = (_d, _k, _a)
_EXTREME_RE = re.compile(
    r"(?<![\w-])(?:(?:the|top|bottom|first|last)\s+)?(?P<pre>" + _NUM + r"\s+)?(?P<word>most\s+recent|most\s+expensive|"
    r"least\s+recent|furthest|farthest|" + "|".join(sorted(_EXTREMES, key=len, reverse=True)) + r")(?![\w-])(?:\s+(?P<post>" + _NUM + r")(?![\w.]))?",
    re.I)


_COUNT_BEFORE = re.compile(r"\b(?:which|what|list|show|give|find|top|first)\s+(?P<n>" + _NUM + r")(?:\s+[A-Za-z][\w-]*){1,4}\s*$",
                           re.I)


@dataclass(frozen=True)
class Extreme:
    """"the three largest files" -> Extreme("max", "size", 3, ("file",)...): `kind` is the attribute class
    ("size", "duration", "time", "count", or "" when the question names it: `words`)."""

    direction: str
    kind: str
    count: int
    words: tuple[str, ...]
    text: str


# Negation: a term the question excludes. "not"/"n't" after a copula or alone ("pods not Running",
# "isn't ready", "that haven't started"); a negated auxiliary ("didn't run", "can't connect") describes a
# failure, which is what the lines say, so it is not an exclusion.
_EXCLUDE = re.compile(
    r"\b(?:apart\s+from|aside\s+from|besides|other\s+than|except(?:\s+for)?|excluding|exclusive\s+of|without|"
    r"but\s+not|ignoring|ignore|skipping)\s+(?P<rest>[^,.;:?!()]{1,80})", re.I)
_NOT = re.compile(
    r"(?<![\w'])(?P<aux>\w+(?=n't)|\w+\s+(?=not\b))?(?:n't|not)\s+(?:(?:yet|in|a|an|the|be|been|being|currently|"
    r"fully|all|any|of|named|called|labell?ed|titled|marked|set\s+to|equal\s+to|like|from|under|within|"
    r"starting\s+with|beginning\s+with|matching|with)\s+)*(?P<rest>[^,;:?!()\s]+)", re.I)
_WHY = re.compile(r"\b(?:why|how\s+come)\b[^.?!]*$", re.I)
_SELECTING = re.compile(r"\b(?:which|what|list|show|how\s+many|count|find|are\s+there|any)\b[^.?!]*$", re.I)
_NON = re.compile(r"(?<![\w-])non-(?P<rest>[A-Za-z][\w-]*)", re.I)
_FAILURE_AUX = frozenset("do does did can could will would should must may might ca wo".split())
NEGATED_MAX_WORDS = 3
_DETERMINERS = frozenset("the a an any those these this that its their".split())

# "#7", "issue 7", "PR #12", "id 42", "pod 3", "line 120", "issue-7"
_ID = re.compile(r"(?:(?<![\w#])(?P<label>[A-Za-z][A-Za-z_]*)[ \t]*(?:-|#|no\.?\s*|number\s+)?[ \t]*|(?<![\w&])#)"
                 r"(?P<num>\d{1,12})(?![\w.%])(?:\s*(?P<unit>[A-Za-zµ]+))?", re.I)
_ID_LABEL_STOP = STOPWORDS | frozenset("top first last than least most over under above below exactly".split())


@dataclass(frozen=True)
class Query:
    """`strong`: identifiers, numbers, quoted strings and paths (rare in text, very telling when found).
    `words`: ordinary words minus stopwords, noise and negated words, stemmed. Both lower-case.
    `negated`, `extremes`, `conditions`, `ids`, `phrases`: see the module docstring."""

    text: str
    strong: tuple[str, ...]
    words: tuple[str, ...]
    negated: tuple[str, ...] = ()
    extremes: tuple[Extreme, ...] = ()
    conditions: tuple[Condition, ...] = ()
    ids: tuple[tuple[str, str], ...] = ()
    phrases: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.strong or self.words or self.negated or self.extremes or self.conditions or self.ids)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every filter term: strong terms, then words."""
        return (*self.strong, *self.words)

    @functools.cached_property
    def _strong_re(self) -> re.Pattern | None:
        if not self.strong:
            return None
        return re.compile("|".join(re.escape(s) for s in sorted(self.strong, key=len, reverse=True)), re.I)

    @functools.cached_property
    def _word_re(self) -> re.Pattern | None:
        if not self.words:
            return None
        return re.compile("|".join(f"(?P<w{k}>{_word_pattern(w)})" for k, w in enumerate(self.words)), re.I)

    def strong_hits(self, text: str) -> set[str]:
        r = self._strong_re
        if r is None:
            return set()
        low = text.lower()
        if not any(s in low for s in self.strong):
            return set()  # substring tests in C are far cheaper than the regex on a miss
        return {m.group().lower() for m in r.finditer(text)}

    def word_hits(self, text: str) -> set[str]:
        r = self._word_re
        if r is None:
            return set()
        low = text.lower()
        if not any(w in low for w in self.words):
            return set()
        # The query's word that matched, not the text's inflection of it, so counts add up per term.
        return {self.words[int(m.lastgroup[1:])] for m in r.finditer(text)}

    def score(self, text: str) -> float:
        """How many distinct query terms `text` contains; strong terms count three times."""
        return 3.0 * len(self.strong_hits(text)) + len(self.word_hits(text))

    def contains(self, term: str, text: str) -> bool:
        """Does `text` hold `term` (a strong term, a word or a negated term) as a whole word or identifier
        part: 'cli' in 'CliRunner' and 'CLIs' but not in 'click'; '42' in 'id=42' but not in '1420'."""
        low = term.lower()
        if low not in text.lower():
            return False
        return self.term_regex(low).search(text) is not None

    def term_regex(self, term: str) -> re.Pattern:
        """The pattern `contains` uses: a word (plain words, negated or not) matches as a word start."""
        return _term_re(*self.term_kind(term))

    def term_kind(self, term: str) -> tuple[str, bool]:
        """What `term_regex(term)` is made from: the term lower-case, and whether it matches as a word."""
        low = term.lower()
        return low, low in self.words or (low in self.negated and low.isalpha())

    def negated_hits(self, text: str) -> set[str]:
        """The negated terms `text` holds (whole words, like `contains`)."""
        return {t for t in self.negated if self.contains(t, text)}

    @functools.cached_property
    def _id_re(self) -> re.Pattern | None:
        if not self.ids:
            return None
        alts = []
        for label, num in self.ids:
            lab = re.escape(label)
            # issue-7, issue 7, issue #7, issue_7, "issue": 7, "number": 7, #7
            alts.append(rf"(?:(?<![A-Za-z0-9]){lab}s?[\s_#:=-]*(?:no\.?\s*)?|(?<![\w&])#|\"\w*(?:id|number|num|{lab})\"\s*:\s*\"?)"
                        rf"0*{num}(?![\d.]\d|\d)")
        return re.compile("|".join(alts), re.I)

    @functools.cached_property
    def _id_numbers(self) -> frozenset[str]:
        return frozenset(n for _, n in self.ids)

    def may_name_ids(self, text: str) -> bool:
        """False only when no part of `text` can name one of the question's identifiers: every way `_id_re`
        matches needs a label, a '#' or a '"'. Labels are ASCII, but IGNORECASE lets a few non-ASCII letters
        match them ('K', 'ſ', 'İ', 'ı'): a text that is not ASCII may always name them."""
        if not self.ids:
            return False
        if "#" in text or '"' in text or not text.isascii():
            return True
        low = text.lower()
        return any(label in low for label, _ in self.ids if label != "#")

    def id_hits(self, text: str) -> set[str]:
        """The numbers of the question's identifiers that `text` names ("7" for issue 7 in `#7`)."""
        r = self._id_re
        if r is None:
            return set()
        return {_ID_LEAD.sub("", m.group()) or "0" for m in r.finditer(text)} & self._id_numbers


_ID_LEAD = re.compile(r"^\D*0*")  # what comes before an identifier's number in a match of Query._id_re


def _starts_here(term: str, digits: bool = False) -> str:
    """A lookbehind, placed right after the literal `term`, that holds when the term starts a word: after a
    non-letter (non-alphanumeric when `digits`), or at a camelCase hump ('Policy' in 'RetryPolicy').
    Written after the literal, not before it, so the regex engine scans for the literal at C speed instead
    of testing a lookbehind at every position (4x faster on a 150 KB log)."""
    esc = re.escape(term)
    if term[:1].isdigit():
        return rf"(?<!\d{esc})"
    if not term[:1].isalpha():
        return ""
    cls = "A-Za-z0-9" if digits else "A-Za-z"
    # Or after an acronym ('Error' in 'IDNAError', 'Request' in 'HTTPRequest'): a capital after a capital,
    # then a small letter.
    acronym = rf"|(?<=(?-i:[A-Z][A-Z][a-z]){re.escape(term[2:])})" if len(term) >= 3 else ""
    return rf"(?:(?<![{cls}]{esc})|(?<=(?-i:[a-z][A-Z]){re.escape(term[1:])}){acronym})"


def _word_tail(w: str) -> str:
    """A stem cut at STEM_MAX letters matches as a prefix ('configur' finds 'config'); a whole short word
    only with an inflection and not inside a longer lower-case word ('cli' finds 'CLIs' and 'CliRunner',
    never 'click'); a word ending in e takes a d too ('raise' finds 'raised', as a reader counts a mention)."""
    if len(w) >= STEM_MAX:
        return ""
    return (r"(?:s|es|ed|d|ing|ies)?" if w.endswith("e") else r"(?:s|es|ed|ing|ies)?") + _ENDS_WORD


# Where a word ends: not before a small letter, nor inside a word in capitals ('chang' is not a word of
# CHANGELOG, while 'http' is one of HTTPServer: a capital after a capital ends it only before a small letter).
_ENDS_WORD = r"(?-i:(?![a-z])(?!(?<=[A-Z])[A-Z](?![a-z])))"


def _word_pattern(w: str) -> str:
    return re.escape(w) + _starts_here(w) + _word_tail(w)


@functools.lru_cache(maxsize=1024)
def _term_re(term: str, is_word: bool) -> re.Pattern:
    if is_word:
        return re.compile(_word_pattern(term), re.I)
    # An identifier's plural in prose ("SpecifierSets") names it too, as the honesty check reads a mention.
    right = (r"(?!\d)" if term[-1:].isdigit() else r"(?:s|es)?(?!\d)" + _ENDS_WORD if term[-1:].isalpha()
             else r"(?!\d)" + _ENDS_WORD if term[-1:].isalnum() else "")
    return re.compile(re.escape(term) + _starts_here(term, digits=True) + right, re.I)


def _spans_overlap(a: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def _content_tokens(fragment: str, limit: int) -> list[str]:
    """The first content tokens of `fragment` (determiners skipped), up to a stopword or `limit`."""
    out: list[str] = []
    for tok in _TOKEN.findall(fragment):
        low = tok.lower()
        if low in _DETERMINERS and not out:
            continue
        if low in STOPWORDS or low in CONTRACTIONS or (low in NOISE and not out):
            break
        out.append(tok)
        if len(out) >= limit:
            break
    return out


def _preceding_word(text: str, pos: int) -> str:
    """The content word just before `pos` ("precipitation of at least" -> precipitation)."""
    for tok in reversed(_TOKEN.findall(text[:pos])[-3:]):
        low = tok.lower()
        if low in ("of", "with", "is", "are", "was", "were", "has", "have", "had", "took", "takes", "take"):
            continue
        if low in STOPWORDS or low in NOISE or low.isdigit():
            return ""
        return low
    return ""


def _parse_conditions(text: str) -> tuple[list[Condition], list[tuple[int, int]]]:
    conds: list[Condition] = []
    spans: list[tuple[int, int]] = []

    def add(op: str, num: str, unit: str, start: int, end: int, raw: str, field: str = "") -> None:
        value = _number(num)
        if value is None:
            return
        u = _unit(unit or "")
        words: list[str] = []
        if u is None:  # "3 retries": the unit word is what is counted
            dim, factor = unit.lower(), 1.0
            words.append(stem(unit))
        else:
            dim, factor = u
        if field:
            words.append(stem(field))
        elif re.match(r"(?:north|south)\s", raw, re.I):
            words.append(stem("latitude"))
        elif re.match(r"(?:east|west)\s", raw, re.I):
            words.append(stem("longitude"))
        before = _preceding_word(text, start)
        if before:
            words.append(stem(before))
        # "at least 25 mm of precipitation", "a non-zero exit code": the thing compared may follow.
        after = re.match(r"\s*(?:of\s+)?(?P<rest>.*)", text[end:]).group("rest")
        words.extend(stem(t) for t in _content_tokens(after, 2) if not t[:1].isdigit())
        conds.append(Condition(op, value * factor, dim, unit or "", tuple(dict.fromkeys(words)), raw.strip()))
        spans.append((start, end))

    for m in _BETWEEN.finditer(text):
        unit = m.group("unit") or m.group("ua") or ""
        if _unit(unit) is None and unit.lower() == "and":
            unit = ""
        add(">=", m.group("a"), unit, m.start(), m.end(), m.group())
        add("<=", m.group("b"), unit, m.start(), m.end(), m.group())
    for m in _CONDITION.finditer(text):
        if _spans_overlap((m.start(), m.end()), spans):
            continue
        op = next(_OPS[k][0] for k in range(len(_OPS)) if m.group(f"op{k}"))
        unit = m.group("unit") or ""
        end = m.end()
        if unit and (unit.lower() in STOPWORDS or unit.lower() in NOISE) and _unit(unit) is None:
            end = m.start("unit")
            unit = ""
        raw = text[m.start():end]
        add(op, m.group("num"), unit, m.start(), end, raw, m.group("field") or "")
    for m in _POSTFIX.finditer(text):
        if _spans_overlap((m.start(), m.end()), spans):
            continue
        op = ">=" if m.group("dir").lower() in ("more", "greater", "higher", "above", "larger") else "<="
        add(op, m.group("num"), m.group("unit") or "", m.start(), m.end(), m.group())
    for m in _NON_ZERO.finditer(text):
        add("!=", "0", "", m.start(), m.end(), m.group())
    return conds, spans


def _parse_extremes(text: str, taken: list[tuple[int, int]]) -> tuple[list[Extreme], list[tuple[int, int]]]:
    out: list[Extreme] = []
    spans: list[tuple[int, int]] = []
    for m in _EXTREME_RE.finditer(text):
        if _spans_overlap((m.start("word"), m.end("word")), taken):
            continue  # "at least 25 mm": a condition, not the least of anything
        word = re.sub(r"\s+", " ", m.group("word").lower())
        if word in ("furthest", "farthest"):
            compass = re.match(r"\s+(north|south|east|west)\b", text[m.end():], re.I)
            if not compass:
                continue  # "the furthest" from what is not said
            c = compass.group(1).lower()
            direction, kind, attr = ("max" if c in ("north", "east") else "min"), "", (
                "latitude" if c in ("north", "south") else "longitude")
        elif word == "most recent":
            direction, kind, attr = "max", "time", ""
        elif word == "least recent":
            direction, kind, attr = "min", "time", ""
        elif word == "most expensive":
            direction, kind, attr = "max", "", "price"
        else:
            direction, kind, attr = _EXTREMES[word]
        if word in ("first", "last"):
            # "first"/"last" are extremes only with a count ("the last 5 errors") or before a noun they order.
            if not (m.group("pre") or m.group("post")):
                continue
        num = m.group("pre") or m.group("post")
        if not num:
            # "Which 3 processes use the most memory?": the count is said with the noun, earlier in the clause.
            back = _COUNT_BEFORE.search(text[:m.start()])
            num = back.group("n") if back else None
        count = int(_number(num.strip()) or 1) if num else 1
        if not 0 < count <= 1000:
            count = 1
        after = text[m.end():]
        by = re.match(r"\s*(?:\w+\s+){0,3}?by\s+(?P<w>[A-Za-z][\w-]*)", after)
        follow = [t for t in _content_tokens(after, 2) if not t[:1].isdigit()]
        words = [stem(attr)] if attr else []
        if by:
            words.append(stem(by.group("w")))
        words += [stem(t) for t in follow if t.lower() not in NOISE]
        if word in ("most", "least", "fewest") and not words:
            # "changed the most", "grew the least": the verb before it is what is ranked.
            verb = re.search(r"([A-Za-z]{3,})\s+(?:the\s+)?$", text[:m.start("word")])
            if verb and verb.group(1).lower().endswith("ed") and verb.group(1).lower() not in STOPWORDS:
                words = [stem(verb.group(1).lower())]
        if word in ("most", "least", "fewest", "highest", "lowest") and not words:
            continue  # "the most", alone: no attribute to rank by
        out.append(Extreme(direction, kind, count, tuple(dict.fromkeys(words)), m.group().strip()))
        spans.append((m.start(), m.end()))
    return out, spans


def _parse_negations(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _EXCLUDE.finditer(text):
        toks = _content_tokens(m.group("rest"), NEGATED_MAX_WORDS)
        if toks:
            terms.extend(toks)
            spans.append((m.start(), m.start("rest") + m.group("rest").find(toks[-1]) + len(toks[-1])))
    for m in _NOT.finditer(text):
        aux = (m.group("aux") or "").strip().lower()
        before = text[:m.start()]
        why, selecting = _WHY.search(before), _SELECTING.search(before)
        if (why and not (selecting and selecting.start() > why.start())) or (aux in _FAILURE_AUX and not selecting):
            # "why isn't the service responding?", "the build does not finish": a failure to explain,
            # not an exclusion; "which tests did not pass?" selects the complement.
            continue
        rest = m.group("rest")
        low = rest.lower()
        if low in STOPWORDS or low in NOISE or _spans_overlap((m.start("rest"), m.end("rest")), spans):
            continue
        terms.append(rest)
        # From "not" on: the words between it and the term ("not named X") are part of the negation.
        spans.append((m.end("aux") if m.group("aux") else m.start(), m.end("rest")))
    for m in _NON.finditer(text):
        if re.fullmatch(r"(?:zero|0)", m.group("rest"), re.I):
            continue
        terms.append(m.group("rest"))
        spans.append((m.start(), m.end()))
    return terms, spans


def _norm_term(tok: str) -> str:
    low = tok.lower()
    if low.endswith("'s"):
        low = low[:-2]
    return low


def _is_identifier(tok: str) -> bool:
    return (any(c.isdigit() for c in tok) or any(c in tok for c in "_./:@#-")
            or (tok != tok.lower() and tok != tok.capitalize() and tok != tok.upper()))  # camelCase


def asks_for_all(nouns: str, verbs: str) -> re.Pattern:
    """A question about all of some kind of thing (`nouns`, plural, as an alternation): a listing word
    before the noun ("list the classes", "all the functions", "every release", "an overview of the methods"),
    or one of `verbs` after it ("which methods does it define?", "which sections are there?")."""
    return re.compile(rf"\b(?:list|all|every|each|overview|outline)\b(?:\s+\w+){{0,3}}\s+(?:{nouns})\b|\b(?:{nouns})\b.*\b(?:{verbs})\b",
                      re.I)


# A parenthesised list of at least two bare names, maybe ending in "..." or "etc.".
_ENUMERATION = re.compile(r"\(\s*(?P<items>[A-Za-z_][\w.-]*(?:\s*,\s*[A-Za-z_][\w.-]*)+)\s*,?\s*(?:\.\.\.|…|etc\.?)?\s*\)")


@functools.lru_cache(maxsize=256)
def parse_query(text: str) -> Query:
    text = text or ""
    conditions, cond_spans = _parse_conditions(text)
    extremes, ext_spans = _parse_extremes(text, cond_spans)
    negated_raw, neg_spans = _parse_negations(text)
    ids: list[tuple[str, str]] = []
    id_num_spans: list[tuple[int, int]] = []
    for m in _ID.finditer(text):
        num_span = (m.start("num"), m.end("num"))
        if _spans_overlap(num_span, cond_spans + ext_spans):
            continue
        label = (m.group("label") or "#").lower()
        if label != "#" and (label in _ID_LABEL_STOP or _unit(label) is not None) and "#" in m.group():
            label = "#"  # "what does #7 say": the number is named by its hash, not by "does"
        if label != "#" and (label in _ID_LABEL_STOP or _unit(label) is not None):
            continue  # "in 2024", "at 3": a number after a function word is not an identifier of something
        if m.group("unit") and _unit(m.group("unit")) not in (None, ("", 1.0)):
            continue  # "took 5 s": a quantity
        ids.append((label, str(int(m.group("num")))))
        id_num_spans.append(num_span)
    consumed = cond_spans + ext_spans

    negated: list[str] = []
    for tok in negated_raw:
        low = _norm_term(tok).rstrip(".").strip(":-").lstrip("/")  # "Australia/..." keeps its slash: a prefix
        if _is_identifier(tok) or low in STOPWORDS:
            negated.append(low)
        else:
            negated.append(stem(low))
    # A word the question also uses un-negated is its subject, not an exclusion: "every job except the lint job".
    if negated:  # most questions negate nothing, and then there is nothing to filter
        elsewhere = {stem(_norm_term(m.group())) for m in _TOKEN.finditer(text)
                     if not _spans_overlap((m.start(), m.end()), neg_spans)}
        elsewhere |= {_norm_term(m.group()) for m in _TOKEN.finditer(text)
                      if not _spans_overlap((m.start(), m.end()), neg_spans)}
        negated = [t for t in dict.fromkeys(negated) if len(t) >= 2 and t not in elsewhere]
    neg_set = set(negated)

    strong: list[str] = []
    words: list[str] = []
    for m in _QUOTED.finditer(text):
        if not _spans_overlap((m.start(), m.end()), neg_spans):
            strong.append(m.group(2).strip().lower())
    for m in _TOKEN.finditer(text):
        tok = m.group()
        span = (m.start(), m.end())
        if _spans_overlap(span, consumed + neg_spans):
            continue  # the words of a condition, an extreme or an exclusion are not filter terms
        low = _norm_term(tok)
        if _is_identifier(tok) and len(low) >= 2:
            strong.append(low.strip(".:-/"))
            for part in split_identifier(tok):
                if len(part) >= MIN_WORD_LEN and part not in STOPWORDS and part not in NOISE and not part.isdigit():
                    words.append(stem(part))
        elif (len(low) >= MIN_WORD_LEN and low not in STOPWORDS and low not in NOISE and low not in _EXTREMES
              and low not in CONTRACTIONS):
            words.append(stem(low))
    # Two adjacent content words often name one thing ("test label" -> test-label, "clone URL" ->
    # clone_url, "retry policy" -> retryPolicy / RetryPolicy).
    phrases: list[tuple[str, str]] = []
    plain = [(mm.group().lower(), mm.start(), mm.end()) for mm in re.finditer(r"[A-Za-z][A-Za-z0-9]*|[^A-Za-z0-9\s]", text)]
    # A word that says nothing alone ("XML", "file") still names a thing with the word beside it ("XML bomb"
    # -> xmlbomb, "file path" -> file_path): one of the two may be such a word, not both.
    skip = STOPWORDS | CONTRACTIONS | frozenset(_EXTREMES)
    for (a, sa, _), (b, _, eb) in zip(plain, plain[1:]):
        if (len(a) >= MIN_WORD_LEN and len(b) >= MIN_WORD_LEN and a not in skip and b not in skip
                and not (a in NOISE and b in NOISE)):
            if a.isalnum() and b.isalnum() and not _spans_overlap((sa, eb), consumed + neg_spans):
                phrases.append((a, b))
                strong.extend((f"{a}-{b}", f"{a}_{b}", f"{a} {b}", f"{a}{b}"))
    # Items the question lists by name, "(first, last, join...)", are names even when they are common
    # words that say nothing on their own elsewhere ("the first error", "the last line").
    for m in _ENUMERATION.finditer(text):
        if not _spans_overlap((m.start(), m.end()), neg_spans):  # "max" in a list is a name, not an extreme
            strong.extend(item.lower().rstrip(".") for item in re.split(r"\s*,\s*", m.group("items").strip())
                          if len(item) >= MIN_WORD_LEN)
    strong = [s for s in dict.fromkeys(strong) if s and s not in neg_set]
    words = [w for w in dict.fromkeys(words) if w and w not in STOPWORDS and w not in neg_set]
    return Query(text, tuple(strong), tuple(words), tuple(negated), tuple(extremes), tuple(conditions),
                 tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(phrases)))
