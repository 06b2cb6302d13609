from hypothesis import given, strategies as st

from headroom.core import markers


def test_marker_round_trips_key_and_summary():
    text, key = markers.make_marker("12 lines omitted (lines 3-14: 12 INFO)", "a\nb\n")
    found = markers.find_markers(f"before\n{text}\nafter")
    assert [(m.key, m.summary) for m in found] == [(key, "12 lines omitted (lines 3-14: 12 INFO)")]
    assert key == markers.key_for("a\nb\n")


def test_key_depends_on_dropped_text_only():
    assert markers.key_for("x") == markers.key_for("x")
    assert markers.key_for("x") != markers.key_for("x\n")


@given(st.text(), st.text())
def test_any_summary_gives_one_parseable_line(summary, dropped):
    text, key = markers.make_marker(summary, dropped)
    assert "\n" not in text
    assert [m.key for m in markers.find_markers(text)] == [key]


def test_a_marker_does_not_repeat_the_tool_name_and_its_key_is_20_digits():
    # The tool's description says what a key is for; the key in decimal costs 7 tokens where hex cost ~9.
    text, key = markers.make_marker("3 lines omitted (lines 1-3)", "a\nb\nc")
    assert text == f"[headroom: 3 lines omitted (lines 1-3); key={key}]"
    assert len(key) == markers.KEY_DIGITS == 20 and key.isdigit()


def test_a_marker_of_the_earlier_grammar_still_parses():
    # A conversation that began before an upgrade carries these; the store still holds their keys.
    old = "[headroom: 12 lines omitted (lines 3-14); headroom_retrieve key=3fa9c0e1d2b4a6f8]"
    assert [(m.key, m.summary) for m in markers.find_markers(f"x\n{old}\ny")] == [
        ("3fa9c0e1d2b4a6f8", "12 lines omitted (lines 3-14)")]
