"""`headroom compress`: file or stdin in, same shape out, a per-unit table on stderr, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from headroom.cli.main import app
from headroom.storage.store import open_store

LOG = "\n".join(f"2024-06-01 08:{i % 60:02d}:{i % 59:02d} INFO api.Gateway: GET /v1/items/{i} 200 {i % 90} ms"
                for i in range(500)) + "\n2024-06-01 09:00:00 WARN api.Gateway: upstream slow: 2300 ms"
MESSAGES = [
    {"role": "user", "content": "Was the gateway slow?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": LOG},
]


def runner():
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps stderr apart
        return CliRunner()


def test_messages_file_to_output_file(tmp_path):
    src, out = tmp_path / "m.json", tmp_path / "out.json"
    src.write_text(json.dumps(MESSAGES))
    r = runner().invoke(app, ["compress", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    result = json.loads(out.read_text())
    assert isinstance(result, list) and len(result) == 3
    assert "upstream slow: 2300 ms" in result[2]["content"]
    assert len(result[2]["content"]) < len(LOG) / 2
    assert "messages[2].content" in r.stderr and "logs" in r.stderr and "TOTAL" in r.stderr
    assert "kept in the local store" in r.stderr


def test_body_on_stdin_to_stdout_keeps_the_body_shape():
    body = {"model": "gpt-4o", "temperature": 0, "messages": MESSAGES}
    r = runner().invoke(app, ["compress", "-", "--no-store", "-q"], input=json.dumps(body))
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "gpt-4o" and out["temperature"] == 0
    assert "[headroom:" in out["messages"][2]["content"]
    assert r.stderr == ""


def test_no_store_stores_nothing(tmp_path):
    src = tmp_path / "m.json"
    src.write_text(json.dumps(MESSAGES))
    r = runner().invoke(app, ["compress", str(src), "--no-store"])
    keys = [k for k in __import__("re").findall(r"key=([0-9a-f]{16})", r.stdout)]
    assert keys and all(open_store().get(k) is None for k in keys)
    assert "NOT stored" in r.stderr


@pytest.mark.parametrize("args,stdin,code,message", [
    (["compress", "/nonexistent/file.json"], None, 2, "cannot read /nonexistent/file.json"),
    (["compress", "-"], "not json", 1, "is not JSON"),
    (["compress", "-"], '{"foo": 1}', 1, "pass --provider"),
    (["compress", "-", "--provider", "cohere"], "[]", 2, "--provider must be one of"),
])
def test_misuse_gets_one_line_and_no_traceback(args, stdin, code, message):
    r = runner().invoke(app, args, input=stdin)
    assert r.exit_code == code
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_help_in_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "headroom", "compress", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--no-store" in r.stdout


def test_drop_count_is_counted_in_words():
    rows = "\n".join(json.dumps({"id": i, "name": f"user{i}", "active": i % 3 == 0}) for i in range(300))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "which users are active?"},
                                            {"role": "tool", "tool_call_id": "a", "content": rows}]}
    r = runner().invoke(app, ["compress", "--no-store", "-"], input=json.dumps(body))
    assert r.exit_code == 0, r.stderr
    tail = r.stderr.strip().splitlines()[-1]
    n = int(tail.split()[0])
    assert tail.startswith(f"{n} dropped run{'' if n == 1 else 's'}, ")


def test_negative_indent_is_a_usage_error():
    r = runner().invoke(app, ["compress", "--indent", "-1", "-"], input=json.dumps(MESSAGES))
    assert r.exit_code == 2 and "--indent" in r.stderr


def test_store_that_cannot_be_opened_writes_nothing_and_says_so(monkeypatch):
    monkeypatch.setenv("HEADROOM_CCR_MAX_MB", "lots")
    r = runner().invoke(app, ["compress", "-q", "-"], input=json.dumps(MESSAGES))
    assert r.exit_code == 1 and r.stdout == ""
    assert "HEADROOM_CCR_MAX_MB" in r.stderr and "--no-store" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_no_file_on_a_terminal_says_what_to_give_instead_of_waiting():
    """Issue 15 item 15: `headroom compress` with no argument waited silently on a terminal."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "headroom", "compress"], stdin=secondary, capture_output=True,
                              text=True, timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 2
    from headroom.command import command

    assert done.stderr.strip().endswith(f"pipe one in ({command('compress')} - < body.json)")
    assert "Traceback" not in done.stderr
