"""Exact token counts offline: o200k_base and cl100k_base, from the vocabularies quicktok-v1 ships."""
from __future__ import annotations

import functools
import re
from typing import Any

from headroom.core.memo import MEMO, MIN_CHARS

__all__ = ["count", "encoding_for_model"]

DEFAULT_ENCODING = "o200k_base"


def encoding_for_model(model: str | None) -> str:
    """The encoding that counts `model`'s tokens best; o200k for anything unknown (Claude and Gemini
    tokenizers are not public: o200k is the closest public proxy and is what the benchmark scores with)."""
    m = (model or "").lower()
    if m.startswith(("gpt-4-", "gpt-3.5", "text-embedding-ada")) or m == "gpt-4":
        return "cl100k_base"
    return DEFAULT_ENCODING


@functools.lru_cache(maxsize=4)
def _encoder(name: str) -> Any:  # quicktok's Encoding (the package ships no type hints)
    import quicktok

    return quicktok.get_encoding(name)


# A lone UTF-16 surrogate: JSON may carry one (`"\ud83d"`, a JavaScript agent cutting a string mid-emoji) and
# Python decodes it as is, but it is not text the tokenizer takes.
_SURROGATE = re.compile("[\ud800-\udfff]")


def count(text: str, encoding: str = DEFAULT_ENCODING, *, remember: bool = True) -> int:
    """Exact number of tokens of `text` (special-token text counted as ordinary text); a lone surrogate counts
    as the replacement character a provider's decoder makes of it. A long text's count is remembered
    (core/memo.py) unless `remember` is False (a whole request body, new every turn)."""
    if not text:
        return 0
    if remember and len(text) >= MIN_CHARS:  # a resent output is counted once, whatever question comes with it
        return MEMO.get(count, text, lambda: _count(text, encoding), encoding)
    return _count(text, encoding)


def _count(text: str, encoding: str) -> int:
    try:
        return int(_encoder(encoding).count(text))
    except TypeError:  # quicktok refuses a str that is not valid Unicode: only a lone surrogate is that
        return int(_encoder(encoding).count(_SURROGATE.sub("\ufffd", text)))
