"""Path lists (`find`): a file of a rare type among many of one type is kept, and markers say which types
they fold. Real input: `find` over the installed mitmproxy package (~300 files, mostly .py)."""
from __future__ import annotations

import math
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
    # Rare: a type with no more files than the square root of the listing's (what a directory's budget shows).
    # The rarest types first, whole, up to 40 paths.
    limit = max(2, math.isqrt(len(paths)))
    chosen, room = set(), 40
    for t, c in sorted(types.items(), key=lambda tc: (tc[1], tc[0])):
        if c > limit or c > room:
            break
        chosen.add(t)
        room -= c
    rare = [p for p in paths if _file_type(p.rsplit("/", 1)[-1]) in chosen]
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


def test_a_path_s_words_are_counted_in_the_whole_path():
    """Every path of `find mitmproxy` mentions 'mitmproxy' (its directory): a marker's count of the question's
    words is over whole paths, as a reader (and the honesty check) counts them, not over file names only."""
    from headroom.evals.honesty import check_markers

    text = _listing()
    r = compress_text(text, Context(query="Which mitmproxy files are not Python modules?"))
    assert r.content_type == "paths" and r.drops
    violations, checked, _ = check_markers(text, r.text, dict(r.drops))
    assert violations == [] and checked
    assert not any("0 mention 'mitmproxy'" in m.summary for m in find_markers(r.text))
