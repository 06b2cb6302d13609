"""Content-Encoding, read one way for the whole proxy: a request body decoded whole with a bound on its
decoded size, and a response body decoded as it streams.

The bound is the point: a 10 KB zstd body can decode to 300 MB. `decode_body` never holds more than
`limit` + one step of decoded bytes per layer and refuses beyond it (the caller fails open and forwards
the original bytes). Each layer is decoded with its library's own output bound: zlib's `max_length`,
brotli's `output_buffer_limit` (brotli >= 1.2; byte by byte on 1.1), zstandard's decoder fed a step at a time.
"""
from __future__ import annotations

import zlib
from typing import Callable

__all__ = ["ENCODINGS", "MAX_BODY_BYTES", "EncodingError", "StreamDecoder", "decode_body", "layers"]

# Larger than any provider accepts (Anthropic 32 MB, OpenAI less): such a request will be refused upstream
# anyway, so the proxy neither decodes nor parses past it.
MAX_BODY_BYTES = 64 * 1024 * 1024
# What a request may carry; "x-gzip" is gzip's old name (RFC 9110 8.4.1.3).
ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd", "identity")


class EncodingError(ValueError):
    """A body that cannot be decoded: `kind` is "content-encoding" (unknown, corrupt, truncated) or "too
    large" (decodes to more than the bound)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def layers(content_encoding: str | None) -> list[str]:
    """The codings of a Content-Encoding value in the order they were applied (identity left out);
    EncodingError naming an unknown one."""
    out = []
    for enc in (e.strip().lower() for e in (content_encoding or "").split(",")):
        if enc in ("", "identity"):
            continue
        if enc not in ENCODINGS:
            raise EncodingError("content-encoding", f"unsupported Content-Encoding {enc!r}")
        out.append("gzip" if enc == "x-gzip" else enc)
    return out


def _too_large(enc: str, limit: int) -> EncodingError:
    return EncodingError("too large", f"{enc} body decodes to more than {limit} bytes")


def _give_back() -> None:
    """Return the freed decode buffers to the OS: glibc keeps a thread's freed heap in its arena, so each
    worker thread that met a bomb would hold its bound's worth of memory for good."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _zlib(data: bytes, wbits: int, enc: str, limit: int) -> bytes:
    out = bytearray()
    while True:
        d = zlib.decompressobj(wbits)
        out += d.decompress(data, limit + 1 - len(out))
        if len(out) > limit or d.unconsumed_tail:  # past the bound, or stopped at it with input left
            out.clear()  # freed now, not kept alive by the exception's traceback
            raise _too_large(enc, limit)
        if not d.eof:
            raise EncodingError("content-encoding", f"{enc} body is truncated")
        data = d.unused_data
        if enc != "gzip" or not data.strip(b"\0"):  # gzip may hold several members; trailing NULs are padding
            return bytes(out)


def _deflate_wbits(data: bytes) -> int:
    # HTTP "deflate" is zlib-wrapped by the spec, but some servers send raw deflate: the first byte tells.
    return zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS


def _brotli(data: bytes, limit: int) -> bytes:
    import brotli

    d = brotli.Decompressor()
    try:  # brotli >= 1.2 bounds its own output
        out = d.process(data, output_buffer_limit=limit + 1)
    except TypeError:  # brotli 1.1 (mitmproxy 11 pins it) cannot: one input byte at a time, so the output
        out = bytearray()  # grows past the bound by one byte's worth at most (a few MB; 481 bytes can be 300 MB)
        view = memoryview(data)
        for i in range(len(view)):
            out += d.process(view[i:i + 1])
            if len(out) > limit:
                out.clear()
                raise _too_large("br", limit) from None
    else:
        if len(out) > limit or not d.can_accept_more_data():
            del out
            raise _too_large("br", limit)
    if not d.is_finished():
        raise EncodingError("content-encoding", "br body is truncated")
    return bytes(out)


# zstd blocks decode to at most 128 KB each and an RLE block takes 4 bytes, so 256 input bytes are at most
# about 8 MB of output: the bound's step.
_ZSTD_STEP = 256


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard

    declared = zstandard.frame_content_size(data)  # -1 when the frame does not say
    if declared > limit:
        raise _too_large("zstd", limit)
    if declared >= 0:  # one frame that says its size (the common case): decoded at once into that size
        try:
            return bytes(zstandard.ZstdDecompressor().decompress(data, allow_extra_data=False))
        except zstandard.ZstdError:
            pass  # several frames, or a lie or a cut: the stepped reading below says which
    out = bytearray()
    while data:  # one frame a round (a body may hold several)
        d = zstandard.ZstdDecompressor().decompressobj()
        pos = 0
        while not d.eof and pos < len(data):
            out += d.decompress(data[pos:pos + _ZSTD_STEP])
            pos += _ZSTD_STEP
            if len(out) > limit:
                out.clear()
                raise _too_large("zstd", limit)
        if not d.eof:
            raise EncodingError("content-encoding", "zstd body is truncated")
        data = d.unused_data + data[pos:]
    return bytes(out)


def decode_body(raw: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """`raw` without its Content-Encoding (codings undone last first), at most `limit` bytes decoded;
    EncodingError otherwise, its `kind` saying why."""
    data = raw
    for enc in reversed(layers(content_encoding)):
        try:
            if enc == "gzip":
                data = _zlib(data, 16 + zlib.MAX_WBITS, enc, limit)
            elif enc == "deflate":
                data = _zlib(data, _deflate_wbits(data), enc, limit)
            elif enc == "br":
                data = _brotli(data, limit)
            else:
                data = _zstd(data, limit)
        except EncodingError as e:
            if e.kind == "too large":
                del data  # the layers decoded so far
                _give_back()
            raise
        except Exception as e:  # zlib.error, brotli.error, zstandard.ZstdError: the library's word for corrupt
            raise EncodingError("content-encoding", f"body does not decode as {enc}: {type(e).__name__}") from e
    if len(data) > limit:
        raise EncodingError("too large", f"body is more than {limit} bytes")
    return data


class StreamDecoder:
    """Incremental decoding of a response body as it passes, split anywhere (the usage reader's: it keeps
    what it needs of the decoded text, so no bound here)."""

    def __init__(self, content_encoding: str | None) -> None:
        self._steps: list[Callable[[bytes], bytes]] = []
        for enc in reversed(layers(content_encoding)):
            if enc == "gzip":
                self._steps.append(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress)
            elif enc == "deflate":
                self._steps.append(_StreamDeflate().decompress)
            elif enc == "br":
                import brotli

                self._steps.append(brotli.Decompressor().process)
            else:
                import zstandard

                self._steps.append(zstandard.ZstdDecompressor().decompressobj().decompress)

    def decode(self, chunk: bytes) -> bytes:
        for step in self._steps:
            if not chunk:
                break
            chunk = step(chunk)
        return chunk


class _StreamDeflate:
    def __init__(self) -> None:
        self._d: zlib._Decompress | None = None  # made once the first bytes tell which

    def decompress(self, chunk: bytes) -> bytes:
        if self._d is None:
            self._d = zlib.decompressobj(_deflate_wbits(chunk))
        return self._d.decompress(chunk)
