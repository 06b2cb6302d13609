"""headroom/core/proxychain.py: the user's proxy URL, its credentials, NO_PROXY and masking."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headroom.core.proxychain import (from_env, is_loopback, mask_url, no_proxy_of, parse_no_proxy,
                                      parse_upstream_proxy)


def test_a_url_gives_host_port_and_credentials_decoded():
    p = parse_upstream_proxy("http://alice:s%3Acr%40t@corp.example:8080")
    assert (p.scheme, p.host, p.port, p.username, p.password) == ("http", "corp.example", 8080, "alice", "s:cr@t")
    assert p.spec == "http://corp.example:8080"
    assert p.masked == "http://alice:***@corp.example:8080"
    assert base64.b64decode(p.authorization.split()[1]) == b"alice:s:cr@t"
    assert parse_upstream_proxy(p.url) == p  # the URL with credentials round-trips


def test_a_bare_host_port_is_http_and_no_port_means_3128():
    assert parse_upstream_proxy("corp:9000").spec == "http://corp:9000"
    assert parse_upstream_proxy("http://corp").port == 3128
    assert parse_upstream_proxy("http://[::1]:3128").spec == "http://[::1]:3128"
    assert parse_upstream_proxy("http://corp:3128").authorization is None


@pytest.mark.parametrize("raw, says", [
    ("socks5://alice:pw@corp:1080", "SOCKS is not supported"),
    ("ftp://corp:21", "ftp:// is not a proxy URL"),
    ("http://alice:pw@corp:99999", "port"),
    ("http://alice:pw@corp:3128/path", "no path"),
    ("http://:3128", "no host"),
    ("", "empty"),
])
def test_an_unusable_url_is_one_line_saying_the_form_without_the_password(raw, says):
    with pytest.raises(ValueError) as e:
        parse_upstream_proxy(raw)
    msg = str(e.value)
    assert says in msg and "\n" not in msg
    assert "pw" not in msg.replace("password", "").replace("PASSWORD", "")


@pytest.mark.parametrize("entry, host, port, direct", [
    ("corp.example", "corp.example", 443, True),
    ("corp.example", "llm.corp.example", 443, True),
    (".corp.example", "llm.corp.example", 443, True),
    ("*.corp.example", "llm.corp.example", 443, True),
    ("corp.example", "notcorp.example", 443, False),
    ("corp.example:8443", "corp.example", 8443, True),
    ("corp.example:8443", "corp.example", 443, False),
    ("10.0.0.0/8", "10.2.3.4", 443, True),
    ("10.0.0.0/8", "11.2.3.4", 443, False),
    ("10.1.2.3", "10.1.2.3", 443, True),
    ("*", "anything.at.all", 443, True),
    ("", "api.openai.com", 443, False),
])
def test_no_proxy_entries_match_as_curl_and_go_read_them(entry, host, port, direct):
    p = parse_upstream_proxy("http://corp:3128", entry)
    assert p.bypasses(host, port) is direct


def test_loopback_always_goes_direct_whatever_no_proxy_says():
    p = parse_upstream_proxy("http://corp:3128")
    for host in ("localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]", "a.localhost"):
        assert p.bypasses(host, 80), host
    assert not p.bypasses("api.anthropic.com", 443)
    assert is_loopback("LOCALHOST.") and not is_loopback("localhost.example")


def test_a_route_target_exempted_is_enough_to_go_direct():
    p = parse_upstream_proxy("http://corp:3128", "gateway.internal")
    assert not p.goes_direct("api.openai.com", 443)
    assert p.goes_direct("api.openai.com", 443, ("gateway.internal", 9443))
    assert p.goes_direct("api.openai.com", 443, ("127.0.0.1", 9443))


def test_the_environment_is_read_lower_case_first_and_no_proxy_merged():
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2", "ALL_PROXY": "http://all:3"}
    assert from_env(env) == ("https_proxy", "http://lower:2")
    assert from_env({"ALL_PROXY": "http://all:3"}) == ("ALL_PROXY", "http://all:3")
    assert from_env({"HTTP_PROXY": "http://plain:4"}) is None  # HTTPS traffic: HTTP_PROXY does not apply
    assert no_proxy_of({"NO_PROXY": "a, b", "no_proxy": "b,c"}) == ("b", "c", "a")
    assert parse_no_proxy(" a ,, a,b ") == ("a", "b")


def test_refusals_say_what_to_do_in_one_line_without_the_password():
    with_creds = parse_upstream_proxy("http://alice:hunter2@corp:3128")
    bare = parse_upstream_proxy("http://corp:3128")
    assert "refused the credentials of http://alice:***@corp:3128 (407)" in with_creds.refusal(407, "h:443")
    assert "wants credentials (407): put them in its URL, --upstream-proxy http://USER:PASSWORD@corp:3128" in \
        bare.refusal(407, "h:443")
    assert "does not allow h:443 (403)" in bare.refusal(403, "h:443")
    for status in (407, 403, 502):
        msg = with_creds.refusal(status, "h:443")
        assert "hunter2" not in msg and "\n" not in msg


def test_describe_is_what_an_identity_shows():
    p = parse_upstream_proxy("http://alice:hunter2@corp:3128", "a,b")
    assert p.describe() == {"url": "http://alice:***@corp:3128", "no_proxy": ["a", "b"]}


def test_mask_url_hides_every_password_and_nothing_else():
    assert mask_url("http://a:b@h:1 and https://c:d@e/x") == "http://a:***@h:1 and https://c:***@e/x"
    assert mask_url("api.openai.com=127.0.0.1:9443") == "api.openai.com=127.0.0.1:9443"
    assert mask_url("http://user@h:1") == "http://user@h:1"
    assert mask_url("http://a:b@h:1,http://c:d@i:2") == "http://a:***@h:1,http://c:***@i:2"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_any_password_round_trips_and_never_shows_masked(password):
    from urllib.parse import quote

    p = parse_upstream_proxy(f"http://alice:{quote(password, safe='')}@corp:3128")
    assert p.password == password
    assert p.masked == "http://alice:***@corp:3128"
