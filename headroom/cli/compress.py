"""`headroom compress [FILE|-]`: compress the tool outputs of a request body or a messages file."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from headroom.command import command
from headroom.core.providers import PROVIDERS as PROVIDER_CHOICES
from headroom.core.providers import get_provider


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"headroom compress: {message}", err=True)
    raise typer.Exit(code=code)


def _provider_of(body: dict) -> str | None:
    from headroom.api import detect_shape

    if isinstance(body.get("contents"), list):
        return "gemini"
    if "input" in body and "messages" not in body:
        return "openai_responses"
    if isinstance(body.get("messages"), list):
        if "system" in body and not isinstance(body.get("system"), type(None)):
            return "anthropic"
        return detect_shape(body["messages"])
    return None


def compress(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A request body (OpenAI chat/Responses, Anthropic, Gemini) or a "
                                           "JSON list of messages; '-' reads standard input.")] = "-",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the result here "
                                                   "(default: standard output).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model whose tokenizer counts tokens "
                                                 "(default: the body's model, else gpt-4o).")] = None,
    provider: Annotated[Optional[str], typer.Option(help="API shape, when it cannot be told from the "
                                                    f"file: {', '.join(PROVIDER_CHOICES)}.")] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Keep what was dropped in the local store "
                                        "so every marker can be retrieved.")] = True,
    indent: Annotated[Optional[int], typer.Option(min=0, help="Indent the JSON written (default: compact).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-unit table on standard error.")] = False,
) -> None:
    """Compress the tool outputs of a request or messages JSON file, as the proxy would."""
    if provider is not None and provider not in PROVIDER_CHOICES:
        _fail(f"--provider must be one of {', '.join(PROVIDER_CHOICES)}, not {provider!r}", 2)
    if file == "-" and sys.stdin.isatty():  # it would wait silently for input the user does not know to type
        _fail(f"give a request body: {command()} compress FILE, or pipe one in ({command()} compress - < body.json)", 2)
    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _fail(f"cannot read {file}: {getattr(e, 'strerror', None) or e}", 2)
    if file == "-":
        file = "standard input"
    try:
        doc = json.loads(raw)
    except ValueError as e:
        _fail(f"{file} is not JSON ({e}); pass a request body or a list of messages", 1)

    from headroom.core.pipeline import compress_body

    messages_only = isinstance(doc, list)
    body = {"messages": doc} if messages_only else doc
    if not isinstance(body, dict):
        _fail(f"{file} holds a JSON {type(doc).__name__}; pass a request body (object) or a list of messages", 1)
    shape = provider or _provider_of(body)
    if shape is None:
        _fail(f"cannot tell the API shape of {file} (no messages, input or contents); pass --provider", 1)
    if messages_only and get_provider(shape).history_field != "messages":
        _fail("a bare list is read as chat messages; for Responses or Gemini pass the whole request body", 1)
    model = model or (body.get("model") if isinstance(body.get("model"), str) else None) or "gpt-4o"
    from headroom.core import tokens

    # Load the vocabulary first, so the table's milliseconds are the compression's, not a one-time load.
    tokens.count("warm up", tokens.encoding_for_model(model))
    from headroom.settings import pipeline_env

    min_tokens = pipeline_env()
    try:
        outcome = compress_body(shape, body, model=model, min_tokens=min_tokens)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        _fail(f"{file} does not look like a {shape} request ({type(e).__name__}: {e}); check --provider", 1)
    if store:
        from headroom.api import store_drops

        from headroom.storage.store import StoreError

        try:
            store_drops(outcome.drops)
        # Nothing is written on failure: a result whose markers cannot be retrieved would lose content.
        except OSError as e:  # the home cannot be created or written
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"cannot keep the dropped runs in the store ({where}{e.strerror or e}); set HEADROOM_HOME to a "
                  "writable folder, or pass --no-store", 1)
        except (StoreError, ValueError) as e:  # a bad HEADROOM_CCR_* value, a damaged store file
            _fail(f"cannot keep the dropped runs in the store: {e}; fix that, or pass --no-store", 1)
    result = outcome.body["messages"] if messages_only else outcome.body
    text = json.dumps(result, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":")) + "\n"
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            _fail(f"cannot write {output}: {e.strerror or e}", 2)
    if not quiet:
        typer.echo(_table(outcome, store), err=True)


def _table(outcome, stored: bool) -> str:
    from tabulate import tabulate

    rows = []
    for u in outcome.units:
        saved = f"{100 * (1 - u.tokens_after / u.tokens_before):.1f}%" if u.tokens_before else "-"
        rows.append([u.location, u.tool_name or "", u.content_type, u.compressor, u.tokens_before,
                     u.tokens_after, saved, f"{u.ms:.1f}", u.note])
    b, a = outcome.tokens_before, outcome.tokens_after
    total = f"{100 * (1 - a / b):.1f}%" if b else "-"
    rows.append(["TOTAL", "", "", "", b, a, total, f"{sum(u.ms for u in outcome.units):.1f}", ""])
    table = tabulate(rows, headers=["unit", "tool", "type", "compressor", "tokens before", "after", "saved",
                                    "ms", "note"], disable_numparse=True)
    where = "kept in the local store" if stored else "NOT stored (--no-store)"
    n = len(outcome.drops)
    tail = f"\n{n} dropped run{'' if n == 1 else 's'}, {where}." if n else ""
    if not outcome.units:
        return "no tool outputs found: nothing to compress"
    return table + tail
