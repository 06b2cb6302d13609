"""Package-manager output: pip install/download logs, npm install output and `npm ls` trees.

pip and npm print one line per step per package (Collecting, Downloading, a progress bar, Requirement
already satisfied, Using cached, Saved...). What a reader wants is the errors and warnings, the final
summary (`Successfully installed ...`, `added 81 packages in 18s`, the audit counts) and the packages the
question names: those are kept, and the progress lines fold into markers that count them by kind and
name the packages they are about. An `npm ls` tree keeps its root, the direct dependencies, every
problem (UNMET, invalid, extraneous, missing) and the packages the question names with the path of
parents that leads to them; each folded subtree is named by its parent in the marker.
"""
from __future__ import annotations

import re
from collections import Counter

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary
from headroom.core.compressors.tooloutput import fit

__all__ = ["compress_packages", "looks_like_packages"]

MIN_LINES = 8
KNOWN_SHARE = 0.8  # lines of a known kind make up this share of a package manager's output
WARNINGS_PER_SHAPE = 3
PACKAGES_IN_MARKER = 5
QUERY_ALL_MAX = 60
TREE_KEEP_DEPTH = 1  # `npm ls` rows kept at this depth and above (the root's direct dependencies)

# (kind, pattern): the kinds of pip/npm line. A "keep" kind is never folded.
_PIP = (
    ("error", re.compile(r"^(?:ERROR|error|FATAL)[:\s]|^\s*(?:×|╰─>|│)\s|^\s*(?:note|hint): ")),
    ("warning", re.compile(r"^(?:WARNING|DEPRECATION|warning):")),
    ("summary", re.compile(r"^(?:Successfully (?:installed|downloaded|uninstalled|built) |Installing collected packages: |"
                           r"Would install |\[notice\] |Looking in (?:indexes|links): |Defaulting to user installation|"
                           r"Obtaining |Installed |Uninstalled )")),
    ("collecting", re.compile(r"^\s*Collecting (?P<pkg>[A-Za-z0-9][\w.\-\[\],]*)")),
    ("downloading", re.compile(r"^\s*(?:Downloading|Downloaded) (?P<pkg>\S+)")),
    ("cached", re.compile(r"^\s*Using cached (?P<pkg>\S+)")),
    ("satisfied", re.compile(r"^\s*Requirement already (?:satisfied|up-to-date): (?P<pkg>[A-Za-z0-9][\w.\-\[\]]*)")),
    ("processing", re.compile(r"^\s*Processing (?P<pkg>\S+)")),
    ("saved", re.compile(r"^\s*(?:Saved|File was already downloaded) (?P<pkg>\S+)")),
    ("progress", re.compile(r"^\s*(?:━|╸|╺|\|?[█▉▊▋▌▍▎▏#]{3,})|^\s*\d+(?:\.\d+)?/\d+(?:\.\d+)? [kMG]?B ")),
    ("build", re.compile(r"^\s*(?:Preparing metadata|Installing build dependencies|Getting requirements to build|"
                         r"Building wheels? for|Building editable for|Created wheel for|Stored in directory|"
                         r"Running setup\.py|Attempting uninstall|Found existing installation|Uninstalling |"
                         r"Building (?:wheel|editable)|Checking if build backend|Installing backend dependencies|"
                         r"Preparing editable metadata|Running command )")),
)
_NPM = (
    ("error", re.compile(r"^npm (?:error|ERR!)")),
    ("warning", re.compile(r"^npm (?:warn|WARN)")),
    ("summary", re.compile(r"^(?:added|removed|changed|audited|up to date)\b.* in \d"
                           r"|^\d+ packages? (?:are|is) looking for funding|^\s+run `npm fund`|^found \d+ vulnerabilit|^\d+ (?:low|moderate|high|critical)|"
                           r"^To address|^\s+npm audit fix|^Run `npm audit`|^\s*npm notice")),
)
# An `npm ls` row: the tree's lead (│ and spaces, two per level), the branch, the package@version.
_TREE = re.compile(r"^(?P<lead>[│├└─┬ |`+\\-]*?)(?:[├└`+]─+[┬─]?\s?|[├└]── )"
                   r"(?P<problem>UNMET (?:OPTIONAL |PEER )?DEPENDENCY )?"
                   r"(?P<pkg>(?:@[\w.\-]+/)?[\w.\-]+)@(?P<ver>\S+)(?P<rest>.*)$")
_TREE_ROOT = re.compile(r"^\S+@\S+(?: \S+)?$|^\S+ \S+$")
_TREE_PROBLEM = re.compile(r"\b(?:UNMET|invalid|extraneous|missing|ERR!?|overridden)\b", re.I)
_QUICK = re.compile(r"^[ \t]*(?:Collecting|Downloading|Using cached|Requirement already|Processing|Saved|"
                    r"Successfully|Installing|npm |added \d|up to date)|^[│├└ ]*[├└]─")
_PKG_NAME = re.compile(r"^([A-Za-z0-9][\w.\-]*?)(?:-\d[\w.!+]*)?(?:-py\d|-cp\d|\.tar\.gz|\.zip|\.whl|[<>=!~;\[ (]|$)")


def _pip_kind(line: str) -> tuple[str, str]:
    for kind, rx in _PIP + _NPM:
        m = rx.match(line)
        if m:
            return kind, m.groupdict().get("pkg") or ""
    return "", ""


def _tree_problem(m: re.Match) -> bool:
    """An unmet, invalid or extraneous package. An unmet *optional* dependency is not one: npm lists
    every platform's binary that this platform does not need."""
    problem = m.group("problem") or ""
    return bool(problem and "OPTIONAL" not in problem or _TREE_PROBLEM.search(m.group("rest")))


def _tree_depth(m: re.Match) -> int:
    return len(m.group("lead")) // 2 + 1


def looks_like_packages(lines: list[str]) -> bool:
    if sum(1 for ln in lines[:200] if _QUICK.match(ln)) < 3:
        return False  # fewer than 3 pip/npm steps or tree rows: most outputs are rejected by this one pattern
    body = [ln for ln in lines if ln.strip()]
    if len(body) < MIN_LINES:
        return False
    sample = body[:: max(1, len(body) // 400)]
    tree = sum(1 for ln in sample if _TREE.match(ln))
    if tree >= 0.9 * (len(sample) - 1) and _TREE_ROOT.match(body[0]):
        return True
    kinds = [_pip_kind(ln)[0] for ln in sample]
    steps = sum(1 for k in kinds if k in ("collecting", "downloading", "cached", "satisfied", "processing", "saved"))
    npm = sum(1 for ln in sample if ln.startswith("npm "))
    return (steps >= 3 or npm >= 3) and sum(1 for k in kinds if k) >= KNOWN_SHARE * len(sample)


def _pkg(name: str) -> str:
    """A package's name from a step's argument: 'black-26.10.1-cp311-...whl' -> 'black'."""
    base = name.rsplit("/", 1)[-1]
    m = _PKG_NAME.match(base)
    return (m.group(1) if m else base).lower().replace("_", "-")


def compress_packages(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    body = [ln for ln in lines if ln.strip()]
    if body and _TREE_ROOT.match(body[0]) and sum(1 for ln in body if _TREE.match(ln)) >= 0.9 * (len(body) - 1):
        return _compress_tree(lines, ctx)
    n = len(lines)
    kinds = [_pip_kind(ln) for ln in lines]
    keep = [k in ("error", "summary") or not k and bool(ln.strip()) for (k, _), ln in zip(kinds, lines)]
    # Warnings of one shape (paths and quoted names masked) repeated for every package say one thing:
    # the first WARNINGS_PER_SHAPE stay, the markers count the rest by shape. Distinct warnings all stay.
    shapes = {i: _shape(lines[i]) for i, (k, _) in enumerate(kinds) if k == "warning"}
    taken: Counter[str] = Counter()
    for i, shape in shapes.items():
        if taken[shape] < WARNINGS_PER_SHAPE:
            taken[shape] += 1
            keep[i] = True
    query = parse_query(ctx.query)
    qtext = ctx.query or ""
    terms = facets.informative_terms(query, lines) if query else {}
    for term, where in terms.items():
        if facets.keep_all(where, n, QUERY_ALL_MAX) or term in query.strong:
            for i in sorted(where)[:QUERY_ALL_MAX]:
                keep[i] = True
                # A kept step keeps the progress bar under it: it says how big and how fast.
                if i + 1 < n and kinds[i + 1][0] == "progress":
                    keep[i + 1] = True

    def describe(i: int, j: int) -> str:
        counts = Counter(kinds[k][0] for k in range(i, j) if lines[k].strip())
        order = ("collecting", "downloading", "progress", "cached", "satisfied", "processing", "saved", "build")
        noun = {"collecting": "Collecting", "downloading": "Downloading", "progress": "progress bars",
                "cached": "Using cached", "satisfied": "Requirement already satisfied", "processing": "Processing",
                "saved": "Saved", "build": "build steps"}
        parts = [", ".join(f"{counts[k]} {noun[k]}" for k in order if counts.get(k))]
        pkgs = list(dict.fromkeys(_pkg(kinds[k][1]) for k in range(i, j) if kinds[k][1]))
        if pkgs:
            more = len(pkgs) - PACKAGES_IN_MARKER
            parts.append("packages: " + ", ".join(pkgs[:PACKAGES_IN_MARKER]) + (f" and {more} more" if more > 0 else ""))
        folded = Counter(shapes[k] for k in range(i, j) if k in shapes)
        for shape, c in folded.most_common(2):
            parts.append(f"{c} warnings like {shape[:60]!r}")
        parts.extend(facets.term_counts(terms, range(i, j), None, qtext))
        return lines_summary(i, j, fit(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "packages", "packages", drops)


def _shape(line: str) -> str:
    """A warning with what varies per package masked: quoted names, paths, versions."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\S*/\S*|\d[\w.]*", "*", line.strip())


def _compress_tree(lines: list[str], ctx: Context) -> Compressed:
    n = len(lines)
    rows = [_TREE.match(ln) for ln in lines]
    depth = [_tree_depth(m) if m else 0 for m in rows]
    keep = [m is None or depth[i] <= TREE_KEEP_DEPTH or _tree_problem(m)
            for i, m in enumerate(rows)]
    query = parse_query(ctx.query)
    # Rows are matched (and counted in markers) as printed: the package, its version and its notes.
    terms = facets.informative_terms(query, [ln if m else "" for ln, m in zip(lines, rows)]) if query else {}
    for where in terms.values():
        if len(where) > QUERY_ALL_MAX:
            continue
        for i in where:
            keep[i] = True
            # Its own dependencies (one level down), then the path of parents that leads to it.
            for k in range(i + 1, n):
                if not rows[k] or depth[k] <= depth[i]:
                    break
                if depth[k] == depth[i] + 1:
                    keep[k] = True
            d = depth[i]
            for k in range(i - 1, -1, -1):
                if rows[k] and depth[k] < d:
                    keep[k] = True
                    d = depth[k]
                if d <= 1:
                    break

    def describe(i: int, j: int) -> str:
        ms = [rows[k] for k in range(i, j) if rows[k]]
        ds = [depth[k] for k in range(i, j) if rows[k]]
        # The nearest package above the run that is shallower than all of it holds all of it.
        top = min(ds, default=0)
        parent = next((f"{rows[k].group('pkg')}@{rows[k].group('ver')}" for k in range(i - 1, -1, -1)
                       if rows[k] and depth[k] < top), None)
        deduped = sum(1 for m in ms if "deduped" in m.group("rest"))
        parts = [f"{len(ms)} packages" + (f" under {parent}" if parent else "")]
        if ds:
            parts.append(f"depth {min(ds)}-{max(ds)}" if min(ds) != max(ds) else f"depth {ds[0]}")
        if ms:
            parts.append(f"first {ms[0].group('pkg')}@{ms[0].group('ver')}, last {ms[-1].group('pkg')}@{ms[-1].group('ver')}")
        if deduped:
            parts.append(f"{deduped} deduped")
        optional = sum(1 for m in ms if "OPTIONAL" in (m.group("problem") or ""))
        if optional:
            parts.append(f"{optional} unmet optional")
        parts.extend(facets.term_counts(terms, range(i, j), None, ctx.query or ""))
        return lines_summary(i, j, fit(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "packages", "packages", drops)
