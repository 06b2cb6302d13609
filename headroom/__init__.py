"""Headroom: a local, transparent proxy that compresses tool outputs in LLM requests, reversibly."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "compress"]


def __getattr__(name: str) -> object:
    # Lazy so that `import headroom` (and the CLI's start-up) never pays for the compressor's imports.
    if name == "compress":
        from headroom.api import compress

        return compress
    raise AttributeError(name)
