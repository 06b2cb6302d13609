"""What every compressor takes and returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

__all__ = ["Compressed", "Compressor", "Context"]


@dataclass(frozen=True)
class Context:
    """What a compressor may know about a tool output besides its text.

    `query` is the user's question that preceded the tool call (never the latest message: invariant 3),
    so the compressed form of a tool output never changes from one turn to the next.
    """

    query: str = ""
    tool_name: str | None = None
    encoding: str = "o200k_base"
    is_error: bool = False
    # The caller's exact token count of the text in `encoding`, when it already has one (the pipeline
    # counts every unit for its report): the router then does not count the same text twice.
    tokens: int | None = None
    # The arguments of the tool call, as compact JSON (see providers.Unit.tool_args): a file view's markers
    # name the agent's own way to fetch folded lines (Read offset/limit, `sed -n A,Bp FILE`).
    tool_args: str = ""
    # File line ranges (first, last) that outputs earlier in the conversation showed of the same file behind
    # markers: a call asking for lines among them is the model following a marker, and reads them whole.
    folded_lines: tuple[tuple[int, int], ...] = ()
    # Lines of the whole tool output before this text, when it is one part of it (a section of mixed content,
    # a file view whose first line is line N): markers give line numbers of the whole output, or the file's.
    line_offset: int = 0
    # Tokens of the whole tool output's other content, when this text is one part of it (the head and the
    # tail around an agent's cut): what is "read whole" under a size (an error output, a diff's changes)
    # is judged by what the model reads at once, the whole output, not one part of it.
    rest_tokens: int = 0
    # When this text is a part after an agent's cut, the content type of the part before it if the text
    # continues it (a diff's tail starts inside a hunk of a file whose header was cut away: "" = detect it
    # on its own); and the files a diff names over all its parts (one file's diff is read whole).
    continues: str = ""
    diff_files: int = 0


@dataclass(frozen=True)
class Compressed:
    """A compressor's result: the text to send and every dropped run by its marker key.

    `drops` maps each key that appears in a marker in `text` to exactly the content that marker replaced.
    An unchanged result has `text` equal to the input and no drops.
    """

    text: str
    content_type: str
    compressor: str
    drops: Mapping[str, str] = field(default_factory=dict)


class Compressor(Protocol):
    name: str

    def __call__(self, text: str, ctx: Context) -> Compressed: ...
