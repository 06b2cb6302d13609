"""Sessions: the credential a wrapped child's proxy URL carries, the registry wrap writes through the admin API,
and the settings each flow resolves to (a live session's, else the proxy's own, whole)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from mitmproxy.test import taddons, tflow, tutils

from headroom.addon.intercept import Intercept
from headroom.addon.sessions import Session, Sessions, credential, parse_credential, sessions_dir
from headroom.addon.state import state_of
from headroom.procs import start_token
from headroom.settings import SessionSettings

SID = "0123456789abcdef"
OFF = SessionSettings(compress=False)


def basic(userinfo: str) -> str:
    return "Basic " + base64.b64encode(userinfo.encode()).decode()


@pytest.mark.parametrize("header,sid", [
    (basic(f"headroom:{SID}"), SID),
    (basic(f"hr-{SID}:"), None),  # the user-only form: undici drops it, so wrap never hands it out
    (basic(f"someone:{SID}"), None),  # a user's own proxy credential is not ours
    (basic("headroom:NOT-HEX"), None),
    ("Bearer abc", None), ("Basic !!!", None), ("", None), (None, None),
])
def test_credential_is_read_from_basic_proxy_authorization(header, sid):
    assert parse_credential(header) == sid


def test_credential_round_trips():
    assert parse_credential(basic(credential(SID))) == SID


def _connect(sessions: Sessions, header: str | None):
    f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, path=b"",
                                    headers=[(b"proxy-authorization", header.encode())] if header else []))
    sessions.http_connect(f)
    return f.client_conn


def _flow(client_conn):
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", path=b"/v1/chat/completions"))
    f.client_conn = client_conn
    return f


def test_a_flow_of_a_live_session_gets_its_settings_else_the_proxys(headroom_home):
    sessions = Sessions(headroom_home)
    own = SessionSettings()
    sessions.register(Session(SID, OFF, os.getpid(), start_token(os.getpid())))
    conn = _connect(sessions, basic(credential(SID)))
    assert sessions.settings_for(_flow(conn), own) == (SID, OFF)
    assert sessions.settings_for(_flow(_connect(sessions, None)), own) == (None, own)  # no credential
    other = _connect(sessions, basic(credential("fedcba9876543210")))
    assert sessions.settings_for(_flow(other), own) == (None, own) and sessions.unknown == 1
    assert sessions.flows[SID] == 1
    sessions.client_disconnected(conn)
    assert sessions.settings_for(_flow(conn), own) == (None, own)  # the mapping went with the connection


def test_a_plain_http_request_loses_our_credential_but_keeps_its_session(headroom_home):
    sessions = Sessions(headroom_home)
    f = tflow.tflow(req=tutils.treq(host="example.com", headers=[(b"proxy-authorization", basic(credential(SID)).encode())]))
    f.request.scheme = "http"
    sessions.requestheaders(f)
    assert "proxy-authorization" not in f.request.headers
    assert sessions.claimed(f) == SID
    foreign = tflow.tflow(req=tutils.treq(headers=[(b"proxy-authorization", basic("me:secret").encode())]))
    sessions.requestheaders(foreign)  # the user's own upstream proxy credential is theirs: left alone
    assert foreign.request.headers["proxy-authorization"] == basic("me:secret")


def test_a_session_ends_with_its_wrap_process(headroom_home):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    sessions = Sessions(headroom_home)
    sessions.register(Session(SID, OFF, child.pid, None))
    assert sessions.get(SID) is None  # its process is gone: ended at lookup, its file removed
    assert list(sessions_dir(headroom_home).glob("*.json")) == []


def test_registrations_survive_a_restart_and_dead_ones_do_not(headroom_home):
    first = Sessions(headroom_home)
    first.register(Session(SID, OFF, os.getpid(), start_token(os.getpid())))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    first.register(Session("fedcba9876543210", OFF, dead.pid, None))
    f = sessions_dir(headroom_home) / f"{SID}.json"
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    (sessions_dir(headroom_home) / "broken.json").write_text("{not json")
    second = Sessions(headroom_home)
    assert second.restore() == 1
    assert second.get(SID).settings == OFF and second.get("fedcba9876543210") is None
    assert not (sessions_dir(headroom_home) / "fedcba9876543210.json").exists()


def test_end_removes_the_session_and_its_file(headroom_home):
    sessions = Sessions(headroom_home)
    sessions.register(Session(SID, OFF, os.getpid(), None))
    assert sessions.end(SID) and not sessions.end(SID)
    assert sessions.report() == {"sessions": [], "unknown_flows": 0}


@pytest.mark.parametrize("data,message", [
    ([], "a session is a JSON object"),
    ({"id": "XYZ"}, "session id must be 8 to 32 lowercase hex digits"),
    ({"id": SID, "pid": "1"}, "session pid must be the wrap's process id"),
    ({"id": SID}, "session pid must be the wrap's process id"),  # a session without one could never end
    ({"id": SID, "pid": 1, "settings": {"compress": "no"}}, "session setting compress must be true or false"),
    ({"id": SID, "pid": 1, "settings": {"compress_holdout": 2}},
     "session setting compress_holdout must be a number from 0 to 1"),
    ({"id": SID, "pid": 1, "settings": {"min_tokens": -1}}, "session setting min_tokens must be a whole number, 0 or more"),
    ({"id": SID, "pid": 1, "settings": {"ports": 1}}, "unknown session setting 'ports'"),
])
def test_a_bad_registration_is_one_line(data, message):
    with pytest.raises(ValueError) as e:
        Session.from_json(data)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_intercept_reads_the_flows_session_settings(headroom_home):
    from tests.addon.test_intercept import make_flow, run_hooks
    from tests.e2e.test_proxy import chat_body

    sessions = Sessions(headroom_home)
    sessions.register(Session(SID, SessionSettings(compress=False), os.getpid(), None))
    intercept = Intercept(sessions)
    body = json.dumps(chat_body()).encode()
    flows = []
    for header in (basic(credential(SID)), None):
        f = make_flow(body)
        f.client_conn = _connect(sessions, header)
        run_hooks(f, intercept=intercept)
        flows.append(f)
    mine, theirs = flows
    st = state_of(mine)
    assert (st.session, st.settings.compress, st.outcome) == (SID, False, None)
    assert mine.request.content == body  # compression off for this session: untouched
    st = state_of(theirs)
    assert (st.session, st.settings.compress) == (None, True)  # the proxy's own: compressed
    assert len(theirs.request.content) < len(body) / 3


def test_a_session_that_compresses_warms_a_pure_gateways_compressor(headroom_home):
    sessions = Sessions(headroom_home)
    intercept = Intercept(sessions)
    with taddons.context(sessions, intercept) as tctx:
        tctx.configure(intercept, headroom_compress=False)
        intercept.running()
        assert not intercept.models.started  # a pure gateway loads nothing
        sessions.register(Session(SID, SessionSettings(compress=False), os.getpid(), None))
        assert not intercept.models.started
        sessions.register(Session("fedcba9876543210", SessionSettings(), os.getpid(), None))
        assert intercept.models.started
        assert intercept.models.wait(60)
