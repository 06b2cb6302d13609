"""Search results, diffs, prose, HTML and tables: what each keeps, on small realistic samples."""
from __future__ import annotations

from headroom.core.compressors import Context, detect
from headroom.core.compressors.delimited import compress_delimited
from headroom.core.compressors.diff import compress_diff
from headroom.core.compressors.html import compress_html
from headroom.core.compressors.search import compress_search
from headroom.core.compressors.text import compress_text_doc

from .helpers import check_line_markers, expand_lines

GREP = "\n".join(
    [f"src/app/client.py:{10 + i}:        timeout=timeout," for i in range(40)]
    + ["src/app/config.py:12:DEFAULT_TIMEOUT = Timeout(5.0)"]
    + [f"src/app/pool.py:{100 + i}:    self.timeout = timeout" for i in range(30)]
)


def test_search_keeps_every_file_and_every_distinct_match():
    assert detect(GREP) == "search"
    r = compress_search(GREP, Context(query="where is the default timeout set?"))
    assert "src/app/client.py:10:        timeout=timeout," in r.text
    assert "src/app/config.py:12:DEFAULT_TIMEOUT = Timeout(5.0)" in r.text
    assert "src/app/pool.py:100:    self.timeout = timeout" in r.text
    assert "src/app/client.py:30:" not in r.text
    assert "39 more matches in src/app/client.py (its lines 11-49)" in r.text
    check_line_markers(GREP, r.text, dict(r.drops))


DIFF = "\n".join(
    ["diff --git a/app.py b/app.py", "index 1111111..2222222 100644", "--- a/app.py", "+++ b/app.py",
     "@@ -1,40 +1,40 @@"]
    + [f" unchanged line {i} of the module, long enough to matter" for i in range(20)]
    + ["-    retries = 3", "+    retries = 5"]
    + [f" unchanged line {i} of the module, long enough to matter" for i in range(20, 40)]
    + ["diff --git a/package-lock.json b/package-lock.json", "--- a/package-lock.json", "+++ b/package-lock.json",
       "@@ -1,30 +1,30 @@"] + [f'-    "dep{i}": "1.0.{i}",' for i in range(30)] + [f'+    "dep{i}": "1.1.{i}",' for i in range(30)]
)


def test_diff_keeps_changes_trims_context_and_folds_lock_files():
    assert detect(DIFF) == "diff"
    r = compress_diff(DIFF, Context())
    for line in ("-    retries = 3", "+    retries = 5", " unchanged line 19 of the module, long enough to matter",
                 " unchanged line 20 of the module, long enough to matter", "+++ b/package-lock.json"):
        assert line in r.text.split("\n")
    assert " unchanged line 5 of the module, long enough to matter" not in r.text
    assert '"dep7": "1.1.7"' not in r.text
    check_line_markers(DIFF, r.text, dict(r.drops))


DOC = "\n".join(
    ["# Tool", "", "Tool does things.", ""]
    + sum(([f"## {name}", "", f"{name} is a topic sentence.", ""]
           + [f"Detail {k} about {name.lower()} that goes on for a while." for k in range(15)] + [""]
           for name in ("Installation", "Configuration", "Caching", "Deployment")), [])
)


def test_prose_keeps_headings_and_the_asked_section():
    r = compress_text_doc(DOC, Context(query="How does caching work?"))
    lines = r.text.split("\n")
    assert all(h in lines for h in ("## Installation", "## Configuration", "## Caching", "## Deployment"))
    assert "Detail 14 about caching that goes on for a while." in lines
    assert "Installation is a topic sentence." in lines
    assert "Detail 3 about installation that goes on for a while." not in lines
    assert expand_lines(r.text, dict(r.drops)) == DOC


HTML = "\n".join(
    ["<!doctype html>", "<html><head><title>Status</title>", "<script>"]
    + [f"  window.__state{i} = {{big: 'payload {i}', more: [1, 2, 3]}};" for i in range(30)]
    + ["</script>", "<style>", "  body { color: red; }", "  .a { margin: 0 }" * 5, "</style>", "</head>",
       "<body><h1>All systems operational</h1>", "<p>Last incident: none.</p></body></html>"]
)


def test_html_drops_scripts_and_styles_keeps_text():
    assert detect(HTML) == "html"
    r = compress_html(HTML, Context())
    assert "<h1>All systems operational</h1>" in r.text and "__state7" not in r.text
    assert "script" in r.text  # the marker says what it dropped
    assert expand_lines(r.text, dict(r.drops)) == HTML


CSV = "id,host,status,latency_ms\n" + "\n".join(
    f"{i},host-{i:03d},{'DOWN' if i == 217 else 'up'},{10 + i % 7}" for i in range(400))


def test_table_keeps_header_and_asked_rows():
    assert detect(CSV) == "csv"
    r = compress_delimited(CSV, Context(query="Which host is DOWN?"))
    assert r.text.startswith("id,host,status,latency_ms\n")
    assert "217,host-217,DOWN,10" in r.text
    assert "300,host-300,up" not in r.text
    check_line_markers(CSV, r.text, dict(r.drops))
