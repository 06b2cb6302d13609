"""What a tool output's compression computes from its text alone, remembered by the text.

The result cache (core/pipeline.py) is keyed by the text *and* the question before it, since the question
decides what is kept. Agents and parallel sessions resend the same output under new questions (a later
turn's re-expansion check, another conversation over the same file), and most of the work of compressing it
does not depend on the question: its content type, its token count, a log's templates and severe lines.
Those are pure functions of the text, so they are kept here by the text itself (its hash and equality, both
at C speed; Python caches a str's hash on the object), bounded in total size, least recently used first
out. A hit returns exactly what computing again would: values must be immutable or never mutated by callers.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

__all__ = ["TextMemo", "MEMO", "MIN_CHARS"]

T = TypeVar("T")

# Below this size computing again costs less than keeping it (a hash, a lookup, a lock).
MIN_CHARS = 2048


class TextMemo:
    """A bounded, thread-safe map (what, text, args) -> value, sized by the texts' lengths times `weight`
    (the values are of the order of their text: a list of its lines, their templates)."""

    def __init__(self, max_chars: int, weight: int = 3) -> None:
        self.max_chars = max_chars
        self.weight = weight
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, what: Hashable, text: str, compute: Callable[[], T], *args: Hashable) -> T:
        """`compute()` for (what, text, args), from memory when it was computed before."""
        if len(text) < MIN_CHARS:
            return compute()
        key = (what, args, text)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return hit[0]  # type: ignore[no-any-return]
        value = compute()
        size = len(text) * self.weight
        if size > self.max_chars:
            return value
        with self._lock:
            self.misses += 1
            old = self._entries.pop(key, None)
            if old is not None:
                self._chars -= old[1]
            self._entries[key] = (value, size)
            self._chars += size
            while self._chars > self.max_chars:
                _, (_, n) = self._entries.popitem(last=False)
                self._chars -= n
        return value

    def release(self) -> int:
        """Forget every entry (the counts stay): what is computed again is the same. The chars released."""
        with self._lock:
            n = self._chars
            self._entries.clear()
            self._chars = 0
        return n

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


MEMO = TextMemo(max_chars=24 * 1024 * 1024)
