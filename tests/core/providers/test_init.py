"""provider_for: which requests on an LLM host are generation calls of which shape."""
from __future__ import annotations

import pytest

from headroom.core.providers import PROVIDERS, Unit, get_provider, provider_for


@pytest.mark.parametrize("host,path,expected", [
    ("api.openai.com", "/v1/chat/completions", "openai_chat"),
    ("api.openai.com", "/v1/chat/completions?foo=1", "openai_chat"),
    ("res.openai.azure.com", "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21", "openai_chat"),
    ("openrouter.ai", "/api/v1/chat/completions", "openai_chat"),
    ("api.groq.com", "/openai/v1/chat/completions", "openai_chat"),
    ("api.githubcopilot.com", "/chat/completions", "openai_chat"),
    ("api.openai.com", "/v1/responses", "openai_responses"),
    ("chatgpt.com", "/backend-api/codex/responses", "openai_responses"),
    ("api.anthropic.com", "/v1/messages", "anthropic"),
    ("api.anthropic.com", "/v1/messages?beta=true", "anthropic"),
    ("res.services.ai.azure.com", "/anthropic/v1/messages", "anthropic"),
    ("api.deepseek.com", "/anthropic/v1/messages", "anthropic"),
    ("us-east5-aiplatform.googleapis.com",
     "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4:streamRawPredict", "anthropic"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:generateContent", "gemini"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini"),
    ("cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent?alt=sse", "code_assist"),
])
def test_generation_paths(host, path, expected):
    assert provider_for(host, path) == expected


@pytest.mark.parametrize("host,path,method", [
    ("api.anthropic.com", "/v1/messages/count_tokens", "POST"),
    ("api.anthropic.com", "/v1/messages/batches", "POST"),
    ("api.openai.com", "/v1/models", "GET"),
    ("api.openai.com", "/v1/files", "POST"),
    ("api.openai.com", "/v1/batches", "POST"),
    ("api.openai.com", "/v1/responses/compact", "POST"),
    ("api.openai.com", "/v1/responses/resp_123", "GET"),
    ("api.openai.com", "/v1/responses", "GET"),
    ("api.openai.com", "/v1/embeddings", "POST"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:countTokens", "POST"),
    ("chatgpt.com", "/backend-api/conversation", "POST"),
    ("chatgpt.com", "/v1/responses", "POST"),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude/invoke", "POST"),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/v1/messages", "POST"),
    ("us-east5-aiplatform.googleapis.com", "/v1/projects/p/locations/l/publishers/meta/models/m:rawPredict", "POST"),
])
def test_everything_else_passes_untouched(host, path, method):
    assert provider_for(host, path, method) is None


def test_every_provider_module_has_the_interface():
    for name in PROVIDERS:
        mod = get_provider(name)
        assert mod.find_units({}) == [] and callable(mod.model_of)
    with pytest.raises(KeyError, match="known: openai_chat"):
        get_provider("bedrock")


def test_unit_location_reads_like_a_json_path():
    assert Unit(("messages", 3, "content", 0, "text"), "x").location == "messages[3].content[0].text"
