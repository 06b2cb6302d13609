"""Where a needed fact ended up after compression: verbatim, in a drop whose marker names it, or lost.

- **verbatim**: the fact is a substring of the compressed tool output. A fact written as JSON
  (`"draft": false`, or a pretty-printed array over several lines) also matches its compact form
  (`"draft":false`, `["a","b"]`: the whitespace outside JSON strings removed): compressors re-serialise
  JSON compactly, which changes no value.
- **named**: not verbatim, but the fact is a substring of the dropped text of a marker that is present
  in the compressed output, and that marker's summary names the fact: some *naming token* of the fact
  is also a token of the summary (compared case-insensitively, whole tokens), after the marker's own
  bookkeeping (its counts and line/item ranges) is removed from the summary. A model reading such a
  marker, with that question, has a reason to fetch it.
- **lost**: anything else, including a fact inside a drop whose marker does not name it (the model has
  no reason to fetch it); such facts are counted apart as ``lost_in_unnamed_drop`` for diagnosis.

A *naming token* of a fact (``naming_tokens``) is, with tokens split on anything that is not a letter,
digit or underscore (a dot inside a number kept):
- an identifier: a token holding an underscore, a digit next to a letter (``v2``, ``E0308``), or an
  upper-case letter after a lower-case one (``RetryPolicy``), at least 2 characters; and the name a
  definition in the fact defines, whatever its letters (``redirect`` in ``def redirect(``);
- a number of at least 3 digits (``404``, ``2.50``; a one- or two-digit number is as likely a day, a
  month or a count in the marker as the fact);
- a word of 4 or more letters that is not a stop word (``STOP_WORDS``: common English words and the
  words every marker uses, such as "lines", "omitted", "mention") *and* is a word of the question the
  fact answers (equal once a final "s", "es", "ed", "ing", "ion" or "er" is removed): a facet word of
  the summary such as "'optional' x159" says what a run is, not that the fact asked about is in it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from headroom.core.markers import find_markers

__all__ = ["STOP_WORDS", "FactResult", "classify", "naming_tokens", "summary_tokens"]

VERBATIM, NAMED, LOST = "verbatim", "named", "lost"

_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:\.[0-9]+)*")
_IDENT = re.compile(r"_|[A-Za-z][0-9]|[0-9][A-Za-z]|[a-z][A-Z]")

# Common English words, and the vocabulary of the marker grammar itself: a marker that says "lines
# omitted" names no line.
STOP_WORDS = frozenset("""
about above after again against also among because been before being below between both could does
doing down during each every from further have having here hers herself himself into itself just more
most much must only other ours over same shall should some such than that their theirs them then there
these they this those through under until very were what when where which while whom will with within
would your yours yourself none nothing without also into onto upon like unless since than else
true false null none self this return import
lines line omitted items item entries entry rows row mention mentions matches match files file part
body bodies more with words word repeated times retrieve headroom these them kind kinds first last
under folded hidden dropped shown show total
""".split())

# The marker's bookkeeping about itself: "12 lines omitted", "(lines 40-51", "items 21-53 of 420",
# "its lines 120-900", "3 of 40 entries omitted". Numbers there are positions, not content.
_BOOKKEEPING = re.compile(
    r"\b\d+ (?:of \d+ )?(?:lines?|items?|entries|entry|rows?|matches|match|files?|sections?|hunks?|bytes|"
    r"characters|chars|tokens) (?:omitted|more|folded|dropped)?|"
    r"\b(?:its )?(?:lines?|items?|rows?|entries|hunks?|sections?) \d+(?:\s*-\s*\d+)?(?: of \d+)?|"
    r"\b\d+ more matches\b|\b\d+ more\b",
    re.I)


_SUFFIXES = ("ing", "ion", "es", "ed", "er", "s")


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def _is_number(tok: str) -> bool:
    return tok.replace(".", "").isdigit()


# The name a definition line defines is an identifier whatever its letters (`def redirect(`, `class Lexer`).
_DEFINED = re.compile(r"\b(?:def|class|function|fn|func)\s+([A-Za-z_]\w*)")


def naming_tokens(fact: str, question: str = "") -> set[str]:
    """The fact's tokens that can name it in a marker (lower-cased); see the module docstring."""
    asked = {_stem(t) for t in _TOKEN.findall(question) if t.isalpha()}
    out = {m.group(1).lower() for m in _DEFINED.finditer(fact) if len(m.group(1)) >= 2}
    for tok in _TOKEN.findall(fact):
        if _is_number(tok):
            keep = len(tok.replace(".", "")) >= 3
        elif _IDENT.search(tok):
            keep = len(tok) >= 2
        else:
            keep = (tok.isalpha() and len(tok) >= 4 and tok.lower() not in STOP_WORDS and _stem(tok) in asked)
        if keep:
            out.add(tok.lower())
    return out


def summary_tokens(summary: str) -> set[str]:
    """A marker summary's tokens (lower-cased), its own counts and ranges left out."""
    return {t.lower() for t in _TOKEN.findall(_BOOKKEEPING.sub(" ", summary))}


@dataclass(frozen=True)
class FactResult:
    fact: str
    turn: str  # "first" (the question before the tool call) or "later" (a question after it)
    category: str  # verbatim | named | lost
    in_unnamed_drop: bool = False  # lost, though inside a drop whose marker does not name it
    marker_key: str = ""


_JSON_STRING_OR_SPACE = re.compile(r'"(?:[^"\\]|\\.)*"|\s+')


def _forms(fact: str) -> tuple[str, ...]:
    """The fact, and its compact-JSON form when it holds JSON strings (`"key": value` -> `"key":value`,
    a pretty-printed array -> `["a","b"]`): the whitespace outside strings removed."""
    if '"' not in fact:
        return (fact,)
    compact = _JSON_STRING_OR_SPACE.sub(lambda m: m.group() if m.group().startswith('"') else "", fact)
    return (fact,) if compact == fact else (fact, compact)


def classify(facts: Iterable[str], compressed: str, drops: Mapping[str, str], turn: str = "first",
             question: str = "") -> list[FactResult]:
    """Classify each fact against one compressed tool output and the drops of its markers; `question` is
    the question the facts answer (its words are the only plain words that can name a fact)."""
    markers = find_markers(compressed)
    present = [(m.key, summary_tokens(m.summary)) for m in markers if m.key in drops]
    out: list[FactResult] = []
    for fact in facts:
        forms = _forms(fact)
        if any(f in compressed for f in forms):
            out.append(FactResult(fact, turn, VERBATIM))
            continue
        holding = [(key, toks) for key, toks in present if any(f in drops[key] for f in forms)]
        wanted = naming_tokens(fact, question)
        naming = next((key for key, toks in holding if wanted & toks), "")
        if naming:
            out.append(FactResult(fact, turn, NAMED, marker_key=naming))
        else:
            out.append(FactResult(fact, turn, LOST, in_unnamed_drop=bool(holding),
                                  marker_key=holding[0][0] if holding else ""))
    return out
