"""Terms of the user's question, and how strongly a piece of text matches them.

The query is the question that preceded the tool call (never a later message), so relevance, and
therefore the compressed form, never changes from one turn to the next.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Query", "parse_query", "split_identifier"]

# Not stopwords here, though they are in English lists: up/down/off/out/over/under/above/below say what
# state a host, a service or a value is in ("which hosts are down?").
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being between both but by
    can could did do does doing done during each few for from further had has have having he her here hers how
    i if in into is it its itself just me more most my no nor not now of on once only or other our own
    same she should so some such than that the their them then there these they this those through to too
    until very was we were what when where which while who whom why will with would you your yours name names
    show tell give find list explain describe summarize summarise please happen happened any anything work works
    did does thing things use used using get got make made way see look like want need know there here these
    every besides many whether""".split()
)
# Words too short to mean anything on their own outside an identifier.
MIN_WORD_LEN = 3

_QUOTED = re.compile(r"""["'`]([^"'`\n]{2,80})["'`]""")
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/:@#]*[A-Za-z0-9_]|[A-Za-z0-9_]")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(name: str) -> list[str]:
    """`export_html` -> [export, html]; `prepareRequest` -> [prepare, request]; lower-cased."""
    parts: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return [p for p in parts if p]


STEM_MAX = 6  # words are matched by their first letters: 'configured' finds 'config', 'certificates' 'certifi'


def stem(word: str) -> str:
    """A crude, deterministic English stem, matched as a prefix: 'timeouts'~'timeout', 'retries'~'retry'."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)] + repl
            break
    return w[:STEM_MAX]


@dataclass(frozen=True)
class Query:
    """`strong`: identifiers, numbers, quoted strings and paths (rare in text, very telling when found).
    `words`: ordinary words minus stopwords, stemmed. Both lower-case."""

    text: str
    strong: tuple[str, ...]
    words: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.strong or self.words)

    @functools.cached_property
    def _strong_re(self) -> re.Pattern | None:
        if not self.strong:
            return None
        return re.compile("|".join(re.escape(s) for s in sorted(self.strong, key=len, reverse=True)), re.I)

    @functools.cached_property
    def _word_re(self) -> re.Pattern | None:
        if not self.words:
            return None
        # A word matches at the start of a word in the text. A stem cut at STEM_MAX letters matches as a
        # prefix ('configur' finds 'config'); a whole short word only with an inflection and not inside
        # a longer lower-case word ('cli' finds 'CLIs' and 'CliRunner', never 'click').
        alts = []
        for k, w in enumerate(self.words):
            tail = "" if len(w) >= STEM_MAX else r"(?:s|es|ed|ing|ies)?(?-i:(?![a-z]))"
            alts.append(f"(?P<w{k}>{re.escape(w)}{tail})")
        return re.compile(r"(?<![A-Za-z])(?:" + "|".join(alts) + ")", re.I)

    def strong_hits(self, text: str) -> set[str]:
        r = self._strong_re
        if r is None:
            return set()
        low = text.lower()
        if not any(s in low for s in self.strong):
            return set()  # substring tests in C are far cheaper than the regex on a miss
        return {m.group().lower() for m in r.finditer(text)}

    def word_hits(self, text: str) -> set[str]:
        r = self._word_re
        if r is None:
            return set()
        low = text.lower()
        if not any(w in low for w in self.words):
            return set()
        # The query's word that matched, not the text's inflection of it, so counts add up per term.
        return {self.words[int(m.lastgroup[1:])] for m in r.finditer(text)} if r else set()

    def score(self, text: str) -> float:
        """How many distinct query terms `text` contains; strong terms count three times."""
        return 3.0 * len(self.strong_hits(text)) + len(self.word_hits(text))


@functools.lru_cache(maxsize=256)
def parse_query(text: str) -> Query:
    text = text or ""
    strong: list[str] = []
    words: list[str] = []
    for m in _QUOTED.finditer(text):
        strong.append(m.group(1).strip().lower())
    for tok in _TOKEN.findall(text):
        low = tok.lower()
        if low.endswith("'s"):
            low = low[:-2]
        is_identifier = (
            any(c.isdigit() for c in tok)
            or any(c in tok for c in "_./:@#-")
            or (tok != tok.lower() and tok != tok.capitalize() and tok != tok.upper())  # camelCase
        )
        if is_identifier and len(low) >= 2:
            strong.append(low.strip(".:-/"))
            for part in split_identifier(tok):
                if len(part) >= MIN_WORD_LEN and part not in STOPWORDS and not part.isdigit():
                    words.append(stem(part))
        elif len(low) >= MIN_WORD_LEN and low not in STOPWORDS:
            words.append(stem(low))
    # Two adjacent content words often name one thing ("test label" -> test-label, "clone URL" -> clone_url).
    plain = [t.lower() for t in re.findall(r"[A-Za-z][A-Za-z0-9]*|[^A-Za-z0-9\s]", text)]
    for a, b in zip(plain, plain[1:]):
        if len(a) >= MIN_WORD_LEN and len(b) >= MIN_WORD_LEN and a not in STOPWORDS and b not in STOPWORDS:
            if a.isalnum() and b.isalnum():
                strong.extend((f"{a}-{b}", f"{a}_{b}", f"{a} {b}"))
    strong = [s for s in dict.fromkeys(strong) if s]
    words = [w for w in dict.fromkeys(words) if w and w not in STOPWORDS]
    return Query(text, tuple(strong), tuple(words))
