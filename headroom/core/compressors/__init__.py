"""The compressor entry point: content detection, then one compressor per content type."""
from __future__ import annotations

from headroom.core.compressors.base import Compressed, Compressor, Context
from headroom.core.compressors.lossless import lossless

__all__ = ["Compressed", "Compressor", "Context", "compress_text"]


def compress_text(text: str, ctx: Context) -> Compressed:
    """Compress one tool output. Pure and deterministic: same text and context, same result."""
    return lossless(text, ctx)
