"""YAML on real documents: detected confidently, a condition whose status is rare among its siblings kept
whole, each document's identity kept, and every marker true of what it dropped.

Samples (tests/golden/inputs/):
- k8s_node.yaml: a real Node object, copied from sigs.k8s.io/structured-merge-diff's testdata
  (/usr/share/gocode/src/sigs.k8s.io/structured-merge-diff/internal/testdata/node.yaml, Debian golang package).
- k8s_stream.yaml: `kubectl create deployment|service clusterip|configmap|job|cronjob|ingress ... --dry-run=client
  -o yaml` for five apps and a few jobs, joined with `---` (kubectl 1.33 here).
- gha_workflow.yml: pyenv's .github/workflows/modified_scripts_build.yml (a CI config with `run: |` scripts).
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.yamldoc import compress_yaml, looks_like_yaml
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _read(name: str) -> str:
    return (INPUTS / name).read_text(encoding="utf-8")


def check_value_claims(out: str, drops: dict[str, str]) -> int:
    """Each "key: 'v' xN, ..." or "key all 'v'" claim in a marker is exactly the count of `key: v`
    lines in what it dropped; each "N items of" is the number of list items that begin in it."""
    checked = 0
    for mk in find_markers(out):
        dropped = drops[mk.key].split("\n")
        pairs = Counter()
        for ln in dropped:
            m = re.match(r"^\s*(?:- )*([\w.$@/\-]+):\s+(.*)$", ln)
            if m:
                pairs[(m.group(1), m.group(2).strip().strip("'\""))] += 1
        for part in mk.summary.split(": ", 1)[1].rstrip(")").split("; "):
            if m := re.fullmatch(r"(\S+) all '(.*)'", part):
                key, v = m.groups()
                assert {val for (k, val) in pairs if k == key} == {v}, part
                checked += 1
            elif (m := re.fullmatch(r"(\S+): ('.*)", part)) and " x" in part:
                key = m.group(1)
                claimed = {v: int(c) for v, c in re.findall(r"'([^']*)' x(\d+)", m.group(2))}
                assert claimed == {val: c for (k, val), c in pairs.items() if k == key}, part
                checked += 1
            elif m := re.match(r"(\d+) items? of ", part):
                starts = sum(1 for ln in dropped if ln.lstrip().startswith("- "))
                assert int(m.group(1)) <= starts, part
                checked += 1
    return checked


@pytest.mark.parametrize("name", ["k8s_node.yaml", "k8s_stream.yaml", "gha_workflow.yml"])
def test_real_yaml_is_detected(name):
    assert looks_like_yaml(_read(name).split("\n"))


@pytest.mark.parametrize("name", ["dpkg.log", "rich_readme.md", "tabulate_init.py", "grep_timeout.txt",
                                  "git_log.csv", "tabulate.diff"])
def test_other_kinds_are_not_yaml(name):
    assert not looks_like_yaml(_read(name).split("\n"))


def test_the_one_condition_that_is_true_is_kept_whole_among_falses():
    text = _read("k8s_node.yaml")
    assert detect(text) == "yaml"
    r = compress_text(text, Context(query="Is the node healthy? Which conditions are reported?"))
    assert r.compressor == "yaml" and r.drops
    lines = r.text.split("\n")
    ready = text.split("\n")
    k = ready.index("    type: Ready")
    for ln in ready[k - 5 : k + 1]:  # the whole condition item: its heartbeat, message, reason, status
        assert ln in lines
    for ln in ("apiVersion: v1", "kind: Node", "  name: node-default-pool-something", "status:", "  conditions:"):
        assert ln in lines
    # The folded conditions are described by the value they share, which is a claim the test checks.
    assert any("status all 'False'" in m.summary or "status: 'False'" in m.summary for m in find_markers(r.text))
    assert check_value_claims(r.text, dict(r.drops)) > 0
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


def test_a_stream_keeps_every_documents_identity_and_the_asked_documents_detail():
    text = _read("k8s_stream.yaml")
    r = compress_yaml(text, Context(query="Which schedule does the nightly-report cronjob use?"))
    lines = r.text.split("\n")
    assert lines.count("---") == text.split("\n").count("---")
    for ln in text.split("\n"):
        if ln.startswith(("kind: ", "apiVersion: ")) or re.match(r"^  name: ", ln):
            assert ln in lines
    assert "  schedule: 0 3 * * *" in lines
    check_line_markers(text, r.text, dict(r.drops))
    check_value_claims(r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == text


def test_ci_config_keeps_the_step_the_question_names():
    text = _read("gha_workflow.yml")
    r = compress_yaml(text, Context(query="Which runner OS does the macos job use?"))
    assert all(ln in r.text.split("\n") for ln in text.split("\n") if "runs-on" in ln)
    check_line_markers(text, r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == text


def test_deterministic_and_idempotent():
    text = _read("k8s_node.yaml")
    ctx = Context(query="Is the node healthy?")
    a = compress_text(text, ctx)
    assert a == compress_text(text, ctx)
    assert compress_text(a.text, ctx).text == a.text


# Property: any stream of the real documents (any subset, any order, the node among them) and any
# question: the output expands back exactly, keeps whole lines, and every value claim is true.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_DOCS = [d.strip("\n") for d in _read("k8s_stream.yaml").split("\n---\n") if d.strip("-\n ")] + [_read("k8s_node.yaml").rstrip("\n")]
_QUESTIONS = ["", "Is the node healthy?", "Which conditions are True?", "What image does worker run?",
              "which services are not ClusterIP?", "What is the schedule of nightly-report?"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(_DOCS) - 1), min_size=1, max_size=12), st.sampled_from(_QUESTIONS))
def test_property_any_stream_of_real_documents(picks, question):
    text = "\n---\n".join(_DOCS[i] for i in picks)
    r = compress_yaml(text, Context(query=question))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))
    check_value_claims(r.text, dict(r.drops))
