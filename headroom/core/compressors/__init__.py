"""The compressor entry point: gates, content detection, then one compressor per content type.

`compress_text(text, ctx)` is pure and deterministic. The router detects what a tool output is
(JSON, unified diff, grep/search results, path lists, logs, source code, HTML, CSV/tables, prose/markdown) and
hands it to that type's compressor from the registry; lossless compaction runs first and is what is
left when a lossy result does not pay for its markers.
"""
from __future__ import annotations

import functools
import importlib
import re
from dataclasses import replace
from typing import Callable

from headroom.core import tokens
from headroom.core.compressors.base import Compressed, Compressor, Context
from headroom.core.compressors.lossless import lossless
from headroom.core.markers import has_marker

__all__ = ["Compressed", "Compressor", "Context", "REGISTRY", "compress_text", "detect", "detect_single", "min_tokens"]

# Below this many tokens a tool output is left as it is: the model reads a short output whole, and a
# marker (~30 tokens) plus the risk of hiding the one line that matters outweighs what could be saved.
MIN_TOKENS = 400
# A lossy result is kept only if it saves at least this share of the tokens: markers make the text
# harder to read, and a small saving is not worth a retrieval round trip.
MIN_SAVING = 0.12
# An error output is read whole unless it is this large (a 5 000-line build log with one error is
# still better folded, keeping every error line).
ERROR_WHOLE_MAX_TOKENS = 4000
# Kinds whose compressor does not single out error lines: a huge error output of one of these is read as
# a log instead.
ERROR_AS_LOG_KINDS = frozenset({"text", "code", "paths", "table"})
# What the agent needs exactly (an Edit's or a Write's result, `git status`, `ls` of one directory, `wc`) is
# sent whole up to this size: its every line is the answer.
EXACT_WHOLE_MAX_TOKENS = 4000

# content type -> "module:function". Built lazily: importing a compressor costs only when used.
REGISTRY: dict[str, str] = {
    "json": "headroom.core.compressors.json:compress_json",
    "diff": "headroom.core.compressors.diff:compress_diff",
    "search": "headroom.core.compressors.search:compress_search",
    "paths": "headroom.core.compressors.search:compress_paths",
    "logs": "headroom.core.compressors.logs:compress_logs",
    "code": "headroom.core.compressors.code:compress_code",
    "html": "headroom.core.compressors.html:compress_html",
    "table": "headroom.core.compressors.tables:compress_table",
    "text": "headroom.core.compressors.text:compress_text_doc",
    "mixed": "headroom.core.compressors.mixed:compress_mixed",
    "diagnostics": "headroom.core.compressors.diagnostics:compress_diagnostics",
    "listing": "headroom.core.compressors.listing:compress_listing",
    "gitlog": "headroom.core.compressors.gitlog:compress_gitlog",
    "packages": "headroom.core.compressors.packages:compress_packages",
    "csv": "headroom.core.compressors.delimited:compress_delimited",
    "yaml": "headroom.core.compressors.yamldoc:compress_yaml",
    "xml": "headroom.core.compressors.xmldoc:compress_xml",
    "openapi": "headroom.core.compressors.openapi:compress_openapi",
    "pytest": "headroom.core.compressors.testreport:compress_test_report",
}
# Kinds whose compressor knows the error reports it reads and keeps every verdict: compressed at any size
# over the floor, errors included.
ERROR_REPORT_KINDS = frozenset({"pytest"})
_loaded: dict[str, Callable[[str, Context], Compressed]] = {}


def get(content_type: str) -> Callable[[str, Context], Compressed]:
    if content_type not in REGISTRY:
        raise KeyError(f"no compressor for {content_type!r}; registered: {', '.join(sorted(REGISTRY))}")
    fn = _loaded.get(content_type)
    if fn is None:
        module, _, name = REGISTRY[content_type].partition(":")
        fn = _loaded[content_type] = getattr(importlib.import_module(module), name)
    return fn


def min_tokens(setting: int | None = None) -> int:
    """The floor under which a tool output is left as it is: the caller's setting (HEADROOM_MIN_TOKENS, read
    once at the edge and passed in), else MIN_TOKENS."""
    return MIN_TOKENS if setting is None else max(0, setting)


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):|^\s+at [\w$.<>]+\(|^panic: |^Exception in thread", re.M)


def _has_traceback(text: str) -> bool:
    """A stack trace in the output's first 20,000 characters; remembered by the text, like `detect`."""
    from headroom.core.memo import MEMO

    return MEMO.get(_has_traceback, text, lambda: _TRACEBACK.search(text[:20000]) is not None)


def detect(text: str) -> str:
    """The content type of a tool output: one of REGISTRY's keys ("mixed" for sections of several kinds).
    A function of the text alone, so remembered by it (core/memo.py): resent under a new question, an
    output is not detected again."""
    from headroom.core.memo import MEMO

    return MEMO.get(detect, text, lambda: _detect(text))


def _detect(text: str) -> str:
    from headroom.core.compressors import mixed

    kind = detect_single(text)
    if kind != "json" and mixed.sections(text.split("\n")) is not None:
        return "mixed"
    return kind


def detect_single(text: str) -> str:
    """The content type of a text taken as one kind: any of REGISTRY's keys but "mixed"."""
    from headroom.core.compressors import code, diff, html, logs, search, tables

    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            from headroom.core.compressors.json import parse_json

            from headroom.core.compressors.documents import detect_json_document

            return detect_json_document(parse_json(text)) or "json"
        except (ValueError, RecursionError):
            pass
    lines = text.split("\n")
    from headroom.core.compressors.tooloutput import detect_tool_output

    if (tool_kind := detect_tool_output(lines)) is not None:
        return tool_kind
    if diff.looks_like_diff(lines):
        return "diff"
    if search.looks_like_search(lines):
        return "search"
    if search.looks_like_path_list(lines):
        return "paths"
    from headroom.core.compressors.documents import detect_document

    if (document_kind := detect_document(text, lines)) is not None:
        return document_kind
    if html.looks_like_html(stripped):
        return "html"
    if tables.looks_like_command_table(lines):
        return "table"
    if logs.looks_like_log(lines):
        return "logs"
    markdown = _looks_like_markdown(lines)
    if not markdown and code.looks_like_code(lines):
        return "code"
    if tables.looks_like_table(lines):
        return "table"
    if not markdown and logs.looks_repetitive(lines):
        return "logs"
    return "text"


_MD_HEADING = re.compile(r"^#{1,6} \S")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")


def _looks_like_markdown(lines: list[str]) -> bool:
    """Headings and fenced code blocks: a README with examples, not a source file with comments."""
    fences = sum(1 for ln in lines if _MD_FENCE.match(ln))
    if fences < 2 or sum(1 for ln in lines if _MD_HEADING.match(ln)) < 2:
        return False
    # A source file with examples in its docstrings has fences and `# comments` too; what tells them apart
    # is the text outside the fences: a README's is prose, a source file's is code.
    from headroom.core.compressors import code

    outside: list[str] = []
    fenced = False
    for ln in lines:
        if _MD_FENCE.match(ln):
            fenced = not fenced
        elif not fenced and ln.strip():
            outside.append(ln)
    return not code.looks_like_code(outside)


def compress_text(text: str, ctx: Context, floor: int | None = None) -> Compressed:
    """Compress one tool output. Pure and deterministic: same text, context and floor, same result.
    `floor` is min_tokens' setting (None: MIN_TOKENS)."""
    if not text.strip() or has_marker(text):
        # Already compressed (or a marker the model was shown): compressing again must change nothing.
        return Compressed(text, "text", "none")
    floor = min_tokens(floor)
    before = ctx.tokens if ctx.tokens is not None else tokens.count(text, ctx.encoding)
    if before < floor:
        return Compressed(text, "text", "none")
    from headroom.core.compressors import views

    if before <= EXACT_WHOLE_MAX_TOKENS and views.wants_exact(ctx):
        return Compressed(text, "text", "none")

    framed = views.compress_framed(text, ctx, functools.partial(_compress_piece, floor=floor))
    result = framed if framed is not None else _compress_piece(text, ctx, before, floor=floor)
    if result.drops:
        from headroom.core.compressors.facets import share_zero_claims

        shared = share_zero_claims(result.text)
        if shared is not result.text:
            result = replace(result, text=shared)
    return result


def _compress_piece(text: str, ctx: Context, before: int | None = None, *, floor: int = MIN_TOKENS) -> Compressed:
    """Compress one piece of content (a whole output, or the content between an agent's notes)."""
    if before is None:
        if not text.strip():
            return Compressed(text, "text", "none")
        before = tokens.count(text, ctx.encoding)
        if before < floor:
            return Compressed(text, "text", "none")
    content_type = detect(text)
    if ctx.continues and content_type == "text":
        content_type = ctx.continues  # a cut's tail that reads as nothing on its own continues its head
    base = lossless(text, ctx)  # cheap (a few ms on 200 KB) and the fallback whenever lossy does not pay
    if (ctx.is_error or _has_traceback(text)) and content_type not in ERROR_REPORT_KINDS:
        if before + ctx.rest_tokens <= ERROR_WHOLE_MAX_TOKENS:
            return Compressed(base.text, content_type, base.compressor)
        # A huge error dump is folded like a log, keeping every error line, unless it is of a kind with a
        # compressor of its own that keeps its errors (diagnostics, JUnit XML, a listing, git log...).
        content_type = "logs" if content_type in ERROR_AS_LOG_KINDS else content_type
    try:
        result = get(content_type)(text, ctx)
    except (ValueError, RecursionError):
        return Compressed(base.text, content_type, base.compressor)
    if not result.drops:
        return Compressed(base.text, content_type, base.compressor)
    after = tokens.count(result.text, ctx.encoding)
    base_tokens = tokens.count(base.text, ctx.encoding) if base.text != text else before
    if after > base_tokens * (1 - MIN_SAVING) or not result.text.strip():
        return Compressed(base.text, content_type, base.compressor)
    return result
