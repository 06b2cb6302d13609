"""`headroom team`: add prints the token once and how to use it, list never shows tokens, revoke; misuse is
one line."""
from __future__ import annotations

from typer.testing import CliRunner

from headroom.cli.main import app
from headroom.storage.users import Users, users_path


def test_add_list_revoke(headroom_home, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOST", "10.0.0.5")
    monkeypatch.setenv("HEADROOM_PORT", "8787")
    r = CliRunner().invoke(app, ["team", "add", "alice"])
    assert r.exit_code == 0, r.output
    token = r.output.splitlines()[1]
    assert f"HTTPS_PROXY=http://alice:{token}@10.0.0.5:8787" in r.output
    assert f"HEADROOM_TEAM_TOKEN=alice:{token}" in r.output
    assert Users(users_path(headroom_home)).check("alice", token) == (True, "")
    listed = CliRunner().invoke(app, ["team", "list"])
    assert listed.exit_code == 0 and "alice" in listed.output and "active" in listed.output
    assert token not in listed.output
    assert CliRunner().invoke(app, ["team", "revoke", "alice"]).exit_code == 0
    assert "revoked" in CliRunner().invoke(app, ["team", "list"]).output
    assert Users(users_path(headroom_home)).check("alice", token) == (False, "token revoked")


def test_misuse_is_one_line(headroom_home):
    for args, words in ((["team", "add", "Alice Smith"], "user name"), (["team", "revoke", "nobody"], "no user"),
                        (["team", "add", "x"], None)):
        r = CliRunner().invoke(app, args)
        if words is None:
            r = CliRunner().invoke(app, args)  # the second add of one name
            words = "already exists"
        assert r.exit_code == 1 and words in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_wrap_refuses_a_team_token_it_cannot_send_in_one_line(headroom_home, monkeypatch):
    for value in ("no-colon", "Bad Name:tok", "alice:", "alice:tok.with.dots"):
        monkeypatch.setenv("HEADROOM_TEAM_TOKEN", value)
        r = CliRunner().invoke(app, ["wrap", "--", "true"])
        assert r.exit_code == 2 and "HEADROOM_TEAM_TOKEN must be NAME:TOKEN" in r.output, (value, r.output)
