"""core.needed on real request bodies: real source files read the way Claude Code and Codex read them, compressed
by the real pipeline, then the model's next turn (an Edit, a Read, a sed, a quote, a retrieval) classified.

Which lines get folded is the compressor's business: every test finds a folded run in the real compressed
output first (by its marker and the drop it names), then builds the model's action from that run.
"""
from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import urllib.parse as urlparse_module
from dataclasses import dataclass
from email import message as email_message
from pathlib import Path

import pytest

from headroom.core import markers, needed
from headroom.core.markers import find_markers
from headroom.core.needed import GUESSED, MIN_EVIDENCE_CHARS, MIN_QUOTE_CHARS, REREAD, classify
from headroom.core.pipeline import compress_body

MODEL = "claude-sonnet-4-5"
SOURCE = Path(email_message.__file__)  # a real module, ~1,200 lines of classes and functions
QUESTION = "What does get_content_type return when the message has no Content-Type header?"


def claude_read(path: Path, offset: int = 1, limit: int | None = None, arrow: bool = False) -> str:
    """A Claude Code Read result: each line prefixed with its file line number and a tab (older versions:
    right-aligned in six columns and an arrow)."""
    lines = path.read_text().splitlines()
    end = len(lines) if limit is None else min(len(lines), offset - 1 + limit)
    fmt = "{:6d}\u2192{}" if arrow else "{}\t{}"
    return "\n".join(fmt.format(n, lines[n - 1]) for n in range(offset, end + 1))


def tool_use(ident: str, name: str, **input_) -> dict:
    return {"type": "tool_use", "id": ident, "name": name, "input": input_}


def tool_result(ident: str, content: str) -> dict:
    return {"type": "tool_result", "tool_use_id": ident, "content": content}


def claude_body(*turns: tuple[list[dict], list[dict]], question: str = QUESTION, arrow: bool = False) -> dict:
    """A Claude Code /v1/messages body: the question, the Read of SOURCE, then each (assistant blocks, results)."""
    messages = [{"role": "user", "content": [{"type": "text", "text": question}]},
                {"role": "assistant", "content": [tool_use("toolu_read", "Read", file_path=str(SOURCE))]},
                {"role": "user", "content": [tool_result("toolu_read", claude_read(SOURCE, arrow=arrow))]}]
    for blocks, results in turns:
        messages.append({"role": "assistant", "content": blocks})
        if results:
            messages.append({"role": "user", "content": results})
    return {"model": MODEL, "max_tokens": 4096, "stream": True, "messages": messages}


@dataclass(frozen=True)
class Run:
    key: str
    numbers: list[int]  # the file lines it holds
    lines: list[str]  # their text, as in the file (no number prefix)


def folded_runs(text: str, drops) -> list[Run]:
    """The runs a compressed tool output folded, with lines long enough to be evidence, in output order."""
    runs = []
    for m in find_markers(text):
        if m.key not in drops:
            continue
        numbered = [ln.split("\t", 1) if "\t" in ln else ln.split("\u2192", 1) for ln in drops[m.key].splitlines()]
        numbers = [int(n) for n, _ in numbered]
        lines = [t for _, t in numbered]
        if sum(len(t.strip()) >= MIN_QUOTE_CHARS for t in lines) >= 2:
            runs.append(Run(m.key, numbers, lines))
    return runs


@pytest.fixture(scope="module")
def first():
    """The first request: the question and the Read, compressed by the real pipeline."""
    body = claude_body()
    out = compress_body("anthropic", body)
    text = out.body["messages"][2]["content"][0]["content"]
    runs = folded_runs(text, out.drops)
    assert len(runs) >= 3, "the Read of a 1,200-line module is folded in several runs"
    return body, out, text, runs


def unshown_line(run: Run, shown: str, min_chars: int = MIN_QUOTE_CHARS, source: str | None = None) -> str:
    """A line of `run` that is nowhere in what the model was shown (and, given the file's `source`, once only
    in it: a line several folded runs share would be a guess from each of them)."""
    return next(t for t in run.lines if len(t.strip()) >= min_chars and t.strip() not in shown
                and (source is None or source.count(t.strip()) == 1))


def next_turn(body: dict, blocks: list[dict], results: list[dict]) -> dict:
    return {**body, "messages": body["messages"] + [{"role": "assistant", "content": blocks},
                                                    {"role": "user", "content": results}]}


def judge(provider: str, body: dict, **kw) -> list[tuple[str, str, str]]:
    out = compress_body(provider, body)
    return sorted((n.kind, n.key, n.via) for n in classify(provider, body, out, **kw))


# --- Claude Code -----------------------------------------------------------------------------------------

def test_an_edit_of_a_folded_line_never_shown_is_a_guess(first):
    body, _, text, runs = first
    run = runs[1]
    old = unshown_line(run, text)
    b = next_turn(body, [{"type": "text", "text": "I'll fix it."},
                         tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=old, new_string=old + "  # x")],
                  [tool_result("toolu_e", f"The file {SOURCE} has been updated.")])
    assert judge("anthropic", b) == [(GUESSED, run.key, "Edit")]


def test_an_edit_of_lines_it_was_shown_is_no_guess(first):
    body, _, text, _ = first
    kept = [ln.split("\t", 1)[1] for ln in text.splitlines()
            if "\t" in ln and ln.split("\t", 1)[0].isdigit() and len(ln.split("\t", 1)[1].strip()) >= MIN_QUOTE_CHARS]
    old = "\n".join(kept[3:5])  # two kept lines (a signature, a docstring's first line...)
    b = next_turn(body, [tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=old, new_string="pass")],
                  [tool_result("toolu_e", "The file has been updated.")])
    assert judge("anthropic", b) == []


def test_a_read_into_the_folded_range_is_a_re_read(first):
    body, _, _, runs = first
    run = runs[2]
    offset, limit = run.numbers[0], len(run.numbers)
    b = next_turn(body, [tool_use("toolu_r", "Read", file_path=str(SOURCE), offset=offset, limit=limit)],
                  [tool_result("toolu_r", claude_read(SOURCE, offset, limit))])
    assert judge("anthropic", b) == [(REREAD, run.key, "Read")]


def test_a_read_of_kept_lines_needs_nothing(first):
    body, out, _, _ = first
    folded = {int(ln.split("\t", 1)[0]) for d in out.drops.values() for ln in d.splitlines()}
    start = next(n for n in range(40, 2000) if not folded & set(range(n, n + 5)))
    b = next_turn(body, [tool_use("toolu_r", "Read", file_path=str(SOURCE), offset=start, limit=5)],
                  [tool_result("toolu_r", claude_read(SOURCE, start, 5))])
    assert judge("anthropic", b) == []


def test_once_re_read_the_run_is_shown_so_a_later_edit_is_no_guess(first):
    body, _, text, runs = first
    run = runs[1]
    offset, limit = run.numbers[0], len(run.numbers)
    b = next_turn(body, [tool_use("toolu_r", "Read", file_path=str(SOURCE), offset=offset, limit=limit)],
                  [tool_result("toolu_r", claude_read(SOURCE, offset, limit))])
    old = unshown_line(run, text)
    b = next_turn(b, [tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=old, new_string="x")],
                  [tool_result("toolu_e", "The file has been updated.")])
    assert judge("anthropic", b) == []  # and the re-read was counted in the request before, as its newest turn


def test_a_retrieved_run_is_no_guess(first):
    body, _, text, runs = first
    run = runs[1]
    b = next_turn(body, [tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=unshown_line(run, text),
                                  new_string="x")], [tool_result("toolu_e", "The file has been updated.")])
    assert judge("anthropic", b, retrieved=[run.key]) == []  # the relay answered it earlier in the conversation


def test_a_retrieval_spliced_back_into_the_history_makes_the_run_shown(first):
    """After a proxy restart the relay's memory is gone, but the hidden exchange is back in the body sent."""
    body, _, text, runs = first
    run = runs[1]
    edit = [tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=unshown_line(run, text), new_string="x")]
    b = next_turn(body, edit, [tool_result("toolu_e", "The file has been updated.")])
    out = compress_body("anthropic", b)
    sent = json.loads(json.dumps(out.body))
    hidden = [{"role": "assistant", "content": [tool_use("toolu_h", "headroom_retrieve", key=run.key)]},
              {"role": "user", "content": [tool_result("toolu_h", "...")]}]
    sent["messages"][3:3] = hidden
    assert [n.kind for n in classify("anthropic", b, out)] == [GUESSED]
    assert classify("anthropic", b, out, sent=sent) == ()


def test_parallel_read_and_edit_in_one_turn_count_both(first):
    """Calls of one assistant message are made together: the Edit could not use the Read's result."""
    body, _, text, runs = first
    run = runs[1]
    offset, limit = run.numbers[0], len(run.numbers)
    b = next_turn(body, [tool_use("toolu_r", "Read", file_path=str(SOURCE), offset=offset, limit=limit),
                         tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=unshown_line(run, text),
                                  new_string="x")],
                  [tool_result("toolu_r", claude_read(SOURCE, offset, limit)),
                   tool_result("toolu_e", "The file has been updated.")])
    assert judge("anthropic", b) == [(GUESSED, run.key, "Edit"), (REREAD, run.key, "Read")]


def test_multiedit_and_an_edit_of_another_file(first):
    body, _, text, runs = first
    run = runs[2]
    old = unshown_line(run, text, source=SOURCE.read_text())
    multi = tool_use("toolu_m", "MultiEdit", file_path=str(SOURCE), edits=[{"old_string": old, "new_string": "x"}])
    b = next_turn(body, [multi], [tool_result("toolu_m", "Applied 1 edit.")])
    assert judge("anthropic", b) == [(GUESSED, run.key, "MultiEdit")]
    other = tool_use("toolu_o", "Edit", file_path="/elsewhere/other.py", old_string=old, new_string="x")
    b = next_turn(body, [other], [tool_result("toolu_o", "The file has been updated.")])
    assert judge("anthropic", b) == []  # a line shared with another file is not this run's


def test_assistant_text_quoting_a_dropped_line_is_a_guess_and_a_shown_one_is_not(first):
    body, _, text, runs = first
    run = runs[1]
    quote = unshown_line(run, text).strip()
    assert len(quote) >= MIN_QUOTE_CHARS
    b = {**body, "messages": body["messages"] + [
        {"role": "assistant", "content": [{"type": "text",
                                           "text": f"The code does `{quote}`, so it returns text/plain."}]},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]}]}
    assert judge("anthropic", b) == [(GUESSED, run.key, "text")]
    signature = next(ln.split("\t", 1)[1].strip() for ln in text.splitlines()
                     if "\t" in ln and ln.split("\t", 1)[1].strip().startswith("def get_content_type"))
    b["messages"][-2]["content"][0]["text"] = f"See `{signature}`."
    assert judge("anthropic", b) == []


def test_older_arrow_format_re_read_by_line_numbers():
    body = claude_body(arrow=True)
    out = compress_body("anthropic", body)
    text = out.body["messages"][2]["content"][0]["content"]
    runs = folded_runs(text, out.drops)
    run = runs[0]
    b = next_turn(body, [tool_use("toolu_r", "Read", file_path=str(SOURCE), offset=run.numbers[0], limit=5)],
                  [tool_result("toolu_r", claude_read(SOURCE, run.numbers[0], 5, arrow=True))])
    assert judge("anthropic", b) == [(REREAD, run.key, "Read")]


def test_the_newest_outputs_own_drops_are_not_earlier_needs():
    """The first Read itself, as the newest turn: what it folded, the model has not had a chance to need."""
    body = claude_body()
    assert judge("anthropic", body) == []
    assert judge("anthropic", {**body, "messages": body["messages"][:1]}) == []  # no turn of the model's yet


def test_a_grep_result_holding_a_dropped_line_is_a_re_read(first):
    body, _, text, runs = first
    run = runs[1]
    line = unshown_line(run, text)
    n = run.numbers[run.lines.index(line)]
    grep = tool_use("toolu_g", "Grep", pattern=line.strip()[:20], path=str(SOURCE.parent), output_mode="content",
                    **{"-n": True})
    b = next_turn(body, [grep], [tool_result("toolu_g", f"{SOURCE}:{n}:{line}")])
    assert judge("anthropic", b) == [(REREAD, run.key, "Grep")]


def test_nothing_is_kept_but_kinds_and_keys(first):
    body, _, text, runs = first
    b = next_turn(body, [tool_use("toolu_e", "Edit", file_path=str(SOURCE), old_string=unshown_line(runs[1], text),
                                  new_string="x")], [tool_result("toolu_e", "ok")])
    (need,) = classify("anthropic", b, compress_body("anthropic", b))
    assert set(vars(need)) == {"kind", "key", "via"} and len(need.key) == markers.KEY_DIGITS and need.via == "Edit"


# --- Codex (Responses) -----------------------------------------------------------------------------------

CODEX_SOURCE = Path(urlparse_module.__file__)


def exec_header(output: str) -> str:
    """Codex's exec_command output: its header, then what the command printed."""
    return (f"Chunk ID: 4f1c2a\nWall time: 0.0213 seconds\nProcess exited with code 0\n"
            f"Original token count: {len(output) // 4}\nOutput:\n{output}")


def run_shell(cmd: str) -> str:
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True,
                          cwd=CODEX_SOURCE.parent).stdout


def exec_js(cmd: str) -> str:
    """Codex 0.16x's `exec` tool input: JavaScript calling the nested exec_command tool."""
    return f"const r = await tools.exec_command({{cmd: {json.dumps(cmd)}, login: false}});\ntext(r.output);\n"


def codex_body(items: list[dict]) -> dict:
    return {"model": "gpt-5-codex", "stream": True, "instructions": "You are Codex.", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text":
            "Which function splits the netloc into user, password, host and port?"}]},
        *items]}


def custom_call(ident: str, name: str, input_: str) -> dict:
    return {"type": "custom_tool_call", "id": f"ctc_{ident}", "call_id": ident, "name": name, "input": input_,
            "status": "completed"}


def custom_output(ident: str, output: str) -> dict:
    """The `exec` tool's output as Codex 0.169 sends it: a status part, then what the script passed to text()."""
    return {"type": "custom_tool_call_output", "call_id": ident, "output": [
        {"type": "input_text", "text": "Script completed\nWall time 0.1 seconds\nOutput:\n"},
        {"type": "input_text", "text": output}]}


@pytest.fixture(scope="module")
def codex_first():
    if shutil.which("nl") is None:
        pytest.fail("coreutils' nl is needed to read files the way Codex does")
    cmd = f"nl -ba {CODEX_SOURCE.name} | sed -n '1,1400p'"
    items = [custom_call("call_1", "exec", exec_js(cmd)), custom_output("call_1", run_shell(cmd))]
    body = codex_body(items)
    out = compress_body("openai_responses", body)
    text = out.body["input"][2]["output"][1]["text"]
    runs = folded_runs(text, out.drops)
    assert len(runs) >= 2
    return body, out, text, runs


def test_codex_sed_into_a_folded_range_is_a_re_read(codex_first):
    body, _, _, runs = codex_first
    run = runs[0]
    cmd = f"nl -ba {CODEX_SOURCE.name} | sed -n '{run.numbers[0]},{run.numbers[-1]}p'"
    b = {**body, "input": body["input"] + [custom_call("call_2", "exec", exec_js(cmd)),
                                           custom_output("call_2", run_shell(cmd))]}
    assert judge("openai_responses", b) == [(REREAD, run.key, "exec_command")]


def test_codex_function_call_sed_without_numbers_is_a_re_read_by_content(codex_first):
    body, _, _, runs = codex_first
    run = runs[0]
    cmd = f"sed -n '{run.numbers[0]},{run.numbers[-1]}p' {CODEX_SOURCE.name}"
    b = {**body, "input": body["input"] + [
        {"type": "function_call", "call_id": "call_3", "name": "exec_command", "arguments": json.dumps({"cmd": cmd})},
        {"type": "function_call_output", "call_id": "call_3", "output": exec_header(run_shell(cmd))}]}
    assert judge("openai_responses", b) == [(REREAD, run.key, "exec_command")]


def test_codex_apply_patch_on_unseen_context_is_a_guess(codex_first):
    body, _, text, runs = codex_first
    run = runs[0]
    line = unshown_line(run, text, MIN_EVIDENCE_CHARS)
    patch = (f"*** Begin Patch\n*** Update File: {CODEX_SOURCE.name}\n@@\n {line}\n-{line}\n+{line}  # changed\n"
             "*** End Patch\n")
    b = {**body, "input": body["input"] + [custom_call("call_4", "apply_patch", patch),
                                           custom_output("call_4", "Success. Updated the following files:\nM x")]}
    assert judge("openai_responses", b) == [(GUESSED, run.key, "apply_patch")]
    # The same patch sent through the exec tool's JavaScript (a quoted string with escaped newlines).
    js = f"await tools.apply_patch({json.dumps(patch)});\n"
    b = {**body, "input": body["input"] + [custom_call("call_5", "exec", js), custom_output("call_5", "Success.")]}
    assert judge("openai_responses", b) == [(GUESSED, run.key, "apply_patch")]


def test_conversation_id_is_stable_across_turns_and_differs_between_conversations(first, codex_first):
    body = first[0]
    later = next_turn(body, [{"type": "text", "text": "done"}], [{"type": "text", "text": "ok"}])
    assert needed.conversation_id("anthropic", body) == needed.conversation_id("anthropic", later)
    other = claude_body(question="Why does set_payload fail on bytes?")
    assert needed.conversation_id("anthropic", body) != needed.conversation_id("anthropic", other)
    assert len(needed.conversation_id("openai_responses", codex_first[0])) == 16
    # Codex starts every session in a directory with the same environment context: its session id tells them apart.
    one, two = ({**codex_first[0], "prompt_cache_key": k} for k in ("01a23269-edb4", "7f00c1d2-aa01"))
    assert needed.conversation_id("openai_responses", one) != needed.conversation_id("openai_responses", two)
    # The same history sent to another model (a summary, a side task) is the same conversation: counted once.
    assert needed.conversation_id("anthropic", {**body, "model": "claude-haiku-4-5"}) == needed.conversation_id(
        "anthropic", body)


def test_unknown_shapes_and_unchanged_outcomes_classify_nothing(first):
    body, out, _, _ = first
    assert classify("gemini", body, out) == ()
    assert classify("anthropic", body, compress_body("anthropic", {"model": MODEL, "messages": []})) == ()
    assert classify("anthropic", {"messages": "nonsense"}, out) == ()


def test_the_source_files_are_real_and_large():
    assert len(inspect.getsource(email_message).splitlines()) > 800
    assert len(CODEX_SOURCE.read_text().splitlines()) > 800


# --- OpenAI Chat and Gemini (an SDK agent's own read_file tool, the file's text without numbers) ------------

def chat_body(*extra: dict) -> dict:
    return {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "How does urlsplit handle an IPv6 netloc?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "read_file", "arguments": json.dumps({"path": str(CODEX_SOURCE)})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": CODEX_SOURCE.read_text()},
        *extra]}


def plain_runs(text: str, drops) -> list[Run]:
    runs = []
    for m in find_markers(text):
        lines = drops.get(m.key, "").splitlines()
        if sum(len(t.strip()) >= MIN_QUOTE_CHARS for t in lines) >= 2:
            runs.append(Run(m.key, [], lines))
    return runs


def test_chat_quote_and_re_read_by_content():
    body = chat_body()
    out = compress_body("openai_chat", body)
    text = out.body["messages"][2]["content"]
    run = plain_runs(text, out.drops)[0]
    quote = unshown_line(run, text).strip()
    said = chat_body({"role": "assistant", "content": f"It runs `{quote}` first."},
                     {"role": "user", "content": "and then?"})
    assert judge("openai_chat", said) == [(GUESSED, run.key, "text")]
    again = chat_body({"role": "assistant", "content": None, "tool_calls": [{"id": "call_2", "type": "function",
                       "function": {"name": "grep", "arguments": json.dumps({"pattern": quote[:12]})}}]},
                      {"role": "tool", "tool_call_id": "call_2", "content": quote})
    assert judge("openai_chat", again) == [(REREAD, run.key, "grep")]


def test_gemini_function_response_lines_are_lines():
    def body(*extra):
        return {"contents": [
            {"role": "user", "parts": [{"text": "How does urlsplit handle an IPv6 netloc?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {"path": str(CODEX_SOURCE)}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read_file",
                                                             "response": {"output": CODEX_SOURCE.read_text()}}}]},
            *extra]}

    out = compress_body("gemini", body(), path="/v1beta/models/gemini-2.5-pro:generateContent")
    text = out.body["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]
    runs = plain_runs(text, out.drops)
    assert runs
    quote = unshown_line(runs[0], text).strip()
    said = body({"role": "model", "parts": [{"text": f"It does `{quote}`."}]},
                {"role": "user", "parts": [{"text": "ok"}]})
    assert [n.kind for n in classify("gemini", said, compress_body("gemini", said))] == [GUESSED]
    # A second read_file returning the run's lines (paired with its call by name, as Gemini does): a re-read.
    again = body({"role": "model", "parts": [{"functionCall": {"name": "grep", "args": {"pattern": quote[:12]}}}]},
                 {"role": "user", "parts": [{"functionResponse": {"name": "grep", "response": {
                     "output": "\n".join(runs[0].lines[:5])}}}]})
    assert [(n.kind, n.key) for n in classify("gemini", again, compress_body("gemini", again))] == [
        (REREAD, runs[0].key)]


def test_codex_a_read_that_failed_is_no_re_read(codex_first):
    """Seen with the real Codex: a script error instead of the lines. The model asked, but got nothing back."""
    body, _, _, runs = codex_first
    run = runs[0]
    cmd = f"nl -ba {CODEX_SOURCE.name} | sed -n '{run.numbers[0]},{run.numbers[-1]}p'"
    failed = {"type": "custom_tool_call_output", "call_id": "call_6", "output": [
        {"type": "input_text", "text": "Script failed\nWall time 0.0 seconds\nOutput:\n"},
        {"type": "input_text", "text": "Script error:\nSyntaxError: missing ) after argument list"}]}
    b = {**body, "input": body["input"] + [custom_call("call_6", "exec", exec_js(cmd)), failed]}
    assert judge("openai_responses", b) == []


# --- as a property, over several real modules -------------------------------------------------------------

SWEEP = [Path(m.__file__) for m in (__import__("argparse"), __import__("calendar"), __import__("shutil"),
                                    __import__("tarfile"), __import__("email.message").message)]


@pytest.mark.parametrize("source", SWEEP, ids=lambda p: p.name)
def test_edits_of_shown_lines_are_never_guesses_and_of_unseen_lines_always_are(source):
    """Edit old_strings taken from every part of a real module: a line the compressed Read showed is never
    a guess; a line only inside one folded run is a guess of exactly that run."""
    question = f"What does the main class of {source.stem} do on errors?"
    first = {"model": MODEL, "max_tokens": 1024, "messages": [
        {"role": "user", "content": question},
        {"role": "assistant", "content": [tool_use("toolu_read", "Read", file_path=str(source))]},
        {"role": "user", "content": [tool_result("toolu_read", claude_read(source))]}]}
    out = compress_body("anthropic", first)
    view = out.body["messages"][2]["content"][0]["content"]
    shown = {ln.split("\t", 1)[1].strip() for ln in view.splitlines() if "\t" in ln}
    owner: dict[str, set[str]] = {}
    for m in find_markers(view):
        for ln in out.drops.get(m.key, "").splitlines():
            owner.setdefault(ln.split("\t", 1)[-1].strip(), set()).add(m.key)
    kept = sorted(t for t in shown if len(t) >= MIN_EVIDENCE_CHARS)
    unseen = sorted(t for t, keys in owner.items() if len(t) >= MIN_EVIDENCE_CHARS and t not in shown)
    assert kept and unseen, "a folded Read has both"
    step_k, step_u = max(1, len(kept) // 15), max(1, len(unseen) // 15)
    for line, expect in [(t, set()) for t in kept[::step_k]] + [(t, owner[t]) for t in unseen[::step_u]]:
        b = next_turn(first, [tool_use("toolu_e", "Edit", file_path=str(source), old_string="    " + line,
                                       new_string="pass")], [tool_result("toolu_e", "The file has been updated.")])
        got = classify("anthropic", b, compress_body("anthropic", b))
        assert {n.key for n in got} == expect and {n.kind for n in got} <= {GUESSED}, line


def test_one_answer_split_over_consecutive_assistant_messages_is_one_turn(first):
    body, _, text, runs = first
    source = SOURCE.read_text()
    quote = unshown_line(runs[2], text, source=source).strip()
    b = {**body, "messages": body["messages"] + [
        {"role": "assistant", "content": [{"type": "text", "text": f"It calls `{quote}`."}]},
        {"role": "assistant", "content": [tool_use("toolu_e", "Edit", file_path=str(SOURCE),
                                                   old_string=unshown_line(runs[1], text, source=source),
                                                   new_string="x")]},
        {"role": "user", "content": [tool_result("toolu_e", "The file has been updated.")]}]}
    assert judge("anthropic", b) == sorted([(GUESSED, runs[1].key, "Edit"), (GUESSED, runs[2].key, "text")])


# --- on the captured agent corpus (real Claude Code and Codex requests, headroom/evals/data) ---------------

def _corpus():
    from headroom.evals.agents import agent_cases

    try:
        return agent_cases()
    except FileNotFoundError:  # scripts/capture_agents.py writes it: skipped until then here, a failure in CI
        from tests.e2e.agents import unavailable

        unavailable("the captured agent corpus headroom/evals/data/agents.jsonl.gz is missing: "
                    "run scripts/capture_agents.py")


def _outputs_before_newest(provider: str, body: dict) -> list[str]:
    from headroom.core.needed import _view

    return [text for _, text in _view(provider, body).before_results]


def _with_edit(case, fact: str) -> dict:
    """The case's body, then the model's next turn: an edit whose old_string is `fact` (Claude Code's Edit,
    Codex's apply_patch) of the file whose output holds it, and the tool's answer."""
    from headroom.core.needed import _target, _view

    made_by = next((call for call, text in _view(case.provider, case.body).before_results + [
        (None, t) for t in _view(case.provider, case.body).after_results.values()] if fact in text), None)
    file = (_target(made_by)[0] if made_by is not None else None) or ""
    if case.provider == "anthropic":
        return next_turn(case.body, [tool_use("toolu_sim", "Edit", file_path=file, old_string=fact, new_string="x")],
                         [tool_result("toolu_sim", "The file has been updated.")])
    patch = f"*** Begin Patch\n*** Update File: {file}\n@@\n-{fact}\n+x\n*** End Patch\n"
    return {**case.body, "input": case.body["input"] + [custom_call("call_sim", "apply_patch", patch),
                                                       custom_output("call_sim", "Success.")]}


def test_on_every_captured_request_needs_name_earlier_drops_only():
    for case in _corpus():
        out = compress_body(case.provider, case.body, path=case.path)
        earlier = {m.key for text in _outputs_before_newest(case.provider, out.body) for m in find_markers(text)}
        for need in classify(case.provider, case.body, out):
            assert need.key in out.drops and need.key in earlier, (case.id, need)


def test_on_captured_requests_an_edit_of_a_needed_fact_is_a_guess_exactly_when_the_fact_was_folded():
    """Each case's facts are the lines its question needs. Were the model to edit one next turn without
    fetching it: a fact the compressed request showed whole is no guess; one only inside a drop always is."""
    checked = {"shown": 0, "folded": 0}
    for case in _corpus():
        for fact in case.facts:
            line = needed._line(fact)[1]
            if "\n" in fact.strip() or len(line) < MIN_EVIDENCE_CHARS:
                continue  # not a line of its own
            body = _with_edit(case, fact)
            out = compress_body(case.provider, body, path=case.path)
            outputs = _outputs_before_newest(case.provider, out.body)
            shown = needed._texts_of_lines("\n".join(outputs))
            folded = needed._texts_of_lines("\n".join(out.drops[m.key] for t in outputs for m in find_markers(t)
                                                       if m.key in out.drops))
            kinds = [n.kind for n in classify(case.provider, body, out)]
            if line in shown:
                assert kinds == [], (case.id, fact, kinds)
                checked["shown"] += 1
            elif line in folded:
                assert GUESSED in kinds, (case.id, fact, kinds)
                checked["folded"] += 1
    assert checked["shown"] >= 10, checked  # the corpus is mostly kept verbatim; a few facts may be folded
