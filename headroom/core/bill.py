"""The bill without Headroom, per conversation: where each request's removed tokens would have sat in the
provider's prompt cache, and the cache breaks (ours or the client's). Sans-IO; memory only, bounded.

Removed tokens are counted once per conversation as new input: a request's removed tokens beyond the most
its conversation had removed before are new (billed as new input, or as a cache write where the request
wrote the cache); the rest were already in the history, and a caching client would have had them billed as
cache reads. `storage.report` prices both with the usage the provider reported for the request.

A cache break: the prompt parts the previous request's last cache breakpoint covered (Provider.cache_prefix)
are not the start of this request's prompt. Headroom caused it when the client's own prompt kept that
prefix (the retrieval tool's first appearance, a re-expansion, a changed setting); the client did when its
own prompt changed there too. The tokens that were no longer read from the cache are recorded, so the report
can charge ours against the savings.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from headroom.core.memo import MEMO, MIN_CHARS
from headroom.core.providers import get_provider

__all__ = ["CLIENT", "HEADROOM", "MAX_CONVERSATIONS", "Conversations", "Prompt", "Turn", "prompt_of", "prompts_of"]

HEADROOM = "headroom"
CLIENT = "client"
MAX_CONVERSATIONS = 4096  # conversations remembered (a few digests each); the oldest is forgotten first


@dataclass(frozen=True)
class Prompt:
    """A request's prompt as digests and sizes of its parts in cache order, and how many parts the last
    cache breakpoint covers (0: the client caches nothing)."""
    digests: tuple[bytes, ...]
    sizes: tuple[int, ...]  # bytes of each part's JSON
    covered: int

    def keeps(self, earlier: "Prompt") -> int | None:
        """None when this prompt starts with the parts `earlier` had cached; else the first part that differs."""
        n = earlier.covered
        if self.digests[:n] == earlier.digests[:n]:
            return None
        return next(i for i in range(n) if i >= len(self.digests) or self.digests[i] != earlier.digests[i])


def _json_digest(value: Any) -> tuple[bytes, int]:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
    return hashlib.blake2b(data, digest_size=12).digest(), len(data)


# A long string (a tool output, resent every turn) is digested once, remembered by its text (core/memo.py), and
# stands in the part's JSON as this prefix and its digest. A part holding such a string and one holding the
# placeholder itself would read alike: that takes a client sending a digest of another string of the same part.
_BLOB = "\0headroom-blob:"
_BLOB_JSON_BYTES = len(json.dumps(_BLOB + "0" * 24, ensure_ascii=False).encode())
_WALK_MAX_NODES = 256  # a part with more values (a long tool list) is dumped whole: the walk would cost more


def _with_blobs(value: Any, sizes: list[int], nodes: list[int]) -> Any:
    """`value` with each long string replaced by its placeholder (its JSON size appended to `sizes`); None as
    soon as more than _WALK_MAX_NODES values were seen (`nodes` counts them)."""
    nodes[0] += 1
    if nodes[0] > _WALK_MAX_NODES:
        return None
    if isinstance(value, str):
        if len(value) < MIN_CHARS:
            return value
        digest, size = MEMO.get(_json_digest, value, lambda: _json_digest(value))
        sizes.append(size)
        return _BLOB + digest.hex()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _with_blobs(v, sizes, nodes)
            if v is None and nodes[0] > _WALK_MAX_NODES:
                return None
            out[k] = v
        return out
    if isinstance(value, list):
        items = []
        for v in value:
            v = _with_blobs(v, sizes, nodes)
            if v is None and nodes[0] > _WALK_MAX_NODES:
                return None
            items.append(v)
        return items
    return value


def _digest(part: Any) -> tuple[bytes, int]:
    """The part's digest and the size of its JSON in bytes. Equal parts have equal digests whichever way they
    were taken: whether the part is walked depends on the part alone."""
    if isinstance(part, dict) and "cache_control" in part:  # a breakpoint moves each turn; the block is the same
        part = {k: v for k, v in part.items() if k != "cache_control"}
    sizes: list[int] = []
    nodes = [0]
    light = _with_blobs(part, sizes, nodes)
    if nodes[0] > _WALK_MAX_NODES or not sizes:
        return _json_digest(part)
    digest, size = _json_digest(light)
    return digest, size - len(sizes) * _BLOB_JSON_BYTES + sum(sizes)


def prompt_of(provider: str, body: dict[str, Any]) -> Prompt:
    parts, covered = get_provider(provider).cache_prefix(body)
    return _prompt([_digest(p) for p in parts], covered)


def _prompt(pairs: list[tuple[bytes, int]], covered: int) -> Prompt:
    return Prompt(tuple(d for d, _ in pairs), tuple(n for _, n in pairs), covered)


def prompts_of(provider: str, sent: dict[str, Any], original: dict[str, Any]) -> tuple[Prompt, Prompt]:
    """prompt_of of the body sent and of the client's: a part of the client's equal to the sent body's part at
    the same place (counted from the start, or from the end after a splice) takes that part's digest, found by
    a comparison in C instead of a second JSON dump (only the compressed tool outputs and our tool differ).
    `sent` is `original` with strings replaced (the pipeline's copy-on-write of the same request), so a part
    equal to the client's holds the same values of the same types and writes the same JSON."""
    shape = get_provider(provider)
    s_parts, s_covered = shape.cache_prefix(sent)
    s_pairs = [_digest(p) for p in s_parts]
    o_parts, o_covered = shape.cache_prefix(original)
    shift = len(s_parts) - len(o_parts)
    o_pairs = []
    for i, part in enumerate(o_parts):
        for j in (i, i + shift):
            # type() too, for a part that is a bare value: 1 == 1.0 == True, which JSON writes apart
            if 0 <= j < len(s_parts) and type(s_parts[j]) is type(part) and s_parts[j] == part:
                o_pairs.append(s_pairs[j])
                break
        else:
            o_pairs.append(_digest(part))
    return _prompt(s_pairs, s_covered), _prompt(o_pairs, o_covered)


@dataclass(frozen=True)
class Turn:
    removed_new: int  # removed tokens this conversation had not removed before
    removed_again: int  # removed tokens already removed from an earlier request (a cache read, when cached)
    cache_break: str | None  # HEADROOM, CLIENT or None
    break_tokens: int  # tokens the previous request had cached and this one could not read back


@dataclass
class _Seen:
    removed: int
    sent: Prompt
    original: Prompt


class Conversations:
    """What the bill needs to remember of each conversation: the most tokens it had removed, and the last
    request's prompt as sent and as the client sent it. Thread-safe; opaque ids and digests only."""

    def __init__(self, max_conversations: int = MAX_CONVERSATIONS) -> None:
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._max = max_conversations
        self._lock = threading.Lock()

    def turn(self, conversation: str, removed: int, sent: Prompt, original: Prompt, sent_tokens: int) -> Turn:
        """This request's place in its conversation's bill; remembers it for the next."""
        # Signed: a request that gained more (the retrieval tool's definition) than it lost removed a negative
        # number, which the bill counts like the rest (the tool's tokens are billed).
        with self._lock:
            seen = self._seen.get(conversation)
            if seen is None:
                self._seen[conversation] = _Seen(removed, sent, original)
                while len(self._seen) > self._max:
                    self._seen.popitem(last=False)
                return Turn(removed, 0, None, 0)
            self._seen.move_to_end(conversation)
            cause, lost = None, 0
            differs = sent.keeps(seen.sent)
            if differs is not None:
                cause = HEADROOM if original.keeps(seen.original) is None else CLIENT
                total = sum(sent.sizes) or 1
                lost_bytes = sum(seen.sent.sizes[differs:seen.sent.covered])
                lost = round(sent_tokens * min(1.0, lost_bytes / total))
            before = 0 if cause == CLIENT else seen.removed  # the client started over: its history is new
            new = removed - before if removed > before else 0
            seen.removed, seen.sent, seen.original = max(before, removed), sent, original
            return Turn(new, removed - new, cause, lost)
