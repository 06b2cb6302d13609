"""compressors/lossless.py: steps that lose nothing (compact JSON, counted repeats), on real data."""
from __future__ import annotations

import json
import sysconfig
from pathlib import Path

from headroom.core.compressors import Context
from headroom.core.compressors.lossless import MIN_FOLD_RUN, compact_json, fold_repeats, lossless

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_pretty_json_is_compacted_to_the_same_value_and_order():
    doc = {"name": "headroom", "ünïcode": "kept", "nested": {"b": [1, 2, {"c": None}], "a": True}}
    pretty = json.dumps(doc, indent=2, ensure_ascii=False)
    out = compact_json(pretty)
    assert out is not None and json.loads(out) == doc and len(out) < len(pretty)
    assert list(json.loads(out)) == list(doc)  # key order kept
    assert compact_json("not json") is None and compact_json('{"a":1}') is None  # already compact
    assert lossless(pretty, Context()).content_type == "json"


def test_runs_of_identical_lines_are_counted_and_nothing_else_changes():
    src = (STDLIB / "json" / "decoder.py").read_text().split("\n")  # real lines
    a, b = [ln for ln in src[20:] if ln.strip() and src.count(ln) == 1][:2]
    lines = src[:10] + [a] * 7 + src[11:20] + [b] * (MIN_FOLD_RUN - 1)
    out = fold_repeats("\n".join(lines)).split("\n")
    assert f"{a} [repeated 7x]" in out and a not in out
    assert out.count(b) == MIN_FOLD_RUN - 1  # a shorter run stays as it is
    assert out[:10] == src[:10]
    assert fold_repeats("\n\n\n\n") == "\n\n\n\n"  # blank lines are never counted
