"""Logs: rare lines and errors survive, frequent kinds fold into markers that say what they hold."""
from __future__ import annotations

from headroom.core.compressors import Context
from headroom.core.compressors.logs import compress_logs, looks_like_log, template
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines


def _log():
    lines = []
    for i in range(1500):
        lines.append(f"2024-05-02 10:{i // 60 % 60:02d}:{i % 60:02d},{i % 1000:03d} INFO  [worker-{i % 8}] "
                     f"cache.Store: put key=user:{1000 + i} bytes={200 + i % 90}")
        if i == 700:
            lines.append("2024-05-02 10:11:40,700 ERROR [worker-4] cache.Store: eviction failed: disk quota exceeded")
        if i == 900:
            lines.append("2024-05-02 10:15:00,900 INFO  [main] cache.Admin: resharding started by operator alice")
    return "\n".join(lines)


def test_template_masks_what_varies():
    assert template("2024-05-02 10:00:01 put key=17 from 10.0.0.1:443") == template(
        "2024-05-03 11:22:33 put key=90210 from 192.168.1.20:80")


def test_rare_and_error_lines_are_kept_the_bulk_is_folded():
    text = _log()
    r = compress_logs(text, Context(query="Why did the cache fail?"))
    assert "eviction failed: disk quota exceeded" in r.text
    assert "resharding started by operator alice" in r.text
    assert text.split("\n")[0] in r.text and text.split("\n")[-1] in r.text
    assert len(r.text) < len(text) / 5
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))
    summaries = [m.summary for m in find_markers(r.text)]
    assert any("INFO" in s and "cache.Store: put key=user:#" in s for s in summaries), summaries[:3]


def test_lines_naming_the_question_identifiers_are_kept():
    text = _log()
    r = compress_logs(text, Context(query="what happened to key user:1234?"))
    assert "key=user:1234 " in r.text


def test_detection():
    assert looks_like_log(_log().split("\n"))
    assert not looks_like_log(["def f(x):", "    return x"] * 20)
