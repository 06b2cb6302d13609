"""compressors/runs.py: maximal runs of unkept lines become one marker each, only where the marker is cheaper."""
from __future__ import annotations

import inspect
import json

from headroom.core.compressors.runs import MIN_DROP_CHARS, fold, lines_summary
from headroom.core.markers import find_markers, make_marker

from .helpers import expand_lines


def test_lines_summary_is_one_based_inclusive_and_offset_by_the_enclosing_output():
    assert lines_summary(0, 1) == "line 1 omitted"
    assert lines_summary(9, 12, "body of f") == "lines 10-12 omitted: body of f"
    assert lines_summary(9, 12, offset=100) == "lines 110-112 omitted"


def test_fold_replaces_each_run_and_keeps_what_a_marker_would_not_pay_for():
    lines = inspect.getsource(json.decoder).split("\n")  # real text
    keep = [i % 40 < 5 for i in range(len(lines))]  # runs of 35 dropped lines
    keep[50:52] = [False, False]  # a short run inside a kept stretch: cheaper kept than marked
    keep[45:50] = [True] * 5
    keep[52:60] = [True] * 8
    out, drops = fold(lines, keep, lambda i, j: lines_summary(i, j))
    text = "\n".join(lines)
    assert expand_lines(out, drops) == text
    assert lines[50] in out.split("\n") and lines[51] in out.split("\n")
    for m in find_markers(out):
        assert len(drops[m.key]) >= MIN_DROP_CHARS
    # A line that already holds a marker is never folded again (idempotence).
    marker, _ = make_marker("earlier", "x" * 400)
    again, more = fold([marker, *lines[:3]], [False] * 4, lambda i, j: lines_summary(i, j))
    assert again.split("\n")[0] == marker and not more
