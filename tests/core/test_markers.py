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
