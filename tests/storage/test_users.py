"""The users file: tokens of 256 random bits kept as SHA-256 hashes, checked in constant time, reread when it
changes, and a half-written edit never locks everyone out."""
from __future__ import annotations

import json
import os
import stat

import pytest

from headroom.storage.users import TOKEN_BYTES, Users, UsersError, hash_token


def test_a_token_is_random_kept_only_as_its_hash_and_private(tmp_path):
    users = Users(tmp_path / "team" / "users.json")
    token = users.add("alice")
    assert len(token) >= 43 and TOKEN_BYTES * 8 >= 256  # token_urlsafe(32): 43 characters, 256 bits
    text = users.path.read_text()
    assert token not in text and hash_token(token) in text
    assert stat.S_IMODE(os.stat(users.path).st_mode) == 0o600
    assert users.check("alice", token) == (True, "")
    assert users.check("alice", token + "x") == (False, "wrong token")
    assert users.check("bob", token) == (False, "unknown user")
    assert users.add("bob") != token


def test_revoke_and_a_new_token_after(tmp_path):
    users = Users(tmp_path / "users.json")
    old = users.add("alice")
    with pytest.raises(UsersError, match="already exists"):
        users.add("alice")
    users.revoke("alice")
    assert users.check("alice", old) == (False, "token revoked")
    new = users.add("alice")
    assert users.check("alice", new) == (True, "") and users.check("alice", old) == (False, "wrong token")
    with pytest.raises(UsersError, match="no user 'carol'"):
        users.revoke("carol")


def test_another_process_writing_the_file_is_seen_at_the_next_check(tmp_path):
    path = tmp_path / "users.json"
    reader = Users(path)  # the proxy's
    assert reader.all() == []
    token = Users(path).add("alice")  # `headroom team add` on the same (shared) file
    assert reader.check("alice", token)[0]
    Users(path).revoke("alice")
    assert reader.check("alice", token) == (False, "token revoked")


def test_a_broken_edit_keeps_the_users_it_had(tmp_path):
    path = tmp_path / "users.json"
    users = Users(path)
    token = users.add("alice")
    assert users.check("alice", token)[0]
    path.write_text('{"users": {"alice": ')  # an editor's half-written save
    assert users.check("alice", token)[0] and "cannot read the users file" in users.error
    path.write_text(json.dumps({"users": {}}))
    assert users.check("alice", token) == (False, "unknown user") and users.error is None


@pytest.mark.parametrize("name", ["Alice", "headroom", "", "a b", "x" * 64])
def test_a_name_it_cannot_use_is_one_line(tmp_path, name):
    with pytest.raises(UsersError) as e:
        Users(tmp_path / "users.json").add(name)
    assert "\n" not in str(e.value)
