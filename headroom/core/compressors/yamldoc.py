"""YAML documents (multi-document `---` streams, Kubernetes manifests and `kubectl get -o yaml`, CI
configs, Helm values): documents and keys are the units; long nested blocks the question is not about
are folded under a marker that names their keys and the values of the fields that vary in them.

Kept: every document separator, the top-level keys and their direct children, each object's identity
(`apiVersion`, `kind`, `metadata.name`/`namespace`), every line the question's terms are in (with the
keys above it, so its path reads), and the odd ones out: a field whose value is rare among the same
field's values across siblings and documents (one condition `status: "True"` among `"False"`s, a
`phase: Pending` among `Running`) keeps its line, and the list item holding it is kept whole.

Detection is line-wise: nearly every line is a `key: value`, a `- item`, a document marker, a comment
or the continuation of a block scalar, there is nesting, and a mapping's keys do not repeat (a log of
`WARNING: ...` lines has one "key" again and again).
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.claims import counted_terms
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["Node", "compress_yaml", "looks_like_yaml", "parse_lines"]

MIN_LINES = 10  # shorter outputs are read whole, and too short to be sure of the format
SHARE = 0.9  # at least this share of the lines parse as YAML lines
SAMPLE_LINES = 2000
PRECHECK_LINES = 60
DUP_KEY_SHARE = 0.2  # more top-level keys repeated than this: a log of "LEVEL: message", not a mapping
MIN_DOCS_FOR_FOCUS = 3  # a stream of at least this many documents keeps detail only where the question is
FOCUS_SHARE = 0.6  # documents scoring at least this share of the best document's score are in focus
KEEP_DEPTH = 2  # top-level keys and their direct children show a document's outline
RARE_MAX_SHARE = 0.1  # a value held by at most this share of a field's occurrences (and at most RARE_MAX)
RARE_MAX = 3
FIELD_MAX_VALUES = 6  # a field with more distinct values is an identifier or a measurement, not a state
RARE_ITEM_MAX_LINES = 40  # a list item holding a rare value is kept whole up to this size
QUERY_NODE_MAX_LINES = 60  # a block whose key the question names is kept whole up to this size
MAX_QUERY_LINES = 200  # lines kept for the question's terms, most informative terms first
SEVERE_ALL_MAX = 40
SUMMARY_CHARS = 300  # whole claims only, leaving room for the line range (markers are cut at 400)
NAMES_IN_MARKER = 8
VALUE_CHARS = 30
_IDENTITY = frozenset({"apiVersion", "kind"})
_IDENTITY_META = frozenset({"name", "namespace", "generateName"})

_KEY = re.compile(r"""^(?P<dash>(?:- +)*)(?P<key>[A-Za-z0-9_$@][\w.$@/\-]*|"[^"\n]{1,80}"|'[^'\n]{1,80}')[ \t]*:(?:[ \t]+(?P<value>.*))?$""")
_ITEM = re.compile(r"^- *(?P<value>.*)$")
_DOC = re.compile(r"^(?:---|\.\.\.)(?:\s.*)?$")
# A state is a word ("True", "Running", "CrashLoopBackOff"), not a time, a size or an id: those vary
# by nature, and a rare one is not an anomaly.
_STATE = re.compile(r"[A-Za-z][A-Za-z_ -]{0,40}")
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*\s*(?:#.*)?$")


@dataclass
class Node:
    """One line of a YAML document, placed in its tree."""

    indent: int
    key: str | None  # the mapping key this line opens, None for items, scalars, comments and text
    value: str  # the inline scalar after the key (or the item), "" when the value is a nested block
    path: tuple[str, ...]  # the keys above and including this line's key; "-" for a list item
    depth: int
    parent: int  # the line index of the enclosing node, -1 at the top
    end: int = 0  # one past the last line of this node's block
    item: int = -1  # the list item this line opens (its own index), -1 if it does not open one
    doc: int = 0
    is_text: bool = False  # a comment, a blank line, or a line inside a block scalar
    inner: tuple[str, ...] | None = None  # the path of the lines nested under this one (`path` if None)


def _unquote(k: str) -> str:
    return k[1:-1] if k[:1] in "\"'" and k[-1:] == k[:1] else k


def parse_lines(lines: list[str]) -> tuple[list[Node], int]:
    """Every line placed in the tree; and how many lines are neither YAML nor inside a block scalar."""
    nodes: list[Node] = []
    stack: list[int] = []  # open nodes, innermost last
    odd = 0
    doc = 0
    scalar_indent: int | None = None  # inside a block scalar: lines indented deeper than its key
    for i, ln in enumerate(lines):
        stripped = ln.strip()
        indent = len(ln) - len(ln.lstrip(" "))
        if scalar_indent is not None and (not stripped or indent > scalar_indent):
            p = stack[-1] if stack else -1
            nodes.append(Node(indent, None, "", nodes[p].path if p >= 0 else (), len(stack), p, doc=doc, is_text=True))
            continue
        scalar_indent = None
        if not stripped or stripped.startswith("#"):
            p = stack[-1] if stack else -1
            nodes.append(Node(indent, None, "", nodes[p].path if p >= 0 else (), len(stack), p, doc=doc, is_text=True))
            continue
        if _DOC.match(ln):
            for k in stack:
                nodes[k].end = i
            stack = []
            if i > 0:
                doc += 1
            nodes.append(Node(0, None, "", (), 0, -1, end=i + 1, doc=doc))
            continue
        m = _KEY.match(stripped)
        is_item = stripped.startswith("-") and (stripped == "-" or stripped[1:2] == " ")
        # Close the blocks this line is not inside. A "- item" at the indentation of a key with no inline
        # value is that key's value (the compact sequence style kubectl prints).
        while stack:
            top = nodes[stack[-1]]
            if top.indent < indent or (top.indent == indent and is_item and top.key is not None
                                       and not top.value and top.item < 0 and top.indent == _key_col(lines[stack[-1]])):
                break
            nodes[stack.pop()].end = i
        p = stack[-1] if stack else -1
        base = (nodes[p].path if nodes[p].inner is None else nodes[p].inner) if p >= 0 else ()
        if m:
            dashes = m.group("dash")
            key = _unquote(m.group("key"))
            value = (m.group("value") or "").strip()
            path = base + ("-",) * len(dashes.split()) + (key,)
            node = Node(indent, key, value, path, len(stack), p, doc=doc)
            if dashes:
                # "- key: value" opens a list item whose other keys sit under it, one column deeper.
                node.item = i
                node.inner = path[:-1]
            if _BLOCK_SCALAR.match(value):
                scalar_indent = indent + len(dashes)
        elif is_item:
            node = Node(indent, None, _ITEM.match(stripped).group("value"), base + ("-",), len(stack), p, doc=doc)
            node.item = i
        else:
            # A flow collection's continuation or a plain multi-line scalar: part of the block above.
            if p < 0:
                odd += 1
            node = Node(indent, None, stripped, base, len(stack), p, doc=doc, is_text=True)
            nodes.append(node)
            continue
        nodes.append(node)
        stack.append(i)
    for k in stack:
        nodes[k].end = len(lines)
    for i, nd in enumerate(nodes):
        if nd.end <= i:
            nd.end = i + 1
    return nodes, odd


def _key_col(line: str) -> int:
    """The column a line's key starts at (after any "- " markers)."""
    s = line.lstrip(" ")
    col = len(line) - len(s)
    while s.startswith("- "):
        s = s[2:].lstrip(" ")
        col = len(line) - len(s)
    return col


def _precheck(lines: list[str]) -> bool:
    """Are most of the first lines (block scalars' text aside) keys, items or document markers?"""
    seen = hits = 0
    scalar_indent: int | None = None
    for ln in lines[:PRECHECK_LINES * 4]:
        stripped = ln.strip()
        indent = len(ln) - len(ln.lstrip(" "))
        if scalar_indent is not None and (not stripped or indent > scalar_indent):
            continue
        scalar_indent = None
        if not stripped or stripped.startswith("#"):
            continue
        seen += 1
        m = _KEY.match(stripped)
        if m or stripped.startswith("- ") or _DOC.match(stripped):
            hits += 1
        if m and _BLOCK_SCALAR.match((m.group("value") or "").strip()):
            scalar_indent = indent
        if seen >= PRECHECK_LINES:
            break
    return seen > 0 and hits >= 0.5 * seen


def looks_like_yaml(lines: list[str]) -> bool:
    if not _precheck(lines):
        return False  # cheap: most outputs are told apart by their first lines
    sample = lines[:SAMPLE_LINES]
    body = [ln for ln in sample if ln.strip() and not ln.lstrip().startswith("#")]
    if len(body) < MIN_LINES:
        return False
    if sum(1 for ln in body if "\t" in ln[: len(ln) - len(ln.lstrip())]) > 0:
        return False  # YAML indents with spaces only
    nodes, _ = parse_lines(sample)
    keys = [nd for nd in nodes if nd.key is not None]
    real = [nd for nd, ln in zip(nodes, sample) if ln.strip() and not ln.lstrip().startswith("#")]
    # Text is YAML only inside a block: a block scalar's lines or a plain scalar continued deeper.
    loose = sum(1 for nd in real if nd.is_text and (nd.parent < 0 or nd.indent <= nodes[nd.parent].indent))
    structural = [nd for nd in real if not nd.is_text]
    if loose > (1 - SHARE) * len(real) or len(keys) < 0.5 * len(structural):
        return False
    if not any(nd.depth > 0 for nd in keys):
        return False  # no nesting at all: "Key: value" headers, a form, a log, not a document
    top = Counter((nd.doc, nd.key) for nd in keys if nd.depth == 0)
    repeated = sum(c - 1 for c in top.values())
    return repeated <= DUP_KEY_SHARE * max(1, sum(top.values()))


def _scalar(v: str) -> str:
    v = v.split(" #", 1)[0].strip()
    return _unquote(v)


def _fields(nodes: list[Node]) -> dict[tuple[str, ...], list[int]]:
    """Scalar fields by path with list positions removed: every line holding a value for that field."""
    by: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, nd in enumerate(nodes):
        if nd.key is not None and nd.value and not _BLOCK_SCALAR.match(nd.value) and len(nd.value) <= VALUE_CHARS:
            by[nd.path].append(i)
    return by


def compress_yaml(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    nodes, _ = parse_lines(lines)
    n = len(lines)
    query = parse_query(ctx.query)
    keep = [False] * n

    def keep_line(i: int) -> None:
        while i >= 0 and not keep[i]:
            keep[i] = True
            i = nodes[i].parent

    def keep_block(i: int) -> None:
        for k in range(i, nodes[i].end):
            keep[k] = True
        keep_line(i)

    lower = text.lower().split("\n")
    # The question's terms are matched in values; a term that is a key ("conditions", "replicas")
    # selects that key's block instead, and is not counted in markers (every line under it "is" it).
    values = [nd.value if nd.key is not None else lines[i] for i, nd in enumerate(nodes)]
    terms = facets.informative_terms(query, values) if query else {}
    # In a stream of documents, those holding the question's values are the ones it is about: the
    # others show their identity and top-level keys only.
    docs = {nd.doc for nd in nodes}
    focus: set[int] = set()
    if len(docs) >= MIN_DOCS_FOR_FOCUS and terms:
        # Each term weighted by how few documents hold it: "worker" in 2 of 14 says more than "deployment" in 5.
        doc_terms = {t: {nodes[i].doc for i in where} for t, where in terms.items()}
        score = Counter()
        for t, ds in doc_terms.items():
            for d in ds:
                score[d] += math.log(1 + len(docs) / len(ds))
        best = max(score.values())
        focus = {d for d, sc in score.items() if sc >= FOCUS_SHARE * best}
    for i, nd in enumerate(nodes):
        if nd.is_text:
            continue
        depth_kept = KEEP_DEPTH if not focus or nd.doc in focus else 1
        if nd.depth < depth_kept and not (nd.depth == 1 and nodes[nd.parent].key is None):
            keep_line(i)
        if nd.key is None and nd.depth == 0:
            keep_line(i)  # document separators and top-level list items
        if _is_identity(nodes, i):
            keep_line(i)
    # Odd ones out: a value rare among the same field's values across siblings and documents.
    fields = _fields(nodes)
    rare_lines: list[int] = []
    for path, idx in fields.items():
        if len(idx) < 3:
            continue
        counts = Counter(_scalar(nodes[i].value) for i in idx)
        if not 2 <= len(counts) <= FIELD_MAX_VALUES or not all(_STATE.fullmatch(v) for v in counts):
            continue
        for i in idx:
            c = counts[_scalar(nodes[i].value)]
            if c <= RARE_MAX and c <= RARE_MAX_SHARE * len(idx) or (len(idx) < 1 / RARE_MAX_SHARE and c == 1 and len(counts) == 2):
                rare_lines.append(i)
    for i in rare_lines:
        keep_line(i)
        item = _enclosing_item(nodes, i)
        if item >= 0 and nodes[item].end - item <= RARE_ITEM_MAX_LINES:
            keep_block(item)
    if query:
        budget = MAX_QUERY_LINES
        for term, where in terms.items():
            for i in sorted(where):
                if budget <= 0:
                    break
                keep_line(i)
                budget -= 1
        for i, nd in enumerate(nodes):
            if focus and nd.doc not in focus:
                continue
            if nd.key is not None and (query.strong_hits(nd.key) or query.word_hits(nd.key)):
                if nd.end - i <= QUERY_NODE_MAX_LINES:
                    keep_block(i)
                else:
                    keep_line(i)
    severe = facets.severe_lines(lower)
    if len(severe) <= SEVERE_ALL_MAX:
        for i in severe:
            keep_line(i)
    # A block is not cut in two: a dropped run that would leave a lone line of a block kept with
    # nothing else is left as it is by fold's size floor.
    qtext = ctx.query or ""

    # Markers count the question's terms in whole lines, keys included: "0 mention 'image'" must be
    # true of a dropped block with an `image:` key too.
    counted = counted_terms(query, lines)

    def describe(i: int, j: int) -> str:
        return lines_summary(i, j, _what(nodes, lines, i, j, counted, severe, qtext), offset=ctx.line_offset)

    def indent_of(i: int, j: int) -> str:
        return " " * min((nodes[k].indent for k in range(i, j) if lines[k].strip()), default=0)

    out, drops = fold(lines, keep, describe, indent_of=indent_of)
    return Compressed(out, "yaml", "yaml", drops)


def _is_identity(nodes: list[Node], i: int) -> bool:
    """An object's `apiVersion`/`kind` and its `metadata.name`/`namespace`, for a document or an item
    of a top-level list (`kubectl get -o yaml`'s `items:`), not a schema property called `kind`."""
    nd = nodes[i]
    if nd.key in _IDENTITY:
        p = nd.parent if nd.item != i else i
        return nd.depth == 0 or (p >= 0 and nodes[p].item == p and nodes[p].depth <= 1)
    if nd.key in _IDENTITY_META and nd.parent >= 0 and nodes[nd.parent].key == "metadata":
        m = nodes[nd.parent]
        return m.depth == 0 or (m.parent >= 0 and nodes[m.parent].item == m.parent and nodes[m.parent].depth <= 1)
    return False


def _listed(names: list[str]) -> str:
    listed = ""
    for m, name in enumerate(names):
        if m == NAMES_IN_MARKER or len(listed) + len(name) > SUMMARY_CHARS // 2:
            return listed + f" and {len(names) - m} more"
        listed += (", " if listed else "") + name
    return listed


def _enclosing_item(nodes: list[Node], i: int) -> int:
    k = i
    while k >= 0:
        if nodes[k].item == k:
            return k
        k = nodes[k].parent
    return -1


def _what(nodes: list[Node], lines: list[str], i: int, j: int, terms: dict[str, set[int]], severe: set[int],
          question: str) -> str:
    """The keys a dropped run holds (its shallowest ones, by path), the values of fields that vary in
    it, and how many of its lines hold the question's terms."""
    shallow = min((nodes[k].depth for k in range(i, j) if not nodes[k].is_text), default=None)
    parts: list[str] = []
    tops = [k for k in range(i, j) if shallow is not None and nodes[k].depth == shallow and not nodes[k].is_text]
    items = [k for k in tops if nodes[k].item == k]
    if items and len(items) == len(tops):
        # A run of list items: how many, of which list, and the keys they have.
        owner = ".".join(p for p in nodes[items[0]].path if p != "-")
        owner = owner.rsplit(".", 1)[0] if nodes[items[0]].key is not None and "." in owner else owner
        keys = list(dict.fromkeys(nodes[k].key for k in range(i, j) if nodes[k].key is not None
                                  and nodes[k].depth <= shallow + 1))
        parts.append(f"{len(items)} item{'s' if len(items) > 1 else ''} of {owner}" + (f" with keys {_listed(keys)}" if keys else ""))
    elif tops:
        names = list(dict.fromkeys(".".join(p for p in nodes[k].path if p != "-") for k in tops if nodes[k].key is not None))
        if names:
            parts.append(f"keys {_listed(names)}")
    if not parts:
        first = lines[i].strip()
        parts.append(f"text from {first[:60]!r}" if first else "blank lines")
    parts += facets.term_counts(terms, range(i, j), severe, question)
    # Fields of states (words, not times or sizes) with their counts ("status: 'False' x5, 'True' x1",
    # "phase all 'Running'"), then other fields whose few values vary.
    by: dict[str, Counter] = defaultdict(Counter)
    for k in range(i, j):
        nd = nodes[k]
        if nd.key is not None and nd.value and not _BLOCK_SCALAR.match(nd.value) and len(nd.value) <= VALUE_CHARS:
            by[nd.key][_scalar(nd.value)] += 1
    def rank(kc: tuple[str, Counter]) -> tuple:
        key, counts = kc
        return (not all(_STATE.fullmatch(v) for v in counts), len(counts) == 1, -sum(counts.values()), key)

    for key, counts in sorted(by.items(), key=rank):
        total = sum(counts.values())
        if total < 2 or len(counts) > FIELD_MAX_VALUES or len(counts) == total:
            continue
        if len(counts) == 1:
            if not all(_STATE.fullmatch(v) for v in counts):
                continue
            claim = f"{key} all {next(iter(counts))!r}"
        else:
            claim = f"{key}: " + ", ".join(f"{v!r} x{c}" for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0])))
        if len("; ".join(parts)) + len(claim) < SUMMARY_CHARS:
            parts.append(claim)
    out = ""
    for p in parts:
        if len(out) + len(p) + 2 > SUMMARY_CHARS:
            break
        out += ("; " if out else "") + p
    return out
