"""The question's terms a marker may count: only those it can state truly in the question's own words.

`facets.informative_terms` matches stems and phrase spellings ('typeer' finds `TypeError`, "python
modules" finds `python-modules`), while a marker displays the question's word ("2 mention 'typeerrors'",
"1 mention 'python_modules'"). A reader checks the marker against the dropped text in the displayed
word, so a term is counted only where every line it is counted in holds that word as written, and in
every line that holds a word form of it the matcher passes over (`Checker`, "checked" for 'check').
"""
from __future__ import annotations

from typing import Iterable, Sequence

from headroom.core.compressors import facets
from headroom.core.compressors.query import Query

__all__ = ["counted_terms"]


def counted_terms(query: Query, texts: Sequence[str], names: Iterable[str] = ()) -> dict[str, set[int]]:
    if not query:
        return {}
    out = {}
    for term, where in facets.informative_terms(query, texts, names).items():
        word = facets.display(term, query.text).lower()
        if all(word in texts[i].lower() for i in where):
            out[term] = where | {i for i, t in enumerate(texts) if i not in where and word in t.lower()
                                 and _word_form(t, word)}
    return out


# What a reader counts as a form of a word: the word at a word's start (a camelCase hump is one), then one of
# these endings, then the word's end.
_ENDINGS = ("", "s", "es", "ed", "d", "ing", "ion", "er", "ers")


def _is_hump(text: str, i: int) -> bool:
    return 0 < i < len(text) and text[i - 1].islower() and text[i].isupper()


def _word_form(text: str, word: str) -> bool:
    low = text.lower()
    i = low.find(word)
    while i >= 0:
        if i == 0 or not text[i - 1].isalnum() or _is_hump(text, i):
            j = i + len(word)
            for end in _ENDINGS:
                k = j + len(end)
                if low.startswith(end, j) and (k >= len(text) or not text[k].isalnum() or _is_hump(text, k)):
                    return True
        i = low.find(word, i + 1)
    return False
