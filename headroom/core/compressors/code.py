"""Source code: the outline of a file whole, and the bodies of the functions the question is about.

Kept: imports, module-level statements, every class/function signature (multi-line ones whole), the
first line of each docstring, and the whole body of the functions that match the question (by name,
by qualified name, by the identifiers the question uses, or by the learned relevance model), and the
constructor of a class the question names. Each
other function's body becomes one marker at the body's indentation, so the outline still reads as
code. A value spread over many lines outside the bodies (a table of constants, `__all__`) folds the same
way between its first and last lines ("value of NAME"), unless the question is about it. An outline still
too long to read (OUTLINE_MAX_TOKENS, its markers counted) folds first a long block of imports past its
first statement (naming the modules; kept when the question is about imports), then runs of whole
definitions the question is not about, never the file's last one. Works by indentation, so Python, JS/TS, Go, Rust, Java, C-like files all fold the same way.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import Query, asks_for_all, parse_query, split_identifier, stem
from headroom.core.compressors.runs import OUTLINE_MAX_TOKENS, fold, lines_summary, outline_over

__all__ = ["compress_code", "looks_like_code"]

MAX_WHOLE_BODIES = 4  # functions kept whole for matching the question, best first
CONSTRUCTORS = frozenset(("__init__", "__new__", "__post_init__", "constructor", "new"))  # Python, JS/TS, Rust
RELATIVE_SCORE = 0.5  # a body is kept whole only if it matches at least half as well as the best one
MIN_BODY_LINES = 4  # shorter bodies are kept: their marker would cost about as much
USES_ALL_MAX = 40  # lines using an identifier the question names, kept in folded bodies up to this many
MAX_SIGNATURE_LINES = 100  # a keyword-heavy __init__ runs to 40 lines; past this the brackets never balance
NAMES_IN_MARKER = 4  # nested functions a marker names
MAX_HEADER_CHARS = 400  # a "signature" longer than this is not one (unbalanced brackets)
MODEL_CANDIDATES = 8  # functions the relevance model scores, after lexical ranking (its token budget)
MODEL_MIN_SIMILARITY = 0.45
# The model is asked only when names alone are not decisive: an exact (qualified) name or two words of
# a function's name in the question already say which body to keep, and the model costs 10-50 ms a call.
MODEL_WHEN_LEXICAL_BELOW = 3.0  # cosine above which the model alone may keep a body

_HEADER = re.compile(
    r"^(?P<indent>[ \t]*)(?:@?\w+[ \t]+)*?"
    r"(?:(?:async[ \t]+)?def|class|(?:async[ \t]+)?function\*?|func|fn|impl|struct|enum|trait|interface|"
    r"module|object)[ \t]+(?P<name>[A-Za-z_$][\w$]*)"
)
# What follows a definition's name: its parameters, bases, generics, a block's opening, a type's relation,
# or nothing (the rest on the next lines). A docstring's "... as object names -- the API ..." has none.
_AFTER_NAME = re.compile(r"\s*(?:$|[(:\[<{=,;]|->|(?:extends|implements|for|where|with|derives)\b)")
# C-family methods: `  public Foo bar(int x) {` / `  bar(x) {` / `  get name() {`
_CLIKE = re.compile(r"^(?P<indent>[ \t]*)(?:[\w<>\[\],.*&$]+[ \t]+)*(?P<name>[A-Za-z_$][\w$]*)[ \t]*\([^;]*$")
# A header line has one of these among its first words; testing that first skips the regex on most lines.
_BLOCK_WORDS = frozenset(
    "def class function function* func fn impl struct enum trait interface module object".split()
)
_CONTROL = frozenset("if for while switch catch return else elif with try except match case do new".split())
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |async def |function |const |let |var |export |package |func |"
    r"fn |pub |impl |#include|public |private |protected |return\b|raise\b|yield\b|if\b.*[:{]\s*$|elif\b|"
    r"else\b|for\b.*[:{]\s*$|while\b|try\b|except\b|catch\b|finally\b|with\b.*:\s*$|self\.|this\.|"
    r"}\s*$|\)\s*[:{;]?\s*$|@\w+|[\w.\[\]]+\s*[+\-*/|&]?=\s*\S)"
)
CODE_LINE_SHARE = 0.25  # source files measure 0.4-0.65; READMEs full of examples stay under 0.2


def looks_like_code(lines: list[str]) -> bool:
    body = [ln for ln in lines if ln.strip()]
    if len(body) < 10:
        return False
    sample = body[:: max(1, len(body) // 400)]  # detection needs a sample, not every line
    return sum(1 for ln in sample if _CODE_LINE.match(ln)) >= CODE_LINE_SHARE * len(sample)


@dataclass
class _Block:
    name: str
    qualname: str
    header: int  # first line of the signature
    body: int  # first line of the body
    end: int  # one past the last line of the body
    indent: int
    parent: int | None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#.*$|\s+//.*$", "", line.rstrip())


def _blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    stack: list[int] = []  # open blocks, innermost last
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if len(line) > MAX_HEADER_CHARS:
            i += 1  # minified or generated code: no signature is this long, and regexes on it are slow
            continue
        ind = _indent(line)
        while stack and ind <= blocks[stack[-1]].indent and i >= blocks[stack[-1]].end:
            stack.pop()
        first_words = line.split(None, 4)[:4]
        m = _HEADER.match(line) if _BLOCK_WORDS.intersection(first_words) else None
        if m is not None and not _AFTER_NAME.match(line, m.end()):
            m = None
        if m is None and line.rstrip().endswith("{"):
            m2 = _CLIKE.match(line)
            if m2 and m2.group("name") not in _CONTROL:
                m = m2
        if m is None:
            i += 1
            continue
        # The signature runs until brackets balance and the line opens a block (':' or '{').
        depth = 0
        j = i
        python_def = line.lstrip().startswith(("def ", "async def ", "class ")) and not line.rstrip().endswith("{")
        while j < n and j - i < MAX_SIGNATURE_LINES:
            s = _strip_comment(lines[j])
            depth += sum(s.count(c) for c in "([") - sum(s.count(c) for c in ")]")
            if depth <= 0 and (s.endswith(":") or s.endswith("{")):
                break
            if depth <= 0 and python_def and ":" in s:
                j = n  # a one-line definition (`def f(x): ...`): no body block; the next line is scanned anew
                break
            j += 1
        else:
            i += 1
            continue
        if j >= n:
            i += 1
            continue
        body = j + 1
        end = body
        k = body
        while k < n:
            if lines[k].strip():
                if _indent(lines[k]) <= ind:
                    break
                end = k + 1
            k += 1
        if end <= body:
            i += 1  # not a block (a docstring's words, say): its "signature" lines may hold a real header
            continue
        parent = None
        while stack and not (blocks[stack[-1]].body <= i < blocks[stack[-1]].end):
            stack.pop()
        if stack:
            parent = stack[-1]
        name = m.group("name")
        qual = f"{blocks[parent].qualname}.{name}" if parent is not None else name
        blocks.append(_Block(name, qual, i, body, end, ind, parent))
        stack.append(len(blocks) - 1)
        i = j + 1
    return blocks


def _lexical_score(block: _Block, lines: list[str], query: Query) -> float:
    if not query:
        return 0.0
    score = 0.0
    qual = block.qualname.lower()
    name = block.name.lower()
    for s in query.strong:
        if s == name or s == qual or qual.endswith("." + s) or s.endswith("." + name) and s in qual:
            score += 6.0
        elif s.split(".")[-1] == name:
            score += 3.0
        elif s.strip("_") == name.strip("_"):
            score += 5.0  # `_parse_known_args` does the work of the `parse_known_args` the question names
    parts = {stem(p) for p in split_identifier(block.name)}
    score += 1.5 * len(parts & set(query.words))
    if score:
        body_text = "\n".join(lines[block.body : min(block.end, block.body + 200)])
        score += 0.25 * len(query.word_hits(body_text))
    return score


def _constructs_named(block: _Block, query: Query) -> bool:
    """Is `block` the constructor of a class the question names (`itsdangerous.Signer` names `Signer`)? A class
    is used through it: its defaults and the arguments it refuses are what "which ones do we get" asks."""
    if not query or block.name.lower() not in CONSTRUCTORS or "." not in block.qualname:
        return False
    cls = block.qualname.lower().rsplit(".", 1)[0]
    return any(s == cls or s.endswith("." + cls) or cls.endswith("." + s) for s in query.strong)


def _docstring_lines(lines: list[str], block: _Block) -> int:
    """How many leading body lines to keep: the docstring's first line (Python), else none."""
    first = lines[block.body].strip() if block.body < len(lines) else ""
    return 1 if first[:3] in ('"""', "'''") or first[:4] in ('r"""', "r'''") else 0


def _model_picks(query: Query, blocks: list[_Block], lines: list[str], lexical: list[float]) -> set[int]:
    """Bodies the learned relevance model rates close to the question, among the best lexical candidates."""
    from headroom.core import relevance

    order = sorted(range(len(blocks)), key=lambda b: (-lexical[b], b))[:MODEL_CANDIDATES]
    texts = []
    for b in order:
        blk = blocks[b]
        doc = lines[blk.body].strip().strip("\"'r ") if blk.body < len(lines) else ""
        texts.append(f"{' '.join(split_identifier(blk.qualname))}. {doc}")
    sims = relevance.similarities(query.text, texts)
    if sims is None:
        return set()
    return {b for b, s in zip(order, sims) if s >= MODEL_MIN_SIMILARITY}


_CONSTANT = re.compile(r"(?<![\w$])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*[A-Z0-9](?![\w$])")  # REGISTRY, MAX_SIZE


HEADER_LINES_MAX = 8  # a bracketed header held for a line inside its block is followed this far at most


def _balance(line: str) -> int:
    """Round and square brackets opened less those closed (braces open blocks in brace languages)."""
    return line.count("(") + line.count("[") - line.count(")") - line.count("]")


def _enclosing(lines: list[str], k: int, start: int) -> list[int]:
    """The statement lines holding line `k` of a body that starts at line `start`: each line above it that is
    less indented than the one below it in the chain, with the lines of a bracketed header that spans
    several (`with f(` ... `) as x:`, `if (a and` ... `b):`)."""
    out: list[int] = []
    if sum(ln.count('"""') + ln.count("'''") for ln in lines[start:k]) % 2:
        return out  # a line of a docstring: its "Args:" is a heading, not a statement
    depth = _indent(lines[k])
    i = k - 1
    while i >= start and depth > 0:
        ln = lines[i]
        if ln.strip() and _indent(ln) < depth and not ln.lstrip().startswith(("#", "//", "*", "/*")):
            depth = _indent(ln)
            out.append(i)
            balance, j = _balance(ln), i
            while balance > 0 and j + 1 < min(k, i + HEADER_LINES_MAX):
                j += 1
                balance += _balance(lines[j])
                out.append(j)
            balance, top = -_balance(ln), max(start, i - HEADER_LINES_MAX)
            while balance > 0 and i > top:
                i -= 1
                balance -= _balance(lines[i])
                out.append(i)
                if lines[i].strip():
                    depth = min(depth, _indent(lines[i]))
        i -= 1
    return out


def compress_code(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    blocks = _blocks(lines)
    if not blocks:
        return Compressed(text, "code", "code")
    query = parse_query(ctx.query)
    funcs = [b for b in range(len(blocks)) if not _is_container(lines, blocks[b])]
    func_set = set(funcs)
    lexical = [_lexical_score(blocks[b], lines, query) for b in range(len(blocks))]
    ranked = sorted((b for b in funcs if lexical[b] > 0), key=lambda b: (-lexical[b], b))
    best = lexical[ranked[0]] if ranked else 0.0
    whole = {b for b in ranked[:MAX_WHOLE_BODIES] if lexical[b] >= RELATIVE_SCORE * best}
    if query and funcs and best < MODEL_WHEN_LEXICAL_BELOW:
        picks = _model_picks(query, [blocks[b] for b in funcs], lines, [lexical[b] for b in funcs])
        whole |= {funcs[k] for k in picks}  # picks index into `funcs`
    # Besides the bodies ranked above, never in their place (it does not make the names decisive).
    whole |= {b for b in funcs if _constructs_named(blocks[b], query)}
    has_whole_inside = {p for b in whole for p in _ancestors(blocks, b)}
    keep = [True] * len(lines)
    folded: dict[int, _Block] = {}
    # A function holding a nested function the question is about (a closure, a local helper) folds the
    # rest of its own body: the nested one stays whole under its ancestors' signatures.
    partial = {b for b in has_whole_inside if b in func_set
               and not any(p in has_whole_inside or p in whole for p in _ancestors(blocks, b))}
    part_of: dict[int, _Block] = {}
    for b in sorted(partial):
        blk = blocks[b]
        for k in range(blk.body + _docstring_lines(lines, blk), blk.end):
            keep[k] = False
            part_of[k] = blk
    for w in whole:
        if not any(p in partial for p in _ancestors(blocks, w)):
            continue
        top = blocks[w].header
        while top > 0 and lines[top - 1].strip().startswith("@"):
            top -= 1  # its decorators
        for k in range(top, blocks[w].end):
            keep[k] = True
        for p in _ancestors(blocks, w):
            if p in partial:
                break
            for k in range(blocks[p].header, blocks[p].body + _docstring_lines(lines, blocks[p])):
                keep[k] = True  # the signatures of the functions between it and the folded ancestor
    for b, blk in enumerate(blocks):
        if (b not in func_set or b in whole or b in has_whole_inside or _inside_whole(blocks, b, whole)
                or any(p in partial for p in _ancestors(blocks, b))):
            continue
        start = blk.body + _docstring_lines(lines, blk)
        if blk.end - start < MIN_BODY_LINES:
            continue
        for k in range(start, blk.end):
            keep[k] = False
        folded[start] = blk

    docstring_of: dict[int, _Block] = {}
    for blk in blocks:
        if _is_container(lines, blk):
            # A long class docstring is prose about the class: its first line says what the class is.
            end = _docstring_end(lines, blk.body)
            if end is not None and end - (blk.body + 1) >= MIN_BODY_LINES:
                for k in range(blk.body + 1, end):
                    keep[k] = False
                    docstring_of[k] = blk

    # A long comment outside the bodies kept whole (a licence header, a design note over a table) is prose
    # about the code: its first line stays and says what it is about.
    in_whole = [False] * len(lines)
    for b in whole:
        for k in range(blocks[b].header, blocks[b].end):
            in_whole[k] = True
    comment_of: dict[int, int] = {}
    for a, e in _comment_runs(lines):
        if e - (a + 1) < COMMENT_MIN_LINES or any(in_whole[a:e]) or not all(keep[a:e]):
            continue
        for k in range(a + 1, e):
            keep[k] = False
            comment_of[k] = a

    # A multi-line value outside the function bodies (a table of constants, `__all__`, a pattern built over
    # many lines) is data the outline does not need to read: like a body, its first and last lines stay and
    # the lines between fold, the marker naming it; a value the question is about (by its name, or an
    # identifier of the question in it) stays whole.
    value_of: dict[int, str] = {}
    for a, e, name in _values(lines, blocks, func_set):
        if e - a - 2 < MIN_BODY_LINES or any(in_whole[a:e]) or not all(keep[a:e]) or _asks_value(query, name, lines[a:e]):
            continue
        for k in range(a + 1, e - 1):
            keep[k] = False
            value_of[k] = name

    # "Which functions call X?" needs every line that uses X: lines of folded bodies holding an
    # identifier of the question that few lines hold are kept (the body folds around them), and each
    # marker counts the question's terms among its lines.
    owner: dict[int, _Block] = dict(part_of)
    for start, blk in folded.items():
        for k in range(start, blk.end):
            owner[k] = blk
    lower = text.lower().split("\n")
    # Identifiers only: a plain word of the question ("functions", "call") is everywhere in code.
    terms = {t: w for t, w in facets.informative_terms(query, lower).items() if t in query.strong} if query else {}
    held: set[int] = set()
    for term, where in terms.items():
        if facets.keep_all(where, len(lines), USES_ALL_MAX):
            for k in where:
                keep[k] = True
            held |= where
    # A constant the question writes in capitals ("falling back to the global REGISTRY") is that identifier,
    # not the lower-case name beside it (`registry`): code is case-sensitive, so its own lines are held too.
    # Only a name the code defines or imports: "HTTP" or "TLS" in a question about a client is a word, even
    # where a docstring writes it so.
    for name in {c for c in _CONSTANT.findall(ctx.query or "") if len(c) >= 3 and c in text}:
        word = re.compile(rf"(?<![\w$]){name}(?![\w$])")
        if not re.search(rf"^\s*(?:(?:export\s+)?(?:const|let|var|static|final|#define)\s+(?:\w+\s+)*)?{name}\s*(?::[^=\n]*)?=(?!=)"
                         rf"|^\s*#define\s+{name}\b|\bimport\b[^\n]*(?<![\w$.]){name}(?![\w$])", text, re.M):
            continue
        where = {k for k, ln in enumerate(lines) if name in ln and word.search(ln)}
        if where and facets.keep_all(where, len(lines), USES_ALL_MAX):
            for k in where:
                keep[k] = True
            held |= where
    # A line kept inside a folded body is read under the statements that hold it: the `if` that guards a
    # `raise`, the `with` or `for` around a call. They stay with it.
    for k in sorted(held):
        blk = owner.get(k)
        if blk is not None:
            for h in _enclosing(lines, k, blk.body):
                keep[h] = True
    imports_of = _fold_imports(lines, keep, held, ctx.encoding, ctx.query or "")
    group_of = _fold_groups(lines, blocks, keep, whole | has_whole_inside, held, ctx.encoding,
                            asks_for_outline=bool(LISTS_DEFINITIONS.search(ctx.query or "")))
    qtext = ctx.query or ""

    def describe(i: int, j: int) -> str:
        blk = owner.get(i)
        what = ""
        names = list(dict.fromkeys(group_of[k] for k in range(i, j) if k in group_of))
        if names and all(k in group_of or not lines[k].strip() for k in range(i, j)):
            shown = ", ".join(names[:GROUP_NAMES_IN_MARKER])
            more = f" and {len(names) - GROUP_NAMES_IN_MARKER} more" if len(names) > GROUP_NAMES_IN_MARKER else ""
            return lines_summary(i, j, ", ".join([f"{len(names)} definitions, signatures and bodies: {shown}{more}",
                                                  *facets.term_counts(terms, range(i, j), None, qtext)]), offset=ctx.line_offset)
        if i in imports_of and all(k in imports_of for k in range(i, j)):
            return lines_summary(i, j, ", ".join([_imports_summary([imports_of[k] for k in range(i, j)]),
                                                  *facets.term_counts(terms, range(i, j), None, qtext)]), offset=ctx.line_offset)
        if blk is not None and j <= blk.end:
            what = f"body of {blk.qualname}" if folded.get(i) is blk and blk.end == j else f"part of the body of {blk.qualname}"
            inner = [b.name for b in blocks if b.parent is not None and i <= b.header < j
                     and blocks[b.parent] is blk and not keyword.iskeyword(b.name)]
            if inner:
                what += f" (defines {', '.join(inner[:NAMES_IN_MARKER])}" + (
                    f" and {len(inner) - NAMES_IN_MARKER} more)" if len(inner) > NAMES_IN_MARKER else ")")
        elif i in value_of and value_of.get(j - 1) == value_of[i]:
            whole_value = i - 1 not in value_of and j not in value_of
            what = f"value of {value_of[i]}" if whole_value else f"part of the value of {value_of[i]}"
        elif i in docstring_of and docstring_of.get(j - 1) is docstring_of[i]:
            what = f"docstring of {docstring_of[i].qualname}"
        elif i in comment_of and comment_of.get(j - 1) == comment_of[i]:
            what = "comment"
        else:
            # Not one body: say what it starts with, so the model knows what it would fetch.
            first = next((ln.strip() for ln in lines[i:j] if ln.strip()), "")
            what = f"from: {first[:60]}" + ("..." if len(first) > 60 else "") if first else ""
        return lines_summary(i, j, ", ".join([w for w in [what] if w] + facets.term_counts(terms, range(i, j), None, qtext)), offset=ctx.line_offset)

    def indent_of(i: int, j: int) -> str:
        first = next((ln for ln in lines[i:j] if ln.strip()), "")
        return first[: _indent(first)]

    out, drops = fold(lines, keep, describe, indent_of=indent_of)
    return Compressed(out, "code", "code", drops)


# An outline over OUTLINE_MAX_TOKENS (a file of hundreds of functions) folds runs of whole definitions the
# question is not about, signatures included, into one marker naming them.
GROUP_MIN_BLOCKS = 2
GROUP_NAMES_IN_MARKER = 12


# A question about a module's definitions as a whole: "which methods does it define?", "list the classes",
# "all the functions" (not "name the functions that verify TLS": a few of them, found by their words).
LISTS_DEFINITIONS = asks_for_all("functions|methods|classes|definitions|signatures|helpers|decorators|subclasses",
                                 "defines?|defined|are there|exist")


def _fold_groups(lines: list[str], blocks: list[_Block], keep: list[bool], about: set[int], held: set[int],
                 encoding: str, asks_for_outline: bool = False) -> dict[int, str]:
    """Fold runs of consecutive top-level definitions not in `about` and holding no `held` line, when the
    outline kept so far is over OUTLINE_MAX_TOKENS; returns each folded line's definition name."""
    if asks_for_outline:
        return {}  # "which functions does it define?": the outline is the answer
    if not outline_over(lines, keep, OUTLINE_MAX_TOKENS, encoding):
        return {}
    group_of: dict[int, str] = {}
    # Sibling definitions: the top level, and the members of each class the question is about (a class of
    # eighty methods keeps the ones it is about; runs of the others fold together).
    levels = [[b for b, blk in enumerate(blocks) if blk.parent is None]]
    levels += [[b for b, blk in enumerate(blocks) if blk.parent == p]
               for p in sorted(about) if _is_container(lines, blocks[p])]
    run: list[tuple[int, int, str]] = []  # (first line with its decorators, end, name)

    def flush() -> None:
        if len(run) >= GROUP_MIN_BLOCKS:
            for a, e, name in run:
                for k in range(a, e):
                    keep[k] = False
                    group_of[k] = name
        run.clear()

    for siblings in levels:
        for b in siblings:
            blk = blocks[b]
            start = blk.header
            while start > 0 and lines[start - 1].strip().startswith("@"):
                start -= 1
            # The file's last definition stays in the outline: where the file ends is where new code goes,
            # and what a reader asks of it ("what is the last function?").
            if b in about or b == levels[0][-1] or any(k in held for k in range(start, blk.end)):
                flush()
                continue
            if run:
                gap = lines[run[-1][1]:start]
                if any(ln.strip() for ln in gap):
                    flush()  # a statement between two definitions (an assignment, an import) breaks the run
            run.append((start, blk.end, blk.qualname if blk.parent is not None else blk.name))
        flush()
    # The blank lines between two folded definitions fold with them.
    for k in range(len(lines)):
        if not lines[k].strip() and k not in group_of:
            before = next((x for x in range(k - 1, -1, -1) if lines[x].strip()), None)
            after = next((x for x in range(k + 1, len(lines)) if lines[x].strip()), None)
            if before in group_of and after in group_of:
                keep[k] = False
    return group_of


# A module's imports: `import a, b`, `from a.b import (x, y)` (Python), `import {x} from "a"` (JS/TS), at the
# top level. In an outline too long to read whole (OUTLINE_MAX_TOKENS), a block of them is the first thing
# to fold, before any definition: its first statement stays and says what follows, the marker names the
# modules, and a line holding an identifier of the question stays. A question about imports keeps them.
_IMPORT = re.compile(r"^(?:import\s+(?P<mods>[\w., ]+?)\s*(?:#.*)?$|from\s+(?P<src>[\w.]+)\s+import\b|"
                     r"import\b.*?\bfrom\s+['\"](?P<js>[^'\"]+)['\"]|import\s+['\"](?P<jsbare>[^'\"]+)['\"])")
_ASKS_IMPORTS = re.compile(r"\bimport(?:s|ed|ing)?\b|\bdepend(?:s|encies|ency|ed|ing)?\b|\brequires?\b", re.I)
IMPORTS_MIN_STATEMENTS = 8  # a shorter block costs little and reads at a glance
MODULES_IN_MARKER = 12


def _import_statements(lines: list[str]) -> list[tuple[int, int, list[str]]]:
    """(first line, one past the last, modules) of each top-level import statement, a parenthesised or
    braced one with its continuation lines."""
    out = []
    k = 0
    while k < len(lines):
        m = _IMPORT.match(lines[k])
        if m is None:
            k += 1
            continue
        end = k + 1
        depth = lines[k].count("(") + lines[k].count("{") - lines[k].count(")") - lines[k].count("}")
        js_open = m.group("js") is None and m.group("jsbare") is None and m.group("src") is None and m.group("mods") is None
        while (depth > 0 or js_open) and end < len(lines) and end - k < 400:
            ln = lines[end]
            depth += ln.count("(") + ln.count("{") - ln.count(")") - ln.count("}")
            end += 1
            if js_open and re.search(r"\bfrom\s+['\"]([^'\"]+)['\"]", ln):
                js_open = False
                m2 = re.search(r"\bfrom\s+['\"]([^'\"]+)['\"]", ln)
                mods = [m2.group(1)]
                break
        else:
            mods = []
        if not mods:
            if m.group("src"):
                mods = [m.group("src")]
            elif m.group("mods"):
                mods = [x.split(" as ")[0].strip() for x in m.group("mods").split(",") if x.strip()]
            else:
                mods = [m.group("js") or m.group("jsbare") or ""]
        out.append((k, end, [x for x in mods if x]))
        k = end
    return out


def _fold_imports(lines: list[str], keep: list[bool], held: set[int], encoding: str, query: str) -> dict[int, str]:
    """Fold each long block of top-level imports past its first statement, when the outline kept so far is
    over OUTLINE_MAX_TOKENS and the question is not about imports; returns each folded line's module."""
    if _ASKS_IMPORTS.search(query) or not outline_over(lines, keep, OUTLINE_MAX_TOKENS, encoding):
        return {}
    statements = _import_statements(lines)
    module_of: dict[int, str] = {}
    block: list[tuple[int, int, list[str]]] = []

    def flush() -> None:
        if len(block) >= IMPORTS_MIN_STATEMENTS:
            for a, e, mods in block[1:]:
                if any(k in held or not keep[k] for k in range(a, e)):
                    continue  # it names what the question asks about, or it is folded already
                for k in range(a, e):
                    keep[k] = False
                    module_of[k] = ", ".join(mods)
            # Blank lines and comments between two folded statements fold with them.
            for k in range(block[1][0], block[-1][1]):
                if k not in module_of and not lines[k].strip():
                    before = next((x for x in range(k - 1, -1, -1) if lines[x].strip()), None)
                    after = next((x for x in range(k + 1, len(lines)) if lines[x].strip()), None)
                    if before in module_of and after in module_of:
                        keep[k] = False
                        module_of[k] = ""
        block.clear()

    for st in statements:
        if block:
            gap = lines[block[-1][1]:st[0]]
            if any(ln.strip() and not ln.lstrip().startswith(("#", "//")) for ln in gap):
                flush()  # code between two imports (a try/except ImportError, a constant) ends the block
        block.append(st)
    flush()
    return module_of


def _imports_summary(modules: list[str]) -> str:
    """"24 imports: codecs, dataclasses, hypothesis.control and 9 more": the statements' modules in order."""
    mods = list(dict.fromkeys(m for ms in modules if ms for m in ms.split(", ")))
    statements = len([1 for k, ms in enumerate(modules) if ms and (k == 0 or modules[k - 1] != ms)])
    shown = ", ".join(mods[:MODULES_IN_MARKER])
    more = f" and {len(mods) - MODULES_IN_MARKER} more" if len(mods) > MODULES_IN_MARKER else ""
    return f"{statements} import statements, from {shown}{more}"


# A statement binding a name to a value: `NAME = `, `NAME: type = `, `export const NAME = `, `static X: T = `.
_ASSIGN = re.compile(r"^[ \t]*(?:(?:export|const|let|var|pub|static|final|public|private|protected|readonly)[ \t]+)*"
                     r"(?P<name>[A-Za-z_$][\w.$]*)[ \t]*(?::[^=]+)?=(?!=)")
_STRING = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"")
MAX_VALUE_LINES = 2000  # a value whose brackets do not close within this many lines is not read as one


def _depth(line: str) -> int | None:
    """What `line` opens less what it closes, of ( [ {, outside its strings and comment; None when the line
    holds a string that may go on past it (a triple quote, an unclosed quote, a template literal)."""
    if '"""' in line or "'''" in line or "`" in line:
        return None
    s = _STRING.sub('""', line.rstrip())
    s = re.split(r"#|//", s, maxsplit=1)[0]  # outside strings, the comment
    if "'" in s or '"' in s.replace('""', ""):
        return None
    return sum(s.count(c) for c in "([{") - sum(s.count(c) for c in ")]}")


def _values(lines: list[str], blocks: list[_Block], funcs: set[int]) -> list[tuple[int, int, str]]:
    """(first line, one past the closing line, name) of each value spread over several lines by its
    brackets, bound outside every function body (at the top level or in a class body). A type made by a
    call that names it (`Row = namedtuple("Row", [...])`, `TypedDict("Opts", {...})`) is a definition, not
    a value: its fields are its signature."""
    in_body = [False] * len(lines)
    for b in funcs:
        for k in range(blocks[b].header, blocks[b].end):
            in_body[k] = True
    out: list[tuple[int, int, str]] = []
    i = 0
    n = len(lines)
    while i < n:
        m = _ASSIGN.match(lines[i]) if not in_body[i] else None
        d = _depth(lines[i]) if m is not None else None
        if not d or d < 0:
            i += 1
            continue
        depth, j = d, i + 1
        while j < n and j - i < MAX_VALUE_LINES and depth > 0:
            dj = _depth(lines[j])
            if dj is None:
                break
            depth += dj
            j += 1
        name = m.group("name")
        if depth == 0 and not re.search(rf"""["']{re.escape(name.split(".")[-1])}["']""", "\n".join(lines[i:i + 2])):
            out.append((i, j, name))
            i = j
        else:
            i += 1
    return out


def _asks_value(query: Query, name: str, span: list[str]) -> bool:
    """Is the question about this value: its name, a word of its name, or an identifier of the question
    in it?"""
    if not query:
        return False
    low = name.lower()
    if any(s == low or s.split(".")[-1] == low.split(".")[-1] for s in query.strong):
        return True
    if {stem(p) for p in split_identifier(name.split(".")[-1])} & set(query.words):
        return True
    return bool(query.strong_hits("\n".join(span)))


COMMENT_MIN_LINES = 8  # a comment folds past its first line when this many lines would go
# A C preprocessor line starts with '#' and is code.
_PREPROCESSOR = re.compile(r"#\s*(?:include|define|undef|if|ifdef|ifndef|elif|else|endif|pragma|import|error|line|region|endregion)\b")


def _comment_runs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive whole-line comments (`#`, `//`, a `/* ... */` block)."""
    runs: list[tuple[int, int]] = []
    start = None
    block = False
    for k, ln in enumerate([*lines, ""]):
        t = ln.strip()
        if block:
            is_comment = True
            block = "*/" not in t
        elif t.startswith("/*"):
            is_comment = True
            block = "*/" not in t[2:]
        else:
            is_comment = (t.startswith("#") and not t.startswith("#!") and not _PREPROCESSOR.match(t)
                          or t.startswith("//"))
        if is_comment and start is None:
            start = k
        elif not is_comment and start is not None:
            runs.append((start, k))
            start = None
    return runs


def _is_container(lines: list[str], blk: _Block) -> bool:
    """Classes, impls, interfaces: their bodies are outlines of other blocks, never folded whole."""
    head = lines[blk.header].lstrip()
    return bool(re.match(r"(?:\w+\s+)*?(?:class|impl|struct|enum|trait|interface|module|object)\b", head))


def _inside_whole(blocks: list[_Block], b: int, whole: set[int]) -> bool:
    p = blocks[b].parent
    while p is not None:
        if p in whole:
            return True
        p = blocks[p].parent
    return False


def _ancestors(blocks: list[_Block], b: int) -> list[int]:
    out = []
    p = blocks[b].parent
    while p is not None:
        out.append(p)
        p = blocks[p].parent
    return out


def _docstring_end(lines: list[str], start: int) -> int | None:
    """Index of the closing line of a docstring opening at `start` (its last line), if there is one."""
    if start >= len(lines):
        return None
    first = lines[start].strip()
    quote = next((q for q in ('"""', "'''") if first.lstrip("rRbBuU").startswith(q)), None)
    if quote is None or first.lstrip("rRbBuU").count(quote) >= 2:
        return None
    for k in range(start + 1, min(len(lines), start + 400)):
        if quote in lines[k]:
            return k
    return None
