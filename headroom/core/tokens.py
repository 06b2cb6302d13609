"""Exact token counts offline: o200k_base and cl100k_base, from the vocabularies quicktok-v1 ships.

A vocabulary is loaded on first use (o200k: ~65 MB resident, ~0.6 s) and kept until `release` (the proxy
calls it when it has been idle, addon/intercept.py); the next count loads it again, and counts the same.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any

from headroom.core.memo import MEMO, MIN_CHARS

__all__ = ["count", "encoding_for_model", "last_use", "loaded", "release"]

DEFAULT_ENCODING = "o200k_base"


def encoding_for_model(model: str | None) -> str:
    """The encoding that counts `model`'s tokens best; o200k for anything unknown (Claude and Gemini
    tokenizers are not public: o200k is the closest public proxy and is what the benchmark scores with)."""
    m = (model or "").lower()
    if m.startswith(("gpt-4-", "gpt-3.5", "text-embedding-ada")) or m == "gpt-4":
        return "cl100k_base"
    return DEFAULT_ENCODING


_encoders: dict[str, Any] = {}  # quicktok's Tokenizer by encoding name (the package ships no type hints)
_load_lock = threading.Lock()  # two threads wanting one vocabulary load it once
_last_use = 0.0  # time.monotonic() of the latest count


def _encoder(name: str) -> Any:
    enc = _encoders.get(name)
    if enc is None:
        with _load_lock:
            enc = _encoders.get(name)
            if enc is None:
                import quicktok

                # Not quicktok.get_encoding: it keeps every tokenizer in quicktok._CACHE for good.
                enc = _encoders[name] = quicktok.Tokenizer(name, "")
    return enc


def loaded() -> bool:
    return bool(_encoders)


def last_use() -> float:
    """When a text was last counted (time.monotonic()); 0.0 if never."""
    return _last_use


def release() -> int:
    """Forget the loaded vocabularies, so their memory can go back to the system (the caller collects and
    trims once for everything it releases); a count still running keeps its own reference and ends. The
    number of vocabularies released."""
    with _load_lock:
        n = len(_encoders)
        _encoders.clear()
    return n


# A lone UTF-16 surrogate: JSON may carry one (`"\ud83d"`, a JavaScript agent cutting a string mid-emoji) and
# Python decodes it as is, but it is not text the tokenizer takes.
_SURROGATE = re.compile("[\ud800-\udfff]")


def count(text: str, encoding: str = DEFAULT_ENCODING, *, remember: bool = True) -> int:
    """Exact number of tokens of `text` (special-token text counted as ordinary text); a lone surrogate counts
    as the replacement character a provider's decoder makes of it. A long text's count is remembered
    (core/memo.py) unless `remember` is False (a whole request body, new every turn)."""
    global _last_use
    if not text:
        return 0
    _last_use = time.monotonic()
    if remember and len(text) >= MIN_CHARS:  # a resent output is counted once, whatever question comes with it
        return MEMO.get(count, text, lambda: _count(text, encoding), encoding)
    return _count(text, encoding)


def _count(text: str, encoding: str) -> int:
    try:
        return int(_encoder(encoding).count(text))
    except TypeError:  # quicktok refuses a str that is not valid Unicode: only a lone surrogate is that
        return int(_encoder(encoding).count(_SURROGATE.sub("\ufffd", text)))
