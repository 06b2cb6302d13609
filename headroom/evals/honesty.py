"""Marker honesty: re-check every count a marker states about its dropped run against the run itself.

A marker is a claim ("lines 40-251 omitted: 210 INFO, 2 WARN, 2 with error/warning words,
0 mention '5xx'"). The claims checked here, each against the text stored under the marker's key:

- ``lines A-B omitted`` / ``line A omitted``: the drop has B-A+1 lines, and when the dropped text occurs
  in the tool output, the output's lines A..B are exactly it (a drop not found in the output as it
  stands, such as the lines of a string inside JSON, which a marker numbers on their own, is checked for
  its count only; in a numbered file view, `120\t...` or `120→...`, A and B may be the file's own numbers
  of its first and last dropped lines);
- ``file lines A-B omitted``: in a numbered view the drop's first and last lines are the file's lines A
  and B and it has B-A+1 lines; in a view without numbers (`sed -n A,Bp`), it has B-A+1 lines;
- ``Read offset=A limit=N`` / ``sed -n A,Bp F`` / ``nl -ba F | sed -n A,Bp`` (a view's marker naming the
  agent's call for its lines, with no range of its own): the same as ``file lines A-B`` (B = A+N-1);
- ``N lines omitted`` / ``N line omitted``: the drop has N lines; with ``(file lines A-B``, where the
  file's numbers of a search's lines are not consecutive, its first and last are the file's lines A and B;
  the earlier grammar's ``N lines omitted (lines A-B`` is checked as both claims above;
- ``items A-B of M omitted`` (earlier, ``N items omitted (items A-B of M``): the drop is a JSON array of
  B-A+1 (and N) items;
- ``N of M entries omitted``: the drop is a JSON object of N entries;
- ``N [words] TAG elements omitted``: the drop holds N `<TAG` elements (XML);
- ``N lines of ... omitted, from 'X'``: the drop has N lines and its first line starts with X;
- ``schema NAME omitted (object; N properties: a, b and K more; M required)``: the drop is a JSON
  Schema object with N properties, a and b among them, and M required fields;
- ``N mention 'w'``, ``0 mention 'a' or 'b'``: N is the number of dropped units (lines; items or
  entries for JSON; elements for XML) that mention w, for one of several readings of "mention" (the claim is false only
  if it fits none): a unit holds w or its stem (w less a final "s", "es", "ed", "ing" or "ion", at
  least 4 letters left), case-insensitively, either anywhere (a substring) or as a word form (at the
  start of a word, the end of a word right after it or after an inflection, camelCase humps
  being word starts: "pods", `PodScheduled` mention 'pod', `ESLint` mentions 'lint', "specified"
  and `KernelHasNoDeadlock` do not mention 'spec' or 'node'); and for grep-style units (`path:line:text`), the same two readings over the text alone;
- ``0 mention 'w' here or in the drops below`` (an output's zero claim, said once on its first marker): the
  same of this drop and of every later marker's drop in the output;
- ``N LEVEL`` for a log level word (ERROR, WARN, INFO, DEBUG, ...): at least N dropped lines hold the
  word as a whole word;
- ``N with error/warning words``: N is at most the number of dropped units;
- ``N tests PASSED`` (a verbose pytest run's passing tests): the drop has N test lines (`path::name ...
  PASSED`).
Claims of other shapes are not checked (they are counted as unchecked, never as true).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping

from headroom.core.compressors.facets import ZERO_BELOW as _BELOW
from headroom.core.compressors.views import hint_range
from headroom.core.markers import find_markers

__all__ = ["Violation", "check_markers"]

_LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL", "SEVERE")
_LINES = re.compile(r"^(\d+) lines? omitted\b")
_RANGE = re.compile(r"^\d+ lines? omitted \((file )?lines? (\d+)(?:-(\d+))?")
_SPAN = re.compile(r"^(file )?lines? (\d+)(?:-(\d+))? omitted\b")
_ITEMS = re.compile(r"^(?:(\d+) items? omitted \()?items? (\d+)(?:-(\d+))? of (\d+)")
_ENTRIES = re.compile(r"^(\d+) of (\d+) entries omitted")
_MENTION = re.compile(r"\b(\d+) mention ((?:'[^']*'|\"[^\"]*\")(?: or (?:'[^']*'|\"[^\"]*\"))*)")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_LEVEL = re.compile(r"(?<![\w'])(\d+) (" + "|".join(_LEVELS) + r")\b")
_ELEMENTS = re.compile(r"^(\d+) (?:[\w-]+ )*?([A-Za-z][\w:.-]*) elements? omitted")
_LINES_OF = re.compile(r"^(\d+) lines? of .+? omitted(?:, from '([^']*)')?")
_SCHEMA = re.compile(r"^schema (\S+) omitted \((\w+)(?:; (\d+) propert(?:y|ies): ([^;)]*))?(?:; (\d+) required)?")
_SEVERE = re.compile(r"\b(\d+) with error/warning words")
_TESTS_PASSED = re.compile(r"\b(\d+) tests PASSED( and other lines)?")


@dataclass(frozen=True)
class Violation:
    key: str
    claim: str
    stated: str
    actual: str

    def __str__(self) -> str:
        return f"marker {self.key}: '{self.claim}' states {self.stated}, the drop has {self.actual}"


def _stems(word: str) -> tuple[str, ...]:
    w = word.lower()
    out = [w]
    for suffix in ("ing", "ion", "es", "ed", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            out.append(w[: -len(suffix)])
    return tuple(out)


_INFLECTIONS = ("", "s", "es", "ed", "d", "ing", "ion", "er", "ers")
_GREP_PREFIX = re.compile(r"^[^\s:]+:\d+[:-]")


def _hump(text: str, i: int) -> bool:
    """Does a camelCase word start at `i`: `Case` in camelCase, `Lint` in ESLint, `Decoder` in JSONDecoder?"""
    if not (0 < i < len(text) and text[i].isupper()):
        return False
    return text[i - 1].islower() or (text[i - 1].isupper() and i + 1 < len(text) and text[i + 1].islower())


def _starts_word(text: str, i: int) -> bool:
    return i == 0 or not text[i - 1].isalnum() or _hump(text, i)


def _ends_word(text: str, j: int) -> bool:
    return j >= len(text) or not text[j].isalnum() or _hump(text, j)


def _mentions(unit: str, stem: str) -> tuple[bool, bool]:
    """(holds `stem` anywhere, holds it as a word form), case-insensitively."""
    low = unit.lower()
    i = low.find(stem)
    anywhere = i >= 0
    while i >= 0:
        if _starts_word(unit, i):
            j = i + len(stem)
            if any(low.startswith(suf, j) and _ends_word(unit, j + len(suf)) for suf in _INFLECTIONS):
                return anywhere, True
        i = low.find(stem, i + 1)
    return anywhere, False


def _elements(dropped: str, tag: str = "") -> list[str]:
    """A run of sibling XML elements (`<testcase .../><testcase>...</testcase>`) split into elements of
    its first tag (or of `tag`); [] when the drop is not markup."""
    m = re.match(r"\s*<([A-Za-z][\w:.-]*)", dropped)
    if not m:
        return []
    tag = tag or m.group(1)
    return [p for p in re.split(r"(?=<" + re.escape(tag) + r"[\s/>])", dropped) if p.strip()]


def _mention_counts(units: list[str], word: str, dropped: str = "") -> set[int]:
    counts: set[int] = set()
    views = [units]
    if (elements := _elements(dropped)):
        views.append(elements)
    if units and all(_GREP_PREFIX.match(u) for u in units if u):
        views.append([_GREP_PREFIX.sub("", u) for u in units])
    for view in views:
        for st in _stems(word):
            hits = [_mentions(u, st) for u in view]
            counts |= {sum(a for a, _ in hits), sum(w for _, w in hits)}
    return counts


_NUMBERED = re.compile(r"^\s*(\d+)(?:\t|→|:|\s)")


def _own_numbers(lines: list[str]) -> tuple[int, int] | None:
    """(first, last) line numbers of a numbered file view's lines (`  120\t...`, `120→...`, `nl -ba`),
    whose markers give the file's own line range rather than the tool output's."""
    first, last = _NUMBERED.match(lines[0]), _NUMBERED.match(lines[-1])
    return (int(first.group(1)), int(last.group(1))) if first and last else None


def _units(dropped: str) -> list[str]:
    """The dropped run as the units a marker counts: JSON items or entries, else lines."""
    try:
        value = json.loads(dropped)
    except ValueError:
        return dropped.split("\n")
    if isinstance(value, list):
        return [json.dumps(x) for x in value]
    if isinstance(value, dict):
        return [json.dumps({k: v}) for k, v in value.items()]
    return dropped.split("\n")


def check_markers(original: str, compressed: str, drops: Mapping[str, str]) -> tuple[list[Violation], int, int]:
    """(violations, claims checked, claims unchecked) over every marker in `compressed`."""
    violations: list[Violation] = []
    checked = unchecked = 0
    orig_lines = original.split("\n")
    markers = find_markers(compressed)
    for at, m in enumerate(markers):
        dropped = drops.get(m.key)
        if dropped is None:
            continue
        s = m.summary
        lines = dropped.split("\n")
        units = _units(dropped)
        claims = 0

        def bad(claim: str, stated: object, actual: object) -> None:
            violations.append(Violation(m.key, claim, str(stated), str(actual)))

        def check_range(claim: str, file: bool, a: int, b: int, counted: bool) -> None:
            """A range A-B: of the file's own numbers (`file`), or of the output's lines; `counted`: the
            marker also gives the count, so the range need not be as long as the drop."""
            n = len(lines)
            own = _own_numbers(lines)
            if not counted and b - a + 1 != n:
                bad(claim, f"a range of {b - a + 1} lines", f"{n} lines")
            elif file:
                if own is not None and own != (a, b):
                    bad(claim, f"file lines {a}-{b}", f"file lines {own[0]}-{own[1]}")
            elif orig_lines[a - 1:b] != lines and dropped in original and own != (a, b):
                found = original[:original.index(dropped)].count("\n") + 1
                bad(claim, f"lines {a}-{b} of the output", f"the text at lines {found}-{found + n - 1}")

        if (mo := _LINES.match(s)):
            claims += 1
            n = int(mo.group(1))
            if n != len(lines):
                bad(mo.group(0), f"{n} lines", f"{len(lines)} lines")
            if (r := _RANGE.match(s)):
                claims += 1
                a = int(r.group(2))
                b = int(r.group(3) or a)
                # The earlier grammar counted output lines and gave their range: both must agree.
                check_range(r.group(0), bool(r.group(1)), a, b, counted=bool(r.group(1)))
        if (mo := _SPAN.match(s)):
            claims += 1
            a = int(mo.group(2))
            check_range(mo.group(0), bool(mo.group(1)), a, int(mo.group(3) or a), counted=False)
        elif not _LINES.match(s) and (hint := hint_range(s)):
            # A view's marker that names the agent's call for its lines ("Read offset=A limit=N", "sed -n
            # A,Bp") states their range in the file by it.
            claims += 1
            check_range(hint[2], True, hint[0], hint[1], counted=False)
        if (mo := _LINES_OF.match(s)):
            claims += 1
            n = int(mo.group(1))
            if n != len(lines):
                bad(mo.group(0), f"{n} lines", f"{len(lines)} lines")
            first = mo.group(2)
            if first is not None and not lines[0].strip().startswith(first.strip()[:60]):
                bad(f"from '{first}'", f"a first line starting '{first}'", f"'{lines[0].strip()[:60]}'")
        if (mo := _SCHEMA.match(s)):
            claims += 1
            try:
                schema = json.loads(dropped)
            except ValueError:
                schema = None
            if not isinstance(schema, dict):
                bad(mo.group(0), "a JSON Schema object", "no JSON object")
            else:
                props = list(schema.get("properties", {}))
                if mo.group(3) is not None:
                    n = int(mo.group(3))
                    named = [p.strip() for p in re.split(r",|\band\b", mo.group(4)) if p.strip()]
                    more = re.search(r"and (\d+) more", mo.group(4))
                    listed = [p for p in named if not re.fullmatch(r"\d+ more", p)]
                    if n != len(props) or any(p not in props for p in listed) or (
                            more and len(listed) + int(more.group(1)) != n):
                        bad(mo.group(0), f"{n} properties ({mo.group(4)})", f"{len(props)}: {', '.join(props)}")
                if mo.group(5) is not None and int(mo.group(5)) != len(schema.get("required", [])):
                    bad(f"{mo.group(5)} required", mo.group(5), len(schema.get("required", [])))
        if (mo := _ITEMS.match(s)):
            claims += 1
            a, b = int(mo.group(2)), int(mo.group(3) or mo.group(2))
            n = int(mo.group(1) or b - a + 1)
            if b - a + 1 != n or len(units) != n:
                bad(mo.group(0), f"{n} items (range {a}-{b})", f"{len(units)} items")
        if (mo := _ENTRIES.match(s)):
            claims += 1
            if int(mo.group(1)) != len(units):
                bad(mo.group(0), f"{mo.group(1)} entries", f"{len(units)} entries")
        if (mo := _ELEMENTS.match(s)):
            claims += 1
            n, tag = int(mo.group(1)), mo.group(2)
            found = len([e for e in _elements(dropped, tag) if e.lstrip().startswith("<" + tag)])
            if found != n:
                bad(mo.group(0), f"{n} <{tag}> elements", f"{found}")
        for mo in _MENTION.finditer(s):
            claims += 1
            n = int(mo.group(1))
            # "0 mention 'w' here or in the drops below": said once for this drop and every later one.
            below = [drops.get(later.key) for later in markers[at + 1:]] if s.startswith(_BELOW, mo.end()) else []
            for q in _QUOTED.finditer(mo.group(2)):
                word = q.group(1) if q.group(1) is not None else q.group(2)
                counts = _mention_counts(units, word, dropped)
                if n not in counts:
                    bad(f"{n} mention '{word}'", n, f"{min(counts)} to {max(counts)} units mentioning '{word}'"
                        " (by each reading of 'mention')")
                for other in below:
                    if other is not None and n not in (got := _mention_counts(_units(other), word, other)):
                        bad(f"{n} mention '{word}'{_BELOW}", n, f"{min(got)} to {max(got)} units of a drop below"
                            f" mentioning '{word}'")
        if (mo := _TESTS_PASSED.search(s)):
            claims += 1
            verdicts = sum(1 for ln in lines if re.search(r"::\S.*? PASSED\b", ln))
            if int(mo.group(1)) != verdicts:
                bad(mo.group(0), mo.group(1), f"{verdicts} PASSED lines")
        for mo in _LEVEL.finditer(s):
            claims += 1
            n, level = int(mo.group(1)), mo.group(2)
            rx = re.compile(r"\b" + level + r"\b")
            holding = sum(1 for ln in lines if rx.search(ln))
            if n > holding:
                bad(mo.group(0), n, f"{holding} lines holding {level}")
        for mo in _SEVERE.finditer(s):
            claims += 1
            if int(mo.group(1)) > len(units):
                bad(mo.group(0), mo.group(1), f"{len(units)} units in all")
        checked += claims
        if not claims:
            unchecked += 1
    return violations, checked, unchecked
