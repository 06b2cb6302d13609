"""Path lists (`find`): a file of a rare type among many of one type is kept, and markers say which types
they fold. Real input: `find` over the installed mitmproxy package (~300 files, mostly .py)."""
from __future__ import annotations

import subprocess
import sysconfig
from collections import Counter
from pathlib import Path

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.search import _file_type
from headroom.core.markers import find_markers


def _listing() -> str:
    site = Path(sysconfig.get_paths()["purelib"])
    out = subprocess.run(["find", "mitmproxy", "-type", "f", "-not", "-path", "*/__pycache__/*"], cwd=site,
                         capture_output=True, text=True, check=True).stdout
    return "\n".join(sorted(out.split()))


def test_rare_file_types_are_kept_and_markers_name_the_types_they_fold():
    text = _listing()
    paths = text.split("\n")
    types = Counter(_file_type(p.rsplit("/", 1)[-1]) for p in paths)
    assert types.most_common(1)[0][1] >= 0.5 * len(paths)  # mostly one type: the others stand out
    r = compress_text(text, Context(query="Which files does mitmproxy ship besides its modules?"))
    assert r.content_type == "paths" and find_markers(r.text)
    limit = max(2, int(0.02 * len(paths)))
    rare = [p for p in paths if types[_file_type(p.rsplit("/", 1)[-1])] <= limit]
    assert rare and all(p in r.text.split("\n") for p in rare)
    # Every type count a marker states is that of its drop.
    for m in find_markers(r.text):
        dropped = Counter(_file_type(p.rsplit("/", 1)[-1]) for p in r.drops[m.key].split("\n"))
        if len(dropped) == 1:
            assert f"all {next(iter(dropped))}" in m.summary
        else:
            for t, c in dropped.most_common(3):
                if f"{t} x" in m.summary:
                    assert f"{t} x{c}" in m.summary
