"""pip and npm output, real runs: errors, distinct warnings and summaries stay; progress folds into markers
that count it by kind and name its packages; an `npm ls` tree keeps its direct dependencies, problems
and the named packages with their parents.

Samples made here (a fresh venv, v2; an npm project with typescript, eslint, @eslint/js):
  v2/bin/pip install sphinx pytest black                             > pip_install_sphinx.txt
  v2/bin/pip install sphinx pytest black flask httpx rich (again)    > pip_install_satisfied.txt
  v2/bin/pip download -d dl jupyter-core nbformat jsonschema         > pip_download.txt
  v2/bin/pip install flask 'rich==13.7.0' nonexistent-pkg-zzz-qq     > pip_install_err.txt
  npm ls --all                                                       > npm_ls_all.txt
  npm install nonexistent-zzz-pkg-qq                                 > npm_install_404.txt
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.packages import _TREE, compress_packages, looks_like_packages
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines, line_span

INPUTS = Path(__file__).parents[2] / "golden" / "inputs"
SAMPLES = ["pip_install_sphinx.txt", "pip_install_satisfied.txt", "pip_download.txt", "npm_ls_all.txt"]
QUESTIONS = ["", "did black install?", "which version of debug is installed?", "any errors?"]


def _read(name: str) -> str:
    return (INPUTS / name).read_text()


@pytest.mark.parametrize("name", SAMPLES + ["pip_install_err.txt", "npm_install_404.txt"])
def test_detected(name):
    assert detect(_read(name)) == "packages"


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("q", QUESTIONS)
def test_reversible_markers_exact(name, q):
    text = _read(name)
    r = compress_packages(text, Context(query=q))
    assert r.drops
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


@pytest.mark.parametrize("name", SAMPLES[:3])
def test_pip_summaries_errors_and_distinct_warnings_stay_markers_count_true(name):
    text = _read(name)
    r = compress_packages(text, Context())
    out = r.text.split("\n")
    for ln in text.split("\n"):
        if ln.startswith(("Successfully installed", "Installing collected packages", "Successfully downloaded",
                          "ERROR", "Looking in")):
            assert ln in out
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key].split("\n")
        for count, kind in re.findall(r"(\d+) (Collecting|Downloading|Requirement already satisfied|Processing|Saved)\b",
                                      mk.summary):
            assert int(count) == sum(1 for ln in dropped if ln.strip().startswith(kind))
        for count in re.findall(r"(\d+) warnings like", mk.summary):
            assert int(count) == sum(1 for ln in dropped if ln.startswith("WARNING:"))
        names = re.search(r"packages: ([^;]+?)(?: and (\d+) more)?(?:;|\)$)", mk.summary)
        if names:
            for pkg in names.group(1).split(", "):
                assert pkg.lower() in r.drops[mk.key].lower().replace("_", "-")


def test_pip_question_naming_a_package_keeps_its_lines():
    text = _read("pip_install_sphinx.txt")
    r = compress_packages(text, Context(query="did black install?"))
    for ln in text.split("\n"):
        if "black" in ln.lower():
            assert ln in r.text.split("\n")


def test_pip_error_output_is_kept_whole_by_the_router():
    text = _read("pip_install_err.txt")
    assert compress_text(text, Context()).text == text  # under the size floor: read whole


def test_npm_tree_keeps_direct_dependencies_and_named_packages_with_their_parents():
    text = _read("npm_ls_all.txt")
    lines = text.split("\n")
    r = compress_packages(text, Context(query="which version of debug is installed?"))
    out = r.text.split("\n")
    assert lines[0] in out
    for ln in lines:
        m = _TREE.match(ln)
        if m and len(m.group("lead")) == 0:
            assert ln in out  # a direct dependency of the root
    assert "│ ├─┬ debug@4.4.3" in out and "│ │ └── ms@2.1.3" in out and "├─┬ eslint@10.15.0" in out
    for mk in find_markers(r.text):
        dropped = [ln for ln in r.drops[mk.key].split("\n") if _TREE.match(ln)]
        m = re.search(r"(\d+) packages", mk.summary)
        assert int(m.group(1)) == len(dropped)
        dd = re.search(r"(\d+) deduped", mk.summary)
        assert (int(dd.group(1)) if dd else 0) == sum(1 for ln in dropped if ln.endswith(" deduped"))
        under = re.search(r"under (\S+?);", mk.summary)
        if under:
            # The named parent is the nearest package above the run shallower than all of it.
            first = line_span(mk.summary)[0] - 1
            top = min(len(_TREE.match(ln).group("lead")) for ln in dropped)
            parent = next(_TREE.match(lines[k]) for k in range(first - 1, -1, -1)
                          if _TREE.match(lines[k]) and len(_TREE.match(lines[k]).group("lead")) < top)
            assert f"{parent.group('pkg')}@{parent.group('ver')}" == under.group(1)


def test_not_package_output():
    assert not looks_like_packages(_read("dpkg.log").split("\n"))
    assert not looks_like_packages([f"src/m{i}.py:{i}: x" for i in range(30)])
