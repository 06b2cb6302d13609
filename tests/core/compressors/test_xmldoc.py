"""XML on real documents: a JUnit report keeps every failing testcase and its suite's summary, folds the
passing ones with true counts per classname, and stays valid XML; other XML folds runs of one tag.

Samples (tests/golden/inputs/):
- junit_pytest.xml: `pytest tests/core/compressors/test_aggregate_workloads.py tests/core/compressors/test_unseen_workloads.py
  tests/addon/test_admin.py --junitxml=...` on this repository while colleagues' work made 5 of them fail
  (pytest 9 writes the report on one line).
- junit_tabulate.xml: tabulate 0.10.0's own tests (its PyPI sdist's test/ directory, copied as tabtests/) run
  against tabulate 0.9.0 in a scratch venv: `python -m pytest -p no:cacheprovider tabtests -q --tb=short
  --junitxml=...` (44 failures, 39 skipped).
- iso_3166-1.xml: Debian's iso-codes package (/usr/share/xml/iso-codes/iso_3166-1.xml).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.xmldoc import compress_xml, looks_like_xml
from headroom.core.markers import MARKER_RE, find_markers

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _read(name: str) -> str:
    return (INPUTS / name).read_text(encoding="utf-8")


def _expand(text: str, drops: dict[str, str]) -> str:
    return re.sub(r"<!-- (" + MARKER_RE.pattern + r") -->", lambda m: drops[m.group("key")], text)


def test_junit_keeps_every_failure_and_the_summary_and_counts_the_rest_truly():
    text = _read("junit_pytest.xml")
    assert detect(text) == "xml"
    r = compress_text(text, Context(query="Which tests failed and why?"))
    assert r.compressor == "xml" and r.drops
    ET.fromstring(r.text.encode())  # still a valid document
    root = ET.fromstring(text.encode())
    failing = [tc for tc in root.iter("testcase") if any(c.tag in ("failure", "error", "skipped") for c in tc)]
    assert len(failing) == 5
    for m in re.finditer(r"<testcase\b(?:(?!<testcase\b).)*?</testcase>", text, re.S):
        if "<failure" in m.group():
            assert m.group() in r.text  # byte for byte
    assert re.search(r"<testsuite [^>]*failures=\"5\"[^>]*>", r.text)
    for mk in find_markers(r.text):
        dropped = ET.fromstring(("<x>" + r.drops[mk.key] + "</x>").encode())
        cases = list(dropped.iter("testcase"))
        assert not any(len(tc) for tc in cases)  # "passing": no failure/error/skipped child
        assert mk.summary.startswith(f"{len(cases)} passing testcase elements omitted")
        for cls, k in re.findall(r"; ([\w.]+): (\d+)", mk.summary):
            assert sum(1 for tc in cases if tc.get("classname") == cls) == int(k)
    assert _expand(r.text, dict(r.drops)) == text
    assert compress_text(r.text, Context(query="Which tests failed and why?")).text == r.text


def test_other_xml_keeps_the_entry_asked_about_and_says_what_runs_hold():
    text = _read("iso_3166-1.xml")
    assert looks_like_xml(text.strip())
    r = compress_xml(text, Context(query="What is the numeric code of Norway?"))
    assert 'numeric_code="578"' in r.text
    ET.fromstring(r.text.encode())
    for mk in find_markers(r.text):
        dropped = ET.fromstring(("<x>" + r.drops[mk.key] + "</x>").encode())
        n, tag = re.match(r"(\d+) <([\w.]+)> elements omitted", mk.summary).groups()
        kids = list(dropped)
        assert len(kids) == int(n) and {k.tag for k in kids} == {tag}
        if m := re.search(r"name from '([^']*)' to '([^']*)'", mk.summary):
            assert (kids[0].get("name"), kids[-1].get("name")) == m.groups()
    assert _expand(r.text, dict(r.drops)) == text
    assert len(r.text) < len(text) / 5


def test_html_and_broken_xml_are_not_xml():
    assert not looks_like_xml("<!doctype html><html><body><p>x</p></body></html>")
    assert not looks_like_xml(_read("junit_pytest.xml")[:-40])


def test_many_failures_keep_their_message_and_the_asked_ones_their_traceback():
    text = _read("junit_tabulate.xml")
    r = compress_xml(text, Context(query="Which failures in test_textwrapper are AttributeErrors?"))
    ET.fromstring(r.text.encode())
    root = ET.fromstring(text.encode())
    out = ET.fromstring(r.text.encode())
    kept = {(tc.get("classname"), tc.get("name")): tc for tc in out.iter("testcase")}
    for tc in root.iter("testcase"):
        f = tc.find("failure")
        if f is None:
            continue
        mine = kept[(tc.get("classname"), tc.get("name"))].find("failure")
        assert mine.get("message") == f.get("message")  # every failure keeps why it failed
        if tc.get("classname").endswith("test_textwrapper") and "AttributeError" in f.get("message", ""):
            assert mine.text == f.text  # the asked ones keep their traceback
    # Folded tracebacks are real: each body marker's drop is the failure's text exactly.
    bodies = [mk for mk in find_markers(r.text) if "<failure> text omitted" in mk.summary]
    assert bodies
    texts = {f.text for f in root.iter("failure")}
    for mk in bodies:
        unescaped = ET.fromstring(("<x>" + r.drops[mk.key] + "</x>").encode()).text
        assert unescaped in texts
    assert _expand(r.text, dict(r.drops)) == text


def test_the_slowest_tests_are_kept_by_their_time():
    text = _read("junit_tabulate.xml")
    r = compress_xml(text, Context(query="Which 3 tests took the longest?"))
    root = ET.fromstring(text.encode())
    slowest = sorted(root.iter("testcase"), key=lambda tc: float(tc.get("time")))[-3:]
    names = {tc.get("name") for tc in ET.fromstring(r.text.encode()).iter("testcase")}
    assert {tc.get("name") for tc in slowest} <= names
