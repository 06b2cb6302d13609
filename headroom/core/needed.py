"""Dropped, then needed: what the model did in its newest turn about lines dropped from earlier tool outputs.

An agent resends its whole conversation every turn, so each request shows the proxy what the model did
with the compressed outputs it was given: the model's newest turn (the last assistant message, or the
last run of model items in a Responses input) and, after it, the results of its tool calls. Every
assistant turn is the newest in exactly one request, so classifying only that turn counts each action
once (a retried request repeats it: the caller dedupes by conversation, kind and run).

For each dropped run (one marker key) of a tool output that came BEFORE the newest turn, the turn may:

- **re-read** it: a tool call whose result (as the agent's tool returned it) holds lines of the run the
  model had not been shown, or a Read / `sed -n A,Bp` / `nl -ba` / `cat -n` of the same file whose result
  carries line numbers of the run (the agent's own tool, as the marker's hint says);
- **guess** it: an Edit / MultiEdit `old_string` or an apply_patch's context and removed lines that hold
  lines of the run the model was never shown (in no compressed output, message or call it saw, and not
  retrieved), or assistant text quoting a whole such line of at least MIN_QUOTE_CHARS characters.

`headroom_retrieve` calls (retrieved) are counted where the relay answers them; their keys, from the relay
or from the hidden exchanges spliced back into a later body, make a run "shown" here.

Sans-IO and pure: bodies and an Outcome in, small frozen results out. Nothing here keeps content: a Need
holds a kind, a marker key and the kind of action.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from headroom.core.markers import KEY_DIGITS, KEY_HEX_CHARS, RETRIEVE_TOOL_NAME, find_markers
from headroom.core.providers import ToolCall, get_provider

__all__ = [
    "GUESSED",
    "KINDS",
    "MIN_EVIDENCE_CHARS",
    "MIN_QUOTE_CHARS",
    "READ_DEFAULT_LIMIT",
    "REREAD",
    "RETRIEVED",
    "Need",
    "classify",
    "conversation_id",
    "retrieved_keys",
]

RETRIEVED, REREAD, GUESSED = "retrieved", "re-read", "guessed"
KINDS = (RETRIEVED, REREAD, GUESSED)

# A line is evidence of where the model got it only if it is specific: shorter lines (`}`, `pass`,
# `else:`, `return x`) recur across any code base, so writing one proves nothing about a dropped run.
MIN_EVIDENCE_CHARS = 10
# Prose can echo a short fragment by chance; a whole dropped line this long, quoted, was read or guessed.
MIN_QUOTE_CHARS = 30
# Claude Code's Read returns at most this many lines when no `limit` is given (its tool description).
READ_DEFAULT_LIMIT = 2000
FIRST_MESSAGE_CHARS = 512  # a conversation is told apart by its start, as the holdout does

# `  12\tcode` (Claude Code Read, cat -n, nl -ba) and `    12→code` (older Claude Code).
_NUMBERED = re.compile(r"^\s*(\d+)(?:\t|\u2192)(.*)$")
_PREFIXES = re.compile(r"^[ \t]*\d+(?:\t|\u2192)", re.M)
_NUMBERED_LINES = re.compile(r"^[ \t]*(\d+)(?:\t|\u2192)(.*)$", re.M)
_PREFIX_NUMBERS = re.compile(r"^[ \t]*(\d+)(?:\t|\u2192)", re.M)
_SED_RANGE = re.compile(r"\bsed\s+(?:-[a-zA-Z]*n[a-zA-Z]*\s+)(['\"]?)(\d+)(?:,(\d+))?p\1(?:\s+([^\s|;&<>'\"]+))?")
_NUMBERING_CMD = re.compile(r"\b(?:nl\s+(?:-[a-zA-Z]+\s+)*|cat\s+-n\s+)([^\s|;&<>'\"-][^\s|;&<>'\"]*)")
_GREP_LINE = re.compile(r"^(?:[^\s:]+?[:-])?\d+[:-](.*)$")
_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Delete) File: (.+?)\s*$")
_JS_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_JS_TEMPLATE = re.compile(r"`([^`]*)`")
_EDIT_ARGS = ("old_string", "edits")


@dataclass(frozen=True)
class Need:
    """One dropped run the model needed in its newest turn: how, which run, and by what kind of action."""

    kind: str  # REREAD or GUESSED (RETRIEVED is counted by the relay)
    key: str  # the marker key of the dropped run
    via: str  # the action's kind: "Read", "exec_command", "Edit", "apply_patch", "text", ...


@dataclass
class _View:
    """A body as the model's turns: what came before its newest turn, the turn, and what followed."""

    before_texts: list[str] = field(default_factory=list)  # every text the model saw before its newest turn
    before_results: list[tuple[ToolCall | None, str]] = field(default_factory=list)
    newest_calls: list[ToolCall] = field(default_factory=list)
    newest_texts: list[str] = field(default_factory=list)
    after_results: dict[str, str] = field(default_factory=dict)  # call id -> result text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _turns(events: Iterable[tuple[int, bool, tuple[Any, ...]]]) -> list[tuple[int, bool, tuple[Any, ...]]]:
    """Events numbered by turn: consecutive messages of one side are one turn (a client may split one answer
    into several assistant messages; Responses lists a turn's items one by one)."""
    out, turn, side = [], 0, None
    for _, model, ev in events:
        if model != side:
            turn, side = turn + 1, model
        out.append((turn, model, ev))
    return out


def _view(provider: str, body: dict[str, Any]) -> _View:
    events = _turns(get_provider(provider).conversation(body))
    newest = max((turn for turn, model, _ in events if model), default=None)
    v = _View()
    calls: dict[str, ToolCall] = {}
    for turn, model, ev in events:
        if ev[0] == "call":
            calls[ev[1].id] = ev[1]
        if newest is None or turn < newest:
            if ev[0] == "result":
                v.before_results.append((calls.get(ev[1]), ev[2]))
                v.before_texts.append(ev[2])
            elif ev[0] == "call":
                v.before_texts.extend(_strings(ev[1].args))
            else:
                v.before_texts.append(ev[1])
        elif turn == newest:
            if ev[0] == "call":
                v.newest_calls.append(ev[1])
            elif ev[0] == "text" and model:
                v.newest_texts.append(ev[1])
        elif ev[0] == "result":
            v.after_results[ev[1]] = ev[2]
    if newest is None:
        v.before_results, v.before_texts = [], []  # no turn of the model's yet: nothing it did to classify
    return v


# --- lines, files and ranges ---------------------------------------------------------------------------

def _line(raw: str) -> tuple[int | None, str]:
    """(file line number if the line carries one, its text without the number and outer whitespace)."""
    m = _NUMBERED.match(raw)
    if m:
        return int(m.group(1)), m.group(2).strip()
    return None, raw.strip()


def _texts_of_lines(text: str) -> set[str]:
    # One regex pass over the whole text, not one per line: a long session resends megabytes of outputs.
    return set(map(str.strip, _PREFIXES.sub("", text).splitlines())) - {""}


def _result_lines(text: str) -> set[str]:
    """The line texts a tool returned, also read as grep's `path:N:text` / `path-N-text` (its context lines)."""
    out = _texts_of_lines(text)
    for raw in text.splitlines():
        m = _GREP_LINE.match(raw)
        if m and m.group(1).strip():
            out.add(m.group(1).strip())
    return out


def _numbers(text: str) -> set[int]:
    return set(map(int, _PREFIX_NUMBERS.findall(text)))


def _free_text(value: Any) -> Iterator[str]:
    """Every string of a call's arguments, and the string literals inside free-form code (Codex's `exec`
    tool takes JavaScript whose tool calls carry the command or patch as quoted strings)."""
    for s in _strings(value):
        yield s
        if "\\n" in s or "`" in s:
            for lit in _JS_STRING.findall(s):
                try:
                    decoded = json.loads(lit)
                except ValueError:
                    continue
                if isinstance(decoded, str) and "\n" in decoded:
                    yield decoded
            yield from _JS_TEMPLATE.findall(s)


def _same_file(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    a, b = a.strip().removeprefix("./"), b.strip().removeprefix("./")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _target(call: ToolCall) -> tuple[str | None, tuple[int, int] | None]:
    """The file a call reads or edits and the line range it reads (1-based, inclusive), when it says."""
    args = call.args
    if isinstance(args, dict) and isinstance(args.get("file_path"), str):
        if any(k in args for k in _EDIT_ARGS) or "content" in args:
            return args["file_path"], None
        try:
            offset = max(1, int(args.get("offset") or 1))
            limit = int(args.get("limit") or READ_DEFAULT_LIMIT)
        except (TypeError, ValueError):
            return args["file_path"], None
        return args["file_path"], (offset, offset + max(1, limit) - 1)
    for s in _free_text(args):
        sed, numbered = _SED_RANGE.search(s), _NUMBERING_CMD.search(s)
        path = (numbered.group(1) if numbered else None) or (sed.group(4) if sed else None)
        if sed:
            first = int(sed.group(2))
            return path, (first, int(sed.group(3) or first))
        if path:
            return path, None
    return None, None


def _removed_lines(call: ToolCall) -> tuple[str | None, list[str]] | None:
    """(file, the lines the edit expects to find) for an Edit / MultiEdit / apply_patch call, else None."""
    args = call.args
    if isinstance(args, dict) and isinstance(args.get("file_path"), str) and any(k in args for k in _EDIT_ARGS):
        olds = [args.get("old_string")] + [e.get("old_string") for e in args.get("edits") or () if isinstance(e, dict)]
        return args["file_path"], [ln for s in olds if isinstance(s, str) for ln in s.splitlines()]
    for s in _free_text(args):
        if "*** Begin Patch\n" not in s:  # a patch as the tool reads it, not still quoted inside code
            continue
        path, lines = None, []
        for ln in s.splitlines():
            m = _PATCH_FILE.match(ln)
            if m:
                path = m.group(1)
            elif ln[:1] in (" ", "-") and not ln.startswith("---"):
                lines.append(ln[1:])
        return path, lines
    return None


# --- classification ------------------------------------------------------------------------------------

@dataclass
class _Run:
    key: str
    file: str | None
    lines: frozenset[str]  # the run's line texts (number prefixes and outer whitespace removed), non-empty
    by_number: Mapping[int, str]  # file line number -> its text, for lines that carry one

    def evidence(self) -> set[str]:
        return {t for t in self.lines if len(t) >= MIN_EVIDENCE_CHARS}


class _RunCache:
    """The parsed lines of each dropped run, by marker key. A key names exactly one dropped text (it is its
    hash), and an agent resends every earlier output each turn, so each run is parsed once, not every turn."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[frozenset[str], Mapping[int, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, dropped: str) -> tuple[frozenset[str], Mapping[int, str]]:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        parsed = (frozenset(_texts_of_lines(dropped)),
                  MappingProxyType({int(n): t.strip() for n, t in _NUMBERED_LINES.findall(dropped)}))
        with self._lock:
            self._items[key] = parsed
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return parsed


_RUNS = _RunCache(max_entries=8192)  # a few sessions' worth of runs; their lines only, a few MB at most


def _run(key: str, file: str | None, dropped: str) -> _Run:
    lines, by_number = _RUNS.get(key, dropped)
    return _Run(key, file, lines, by_number)


def retrieved_keys(provider: str, body: dict[str, Any] | None) -> set[str]:
    """Keys the model retrieved in the history of `body` (the hidden exchanges spliced back into it)."""
    from headroom.core.retrieval.tool import parse_arguments

    if not isinstance(body, dict):
        return set()
    keys = set()
    for turn, model, ev in get_provider(provider).conversation(body):
        if ev[0] == "call" and ev[1].name == RETRIEVE_TOOL_NAME:
            key = parse_arguments(ev[1].args if isinstance(ev[1].args, (str, dict)) else {})[0]
            if key and len(key) in (KEY_DIGITS, KEY_HEX_CHARS):
                keys.add(key.lower())
    return keys


def _session(body: dict[str, Any]) -> str:
    """The agent's own session id, where it sends one: Codex's `prompt_cache_key`, the session in Claude
    Code's `metadata.user_id`. Codex's first user message describes its working directory and shell, the same for every
    session in one directory, so without this two sessions there would be one conversation."""
    key = body.get("prompt_cache_key")
    meta = body.get("metadata")
    user = meta.get("user_id") if isinstance(meta, dict) else None
    return "\0".join(v for v in (key, user) if isinstance(v, str))


def conversation_id(provider: str, body: dict[str, Any]) -> str:
    """An opaque id of the conversation (the agent's session id and the conversation's start), for counting
    each need once per conversation. Not the model: an agent may send the same history to another model
    (a summary, a cheaper model for a side task), and the same newest turn must not count twice. Kept in
    memory only; never stored."""
    from headroom.core.holdout import first_user_text

    start = f"{provider}\0{_session(body)}\0{first_user_text(provider, body)[:FIRST_MESSAGE_CHARS]}"
    return hashlib.sha256(start.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _via(call: ToolCall) -> str:
    name = call.name or "tool"
    if name == "exec" or not isinstance(call.args, dict):  # free-form: name it by what it runs
        for s in _free_text(call.args):
            if "*** Begin Patch\n" in s:
                return "apply_patch"
            if "exec_command" in s:
                return "exec_command"
    return name


def classify(provider: str, original: dict[str, Any], outcome: Any, *, sent: dict[str, Any] | None = None,
             retrieved: Iterable[str] = ()) -> tuple[Need, ...]:
    """The dropped runs the model's newest turn in `original` re-read or guessed, one Need per (kind, run).

    `outcome` is the pipeline's Outcome for this body (its compressed body is what the model was shown,
    its `drops` what each marker hid); `sent`, the body as it went upstream (hidden retrieval exchanges
    spliced back), and `retrieved`, keys the relay answered in this conversation, both make runs shown.
    """
    drops: Mapping[str, str] = getattr(outcome, "drops", None) or {}
    shown_body = getattr(outcome, "body", None)
    if not drops or not isinstance(shown_body, dict):
        return ()
    shown = _view(provider, shown_body)
    if not shown.newest_calls and not shown.newest_texts:
        return ()
    done = {k.lower() for k in retrieved} | retrieved_keys(provider, sent)
    runs: list[_Run] = []
    for call, text in shown.before_results:
        file = _target(call)[0] if call is not None else None
        runs.extend(_run(m.key, file, drops[m.key]) for m in find_markers(text)
                    if m.key in drops and m.key not in done)
    if not runs:
        return ()
    results = _view(provider, original).after_results  # what the tools really returned, uncompressed
    # (kind, run, action, the run's lines the action holds); kept below only if some of them were never shown.
    hits: list[tuple[str, _Run, str, set[str]]] = []
    for call in shown.newest_calls:
        if call.name == RETRIEVE_TOOL_NAME:
            continue  # counted where the relay answers it
        edit = _removed_lines(call)
        if edit is not None:
            file, lines = edit
            expected = {t for t in (_line(ln)[1] for ln in lines) if len(t) >= MIN_EVIDENCE_CHARS}
            for run in runs:
                if not (run.file and file and not _same_file(run.file, file)):
                    hits.append((GUESSED, run, _via(call), expected & run.evidence()))
            continue
        file, span = _target(call)
        result = results.get(call.id)
        got = _result_lines(result) if result else set()
        got_numbers = _numbers(result) if result else set()
        for run in runs:
            if _same_file(run.file, file) and run.by_number and (got_numbers or not result):
                # The same file, numbered both ways: the line numbers say exactly what was read again.
                read = got_numbers if result else {n for n in run.by_number if span and span[0] <= n <= span[1]}
                held = {run.by_number[n] for n in read & run.by_number.keys()} - {""}
            elif run.file and file and not _same_file(run.file, file):
                held = set()  # another file: a line they share is not this run
            else:
                held = got & run.evidence()  # a grep, a cat: what it returned is all there is to go on
            hits.append((REREAD, run, _via(call), held))
    said = "\n".join(shown.newest_texts)
    if said:
        for run in runs:
            hits.append((GUESSED, run, "text", {t for t in run.lines if len(t) >= MIN_QUOTE_CHARS and t in said}))
    hits = [h for h in hits if h[3]]
    if not hits:
        return ()
    shown_lines = _Shown(shown.before_texts)
    needs: dict[tuple[str, str], Need] = {}
    for kind, run, via, held in hits:
        if (kind, run.key) not in needs and any(not shown_lines.has(t) for t in held):
            needs[(kind, run.key)] = Need(kind, run.key, via)
    return tuple(needs.values())


class _Shown:
    """Was a line shown to the model (a whole line of some text it saw)? A long session resends megabytes of
    outputs, so a line that is nowhere in them (the usual answer for a folded one) is told by one substring
    search; the set of every shown line is built only when a line is found somewhere."""

    def __init__(self, texts: list[str]):
        self._texts = texts
        self._blob: str | None = None
        self._lines: set[str] | None = None

    def has(self, line: str) -> bool:
        if self._blob is None:
            self._blob = "\n".join(self._texts)
        if line not in self._blob:
            return False
        if self._lines is None:
            self._lines = set()
            for text in self._texts:
                self._lines |= _texts_of_lines(text)
        return line in self._lines
