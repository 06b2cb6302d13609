"""`ls -l` listings, on real outputs: rows are entries, markers say how many of which type, the first and
last name, the size and date ranges, and the entries a question names or asks for are kept.

Samples made here with:
  ls -laR /etc/ssl /etc/apt /etc/default                       > tests/golden/inputs/ls_laR_etc.txt
  ls -lh --time-style=long-iso /usr/lib/x86_64-linux-gnu       > tests/golden/inputs/ls_lh_iso_libdir.txt
  ls -l /dev                                                   > tests/golden/inputs/ls_l_dev.txt
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.listing import _order_recent, compress_listing, looks_like_listing, parse_entry
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

INPUTS = Path(__file__).parents[2] / "golden" / "inputs"
SAMPLES = ["ls_laR_etc.txt", "ls_lh_iso_libdir.txt", "ls_l_dev.txt"]
QUESTIONS = ["", "which are the largest files?", "what changed most recently?", "is libssl.so.3 there?",
             "the oldest 3 entries"]


def _read(name: str) -> str:
    return (INPUTS / name).read_text()


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("q", QUESTIONS)
def test_detected_reversible_markers_exact(name, q):
    text = _read(name)
    assert detect(text) == "listing"
    r = compress_listing(text, Context(query=q))
    assert r.drops
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


_NOUNS = {"file": "-", "dir": "d", "link": "l", "char device": "c", "block device": "b", "pipe": "p", "socket": "s"}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("q", QUESTIONS)
def test_every_marker_claim_is_true_of_what_it_dropped(name, q):
    text = _read(name)
    r = compress_listing(text, Context(query=q))
    all_entries = [e for e in (parse_entry(ln) for ln in text.split("\n")) if e]
    order = dict(zip(all_entries, _order_recent([e.when for e in all_entries])))
    for mk in find_markers(r.text):
        entries = [e for e in (parse_entry(ln) for ln in r.drops[mk.key].split("\n")) if e]
        m = re.search(r"(\d+) entr(?:y|ies): ([^;]*);", mk.summary)
        assert int(m.group(1)) == len(entries)
        for count, noun in re.findall(r"(\d+) ([a-z ]+?)s?(?:,|$)", m.group(2)):
            assert int(count) == sum(1 for e in entries if e.type == _NOUNS[noun.strip()]), mk.summary
        names = re.search(r"first '([^']*)', last '([^']*)'", mk.summary)
        if names:
            assert (names.group(1), names.group(2)) == (entries[0].name, entries[-1].name)
        sizes = re.search(r"sizes (\S+)-(\S+?);", mk.summary)
        sized = [e for e in entries if e.type not in "cb"]
        if sizes:
            assert sizes.group(1) == min(sized, key=lambda e: e.bytes).size
            assert sizes.group(2) == max(sized, key=lambda e: e.bytes).size
        dates = re.search(r"dates (.+?) to (.+?)(?:;|\)$)", mk.summary)
        if dates:
            assert dates.group(1) == min(entries, key=lambda e: order[e]).date
            assert dates.group(2) == max(entries, key=lambda e: order[e]).date


def test_largest_and_newest_questions_keep_them():
    text = _read("ls_lh_iso_libdir.txt")
    entries = [(ln, parse_entry(ln)) for ln in text.split("\n")]
    rows = [(ln, e) for ln, e in entries if e and e.name not in (".", "..")]
    r = compress_listing(text, Context(query="which are the 3 largest libraries here?"))
    for ln, _ in sorted(rows, key=lambda le: -le[1].bytes)[:3]:
        assert ln in r.text.split("\n")
    r = compress_listing(text, Context(query="what was modified most recently?"))
    newest = max(rows, key=lambda le: le[1].when)
    assert newest[0] in r.text.split("\n")


def test_named_entry_is_kept_and_the_odd_one_out_too():
    text = _read("ls_laR_etc.txt")
    r = compress_listing(text, Context(query="when was GlobalSign_Root_E46.pem linked?"))
    named = [ln for ln in text.split("\n") if ln.endswith("GlobalSign_Root_E46.pem") or " GlobalSign_Root_E46.pem" in ln]
    assert named and all(ln in r.text.split("\n") for ln in named)
    # The one directory among 290 links in /etc/ssl/certs is kept without being asked for.
    assert "drwxr-xr-x 2 root root   4096 Jun 24  2025 java" in r.text.split("\n")
    for header in ("/etc/ssl/certs:", "/etc/ssl/certs/java:", "/etc/apt/trusted.gpg.d:", "total 644"):
        assert header in r.text.split("\n")


def test_router_and_saving():
    for name in SAMPLES:
        text = _read(name)
        r = compress_text(text, Context(query="what is in here?"))
        assert r.content_type == "listing"
        assert len(r.text) < 0.5 * len(text)


def test_not_a_listing():
    assert not looks_like_listing([f"src/app/m{i}.py:{i}:    x = {i}" for i in range(40)])
    assert not looks_like_listing(_read("dpkg.log").split("\n"))
    assert not looks_like_listing(["total 4", "-rw-r--r-- 1 root root 12 Jan  1  2024 a"])


def test_size_condition_keeps_every_entry_over_it_and_markers_count_them():
    text = _read("ls_lh_iso_libdir.txt")
    rows = [(ln, e) for ln, e in ((ln, parse_entry(ln)) for ln in text.split("\n")) if e]
    r = compress_listing(text, Context(query="which libraries here are over 10 MB?"))
    big = [ln for ln, e in rows if e.bytes > 10_000_000 and e.type not in "cb"]
    assert big and all(ln in r.text.split("\n") for ln in big)
    for mk in find_markers(r.text):
        m = re.search(r"(\d+) with size over 10 MB", mk.summary)
        assert m and int(m.group(1)) == 0  # every entry over 10 MB is kept, so no marker holds one


def test_markers_count_files_by_extension():
    from headroom.core.compressors.listing import _ext

    text = _read("ls_lh_iso_libdir.txt")
    r = compress_listing(text, Context(query="how many static libraries (.a) are there?"))
    counted = 0
    for mk in find_markers(r.text):
        files = [e for e in (parse_entry(ln) for ln in r.drops[mk.key].split("\n")) if e and e.type == "-"]
        for count, ext in re.findall(r"(\d+) \.(\w+)", mk.summary):
            assert int(count) == sum(1 for e in files if _ext(e) == ext)
            counted += 1
    assert counted >= 3
    assert _ext(parse_entry("-rw-r--r--  1 root root 1.6K 2026-04-27 20:14 libz.so.1.2.13")) == "so"
