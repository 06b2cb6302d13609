"""A request's scope: a hash of its credential, the same for the same credential, never the credential."""
from __future__ import annotations

from headroom.core.retrieval.scope import credential_scope


def test_each_providers_credential_names_a_scope_and_never_shows_in_it():
    cases = [
        [("Authorization", "Bearer sk-proj-abc")],  # OpenAI, OAuth bearer tokens
        [("x-api-key", "sk-ant-api03-xyz")],  # Anthropic
        [("x-goog-api-key", "AIzaSy-123")],  # Gemini
        [("api-key", "azure-456")],  # Azure OpenAI
    ]
    scopes = [credential_scope(h) for h in cases]
    assert len(set(scopes)) == len(scopes) and all(len(s) == 16 for s in scopes)
    for headers, scope in zip(cases, scopes):
        assert headers[0][1] not in scope
    assert credential_scope([("X-Api-Key", "sk-ant-api03-xyz"), ("content-type", "application/json")]) == scopes[1]


def test_geminis_key_in_the_query_and_no_credential_at_all():
    q = credential_scope([], "/v1beta/models/gemini-2.5-pro:generateContent?key=AIzaSy-123&alt=sse")
    assert q and q != credential_scope([], "/v1beta/models/gemini-2.5-pro:generateContent?key=other")
    assert credential_scope([("content-type", "application/json")], "/v1/messages") == ""
