"""Logs never carry request content: an exception is written as its type (and frames), never its message."""
from __future__ import annotations

import logging

import pytest

from headroom.logs import MAX_LINE, ContentFree, describe

SECRET = "sk-planted-0123456789abcdef"


def _real_tokenizer_error() -> Exception:
    """The error the proxy really met: quicktok refusing a lone surrogate quotes the whole text it got."""
    import quicktok

    text = f"tool output holding {SECRET} cut mid-emoji \ud83d"
    try:
        quicktok.get_encoding("o200k_base").count(text)
    except TypeError as e:
        assert SECRET in str(e)  # the leak this module exists for
        return e
    pytest.fail("quicktok accepted a lone surrogate: this test needs another real error")


def _format(**kwargs) -> str:
    record = logging.LogRecord("headroom.test", logging.WARNING, __file__, 1, kwargs.pop("msg"), kwargs.pop("args"),
                               kwargs.pop("exc_info", None))
    return ContentFree("headroom: %(message)s").format(record)


def test_an_exception_as_an_argument_is_its_type_only():
    e = _real_tokenizer_error()
    out = _format(msg="forwarded a request (anthropic) unchanged: %s", args=(e,))
    assert SECRET not in out and out.endswith("unchanged: TypeError")


def test_a_traceback_keeps_its_frames_and_withholds_the_message():
    e = _real_tokenizer_error()
    out = _format(msg="could not record a ledger row", args=(), exc_info=(type(e), e, e.__traceback__))
    assert SECRET not in out
    assert "Traceback (most recent call last):" in out and __file__ in out and "TypeError (message withheld)" in out


def test_os_errors_say_which_by_errno_name():
    assert describe(FileNotFoundError(2, "No such file", f"/tmp/{SECRET}")) == "FileNotFoundError (ENOENT)"
    assert describe(KeyError(SECRET)) == "KeyError"


def test_a_line_longer_than_the_limit_is_cut():
    out = _format(msg="%s", args=("x" * (MAX_LINE * 3),))
    assert len(out) < MAX_LINE + 100 and out.endswith("characters cut]")
