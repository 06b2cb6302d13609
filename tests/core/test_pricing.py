"""The shipped price table: family matching, unknown models stay unknown, the user's override wins."""
from __future__ import annotations

import json

import pytest

from headroom.core import pricing


@pytest.fixture(autouse=True)
def _fresh_cache():
    pricing._load.cache_clear()
    yield
    pricing._load.cache_clear()


@pytest.mark.parametrize(
    "model, family",
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-nano", "gpt-4.1-nano"),
        ("o3-mini", "o3-mini"),
        ("o3", "o3"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet"),
        ("claude-opus-4-1-20250805", "claude-opus-4"),
        ("claude-3-5-haiku-latest", "claude-haiku-3.5"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("gemini-3-pro-preview", "gemini-3-pro"),
        ("gemini-3.1-pro-preview", "gemini-3.1-pro"),
        ("gemini-3-flash-preview", "gemini-3-flash"),
        ("models/gemini-3.1-flash-lite-preview", "gemini-3.1-flash-lite"),
        ("GPT-4O", "gpt-4o"),
    ],
)
def test_known_models_match_their_family(model, family):
    price = pricing.price_for(model)
    assert price is not None and price.family == family


@pytest.mark.parametrize("model", [None, "", "llama-3-70b", "gpt-4o-audio-preview", "o3-pro", "gemini-3-pro-image-preview", "gpt-5.2", "my-model"])
def test_unknown_models_have_no_price_not_zero(model):
    assert pricing.price_for(model) is None
    assert pricing.cost_usd(pricing.price_for(model), input=1000, output=10) is None


def test_cost_splits_cached_and_uncached_input():
    price = pricing.Price("x", input=3.0, cached_input=0.3, cache_write=3.75, output=15.0)
    # 1M input of which 400k cache reads and 100k cache writes, plus 10k output
    got = pricing.cost_usd(price, input=1_000_000, cache_read=400_000, cache_write=100_000, output=10_000)
    assert got == pytest.approx(0.5 * 3.0 + 0.4 * 0.3 + 0.1 * 3.75 + 0.01 * 15.0)


def test_every_shipped_family_is_dated_and_positive():
    table = pricing.load_prices()
    assert table.as_of[:4].isdigit()
    for price in table.prices.values():
        assert price.input > 0 and price.output > 0 and 0 < price.cached_input <= price.input


def test_user_override_wins_and_adds(tmp_path, monkeypatch):
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"as_of": "2030-01-01", "families": [
        {"family": "local-llama", "prefixes": ["llama-3"], "input": 0.5, "output": 1.0},
        {"family": "cheap-4o", "prefixes": ["gpt-4o"], "input": 1.0, "output": 2.0},
    ]}))
    from headroom.settings import pricing_file

    monkeypatch.setenv(pricing.PRICING_ENV, str(f))
    override = pricing_file()  # the edge reads the variable; core is handed the file
    assert pricing.price_for("llama-3", override).family == "local-llama"
    assert pricing.price_for("llama-3", override).cached_input == 0.5  # defaults to the input rate
    assert pricing.price_for("gpt-4o", override).input == 1.0
    assert pricing.price_for("gpt-4o-mini", override).family == "gpt-4o-mini"
    assert "2030-01-01" in pricing.load_prices(override).as_of
    assert "2030-01-01" not in pricing.load_prices().as_of


def test_bad_override_says_which_file(tmp_path, monkeypatch):
    f = tmp_path / "prices.json"
    f.write_text("{not json")
    monkeypatch.setenv(pricing.PRICING_ENV, str(f))
    from headroom.settings import pricing_file

    with pytest.raises(pricing.PricingError, match="HEADROOM_PRICING"):
        pricing.load_prices(pricing_file())
