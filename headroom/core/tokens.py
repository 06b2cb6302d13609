"""Exact token counts offline: o200k_base and cl100k_base, from the vocabularies quicktok-v1 ships.

A vocabulary is loaded on first use (o200k: ~65 MB resident, ~0.6 s) and kept until `release` (the proxy
calls it when it has been idle, addon/intercept.py); the next count loads it again, and counts the same.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from headroom.core.memo import MEMO, MIN_CHARS

__all__ = ["count", "count_within", "encoding_for_model", "last_use", "loaded", "long_strings", "release"]

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


# Counting a text in pieces. Both encodings' pre-tokenizers (o200k_base, cl100k_base) split a text into chunks
# that BPE encodes one by one, so a text cut where a chunk ends counts as the sum of its pieces. Their patterns
# put a digit (\p{N}) only in a chunk of digits (`\p{N}{1,3}`: every other alternative excludes \p{N}), so a
# chunk always ends between an ASCII digit and an ASCII non-digit, either way round. Likewise a letter (\p{L})
# is only ever in a chunk of letters (an optional one-character prefix, the letters, o200k's marks, an optional
# contraction 's 't ... that ends in a letter; cl100k also matches a contraction alone), so a chunk always ends
# between an ASCII letter and an ASCII character after it that is neither a letter nor an apostrophe. Counted
# alone, the part after such a cut starts a chunk there (the patterns have no lookbehind); the part before ends
# as it did, since the one lookahead, `\s+(?!\S)`, cannot reach the cut past the non-space character on its
# left (a space left of a digit is not a cut: "a  1" alone would end in one chunk of two spaces).
# tests/core/test_tokens.py checks the sums against whole counts, cut at every place `_cut_ok` allows.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("\"\\/<>&'")  # written alike by every JSON style
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
ANCHOR_SEARCH = 256  # how far from each end of a long string a cut is looked for
_HALF = 8  # an anchor is the cut and this many plain characters each side


def _cut_ok(text: str, p: int) -> bool:
    if not 0 < p < len(text):
        return False
    a, b = text[p - 1], text[p]
    if a in _LETTERS and b not in _LETTERS and b != "'" and b <= "\x7f":
        return True
    if (a in _DIGITS) == (b in _DIGITS):
        return False
    other = b if a in _DIGITS else a
    return "!" <= other <= "~"  # ASCII, not a space


_CUT = re.compile(r"(?<=[0-9])(?=[!-/:-~])|(?<=[!-/:-~])(?=[0-9])|(?<=[A-Za-z])(?=[\x00-&(-@\[-`{-\x7f])")
ANCHOR_TRIES = 16  # candidates for _cut_ok tried at each end of a long string


def _anchor(s: str, start: int, stop: int, last: bool = False) -> tuple[str, int] | None:
    """A window of `s` around a cut in s[start:stop] (plain ASCII, so it reads the same in the JSON text that
    holds `s`), the first one or the `last` one found: the window and the cut's offset in `s`."""
    cands = _CUT.finditer(s, max(0, start), stop)
    if last:
        cands = reversed(list(cands))
    for n, m in enumerate(cands):
        if n >= ANCHOR_TRIES:
            break
        k = m.start()
        if k >= _HALF and k + _HALF <= len(s) and _PLAIN.issuperset(s[k - _HALF:k + _HALF]):
            return s[k - _HALF:k + _HALF], k
    return None


# Between those, a body is cut at the end of a JSON string whose last character is an ASCII letter ("role":
# "user", a key, a tool's name): a quote inside a string is escaped, so this is the body's own structure, and
# the same place turn after turn in what a conversation resends.
_STRING_END = re.compile(r'"(?<=[A-Za-z]")')  # the quote first: found at C speed, then the letter
PIECE_CHARS = 4096  # the pieces cut at string ends are at least this long


def count_body(text: str, encoding: str = DEFAULT_ENCODING, strings: Iterable[str] = ()) -> int:
    """Exactly `count(text)`, for a request body resent turn after turn (an agent's conversation, with more at
    its end each turn; the prefix headroom sends stays byte-identical too), counting what is new and taking
    the rest from memory (core/memo.py). `strings`: long string values the body holds (tokens.long_strings of
    its parse, when there is one: a tool output resent under a new question first), cut near both ends of each
    where a chunk must end; the text between those cuts is cut at the first string end PIECE_CHARS or more
    after the last cut. Every piece but the last is remembered by its text."""
    cuts: set[int] = set()
    for s in strings:
        if len(s) < MIN_CHARS:
            continue
        head = _anchor(s, 0, ANCHOR_SEARCH)
        tail = (_anchor(s, len(s) - ANCHOR_SEARCH // 4, len(s), last=True)
                or _anchor(s, len(s) - ANCHOR_SEARCH, len(s) - ANCHOR_SEARCH // 4, last=True))
        if head is None or tail is None or tail[1] <= head[1]:
            continue
        at = text.find(head[0])
        # Escaping only lengthens a string: its tail is at least this far after its head in the text.
        end = text.find(tail[0], at + tail[1] - head[1]) if at >= 0 else -1
        if at >= 0 and end >= 0:
            cuts.update(c for c in (at + _HALF, end + _HALF) if _cut_ok(text, c))
    total, start = 0, 0
    for stop in (*sorted(cuts), len(text)):
        while stop - start >= 2 * PIECE_CHARS:
            m = _STRING_END.search(text, start + PIECE_CHARS, stop - PIECE_CHARS)
            if m is None:
                break
            total += count(text[start:m.start()], encoding)  # a cut _cut_ok allows: a letter, then '"'
            start = m.start()
        total += count(text[start:stop], encoding, remember=stop < len(text))
        start = stop
    return total


WALK_MAX_NODES = 20_000  # values of a parsed body looked at for long strings (a larger body: those found so far)


def long_strings(value: Any) -> list[str]:
    """The string values of a parsed JSON body of at least MIN_CHARS characters, in document order, for
    count_body (looking at no more than WALK_MAX_NODES values)."""
    out: list[str] = []
    todo = [value]
    seen = 0
    while todo and seen < WALK_MAX_NODES:
        v = todo.pop()
        seen += 1
        if isinstance(v, str):
            if len(v) >= MIN_CHARS:
                out.append(v)
        elif isinstance(v, dict):
            todo.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            todo.extend(reversed(v))
    return out
