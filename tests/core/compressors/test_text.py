"""Prose without structure is left whole (only lossless steps); structured prose keeps what the question
is about, and every marker says what it holds (headings or its section and first line, and matches)."""
from __future__ import annotations

import random
import re
from pathlib import Path

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.text import compress_text_doc, has_structure
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, line_span

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _wall(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def test_a_wall_of_text_with_no_structure_is_not_sampled():
    # No headings, no paragraphs: no unit to cut along, so nothing is dropped (the router keeps its
    # lossless form), whatever the question.
    lines = _wall(3000)
    lines[2100] = "the worker flushes the queue to disk every 30 seconds"
    text = "\n".join(lines)
    assert not has_structure(lines)
    r = compress_text_doc(text, Context(query="how often does the worker flush the queue?"))
    assert r.text == text and not r.drops
    out = compress_text(text, Context(query="how often does the worker flush the queue?"))
    assert out.text == text


def test_exact_repeats_in_unknown_text_fold_losslessly():
    lines = _wall(200, seed=3)
    text = "\n".join(lines[:100] + [lines[100]] * 50 + lines[101:])
    out = compress_text(text, Context())
    assert f"{lines[100]} [repeated 50x]" in out.text.split("\n")
    assert out.compressor == "lossless"


def test_every_marker_of_a_real_readme_says_what_it_holds():
    # rich's README (tests/golden/inputs/rich_readme.md, from the rich wheel's metadata).
    text = (INPUTS / "rich_readme.md").read_text(encoding="utf-8")
    assert has_structure(text.split("\n"))
    r = compress_text_doc(text, Context(query="How do I render tables and progress bars with rich?"))
    markers = find_markers(r.text)
    assert markers
    for mk in markers:
        assert line_span(mk.summary) and re.match(r"lines? [\d-]+ omitted: \S", mk.summary), mk.summary
        assert "section" in mk.summary or "from '" in mk.summary or "repeat" in mk.summary, mk.summary
    check_line_markers(text, r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == text


def _click_changes() -> str:
    """click's CHANGES.rst as Claude Code's Read showed it (a real capture), numbers and notes removed."""
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-read-doc-click-changes")
    view = max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text
    return "\n".join(re.sub(r"^\d+\t", "", ln) for ln in view.split("\n") if re.match(r"^\d+\t", ln))


def test_underlined_titles_are_headings_rst_by_order_and_setext_beside_markdown():
    from headroom.core.compressors.text import _headings

    lines = _click_changes().split("\n")
    heads = _headings(lines)
    versions = [i for i, ln in enumerate(lines) if re.match(r"^Version \d", ln) and i + 1 < len(lines)
                and re.match(r"^-{3,}$", lines[i + 1])]
    assert len(versions) > 30 and all(heads.get(i) == 1 for i in versions)  # the first mark seen is level 1
    readme = next(c for c in __import__("headroom.evals.workloads", fromlist=["x"]).realworld_cases()
                  if c.id == "markdown_tabulate_formats").tool_output.split("\n")
    levels = _headings(readme)
    assert levels[readme.index("Installation")] == 2 and readme[readme.index("Installation") + 1].startswith("---")
    assert levels[readme.index("### Table format")] == 3


def test_a_long_outline_folds_runs_of_sections_the_question_is_not_about_naming_them():
    text = _click_changes()
    r = compress_text_doc(text, Context(query="What does 8.1.8 fix about open_file?"))
    assert "-   Fix an issue with type hints for ``click.open_file()``. :issue:`2717`" in r.text
    groups = [m for m in find_markers(r.text) if m.summary.split(": ", 1)[-1].startswith("sections Version")]
    assert groups and len(r.text) < 0.4 * len(text)
    for m in groups:
        shown = m.summary.split("sections ", 1)[1].split(", ")
        assert all(name in r.drops[m.key] for name in shown[:2])
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))


def test_a_release_the_question_names_one_entry_of_keeps_that_entry_and_folds_the_others():
    # Version 7.1's 36 entries: one holds open_file, so the section is picked, but the question is about
    # that entry, not the release ("version" is in every heading: it names none of them).
    text = _click_changes()
    r = compress_text_doc(text, Context(
        query="In which version did open_file start to recognise Path('-') as a standard stream?"))
    start = text.index("Version 7.1\n")
    section = text[start:text.index("Version 7.0\n")]
    assert "-   ``open_file`` with ``atomic=True`` retains permissions of existing" in r.text
    assert "    files and respects the current umask for new files. :issue:`1376`" in r.text  # the whole entry
    assert "Version 7.1\n-----------\n\nReleased 2020-03-09\n" in r.text
    assert "-   Fix memory leak when parsing Unicode arguments on Windows." in section
    assert "-   Fix memory leak when parsing Unicode arguments on Windows." not in r.text
    inside = [m for m in find_markers(r.text) if "rest of section Version 7.1," in m.summary]
    assert inside and all(r.drops[m.key] in section for m in inside)
    # The release with the answer, five entries, is kept whole.
    assert text[text.index("Version 8.0.4\n"):text.index("Version 8.0.3\n")].rstrip() in r.text
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))


def test_a_release_the_question_names_keeps_every_entry():
    text = _click_changes()
    section = text[text.index("Version 7.1\n"):text.index("Version 7.0\n")].rstrip()
    r = compress_text_doc(text, Context(query="What changed about open_file in 7.1?"))
    assert section in r.text


def test_a_question_about_the_sections_as_a_whole_keeps_every_heading():
    text = _click_changes()
    r = compress_text_doc(text, Context(query="List all the versions in this changelog."))
    assert not any(m.summary.split(": ", 1)[-1].startswith("sections Version") for m in find_markers(r.text))
    headings = [ln for ln in text.split("\n") if re.match(r"^Version \d", ln)]
    assert all(h in r.text.split("\n") for h in headings)


def _releases(text: str) -> dict[str, str]:
    """click's CHANGES.rst, release by release: "8.1.3" -> its section (heading to the next heading)."""
    starts = [(m.group(1), m.start()) for m in re.finditer(r"^Version (\S+)\n-+\n", text, re.M)]
    ends = [s for _, s in starts[1:]] + [len(text)]
    return {v: text[s:e].rstrip() for (v, s), e in zip(starts, ends)}


def _v(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_a_question_spanning_releases_keeps_every_entry_of_each_release_in_the_span():
    # "From 8.0.4 to 8.1.3": the releases after 8.0.4 up to 8.1.3 are what was asked, every entry of them,
    # whether or not an entry holds a word of the question; the rest of the changelog still folds.
    text = _click_changes()
    releases = _releases(text)
    lo, hi = "8.0.4", "8.1.3"
    assert lo in releases and hi in releases
    spanned = [v for v in releases if _v(lo) < _v(v) <= _v(hi)]
    assert len(spanned) >= 3
    r = compress_text_doc(text, Context(query=f"We're moving from click {lo} to {hi}. What changed that could break us?"))
    assert [v for v in spanned if releases[v] not in r.text] == []
    older = [v for v in releases if _v(v) < _v(lo)]
    assert [v for v in older if releases[v] not in r.text] and len(r.text) < 0.6 * len(text)
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))


def test_a_question_counting_from_a_release_keeps_every_later_one():
    text = _click_changes()
    releases = _releases(text)
    newest = max(releases, key=_v)
    since = sorted((v for v in releases if _v(v) < _v(newest)), key=_v)[-4]
    r = compress_text_doc(text, Context(query=f"What changed since {since}?"))
    assert [v for v in releases if _v(v) > _v(since) and releases[v] not in r.text] == []
    assert len(r.text) < 0.6 * len(text)


def test_a_changelog_of_one_line_release_titles_keeps_the_spanned_releases_and_counts_what_a_reader_counts():
    # pyflakes' NEWS.rst as Claude Code's Read showed it (agents-9): releases are one-line paragraphs, no
    # underlines; the question moves from 3.0.1 to 3.2.0 and also names Python 3.7, which is no release.
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases
    from headroom.evals.honesty import check_markers

    case = next(c for c in agent_cases() if c.id == "cc-read-doc-pyflakes-news")
    (before,) = [u.text for u in find_units(case.provider, case.body) if "3.1.0 (" in u.text]
    spanned = before[:before.index("3.0.1 (")].rstrip().split("\n")
    assert len(spanned) > 10
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "3.1.0 (" in u.text]
    assert after.startswith("\n".join(spanned)) and len(after) < 0.8 * len(before)
    # Its markers' counts are true by a reader's reading of a mention (`Checker` mentions 'check').
    violations, checked, _ = check_markers(before, after, outcome.drops)
    assert checked and not violations, violations
