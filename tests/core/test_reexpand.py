"""A later question about an earlier output: what it names comes back, once, at the cost of one cache miss.

Real material: Claude Code-shaped Read results of a standard-library file (argparse.py, numbered as Read
numbers it), and the real `dpkg.log` sample in tests/golden/inputs.
"""
from __future__ import annotations

import json
import re
import sysconfig
from pathlib import Path

import pytest

from headroom.core.markers import find_markers
from headroom.core.pipeline import compress_body

SOURCE = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
DPKG = Path(__file__).resolve().parents[1] / "golden" / "inputs" / "dpkg.log"


def _read_result(path: Path) -> str:
    return "\n".join(f"{k}\t{ln}" for k, ln in enumerate(path.read_text().split("\n"), 1))


def _conversation(*turns: tuple[str, str | None]) -> dict:
    """Anthropic messages: each turn is a user question and, if not None, one Read the model made for it."""
    messages: list[dict] = []
    for n, (question, read) in enumerate(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": question}]})
        if read is None:
            continue
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_{n}", "name": "Read", "input": {"file_path": read}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": _read_result(Path(read))}]})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
    return {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages}


def _first_result(body: dict) -> str:
    return body["messages"][2]["content"][0]["content"]


def _body_of(name: str) -> list[str]:
    """The numbered lines of function `name` in argparse.py, as Read shows them."""
    lines = _read_result(SOURCE).split("\n")
    start = next(i for i, ln in enumerate(lines) if f"def {name}(" in ln)
    indent = len(lines[start].split("\t", 1)[1]) - len(lines[start].split("\t", 1)[1].lstrip())
    end = start + 1
    while end < len(lines):
        text = lines[end].split("\t", 1)[1]
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        end += 1
    return lines[start:end]


FIRST = ("How does ArgumentParser.parse_known_args handle a missing required argument?", str(SOURCE))


def test_a_later_question_naming_a_folded_function_gets_its_body_back():
    turn1 = compress_body("anthropic", _conversation(FIRST))
    folded = _body_of("_get_values")
    assert not all(ln in _first_result(turn1.body) for ln in folded[1:])  # the body was folded at first

    later = _conversation(FIRST, ("And what does _get_values do with nargs?", None))
    turn2 = compress_body("anthropic", later)
    text = _first_result(turn2.body)
    assert all(ln in text.split("\n") for ln in folded)
    assert turn2.reexpanded == 1
    assert any(u.note.startswith("re-expanded for a later question") for u in turn2.units)
    # Still compressed: only what the new question needs came back.
    assert find_markers(text) and len(text) < 0.7 * len(_read_result(SOURCE))


def test_a_later_question_naming_what_a_marker_holds_gets_it_back():
    """The marker says "body of ArgumentParser.parse_args"; the body itself never says parse_args (its `def`
    line is kept): the question names the run by the name its marker gives it."""
    turn1 = compress_body("anthropic", _conversation(FIRST))
    folded = _body_of("parse_args")
    text1 = _first_result(turn1.body)
    assert not all(ln in text1.split("\n") for ln in folded[1:])
    assert any("body of ArgumentParser.parse_args" in m.summary for m in find_markers(text1))
    assert not any("parse_args" in ln for ln in folded[1:])
    later = _conversation(FIRST, ("Now change ArgumentParser.parse_args so it logs first. Which lines would you change?",
                                  None))
    turn2 = compress_body("anthropic", later)
    assert all(ln in _first_result(turn2.body).split("\n") for ln in folded)
    assert turn2.reexpanded == 1


def test_a_later_question_word_that_is_a_listed_definitions_name_gets_its_body_back():
    """"What does error do ...?": 'error' is everywhere in argparse.py, so as a plain word it names nothing, but
    the outline's marker lists ArgumentParser.error among the definitions it folds: that names it."""
    turn1 = compress_body("anthropic", _conversation(FIRST))
    text1 = _first_result(turn1.body)
    assert any("signatures and bodies: " in m.summary and "ArgumentParser.error" in m.summary
               for m in find_markers(text1))
    folded = _body_of("error")
    assert not all(ln in text1.split("\n") for ln in folded)
    turn2 = compress_body("anthropic", _conversation(FIRST, (
        "And what does error do with the message it is given? Quote the lines.", None)))
    assert all(ln in _first_result(turn2.body).split("\n") for ln in folded)
    assert turn2.reexpanded == 1


def test_the_reexpanded_form_is_stable_from_then_on_and_counted_once():
    later = ("And what does _get_values do with nargs?", None)
    turn2 = compress_body("anthropic", _conversation(FIRST, later))
    # The model goes on working on the same question: the output keeps its re-expanded bytes, and the
    # re-expansion carries the same id (the caller counts it once).
    body3 = _conversation(FIRST, ("And what does _get_values do with nargs?", str(SOURCE)))
    turn3 = compress_body("anthropic", body3)
    assert _first_result(turn3.body) == _first_result(turn2.body)
    assert turn3.reexpansions[:1] == turn2.reexpansions
    # A question that names nothing the output dropped changes nothing.
    turn4 = compress_body("anthropic", _conversation(FIRST, ("Thanks, that is clear.", None)))
    assert _first_result(turn4.body) == _first_result(compress_body("anthropic", _conversation(FIRST)).body)
    assert turn4.reexpanded == 0


def test_a_later_question_naming_a_dropped_log_line_gets_it_back():
    log = DPKG.read_text()
    # A package that appears on a single line of the log, which the first question does not mention.
    counts: dict[str, int] = {}
    for ln in log.split("\n"):
        parts = ln.split()
        if len(parts) > 3 and parts[2] in ("install", "upgrade", "remove", "purge"):
            name = parts[3].split(":")[0]
            counts[name] = counts.get(name, 0) + 1
    body = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Were any packages removed?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": json.dumps({"cmd": "cat /var/log/dpkg.log"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": log},
    ]}
    first = compress_body("openai_chat", body)
    text = first.body["messages"][2]["content"]
    drops = "\n".join(first.drops.values())
    rare = next(n for n, c in sorted(counts.items()) if c == 1 and n in drops and n not in text and len(n) > 4)
    wanted = [ln for ln in log.split("\n") if re.search(rf"(?<![\w-]){re.escape(rare)}:", ln)]  # its own lines
    body["messages"] += [{"role": "assistant", "content": "No packages were removed."},
                         {"role": "user", "content": f"When was {rare} installed?"}]
    again = compress_body("openai_chat", body).body["messages"][2]["content"]
    assert all(ln in again.split("\n") for ln in wanted)


def test_a_later_question_selecting_by_value_compresses_the_output_again(monkeypatch):
    """A selector (a threshold, an extreme, a negation) names no line, yet may select dropped ones: the
    output is compressed again for both questions and re-expanded only when that changes it."""
    import headroom.core.pipeline as pipeline
    from headroom.core.compressors.base import Compressed
    from headroom.core.compressors.query import parse_quantity, parse_query
    from headroom.core.markers import make_marker

    asked: list[str] = []

    def over_threshold(text, ctx, floor=None):  # keeps the rows whose size passes the question's conditions
        asked.append(ctx.query)
        q = parse_query(ctx.query)
        rows = text.split("\n")[1:]
        keep = [r for r in rows if any(c.accepts(parse_quantity(f"{r.split()[1]} KB")) for c in q.conditions)]
        gone = "\n".join(r for r in rows if r not in keep)
        marker, key = make_marker(f"{len(rows) - len(keep)} rows omitted", gone)
        return Compressed("\n".join([text.split("\n")[0], *keep, marker]), "table", "test", {key: gone})

    monkeypatch.setattr(pipeline, "compress_text", over_threshold)
    pipeline.clear_cache()
    # Installed-Size column of dpkg's status file for the packages in the real dpkg.log sample.
    sizes = sorted({ln.split()[3].split(":")[0] for ln in DPKG.read_text().split("\n") if len(ln.split()) > 3})
    table = "package size\n" + "\n".join(f"{name} {100 * (k % 50)}" for k, name in enumerate(sizes))
    body = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Which packages are over 4000 KB?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": table},
        {"role": "assistant", "content": "These."},
        {"role": "user", "content": "And which packages are over 3000 KB?"},
    ]}
    out = compress_body("openai_chat", body)
    text = out.body["messages"][2]["content"]
    assert all(r in text.split("\n") for r in table.split("\n")[1:] if float(r.split()[1]) > 3000)
    assert out.reexpanded == 1
    body["messages"][-1] = {"role": "user", "content": "And which packages are over 5000 KB?"}  # nothing new
    again = compress_body("openai_chat", body)
    assert again.reexpanded == 0
    # A selector about something this output does not hold is not tried on it at all.
    body["messages"][-1] = {"role": "user", "content": "Which requests took over 3000 ms?"}
    compress_body("openai_chat", body)
    assert not any("requests took" in q for q in asked)
    pipeline.clear_cache()


def test_a_name_found_in_most_dropped_runs_does_not_bring_them_all_back():
    # ruff's real report over h11: a later question about one file names a path that stands in many runs.
    report = (Path(__file__).resolve().parents[1] / "golden" / "inputs" / "diag_ruff_full_h11.txt").read_text()
    body = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Which ruff rules fire most often?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": report},
        {"role": "assistant", "content": "E501 mostly."},
    ]}
    first = compress_body("openai_chat", body)
    paths = re.findall(r"(?m)^\s*--> ([\w/.]+\.py):", report) or re.findall(r"(?m)^([\w/.]+\.py):\d+", report)
    common = max(set(paths), key=paths.count)
    holding = [k for k, v in first.drops.items() if common in v]
    if len(holding) <= max(1, len(first.drops) // 4):
        pytest.skip("no path of this report stands in most of its dropped runs")
    body["messages"].append({"role": "user", "content": f"What is wrong in {common}?"})
    again = compress_body("openai_chat", body)
    text = again.body["messages"][2]["content"]
    # What the recompression for the question keeps stays; the other runs holding the path stay folded.
    assert any(common in again.drops[m.key] for m in find_markers(text))
    assert len(text) < 0.8 * len(report)


def test_a_later_question_word_finds_a_dropped_name_it_is_part_of():
    from headroom.core.pipeline import _hits

    assert _hits("ansi", "def _strip_ansi(s):") and _hits("ansi", "stripAnsi(text)") and _hits("ansi", "ANSI")
    assert not _hits("ansi", "transient") and not _hits("send", "resend(x)")
