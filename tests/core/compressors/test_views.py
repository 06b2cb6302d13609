"""Line-numbered file views (Claude Code's Read, `cat -n`, `nl -ba`) and the notes agents put around outputs.

The inputs are real: a standard-library source file printed by the real `cat -n` and `nl` programs, and the
same file in the two numbering styles Claude Code's Read uses.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from dataclasses import replace

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.views import fetch_hint, file_range, folded_ranges, numbered_lines, segments, viewed_file
from headroom.core.markers import find_markers

SOURCE = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"  # ~2,600 lines of real code
QUESTION = "What does ArgumentParser.parse_known_args do when a required argument is missing?"


def _run(*cmd: str) -> str:
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"{cmd[0]} is not installed")
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _claude_read(path: Path, style: str = "tab", offset: int = 1, limit: int | None = None) -> str:
    lines = path.read_text().split("\n")
    chosen = lines[offset - 1 : (offset - 1 + limit) if limit else None]
    if style == "tab":
        return "\n".join(f"{offset + k}\t{ln}" for k, ln in enumerate(chosen))
    return "\n".join(f"{offset + k:6d}→{ln}" for k, ln in enumerate(chosen))


def _read_ctx(path: Path, question: str = QUESTION) -> Context:
    return Context(query=question, tool_name="Read", tool_args=json.dumps({"file_path": str(path)}))


def _check_view(original: str, result) -> list:
    """Every kept line is an original line, byte for byte; every marker's drop is the exact run of original
    lines it stands for, and the marker names the file line numbers those lines carry."""
    orig_lines = original.split("\n")
    markers = find_markers(result.text)
    assert markers, "nothing was folded"
    pos = 0
    for line in result.text.split("\n"):
        found = find_markers(line)
        if found:
            dropped = result.drops[found[0].key].split("\n")
            assert orig_lines[pos : pos + len(dropped)] == dropped
            numbers = [int(re.match(r"\s*(\d+)", d).group(1)) for d in dropped if re.match(r"\s*\d+", d)]
            # In the file's numbers: said by the call that shows them ("Read offset=A limit=N") or as a range.
            assert file_range(found[0].summary) == (numbers[0], numbers[-1]), (found[0].summary, numbers[:3])
            # Where the file's numbers are not consecutive, the count is said too.
            consecutive = len(numbers) == len(dropped) and numbers[-1] - numbers[0] + 1 == len(dropped)
            assert consecutive or found[0].summary.startswith(f"{len(dropped)} lines omitted")
            pos += len(dropped)
        else:
            assert line == orig_lines[pos]
            pos += 1
    assert pos == len(orig_lines)
    return markers


@pytest.mark.parametrize("style", ["tab", "arrow"])
def test_a_read_of_a_source_file_folds_other_bodies_and_keeps_the_one_asked_about(style):
    text = _claude_read(SOURCE, style)
    r = compress_text(text, _read_ctx(SOURCE))
    assert r.compressor == "view" and r.content_type == "code"
    markers = _check_view(text, r)
    # The function the question names is there whole, with its line numbers.
    start = next(i for i, ln in enumerate(SOURCE.read_text().split("\n")) if "def parse_known_args(" in ln) + 1
    assert re.search(rf"(?m)^\s*{start}(\t|→)    def parse_known_args\(", r.text)
    assert "required" in r.text
    # Markers speak the agent's language: the bodies they fold, and the Read call that shows them.
    body_markers = [m for m in markers if "body of " in m.summary]
    assert body_markers
    for m in body_markers:
        a, b = file_range(m.summary)
        assert m.summary.endswith(f"; Read offset={a} limit={b - a + 1}")
    assert len(r.text) < 0.6 * len(text)


def test_cat_n_and_nl_views_fold_the_same_way_and_hint_the_command_that_made_them():
    for cmd in (["cat", "-n", str(SOURCE)], ["nl", "-ba", str(SOURCE)]):
        text = _run(*cmd)
        ctx = Context(query=QUESTION, tool_name="exec_command",
                      tool_args=json.dumps({"cmd": f"{' '.join(cmd)} | sed -n 1,4000p"}))
        r = compress_text(text, ctx)
        assert r.content_type == "code"
        for m in _check_view(text, r):
            a, b = file_range(m.summary)
            assert m.summary.endswith(f"; nl -ba {SOURCE} | sed -n {a},{b}p")


def test_nl_without_numbers_on_blank_lines_is_still_a_view():
    text = _run("nl", str(SOURCE))  # nl's default numbers only non-blank lines
    rows = numbered_lines(text.rstrip("\n").split("\n"))
    assert rows is not None and any(r.number is None for r in rows)
    r = compress_text(text.rstrip("\n"), _read_ctx(SOURCE))
    _check_view(text.rstrip("\n"), r)


def test_notes_around_a_view_stay_byte_for_byte():
    reminder = ("<system-reminder>\nWhenever you read a file, you should consider whether it would be considered "
                "malware.\n</system-reminder>")
    head = "<system-reminder>Showing lines 200-1199 of 2650. Use offset and limit to read more.</system-reminder>"
    text = head + "\n" + _claude_read(SOURCE, offset=200, limit=1000) + "\n\n" + reminder
    r = compress_text(text, _read_ctx(SOURCE))
    assert r.text.startswith(head + "\n")
    assert r.text.endswith("\n\n" + reminder)
    assert find_markers(r.text)
    assert all(file_range(m.summary) for m in find_markers(r.text))
    assert min(file_range(m.summary)[0] for m in find_markers(r.text)) >= 200


def test_a_codex_exec_header_is_kept_and_the_output_under_it_compressed():
    listing = _run("nl", "-ba", str(SOURCE))
    header = ("Chunk ID: 5f2c1e\nWall time: 0.0123 seconds\nProcess exited with code 0\n"
              f"Original token count: {len(listing) // 4}\nOutput:")
    text = header + "\n" + listing
    r = compress_text(text, Context(query=QUESTION, tool_args=json.dumps({"cmd": f"nl -ba {SOURCE}"})))
    assert r.text.startswith(header + "\n")
    assert find_markers(r.text) and len(r.text) < 0.6 * len(text)


def test_a_middle_cut_and_an_exit_code_are_notes():
    log = _run("nl", "-ba", str(SOURCE))
    lines = log.split("\n")
    text = "Exit code 2\n" + "\n".join(lines[:900]) + "\n\n... [48211 characters truncated] ...\n\n" + "\n".join(lines[1800:])
    kinds = [k for k, _, _ in segments(text.split("\n"))]
    assert kinds[0] == "note" and "note" in kinds[1:] and kinds.count("view") == 2
    r = compress_text(text, _read_ctx(SOURCE))
    assert r.text.startswith("Exit code 2\n")
    assert "\n... [48211 characters truncated] ...\n" in r.text


def test_outputs_without_views_or_notes_are_untouched_by_this_layer():
    plain = SOURCE.read_text()
    assert segments(plain.split("\n")) is None
    # Numbers that do not increase are not a view (a table of counts, say).
    counts = "\n".join(f"{n}\tfile{k}.py" for k, n in enumerate([5, 3, 9, 1] * 30))
    assert numbered_lines(counts.split("\n")) is None


def test_compressing_a_compressed_view_changes_nothing():
    text = _claude_read(SOURCE)
    once = compress_text(text, _read_ctx(SOURCE))
    assert compress_text(once.text, _read_ctx(SOURCE)).text == once.text


def test_fetch_hint_comes_from_the_call_that_made_the_view():
    assert fetch_hint(Context()) is None
    read = fetch_hint(Context(tool_args=json.dumps({"file_path": "/src/app.py", "offset": 10})))
    assert read(40, 59) == "Read offset=40 limit=20"  # the file is the one the Read showed
    js = 'const r = await tools.exec_command({cmd: "nl -ba src/lib.rs | sed -n 1,400p"});\ntext(r.output);\n'
    assert fetch_hint(Context(tool_args=json.dumps(js)))(5, 9) == "nl -ba src/lib.rs | sed -n 5,9p"
    assert fetch_hint(Context(tool_args=json.dumps({"cmd": "pytest -q"}))) is None


def test_lines_a_marker_pointed_to_are_read_whole_and_other_pages_are_compressed():
    # The range an earlier view of the file folded is what the model follows a marker to read, often to
    # Edit it: it comes back whole, not folded again.
    text = _claude_read(SOURCE, offset=1500, limit=200)
    read_args = json.dumps({"file_path": str(SOURCE), "offset": 1500, "limit": 200})
    followed = Context(query=QUESTION, tool_name="Read", tool_args=read_args, folded_lines=((1505, 1542),))
    assert compress_text(text, followed).text == text
    sed = Context(query=QUESTION, tool_args=json.dumps({"cmd": f"nl -ba {SOURCE} | sed -n 1500,1699p"}),
                  folded_lines=((1600, 1650),))
    assert compress_text(text, sed).text == text
    # The same range when nothing earlier folded it there is a page the agent turns on its own: compressed
    # as any view, by the question.
    for ctx in (replace(followed, folded_lines=()), replace(followed, folded_lines=((10, 40), (1700, 1800)))):
        assert find_markers(compress_text(text, ctx).text)
    # A range too large to read whole is compressed even where a marker pointed.
    page = _claude_read(SOURCE, offset=1200, limit=1000)
    paged = Context(query=QUESTION, tool_name="Read", folded_lines=((1505, 1542),),
                    tool_args=json.dumps({"file_path": str(SOURCE), "offset": 1200, "limit": 1000}))
    assert find_markers(compress_text(page, paged).text)


def test_the_file_a_view_shows_comes_from_its_call_and_its_markers_give_the_folded_lines():
    assert viewed_file(Context(tool_name="Read", tool_args=json.dumps({"file_path": "/src/a.py"}))) == "/src/a.py"
    assert viewed_file(Context(tool_args=json.dumps({"cmd": "nl -ba src/a.py | sed -n 5,9p"}))) == "src/a.py"
    assert viewed_file(Context(tool_args=json.dumps({"cmd": "sed -n 5,9p src/a.py"}))) == "src/a.py"
    assert viewed_file(Context(tool_args=json.dumps({"cmd": "pytest -q"}))) is None
    r = compress_text(_claude_read(SOURCE), _read_ctx(SOURCE))
    ranges = folded_ranges(r.text)
    lines = _claude_read(SOURCE).split("\n")
    assert ranges and all(lines[a - 1].startswith(f"{a}\t") for a, _ in ranges)
    assert all(not any(ln.startswith(f"{a}\t") for ln in r.text.split("\n")) for a, b in ranges)


# The notes below are copied from real captures (Claude Code 2.1.197, Codex CLI 0.169.0); the output each
# one frames is a real program's.
def test_grep_and_glob_pagination_notes_are_kept_byte_for_byte():
    grep = _run("grep", "-rn", "def ", str(SOURCE.parent / "email"))
    lines = grep.rstrip("\n").split("\n")[:250]
    note = "[Showing results with pagination = limit: 250]"
    text = "\n".join(lines) + "\n\n" + note
    r = compress_text(text, Context(query="where is the header parser's folding done?", tool_name="Grep"))
    assert find_markers(r.text) and r.text.endswith("\n\n" + note)
    found = "Found 328 total occurrences across 20 files."
    assert [k for k, _, _ in segments(["a.py:3", "", found])][-1] == "note"
    glob_note = "(Showing 100 of 103 matching files; 3 more are not listed. Narrow the pattern or path to see the rest.)"
    assert [k for k, _, _ in segments(["a.py", glob_note])][-1] == "note"


def test_codex_script_result_object_has_its_output_field_compressed_and_nothing_else():
    log = _run("nl", "-ba", str(SOURCE))
    result = {"chunk_id": "e03428", "wall_time_seconds": 0.000006209, "exit_code": 0,
              "original_token_count": 147224, "output": log}
    # Serialised as JavaScript's JSON.stringify does (a float in plain notation, which Python would not write).
    line = json.dumps(result, ensure_ascii=False, separators=(",", ":")).replace("6.209e-06", "0.000006209")
    text = "Warning: truncated output (original token count: 172251)\nTotal output lines: 1\n\n" + line
    r = compress_text(text, Context(query=QUESTION))
    head, _, new_line = r.text.rpartition("\n")
    assert head == "Warning: truncated output (original token count: 172251)\nTotal output lines: 1\n"
    assert new_line.startswith('{"chunk_id":"e03428","wall_time_seconds":0.000006209,"exit_code":0,')
    out = json.loads(new_line)["output"]
    assert find_markers(out) and len(out) < 0.6 * len(log)
    assert all(r.drops[m.key] in log for m in find_markers(out))
    # The same object alone on its line, with no note before it.
    assert compress_text(line, Context(query=QUESTION)).text == new_line


def test_a_codex_cut_inside_a_line_is_a_note():
    assert [k for k, _, _ in segments(["4221", "42…137224 tokens truncated…", "96668"])] == ["content", "note", "content"]


def test_what_the_agent_needs_exactly_stays_whole():
    listing = _run("ls", "-la", str(SOURCE.parent / "email"))  # one directory: every entry is the answer
    assert compress_text(listing, Context(query="is there a json module?", tool_name="Bash",
                                          tool_args=json.dumps({"command": f"ls -la {SOURCE.parent / 'email'}"}))).text == listing
    view = _claude_read(SOURCE, offset=100, limit=330)
    for name in ("Edit", "Write", "MultiEdit"):
        assert compress_text(view, Context(query=QUESTION, tool_name=name)).text == view
    # A recursive listing, or a listing piped elsewhere, is not one directory.
    recursive = Context(query="is there a json module?", tool_name="Bash",
                        tool_args=json.dumps({"command": f"ls -laR {SOURCE.parent}"}))
    from headroom.core.compressors.views import wants_exact
    assert not wants_exact(recursive)
    assert not wants_exact(Context(tool_args=json.dumps({"command": "ls -la | grep json"})))
    assert wants_exact(Context(tool_args=json.dumps({"cmd": ["bash", "-lc", "git status"]})))


def test_a_persisted_outputs_preview_is_content_and_its_wrapper_notes():
    dpkg = (Path(__file__).resolve().parents[2] / "golden" / "inputs" / "dpkg.log").read_text().split("\n")
    preview = "\n".join(dpkg[:60])
    text = ("<persisted-output>\nOutput too large (93.1KB). Full output saved to: "
            "/root/.claude/projects/-work/tool-results/bash-1.txt\n\nPreview (first 2KB):\n" + preview + "\n...\n</persisted-output>")
    kinds = {k for k, _, _ in segments(text.split("\n"))}
    assert kinds == {"note", "content"}
    r = compress_text(text, Context(query="were any packages removed?", tool_name="Bash"))
    assert r.text.startswith("<persisted-output>\nOutput too large (93.1KB). Full output saved to: ")
    assert r.text.endswith("\n...\n</persisted-output>")
    if r.drops:  # when the preview is worth folding, it is folded as the log it is
        assert all(v in preview for v in r.drops.values())


def test_a_tsv_whose_first_column_counts_rows_is_not_a_file_view():
    # Real TSV: the stdlib's own keyword list, numbered by an id column as a data export would be.
    import keyword
    tsv = "\n".join(f"{k}\t{w}\t{len(w)}" for k, w in enumerate(keyword.kwlist * 3, 1))
    assert segments(tsv.split("\n")) is None
    # The same lines from Claude Code's Read are a view of the file.
    assert [k for k, _, _ in segments(tsv.split("\n"), file_read=True)] == ["view"]


def test_a_search_of_one_file_is_compressed_as_search_results_keeping_its_line_numbers():
    # grep -n over one file prints no path: `N:text`. Claude Code's Grep with a file path does the same.
    out = _run("grep", "-n", "self", str(SOURCE)).rstrip("\n")
    ctx = Context(query="Where does ArgumentParser set prefix_chars?", tool_name="Grep",
                  tool_args=json.dumps({"pattern": "self", "path": str(SOURCE), "output_mode": "content", "-n": True}))
    r = compress_text(out, ctx)
    assert r.content_type == "search" and len(r.text) < 0.5 * len(out)
    kept = [ln for ln in r.text.split("\n") if not find_markers(ln)]
    assert kept and all(ln in out.split("\n") for ln in kept)
    assert all(ln in r.text.split("\n") for ln in out.split("\n") if "self.prefix_chars = prefix_chars" in ln)
    for m in find_markers(r.text):  # each run stored as grep printed it, named by the file's lines
        assert r.drops[m.key] in out and re.search(r"file lines? \d+", m.summary)
        # Said once: the agent named the file, and the range is the file's (not "in PATH (its lines A-B)" too).
        nums = [int(ln.split(":", 1)[0]) for ln in r.drops[m.key].split("\n")]
        rng = f"file lines {nums[0]}-{nums[-1]}" if len(nums) > 1 else f"file line {nums[0]}"
        assert rng in m.summary and str(SOURCE) not in m.summary and "its line" not in m.summary, m.summary
    # The same lines from a command over one file; without knowing the file, they are left to the router.
    assert compress_text(out, replace(ctx, tool_name="Bash", tool_args=json.dumps({"command": f"grep -n self {SOURCE}"}))).content_type == "search"
    assert segments(out.split("\n")) is None


def test_codex_apply_patch_header_and_session_limit_note_are_notes():
    # As Codex 0.169 writes them (captured): apply_patch called directly, and code mode's session cap.
    head = ["Exit code: 0", "Wall time: 0 seconds", "Output:"]
    assert [k for k, _, _ in segments(head + ["Success. Updated the following files:", "M tabulate/__init__.py"])] \
        == ["note", "content"]
    cap = ("[Code Mode session output limit reached: omitted 28139 text bytes; discarded 0 text segments, "
           "0 images, 0 audio items]")
    assert [k for k, _, _ in segments(["a", cap, "b"])] == ["content", "note", "content"]


def test_a_result_object_codex_cut_inside_its_output_field_has_that_field_compressed():
    # Codex cuts a script's text at its budget, inside the JSON string, and ends the line with its note
    # (as captured from Codex 0.169.0: `..."output":"...self.db.close…252144 tokens truncated…`).
    log = _run("nl", "-ba", str(SOURCE))
    line = json.dumps({"chunk_id": "5495c3", "wall_time_seconds": 0.1, "exit_code": 0,
                       "original_token_count": 262144, "output": log}, ensure_ascii=False, separators=(",", ":"))
    cut = line[: len(line) * 2 // 3]
    cut = cut[:-1] if cut.endswith("\\") else cut  # a cut never ends inside our own escape here
    cut += "…252144 tokens truncated…"
    text = "Warning: truncated output (original token count: 262144)\nTotal output lines: 1\n\n" + cut
    r = compress_text(text, Context(query=QUESTION))
    new_line = r.text.rsplit("\n", 1)[1]
    assert new_line.startswith('{"chunk_id":"5495c3","wall_time_seconds":0.1,') and new_line.endswith("…252144 tokens truncated…")
    assert find_markers(new_line) and len(new_line) < 0.6 * len(cut)
    assert all(r.drops[m.key] in log for m in find_markers(json.loads(new_line.split('"output":', 1)[1].rsplit("…", 2)[0] + '"')))


def test_the_tail_codex_kept_of_a_cut_result_object_has_its_output_field_compressed():
    # Codex's Code Mode keeps a long `text(r)`'s head and tail; the tail is a later output item that begins
    # inside the output string (maybe inside an escape) and ends with the object's close.
    log = _run("nl", "-ba", str(SOURCE))
    line = json.dumps({"chunk_id": "5495c3", "exit_code": 0, "output": log}, ensure_ascii=False,
                      separators=(",", ":"))
    for start in range(len(line) // 3, len(line) // 3 + 7):  # a cut inside `\n`, `\t`, `\"`, or not
        tail = line[start:]
        r = compress_text(tail, Context(query=QUESTION))
        assert find_markers(r.text) and len(r.text) < 0.6 * len(tail), start
        assert r.text.endswith('"}') and "\n" not in r.text
        body = r.text[: -2]
        head = next(k for k in range(7) if json.loads(f'"{body[k:]}"') is not None and not body[k:].startswith("n"))
        assert tail.startswith(r.text[:head])
        assert all(r.drops[m.key] in log for m in find_markers(json.loads(f'"{body[head:]}"')))
    # Text that only ends like one is left alone: a JSON document's last string field is not a tail.
    doc = json.dumps({"a": 1, "b": "x" * 3000})
    assert compress_text(doc[5:], Context(query=QUESTION)).text == doc[5:]
