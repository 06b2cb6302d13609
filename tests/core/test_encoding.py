"""Content-Encoding read one way: real agent request bodies round-trip through every coding the proxy
accepts; corrupt, truncated and unknown codings are refused by kind; a decompression bomb is refused with
the decoded bytes held bounded (the allocation measured, not timed)."""
from __future__ import annotations

import gzip
import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from headroom.core.encoding import EncodingError, StreamDecoder, decode_body, layers
import json

from headroom.evals.agents import agent_cases

LIMIT = 1 << 20


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


CODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, as the spec says
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.fixture(scope="module")
def body() -> bytes:
    """One real captured agent request (Claude Code or Codex), as the client sent it."""
    raw = max((json.dumps(c.body).encode() for c in agent_cases()[:20]), key=len)
    assert len(raw) > 10_000
    return raw


@pytest.mark.parametrize("enc", sorted(CODERS))
def test_real_bodies_round_trip(body, enc):
    assert decode_body(CODERS[enc](body), enc, limit=len(body)) == body


def test_raw_deflate_from_servers_that_skip_the_zlib_wrapper(body):
    assert decode_body(_deflate_raw(body), "deflate", limit=len(body)) == body


def test_layers_are_undone_last_first(body):
    twice = brotli.compress(gzip.compress(body))
    assert layers("gzip, br") == ["gzip", "br"]
    assert decode_body(twice, "gzip, br", limit=len(body)) == body
    assert decode_body(body, " identity ", limit=len(body)) == body


@pytest.mark.parametrize("enc", ["gzip", "zstd"])
def test_bodies_of_several_members_or_frames(body, enc):
    half = len(body) // 2
    coded = CODERS[enc](body[:half]) + CODERS[enc](body[half:])
    assert decode_body(coded, enc, limit=len(body)) == body
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress
    assert decode_body(unsized(body[:half]) + unsized(body[half:]), "zstd", limit=len(body)) == body


@pytest.mark.parametrize("enc", sorted(CODERS))
def test_truncated_and_corrupt_bodies_are_refused(body, enc):
    coded = CODERS[enc](body)
    for bad in (coded[: len(coded) // 2], b"\x00\x01not a coded body at all" * 3):
        with pytest.raises(EncodingError) as e:
            decode_body(bad, enc, limit=len(body))
        assert e.value.kind == "content-encoding"
        assert "not a coded body" not in str(e.value)  # never the body's bytes in a message that is logged


def test_unknown_coding_is_named():
    with pytest.raises(EncodingError, match="'compress'") as e:
        decode_body(b"x", "compress", limit=10)
    assert e.value.kind == "content-encoding"


def test_identity_past_the_limit_is_too_large():
    with pytest.raises(EncodingError) as e:
        decode_body(b"x" * 11, "", limit=10)
    assert e.value.kind == "too large"


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    zeros = bytes(64 << 20)  # 64 MB of zeros: each coding makes it a few KB or less
    made = {enc: CODERS[enc](zeros) for enc in ("gzip", "deflate", "zstd")}
    made["br"] = brotli.compress(zeros, quality=5)
    # A zstd frame may leave out its size (streaming compressors do), so the header cannot refuse it.
    made["zstd-unsized"] = zstandard.ZstdCompressor(write_content_size=False).compress(zeros)
    del zeros
    return made


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd", "zstd-unsized"])
def test_a_bomb_is_refused_holding_little_more_than_the_limit(bombs, enc):
    coded = bombs[enc]
    assert len(coded) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(EncodingError) as e:
            decode_body(coded, enc.split("-")[0], limit=LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.kind == "too large"
    # Unbounded it holds all 64 MB (and more while joining); bounded: the limit plus one step of the decoder
    # (brotli 1.1, one input byte at a time, can emit a few MB per byte).
    assert peak < 24 * LIMIT, f"{enc}: {peak} bytes held"


@pytest.mark.parametrize("enc", sorted(CODERS))
@pytest.mark.parametrize("size", [1, 7, 4096])
def test_the_stream_decoder_reads_a_body_split_anywhere(body, enc, size):
    coded = CODERS[enc](body)
    d = StreamDecoder(enc)
    out = b"".join(d.decode(coded[i:i + size]) for i in range(0, len(coded), size))
    assert out == body
