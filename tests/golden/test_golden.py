"""Golden outputs of the compressor on real samples (a dpkg log, `pip inspect` JSON, tabulate's source,
a diff of it, grep output over installed packages, rich's README), each read once by eye.

Regenerate after an intended change with `HEADROOM_UPDATE_GOLDEN=1 pytest tests/golden`, and read the
diff of tests/golden/expected/ before committing it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text
from tests.core.compressors.helpers import expand_lines

HERE = Path(__file__).parent
CASES = [
    # (input file, the user's question, expected content type)
    ("dpkg.log", "Which packages failed to configure or were upgraded?", "logs"),
    ("pip_inspect.json", "Which version of anyio is installed and what does it require?", "json"),
    ("tabulate_init.py", "How does tabulate align decimal numbers in a column?", "code"),
    ("tabulate.diff", "What did this change rename?", "diff"),
    ("grep_timeout.txt", "Where is the connect timeout applied in httpcore?", "search"),
    ("rich_readme.md", "How do I render tables and progress bars with rich?", "text"),
]




@pytest.mark.parametrize("name,query,content_type", CASES, ids=[c[0] for c in CASES])
def test_golden(name, query, content_type):
    text = (HERE / "inputs" / name).read_text(encoding="utf-8")
    r = compress_text(text, Context(query=query))
    expected = HERE / "expected" / (name + ".out")
    if os.environ.get("HEADROOM_UPDATE_GOLDEN") == "1":
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(r.text, encoding="utf-8")
    assert r.content_type == content_type
    assert r.drops, "each sample is large enough to be compressed"
    assert r.text == expected.read_text(encoding="utf-8")
    if content_type != "json":
        assert expand_lines(r.text, dict(r.drops)) == text
