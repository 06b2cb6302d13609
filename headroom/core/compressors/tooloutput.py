"""Which line-oriented tool output a text is, if any: diagnostics, `git log`, `ls -l`, pip/npm output.

One entry point for the router, so these detectors sit together and run in a fixed order (a `git
log -p` holds a diff; a build's diagnostics may follow a package manager's progress).
"""
from __future__ import annotations

__all__ = ["detect_tool_output", "fit"]

# A marker's summary is cut at markers.SUMMARY_MAX_CHARS; this compressor keeps its own to SUMMARY_BUDGET (the
# line range before it takes ~40).
# Parts are added whole while they fit, so a long file name never cuts a count in half.
SUMMARY_BUDGET = 340


def fit(parts: list[str], sep: str = "; ", budget: int = SUMMARY_BUDGET) -> str:
    """`parts` joined by `sep`, the ones that would go past `budget` characters left out whole."""
    out: list[str] = []
    used = 0
    for p in parts:
        if not p:
            continue
        cost = len(p) + (len(sep) if out else 0)
        if used + cost > budget:
            continue
        out.append(p)
        used += cost
    return sep.join(out)


def detect_tool_output(lines: list[str]) -> str | None:
    """The content type (a REGISTRY key) of a recognised tool output, or None."""
    from headroom.core.compressors import diagnostics, gitlog, listing, packages, testreport

    if testreport.looks_like_test_report(lines):
        return "pytest"
    if gitlog.looks_like_gitlog(lines):
        return "gitlog"
    if diagnostics.looks_like_diagnostics(lines):
        return "diagnostics"
    if listing.looks_like_listing(lines):
        return "listing"
    if packages.looks_like_packages(lines):
        return "packages"
    return None
