"""Learned relevance (placeholder until the model lands): None means 'no model, use lexical only'."""
from __future__ import annotations


def similarities(query: str, texts: list[str]) -> list[float] | None:
    return None
