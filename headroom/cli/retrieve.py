"""`headroom retrieve KEY [--grep S] [--lines A-B]`: print an original from the local store."""
from __future__ import annotations

import sys
from typing import Annotated, NoReturn, Optional

import typer


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"headroom retrieve: {message}", err=True)
    raise typer.Exit(code=code)


def retrieve(
    key: Annotated[str, typer.Argument(metavar="KEY", help="The key after `key=` in a headroom marker (20 digits) "
                                            "(the whole marker works too).")],
    grep: Annotated[Optional[str], typer.Option("--grep", help="Only the lines containing this substring, "
                                                "numbered.")] = None,
    lines: Annotated[Optional[str], typer.Option("--lines", help="Only this line range of the original, "
                                                 "e.g. 40-80 (1-based, inclusive).")] = None,
) -> None:
    """Print what a marker stands for, exactly as it was before compression."""
    from headroom.core.retrieval.tool import parse_arguments
    from headroom.storage.store import StoreError
    from headroom.settings import open_user_store

    found, grep_, span, error = parse_arguments({"key": key, "grep": grep, "lines": lines})
    if error:
        if error.startswith("no key given") and key.strip():  # something was given, it just is not a key
            _fail(f"{key.strip()!r} is not a headroom key; pass the 20 digits after `key=` in a headroom "
                  "marker", 2)
        _fail(error.replace("`lines`", "--lines"), 2)
    assert found is not None  # parse_arguments gives a key or an error
    try:
        store = open_user_store()
    except (StoreError, ValueError, OSError) as e:
        _fail(str(e))
    try:
        text = store.get(found)
    finally:
        store.close()
    if text is None:
        _fail(f"nothing is stored under key {found}: it is unknown, or older than the retention "
              f"(HEADROOM_CCR_TTL, {store.ttl_seconds} s), or was evicted by the size cap")
    if span is not None or grep_ is not None:
        from headroom.core.retrieval.tool import answer_call

        text = answer_call({"key": found, "grep": grep_, "lines": lines}, lambda _k: text)
        if text.startswith("headroom_retrieve: "):
            _fail(text[len("headroom_retrieve: "):].rstrip("."))
    sys.stdout.write(text)
    sys.stdout.flush()
