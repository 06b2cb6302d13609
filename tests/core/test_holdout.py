"""core.holdout: the arm is a pure function of the conversation's start and the group, the fraction is
honoured, the two groups (compression, output shaping) are independent, and bad values are refused with a
message that says what to give."""
from __future__ import annotations

import math

import pytest

from headroom.core import holdout as H


def chat(first: str, turns: int = 0, model: str = "gpt-4o") -> dict:
    msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": first}]
    for i in range(turns):
        msgs += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": f"c{i}", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": f"c{i}", "content": f"file{i}.txt\n" * 50},
                 {"role": "user", "content": f"and now step {i}"}]
    return {"model": model, "messages": msgs}


@pytest.mark.parametrize("raw,value", [("", 0.0), (None, 0.0), ("0", 0.0), ("0.1", 0.1), (" 1 ", 1.0), ("1e-1", 0.1)])
def test_parse_accepts_fractions(raw, value):
    assert H.parse_fraction(raw) == value


@pytest.mark.parametrize("raw", ["abc", "1.5", "-0.1", "nan", "inf", "10%"])
@pytest.mark.parametrize("group", [H.COMPRESS, H.OUTPUT])
def test_parse_refuses_what_is_not_a_fraction(raw, group):
    message = f"{group.env} must be a number from 0 to 1 \\(e.g. 0.1 keeps 10% of conversations {group.without}\\)"
    with pytest.raises(ValueError, match=message):
        H.parse_fraction(raw, group)
    from headroom.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match=message):
        Settings.from_env({group.env: raw})  # the proxy refuses it at start: never a silent 0


def test_first_user_text_for_every_shape():
    assert H.first_user_text("openai_chat", chat("fix the build", 2)) == "fix the build"
    assert H.first_user_text("anthropic", {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
        {"role": "user", "content": "later"}]}) == "hi\nthere"
    assert H.first_user_text("openai_responses", {"input": "just a string"}) == "just a string"
    assert H.first_user_text("openai_responses", {"input": [
        {"type": "message", "role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "input_text", "text": "question"}]}]}) == "question"
    assert H.first_user_text("gemini", {"request": {"contents": [
        {"role": "user", "parts": [{"text": "g1"}]}, {"role": "user", "parts": [{"text": "g2"}]}]}}) == "g1"
    assert H.first_user_text("openai_chat", {"messages": "not a list"}) == ""


def test_arm_is_deterministic_and_the_same_for_every_turn():
    for i in range(200):
        first = f"conversation {i}: please refactor module {i * 7}"
        arms = {H.arm_for("openai_chat", chat(first, turns), "/v1/chat/completions", 0.5) for turns in range(4)}
        assert len(arms) == 1, first
        assert arms <= {H.CONTROL, H.TREATMENT}
    b = H.bucket("gpt-4o", "x" * 600)
    assert b == H.bucket("gpt-4o", "x" * 512 + "y" * 88)  # only the first 512 characters count
    assert b != H.bucket("gpt-4o-mini", "x" * 600)  # the model is part of the conversation's identity
    assert 0.0 <= b < 1.0


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_fraction_of_control_conversations_is_close_to_f(fraction):
    n = 4000
    control = sum(H.arm_for("anthropic", {"model": "claude-sonnet-4-5", "messages": [
        {"role": "user", "content": f"task #{i}: look at issue {i * 13 % 997}"}]}, "/v1/messages", fraction) == H.CONTROL
        for i in range(n))
    # 5 standard deviations of a binomial: a fair hash passes, a biased or constant one does not.
    assert abs(control / n - fraction) < 5 * math.sqrt(fraction * (1 - fraction) / n)


def test_the_two_groups_are_independent_and_each_stable_per_conversation():
    # Compression arms and shaping arms of the same conversations: every combination occurs about as often as
    # independence predicts (a shared hash would put every compression-control conversation in shaping's control).
    n, f = 4000, 0.5
    pairs = []
    for i in range(n):
        first = f"task #{i}: look at issue {i * 13 % 997}"
        turns = [chat(first, t) for t in range(3)]
        arms = {(H.arm_for("openai_chat", b, "", f, H.COMPRESS), H.arm_for("openai_chat", b, "", f, H.OUTPUT))
                for b in turns}
        assert len(arms) == 1  # each group's arm is the same on every turn
        pairs.append(arms.pop())
    both_control = sum(c == o == H.CONTROL for c, o in pairs)
    assert abs(both_control / n - f * f) < 5 * math.sqrt(f * f * (1 - f * f) / n)
    assert H.COMPRESS.salt != H.OUTPUT.salt and H.COMPRESS.env != H.OUTPUT.env


def test_the_compression_arm_keeps_the_hash_it_always_had():
    # A conversation in the compression control group before the output shaper stays there.
    assert H.bucket("gpt-4o", "fix the build") == H.bucket("gpt-4o", "fix the build", H.COMPRESS.salt)
    assert H.bucket("gpt-4o", "fix the build") != H.bucket("gpt-4o", "fix the build", H.OUTPUT.salt)


def test_zero_is_no_holdout_and_one_is_all_control():
    bodies = [chat(f"q{i}") for i in range(100)]
    assert {H.arm_for("openai_chat", b, "", 0.0) for b in bodies} == {None}
    assert {H.arm_for("openai_chat", b, "", 1.0) for b in bodies} == {H.CONTROL}
    assert {H.arm_for("openai_chat", b, "", 0.999999) for b in bodies} <= {H.CONTROL, H.TREATMENT}


def test_gemini_model_comes_from_the_path():
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    a = H.bucket("gemini-2.5-flash", "hello")
    fraction = min(1.0, a + 1e-9)  # just above this conversation's bucket: control only if the path's model is used
    assert H.arm_for("gemini", body, "/v1beta/models/gemini-2.5-flash:generateContent", fraction) == H.CONTROL


def test_proxy_start_refuses_a_bad_value_in_one_line(tmp_path):
    import subprocess
    import sys

    from headroom.cli.proxy import env_problem

    assert env_problem({H.COMPRESS_ENV: "0.1"}) is None
    env = {"PATH": "/usr/bin:/bin", "HEADROOM_HOME": str(tmp_path), H.COMPRESS_ENV: "ten percent"}
    r = subprocess.run([sys.executable, "-m", "headroom", "proxy", "--port", "0"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode != 0
    assert "HEADROOM_COMPRESS_HOLDOUT must be a number from 0 to 1" in r.stderr and "Traceback" not in r.stderr
