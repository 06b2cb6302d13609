"""The LLM API hosts the proxy decrypts: a built-in list, extensible by option and HEADROOM_EXTRA_HOSTS.

Every host not on the list is tunnelled as raw TCP and never decrypted, so the list is the whole of what
Headroom can ever see. Entries are host names or globs (`*.openai.azure.com`); `*` matches one or more
DNS labels or label characters, never a colon, so a pattern cannot reach into the port.
"""
from __future__ import annotations

import re
from typing import Iterable

__all__ = ["BUILTIN_HOSTS", "HostMatcher", "allow_hosts_patterns", "constraint_domains", "parse_host_list",
           "permits"]

# reference/upstream.md §1: the hosts agents and SDKs send generation requests to.
BUILTIN_HOSTS: tuple[str, ...] = (
    "api.openai.com",
    "chatgpt.com",  # only /backend-api/codex/* is compressed; the rest of the host passes untouched
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    "*-aiplatform.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "daily-cloudcode-pa.googleapis.com",
    "*.openai.azure.com",
    "*.cognitiveservices.azure.com",
    "*.services.ai.azure.com",
    "openrouter.ai",
    "api.mistral.ai",
    "api.deepseek.com",
    "api.groq.com",
    "api.together.xyz",
    "api.together.ai",
    "api.githubcopilot.com",
    "*.githubcopilot.com",
)

_LABEL = r"[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?"
_VALID = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def parse_host_list(raw: str | Iterable[str] | None) -> list[str]:
    """Host globs from a comma/whitespace separated string (or an iterable of such strings).

    Raises ValueError naming the bad entry; a trailing `:port` or a scheme is accepted and dropped.
    """
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        for tok in re.split(r"[\s,]+", item.strip()):
            if not tok:
                continue
            h = tok.lower()
            h = re.sub(r"^[a-z]+://", "", h).split("/", 1)[0]
            h = re.sub(r":\d+$", "", h).rstrip(".")
            # A name without a dot is a word, not an API host ('not a host' gave three hosts, none of them real).
            if not _VALID.match(h) or ("." not in h and h != "localhost"):
                raise ValueError(f"{tok!r} is not a host name or glob (like api.example.com or *.example.com)")
            if h not in out:
                out.append(h)
    return out


def _glob_to_regex(glob: str) -> str:
    return "".join(r"[a-z0-9.-]+" if part == "*" else re.escape(part) for part in re.split(r"(\*)", glob))


def allow_hosts_patterns(hosts: Iterable[str]) -> list[str]:
    """mitmproxy `allow_hosts` regexes: anchored, matched against "host:port" strings."""
    return [rf"^{_glob_to_regex(h)}:\d+$" for h in hosts]


class HostMatcher:
    """Is a host one of the LLM hosts? Case-insensitive, port ignored."""

    def __init__(self, extra: Iterable[str] = ()):
        self.hosts: tuple[str, ...] = tuple(dict.fromkeys([*BUILTIN_HOSTS, *parse_host_list(list(extra))]))
        self._re = re.compile("|".join(f"(?:{_glob_to_regex(h)})" for h in self.hosts), re.IGNORECASE)

    def __call__(self, host: str | None) -> bool:
        if not host:
            return False
        h = host.lower()
        if h.count(":") == 1:  # host:port (an IPv6 literal has more colons and is never an LLM host)
            h = h.split(":", 1)[0]
        return self._re.fullmatch(h.rstrip(".")) is not None


def constraint_domains(hosts: Iterable[str]) -> list[str]:
    """The DNS subtrees (X.509 name constraints, RFC 5280 4.2.1.10) that permit every name `hosts` matches, and
    as little else as they can say: a host is its own subtree (`api.openai.com`: it and names under it); a glob's
    subtree is what follows its first label with a `*` (`*.openai.azure.com` and `*-aiplatform.googleapis.com`
    give `openai.azure.com` and `googleapis.com`). A subtree under another listed one is dropped."""
    out: list[str] = []
    for h in hosts:
        labels = h.lower().rstrip(".").split(".")
        starred = [i for i, label in enumerate(labels) if "*" in label]
        domain = ".".join(labels[starred[-1] + 1:] if starred else labels)
        if domain.count(".") >= 1 and domain not in out:  # never a whole TLD (`*.ai` would permit all of .ai)
            out.append(domain)
    return sorted(d for d in out if not any(d != o and d.endswith("." + o) for o in out))


def permits(domains: Iterable[str], host: str) -> bool:
    """Whether a DNS name is within one of the subtrees (the CA's permitted names)."""
    h = host.lower().rstrip(".")
    return any(h == d or h.endswith("." + d) for d in domains)
