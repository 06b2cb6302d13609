"""Dated list prices per model family, read from headroom/pricing.json: no network, unknown stays unknown.

A model name matches a family when it is one of the family's prefixes followed by nothing, a date, or a
-latest/-preview/-exp tag (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-latest`). Anything else, a new variant
included (`gpt-4o-audio-preview` is not `gpt-4o`), is unknown and priced as None, never as $0.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PRICING_ENV", "Price", "PricingError", "PriceTable", "load_prices", "price_for", "cost_usd"]

PRICING_ENV = "HEADROOM_PRICING"  # a JSON file of the same shape, merged over (and winning against) the shipped one
_PER = 1_000_000  # prices are per million tokens
# After the family prefix: a date (20241022, 2024-08-06), or a release tag, then anything; a bare prefix also matches.
_SUFFIX_OK = re.compile(r"(?:$|[-@:](?:\d{4}-\d{2}-\d{2}|\d{6,8}|latest|preview|exp)(?:$|[-@:._]))")


class PricingError(ValueError):
    """A price file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Price:
    family: str
    input: float  # per 1M uncached input tokens
    cached_input: float  # per 1M input tokens read from the provider's prompt cache
    cache_write: float  # per 1M input tokens written to the prompt cache
    output: float  # per 1M output tokens


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    currency: str
    prices: dict[str, Any]  # prefix -> Price

    def lookup(self, model: str | None) -> Price | None:
        """The price of `model`, or None when no family matches (the caller shows "unknown")."""
        if not model:
            return None
        name = model.strip().lower().rsplit("/", 1)[-1]  # "models/gemini-2.5-pro", "openai/gpt-4o"
        best: tuple[int, Price] | None = None
        for prefix, price in self.prices.items():
            if name.startswith(prefix) and _SUFFIX_OK.match(name, len(prefix)):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), price)
        return best[1] if best else None


def _parse(data: object, origin: str) -> tuple[str, str, dict[str, Price]]:
    if not isinstance(data, dict) or not isinstance(data.get("families"), list):
        raise PricingError(f"{origin}: expected an object with a 'families' list (see headroom/pricing.json)")
    prices: dict[str, Price] = {}
    for i, fam in enumerate(data["families"]):
        try:
            price = Price(
                family=str(fam["family"]),
                input=float(fam["input"]),
                cached_input=float(fam.get("cached_input", fam["input"])),
                cache_write=float(fam.get("cache_write", fam["input"])),
                output=float(fam["output"]),
            )
            prefixes = [str(p).lower() for p in fam["prefixes"]]
        except (KeyError, TypeError, ValueError) as e:
            raise PricingError(f"{origin}: family #{i + 1} needs family, prefixes, input and output ({e})") from None
        for p in prefixes:
            prices[p] = price
    return str(data.get("as_of", "unknown date")), str(data.get("currency", "USD")), prices


@functools.lru_cache(maxsize=4)
def _load(override: str | None) -> PriceTable:
    shipped = json.loads(resources.files("headroom").joinpath("pricing.json").read_text("utf-8"))
    as_of, currency, prices = _parse(shipped, "headroom/pricing.json")
    if override:
        path = Path(override).expanduser()
        try:
            extra = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise PricingError(f"{PRICING_ENV}={override}: cannot read it as JSON ({e}); fix or unset it") from None
        extra_as_of, _, extra_prices = _parse(extra, f"{PRICING_ENV}={override}")
        prices = {**prices, **extra_prices}
        as_of = f"{as_of} (+ {path.name} {extra_as_of})"
    return PriceTable(as_of=as_of, currency=currency, prices=prices)


def load_prices(override: str | None = None) -> PriceTable:
    """The shipped table, with `override` (the user's HEADROOM_PRICING file, read at the edge) merged over it."""
    return _load(override or None)


def price_for(model: str | None, override: str | None = None) -> Price | None:
    return load_prices(override).lookup(model)


def cost_usd(price: Price | None, *, input: int = 0, cache_read: int = 0, cache_write: int = 0,
             output: int = 0) -> float | None:
    """What a request cost. `input` is ALL input tokens (cache reads and writes included, as usage.py
    normalises it); the uncached part is billed at the input rate. None when the price is unknown."""
    if price is None:
        return None
    uncached = max(0, input - cache_read - cache_write)
    return (uncached * price.input + cache_read * price.cached_input + cache_write * price.cache_write
            + output * price.output) / _PER
