"""Mixed content: each section compressed by its own kind, marker line numbers those of the whole output."""
from __future__ import annotations

import json

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.markers import find_markers

from .helpers import check_line_markers, line_span

LOG = "\n".join(f"2024-07-01 12:{i // 60 % 60:02d}:{i % 60:02d} INFO sync.Worker: copied chunk {i} ({i * 7 % 900} KB)"
                for i in range(400)) + "\n2024-07-01 13:00:00 ERROR sync.Worker: chunk 401 checksum mismatch"
DOC = {"jobs": [{"id": i, "state": "done" if i != 57 else "failed", "chunks": i * 3} for i in range(120)]}


def test_head_of_several_files():
    text = "==> sync.log <==\n" + LOG + "\n\n==> jobs.json <==\n" + json.dumps(DOC, indent=2)
    assert detect(text) == "mixed"
    r = compress_text(text, Context(query="which job failed?"))
    assert r.content_type == "mixed" and r.compressor == "mixed:logs+json"
    assert "==> sync.log <==" in r.text and "==> jobs.json <==" in r.text
    assert "chunk 401 checksum mismatch" in r.text
    tail = r.text.split("==> jobs.json <==\n")[1]
    jobs = json.loads(tail)["jobs"]
    assert {"id": 57, "state": "failed", "chunks": 171} in jobs
    # Log markers count lines of the whole output (the log starts on line 2).
    lines = text.split("\n")
    markers = find_markers(r.text.split("==> jobs.json <==")[0])
    assert markers
    for m in markers:
        a, b = line_span(m.summary)
        assert a >= 2 and "\n".join(lines[a - 1 : b]) == r.drops[m.key]


def test_json_printed_after_a_log():
    text = LOG + "\n\n" + json.dumps(DOC, indent=2) + "\n\nexit status 1\ndone in 4.2s\nretrying later\nbye\nok"
    assert detect(text) == "mixed"
    r = compress_text(text, Context(query="which job failed?"))
    assert "chunk 401 checksum mismatch" in r.text and '"state":"failed"' in r.text
    assert r.text.endswith("exit status 1\ndone in 4.2s\nretrying later\nbye\nok")


def test_plain_outputs_are_not_mixed():
    assert detect(LOG) == "logs"
    assert detect(json.dumps(DOC, indent=2)) == "json"
    c_code = "\n".join(["int f(int x)", "{", "    return x;", "}", ""] * 200)
    assert detect(c_code) != "mixed"


def test_sections_alone_keep_their_own_invariants():
    text = "==> a.log <==\n" + LOG + "\n==> b.log <==\n" + LOG.replace("sync.Worker", "copy.Worker")
    r = compress_text(text, Context())
    check_line_markers(text, r.text, dict(r.drops))
