"""CSV/TSV on real exports: detected as tables (rows starting with a date too), the rows the question
selects kept, and every claim of every marker (row counts, column ranges, value counts) true of its rows.

Samples (tests/golden/inputs/), made on this machine:
- git_log.csv: `git log -n 400 --date=iso-strict --pretty=format:'%ad%x09%h%x09%an%x09%x09%s' --shortstat`
  over this repository, the shortstat's file count moved into its column, exported by
  `sqlite3 -cmd '.mode tabs' -cmd '.import gitlog.tsv commits' -cmd '.mode csv' -cmd '.headers on'`
  (quoted fields with commas).
- dpkg_packages.csv: `dpkg-query -W -f='${Package}\\t${Version}\\t${Installed-Size}\\t${Priority}\\t${Section}\\t${Architecture}\\n'`
  under a tab-separated header line, exported to CSV by sqlite3 as above; dpkg_packages.tsv: its first 300
  lines as dpkg-query printed them.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.delimited import compress_delimited, looks_like_delimited
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _read(name: str) -> str:
    return (INPUTS / name).read_text(encoding="utf-8")


def _rows(text: str, delimiter: str) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]


def check_row_claims(original: str, out: str, drops: dict[str, str], delimiter: str) -> int:
    """Every claim in every marker is true of the rows it dropped: the row count, each column's range
    (numbers, dates), each column's value counts. Returns how many claims were checked."""
    header = _rows(original, delimiter)[0]
    checked = 0
    for mk in find_markers(out):
        rows = _rows(drops[mk.key], delimiter)
        parts = mk.summary.split(": ", 1)[1].rstrip(")").split("; ")
        m = re.fullmatch(r"(\d+) rows? of (\d+)", parts[0])
        assert m and int(m.group(1)) == len(rows), mk.summary
        assert int(m.group(2)) == len(_rows(original, delimiter)) - 1
        for part in parts[1:]:
            col = next((c for c in sorted(header, key=len, reverse=True) if part.startswith(c + " ") or part.startswith(c + ":")), None)
            if col is None:
                continue  # a count of question terms or error words: checked by the facets tests
            vals = [r[header.index(col)].strip() for r in rows]
            rest = part[len(col):]
            if rng := re.fullmatch(r" (\S+)\.\.(\S+)", rest):
                lo, hi = rng.groups()
                try:
                    xs = [float(v) for v in vals]
                    assert (min(xs), max(xs)) == (float(lo), float(hi)), part
                except ValueError:
                    assert (min(vals), max(vals)) == (lo, hi), part
            elif one := re.fullmatch(r" all '(.*)'", rest):
                assert set(vals) == {one.group(1)}, part
            elif rest.startswith(": "):
                claimed = dict((v, int(k)) for v, k in re.findall(r"'([^']*)' x(\d+)", rest))
                assert claimed == {v: vals.count(v) for v in set(vals)}, part
            else:
                assert re.fullmatch(r" (\S+)", rest) and {rest.strip()} == set(vals) or all(
                    float(v) == float(rest) for v in vals), part
            checked += 1
    return checked


def test_a_csv_whose_rows_start_with_a_date_is_a_table_not_a_log():
    text = _read("git_log.csv")
    assert text.split("\n")[1][:4].isdigit()
    assert detect(text) == "csv"
    assert detect(_read("dpkg_packages.tsv")) == "csv"


@pytest.mark.parametrize("name", ["dpkg.log", "rich_readme.md", "tabulate_init.py", "grep_timeout.txt"])
def test_logs_prose_code_and_grep_are_not_tables(name):
    assert not looks_like_delimited(_read(name))


def test_rows_selected_by_a_value_are_all_kept_and_the_column_name_is_not_counted():
    text = _read("dpkg_packages.csv")
    r = compress_text(text, Context(query="Which packages have priority extra?"))
    assert r.content_type == "csv" and r.drops
    extra = [ln for ln in text.split("\n") if ",extra," in ln]
    assert len(extra) == 3
    for ln in extra:
        assert ln in r.text.split("\n")
    assert text.split("\n")[0] in r.text  # the header
    # "priority" names a column: no marker counts rows "mentioning" it.
    assert all("mention 'priority'" not in m.summary for m in find_markers(r.text))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))
    assert check_row_claims(text, r.text, dict(r.drops), ",") > 10


def test_a_column_the_question_names_keeps_its_extreme_rows():
    text = _read("dpkg_packages.csv")
    rows = _rows(text, ",")
    largest = max(rows[1:], key=lambda r: int(r[2]))
    r = compress_delimited(text, Context(query="Which package has the largest installed size?"))
    assert ",".join(largest) in r.text.split("\n")
    assert len(r.text) < len(text) / 4
    check_row_claims(text, r.text, dict(r.drops), ",")


def test_quoted_fields_dates_and_tsv_markers_are_true():
    text = _read("git_log.csv")
    r = compress_delimited(text, Context(query="Which commit changed the most files?"))
    most = max(_rows(text, ",")[1:], key=lambda r: int(r[3]))
    assert most[1] in r.text
    check_line_markers(text, r.text, dict(r.drops))
    assert check_row_claims(text, r.text, dict(r.drops), ",") > 0
    tsv = _read("dpkg_packages.tsv")
    t = compress_delimited(tsv, Context(query="which packages are in section golang?"))
    assert all(ln in t.text.split("\n") for ln in tsv.split("\n") if "\tgolang\t" in ln)
    assert check_row_claims(tsv, t.text, dict(t.drops), "\t") > 0
    assert expand_lines(t.text, dict(t.drops)) == tsv


def test_deterministic_and_idempotent():
    text = _read("dpkg_packages.csv")
    ctx = Context(query="Which packages have priority extra?")
    a, b = compress_text(text, ctx), compress_text(text, ctx)
    assert a == b
    assert compress_text(a.text, ctx).text == a.text


# Property: on any table made of the real export's rows (any subset, any order) and any question, the
# compressed table expands back exactly, keeps whole lines, and every marker claim is true.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_DPKG = _read("dpkg_packages.csv").split("\n")
_QUESTIONS = ["", "Which packages have priority extra?", "Which package is the largest by installed size?",
              "packages over 50000 kB apart from the optional ones", "which are in section golang and amd64?",
              "what is the smallest installed_size_kb of the libs section?"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, len(_DPKG) - 2), min_size=12, max_size=300, unique=True), st.sampled_from(_QUESTIONS))
def test_property_any_table_of_real_rows_expands_and_markers_are_true(picks, question):
    text = "\n".join([_DPKG[0]] + [_DPKG[i] for i in picks])
    r = compress_delimited(text, Context(query=question))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))
    check_row_claims(text, r.text, dict(r.drops), ",")
    assert compress_delimited(text, Context(query=question)) == r


def test_a_value_inside_a_list_cell_selects_its_row():
    # tzdata's zone1970.tab (Debian's tzdata, installed by .ci/run): a zone's country column lists every
    # country it covers ("DE,DK,NO,SE,SJ"). A question naming a country code wants every zone covering it.
    tab = Path("/usr/share/zoneinfo/zone1970.tab").read_text()
    rows = [ln for ln in tab.split("\n") if ln and not ln.startswith("#")]
    listed = {}
    for ln in rows:
        for code in ln.split("\t")[0].split(","):
            listed.setdefault(code, []).append(ln)
    # Countries with no zone of their own, covered only by zones they share (rows in the middle of the table).
    shared = [c for c, lns in sorted(listed.items())
              if all("," in ln.split("\t")[0] for ln in lns) and rows[0] not in lns and rows[-1] not in lns]
    assert shared
    for code in shared[:5]:
        r = compress_text(tab, Context(query=f"Which time zones cover the country {code}?"))
        assert r.content_type == "csv" and find_markers(r.text)
        assert all(ln in r.text.split("\n") for ln in listed[code]), code


def test_a_table_without_a_header_is_read_as_rows_and_its_one_number_column_as_the_extreme():
    import shutil
    import subprocess

    if shutil.which("dpkg-query") is None:
        pytest.fail("dpkg-query is on every Debian machine, CI's included")
    # Real output of this machine's package database: no header line.
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Installed-Size}\\n"],
                         capture_output=True, text=True, check=True).stdout.rstrip("\n")
    rows = [ln.split("\t") for ln in out.split("\n")]
    if len(rows) < 60:
        pytest.skip("too few packages installed to make a table worth compressing")
    r = compress_text(out, Context(query="What are the 3 largest installed packages?"))
    assert r.content_type == "csv" and find_markers(r.text)
    sized = sorted((int(s), ln) for ln, (_, _, s) in zip(out.split("\n"), rows) if s.isdigit())
    threshold = sized[-3][0]
    assert all(ln in r.text.split("\n") for s, ln in sized if s >= threshold)
    # The first package is a row, not the names of the columns.
    first = rows[0]
    for m in find_markers(r.text):
        assert f"{first[0]}:" not in m.summary and f"{first[1]} " not in m.summary, m.summary


def test_a_count_on_no_numeric_column_is_the_number_of_values_in_a_list_cell():
    tab = Path("/usr/share/zoneinfo/zone1970.tab").read_text()
    rows = [ln for ln in tab.split("\n") if ln and not ln.startswith("#")]
    sizes = sorted({len(ln.split("\t")[0].split(",")) for ln in rows})
    n = sizes[-3]  # the zones covering more countries than all but the two widest counts
    wanted = [ln for ln in rows if len(ln.split("\t")[0].split(",")) >= n]
    r = compress_text(tab, Context(query=f"Which zones are shared by at least {n} countries?"))
    assert r.content_type == "csv" and find_markers(r.text)
    assert all(ln in r.text.split("\n") for ln in wanted)
    assert any(f"listing at least {n} countries" in m.summary for m in find_markers(r.text))
    # A size or a duration is never a count of a list's values.
    sized = compress_text(tab, Context(query=f"Which zones are at least {n} MB?"))
    assert not any("listing" in m.summary for m in find_markers(sized.text))
