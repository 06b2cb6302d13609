"""The client's JSON style: found from its own bytes, and writing its parsed body back as exactly those bytes.
Real serialisers (Node's JSON.stringify run here, Python's json) over real captured agent request bodies."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from headroom.core.jsonstyle import COMPACT, PYTHON, detect, dumps
from headroom.evals.agents import agent_cases


@pytest.fixture(scope="module")
def bodies() -> list[dict]:
    cases = agent_cases()
    picked = [cases[0].body, cases[len(cases) // 2].body, cases[-1].body]
    # A tool output cut mid-emoji, as a JavaScript client sends it (a lone surrogate), and non-ASCII text.
    picked.append({"model": "m", "messages": [{"role": "user", "content": "naïve café \ud83d cut, \u2028 sep"}],
                   "temperature": 0.7, "empty": [], "obj": {}})
    return picked


def _node_stringify(body: dict, *args: str) -> bytes:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = f"const b=JSON.parse(require('fs').readFileSync(0,'utf8'));process.stdout.write(JSON.stringify(b{''.join(args)}))"
    # Feed Node an ASCII-escaped body, so its own parser decodes every escape (surrogates included).
    done = subprocess.run([node, "-e", script], input=json.dumps(body).encode(), capture_output=True, timeout=60,
                          check=True)
    return done.stdout


@pytest.mark.parametrize("indent", ["", ",null,2"], ids=["compact", "pretty"])
def test_node_json_stringify_is_written_back_exactly(bodies, indent):
    for body in bodies:
        raw = _node_stringify(body, indent)
        style = detect(raw, json.loads(raw))
        assert style is not None
        assert dumps(json.loads(raw), style) == raw
        if not indent:
            assert style == COMPACT


@pytest.mark.parametrize("kwargs", [
    {}, {"ensure_ascii": False}, {"separators": (",", ":")}, {"ensure_ascii": False, "separators": (",", ":")},
    {"indent": 2}, {"indent": "\t", "ensure_ascii": False},
])
def test_pythons_json_styles_are_written_back_exactly(bodies, kwargs):
    for body in bodies:
        raw = json.dumps(body, **kwargs).encode("utf-8", "surrogatepass")
        if b"\xed" in raw:  # a lone surrogate written raw is not UTF-8: no client sends that
            continue
        style = detect(raw, json.loads(raw))
        assert style is not None and dumps(json.loads(raw), style) == raw
    assert detect(json.dumps(bodies[0]).encode(), bodies[0]) == PYTHON


def test_whitespace_around_the_value_is_kept(bodies):
    raw = b"\n" + json.dumps(bodies[0]).encode() + b"\n"
    assert dumps(bodies[0], detect(raw, json.loads(raw))) == raw


@pytest.mark.parametrize("raw", [
    b'{"a":1,"a":2}', b'{"a":1e400}', b'{"a":1.0E2}', b'{"a":"\\/"}', b'{"a":"\\u0041"}', b'{"a": 1,"b":2}',
    b'\xef\xbb\xbf{"a":1}', '{"a":"\u00e9"}'.encode("utf-16"), b'{"a":"\\u00E9"}', b"",
])
def test_what_the_parse_changes_has_no_style(raw):
    try:
        body = json.loads(raw)
    except ValueError:
        assert raw == b""
        assert detect(raw, None) is None
        return
    assert detect(raw, body) is None


def test_a_lone_surrogate_is_written_as_its_escape_never_invalid_utf8():
    out = dumps({"t": "cut \ud83d"})
    assert out == b'{"t":"cut \\ud83d"}'
    out.decode("utf-8")
