"""Unified diffs: every header, hunk header and +/- line kept; unchanged context trimmed to its edges.

The change is the point of a diff: only the context lines far from any change are dropped (a run of
them becomes one marker), and whole hunks of generated files (lock files, minified bundles) fold
into one marker per file, their file header kept.
"""
from __future__ import annotations

import re

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_diff", "looks_like_diff"]

CONTEXT_LINES = 1  # unchanged lines kept on each side of a change: enough to anchor it
_GENERATED = re.compile(
    r"(?:^|/)(?:package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Cargo\.lock|go\.sum|uv\.lock|"
    r"Gemfile\.lock|composer\.lock)$|\.min\.(?:js|css)$|\.map$"
)
_FILE = re.compile(r"^diff --git a/(?P<a>\S+) b/(?P<b>\S+)")


def looks_like_diff(lines: list[str]) -> bool:
    head = lines[:2000]
    hunks = sum(1 for ln in head if ln.startswith("@@ ") and " @@" in ln[3:])
    files = sum(1 for ln in head if ln.startswith(("diff --git ", "--- ", "+++ ")))
    return hunks >= 1 and files >= 2


def compress_diff(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    keep = [True] * n
    in_hunk = False
    generated = False
    changed = [False] * n
    context: list[int] = []
    for i, ln in enumerate(lines):
        m = _FILE.match(ln)
        if m:
            in_hunk = False
            generated = bool(_GENERATED.search(m.group("b")))
            continue
        if ln.startswith("@@ "):
            in_hunk = True
            continue
        if not in_hunk:
            continue
        if generated:
            keep[i] = False
        elif ln.startswith((" ",)) or ln == "":
            context.append(i)
        elif ln.startswith(("+", "-")):
            changed[i] = True
        elif not ln.startswith("\\"):
            in_hunk = False  # text after a diff (a commit message, the next `git log` entry)
    for i in context:
        lo, hi = max(0, i - CONTEXT_LINES), min(n, i + CONTEXT_LINES + 1)
        keep[i] = any(changed[lo:hi])

    out, drops = fold(lines, keep, lambda i, j: lines_summary(i, j, "unchanged context" if not generated else ""))
    return Compressed(out, "diff", "diff", drops)
