"""Which line-oriented tool output a text is, if any: diagnostics, `git log`, `ls -l`, pip/npm output.

One entry point for the router, so these detectors sit together and run in a fixed order (a `git
log -p` holds a diff; a build's diagnostics may follow a package manager's progress).
"""
from __future__ import annotations

__all__ = ["detect_tool_output"]


def detect_tool_output(lines: list[str]) -> str | None:
    """The content type (a REGISTRY key) of a recognised tool output, or None."""
    from headroom.core.compressors import diagnostics, gitlog, listing, packages

    if gitlog.looks_like_gitlog(lines):
        return "gitlog"
    if diagnostics.looks_like_diagnostics(lines):
        return "diagnostics"
    if listing.looks_like_listing(lines):
        return "listing"
    if packages.looks_like_packages(lines):
        return "packages"
    return None
