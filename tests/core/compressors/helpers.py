"""Test helpers: undo a compression with its drops, and check each marker against what it replaced."""
from __future__ import annotations

import json
import re

from headroom.core.markers import JSON_MARKER_FIELD, MARKER_RE, find_markers

# A marker's range of output lines: "lines 40-51 omitted" / "line 40 omitted" (the range counts them).
_SPAN = re.compile(r"^(?:line (?P<one>\d+)|lines (?P<a>\d+)-(?P<b>\d+)) omitted\b")


def line_span(summary: str) -> tuple[int, int] | None:
    """(A, B) of a marker's "lines A-B omitted" / "line A omitted"; None for a marker of another shape."""
    m = _SPAN.match(summary)
    if m is None:
        return None
    return int(m.group("one") or m.group("a")), int(m.group("one") or m.group("b"))


def span_body(summary: str) -> str:
    """What a lines marker says of its drop, after its range: "lines 4-9 omitted: 6 INFO" -> "6 INFO"."""
    m = _SPAN.match(summary)
    return summary[m.end():].removeprefix(": ") if m else summary


def expand_lines(text: str, drops: dict[str, str]) -> str:
    """The original text: every marker line replaced by the lines its key maps to."""
    out = []
    for line in text.split("\n"):
        m = MARKER_RE.search(line)
        if m and line.strip() == m.group(0):
            out.append(drops[m.group("key")])
        else:
            out.append(line)
    return "\n".join(out)


def check_line_markers(original: str, text: str, drops: dict[str, str]) -> None:
    """Every marker's count and 1-based line range match exactly what it dropped from `original`."""
    lines = original.split("\n")
    keys = [mk.key for mk in find_markers(text)]
    # Two identical dropped runs share one key (the key is the hash of the dropped text alone).
    assert set(keys) == set(drops), "every marker has a drop and every drop a marker"
    for mk in find_markers(text):
        span = line_span(mk.summary)
        assert span, mk.summary
        a, b = span
        assert drops[mk.key] == "\n".join(lines[a - 1 : b]), mk.summary


def kept_lines_are_input_lines(original: str, text: str) -> None:
    """Every line that is not a marker is a line of the input, byte for byte, in the input's order."""
    src = original.split("\n")
    pos = 0
    for line in text.split("\n"):
        if MARKER_RE.fullmatch(line.strip()):
            continue
        while pos < len(src) and src[pos] != line:
            pos += 1
        assert pos < len(src), f"line not in the input (or out of order): {line!r}"
        pos += 1


def expand_json(value, drops: dict[str, str]):
    """The original JSON value: marker items replaced by the items they dropped, map markers merged back."""
    if isinstance(value, list):
        out = []
        for item in value:
            marker = item.get(JSON_MARKER_FIELD) if isinstance(item, dict) and len(item) == 1 else item
            keys = [mk.key for mk in find_markers(marker)] if isinstance(marker, str) else []
            if keys and MARKER_RE.fullmatch(marker):
                out.extend(json.loads(drops[keys[0]]))
            else:
                out.append(expand_json(item, drops))
        return out
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k.startswith(JSON_MARKER_FIELD) and isinstance(v, str) and MARKER_RE.fullmatch(v):
                out.update(json.loads(drops[find_markers(v)[0].key]))
            else:
                out[k] = expand_json(v, drops)
        return out
    if isinstance(value, str) and MARKER_RE.search(value):
        return expand_lines(value, drops)
    return value
