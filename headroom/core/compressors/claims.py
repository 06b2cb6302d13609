"""The question's terms a marker may count: only those it can state truly in the question's own words.

`facets.informative_terms` matches stems and phrase spellings ('typeer' finds `TypeError`, "python
modules" finds `python-modules`), while a marker displays the question's word ("2 mention 'typeerrors'",
"1 mention 'python_modules'"). A reader checks the marker against the dropped text in the displayed
word, so a term is counted only where every line it is counted in holds that word as written.
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
            out[term] = where
    return out
