"""The LLM host list and matcher: what gets decrypted, and nothing else."""
from __future__ import annotations

import re

import pytest

from headroom.core.hosts import BUILTIN_HOSTS, HostMatcher, allow_hosts_patterns, parse_host_list


@pytest.mark.parametrize("host", [
    "api.openai.com", "API.OpenAI.com", "api.anthropic.com", "generativelanguage.googleapis.com",
    "us-central1-aiplatform.googleapis.com", "myres.openai.azure.com", "myres.services.ai.azure.com",
    "openrouter.ai", "api.mistral.ai", "api.deepseek.com", "api.groq.com", "api.together.xyz",
    "api.githubcopilot.com", "api.individual.githubcopilot.com", "chatgpt.com", "api.openai.com.",
])
def test_known_llm_hosts_match(host):
    assert HostMatcher()(host)


@pytest.mark.parametrize("host", [
    "example.com", "openai.com", "api.openai.com.evil.com", "evilapi.openai.com", "github.com",
    "bedrock-runtime.us-east-1.amazonaws.com", "localhost", "127.0.0.1", "", None, "xopenrouter.ai",
    "openai.azure.com",
])
def test_other_hosts_do_not_match(host):
    assert not HostMatcher()(host)


def test_extra_hosts_extend_the_list():
    m = HostMatcher(["llm.corp.example", "*.inference.example"])
    assert m("llm.corp.example") and m("eu.inference.example") and m("api.openai.com")
    assert not m("corp.example")


def test_parse_host_list_accepts_commas_spaces_ports_and_schemes():
    assert parse_host_list("a.example, https://b.example/v1  c.example:8443") == ["a.example", "b.example", "c.example"]
    assert parse_host_list(["x.example", "x.example"]) == ["x.example"]
    assert parse_host_list(None) == [] and parse_host_list("  ") == []


@pytest.mark.parametrize("bad", ["bad host!", "a..b/", "-", "é.example"])
def test_parse_host_list_rejects_garbage_with_the_entry_named(bad):
    with pytest.raises(ValueError, match="not a host name"):
        parse_host_list(bad)


def test_env_extra_hosts():
    # HEADROOM_EXTRA_HOSTS's value as `headroom proxy --extra-host` receives it (the CLI reads the variable).
    from headroom.cli.proxy import _split

    assert parse_host_list(_split(["one.example,two.example"])) == ["one.example", "two.example"]


def test_allow_hosts_patterns_are_anchored_host_port_regexes():
    pats = [re.compile(p, re.IGNORECASE) for p in allow_hosts_patterns(BUILTIN_HOSTS)]

    def allowed(s):
        return any(p.search(s) for p in pats)

    assert allowed("api.openai.com:443") and allowed("eastus.openai.azure.com:443")
    assert not allowed("api.openai.com.evil.com:443")
    assert not allowed("xapi.openai.com:443")
    assert not allowed("github.com:443")
    assert not allowed("127.0.0.1:443")


def test_words_are_not_hosts():
    """Issue 15 item 15: `--extra-host 'not a host'` was accepted as three hosts."""
    with pytest.raises(ValueError, match="'not' is not a host name"):
        parse_host_list("not a host")
    assert parse_host_list("localhost llm.corp.example") == ["localhost", "llm.corp.example"]


def test_the_name_constraint_subtrees_of_hosts_and_globs():
    from headroom.core.hosts import BUILTIN_HOSTS, constraint_domains, permits

    assert constraint_domains(["api.openai.com", "*.openai.azure.com", "*-aiplatform.googleapis.com",
                               "generativelanguage.googleapis.com", "x.api.openai.com", "api.*"]) == [
        "api.openai.com", "googleapis.com", "openai.azure.com"]  # nested ones folded; `api.*` cannot be said
    domains = constraint_domains(BUILTIN_HOSTS)
    for host in ("api.openai.com", "chatgpt.com", "us-central1-aiplatform.googleapis.com", "my.openai.azure.com",
                 "api.githubcopilot.com", "proxy.individual.githubcopilot.com"):
        assert permits(domains, host), host
    for host in ("openai.com", "www.google.com", "evilapi.openai.com", "azure.com", "login.microsoftonline.com"):
        assert not permits(domains, host), host
