"""A failing command's output: read whole when small, and when huge, folded by its own kind's compressor when
it has one (which keeps every error), else as a log. Real samples from tests/golden/inputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


@pytest.mark.parametrize("name", ["diag_gcc_gzlog.txt", "junit_pytest.xml", "ls_laR_etc.txt", "gitlog_p.txt"])
def test_a_huge_failing_output_is_folded_by_its_own_kind(name):
    text = (INPUTS / name).read_text()
    kind = detect(text)
    as_error = compress_text(text, Context(query="why did it fail?", is_error=True))
    plain = compress_text(text, Context(query="why did it fail?"))
    # The error flag does not send it to the log compressor: its own compressor keeps its errors.
    assert as_error.content_type == kind != "logs"
    assert as_error.text == plain.text


def test_a_small_failing_output_is_read_whole():
    text = (INPUTS / "diag_mypy_h11.txt").read_text()  # ~2 900 tokens
    assert compress_text(text, Context(query="why did it fail?", is_error=True)).text == text
