"""The proxy's mitmproxy addons, one class per concern, in the one list `make_addons` returns.

Order matters: mitmproxy runs each hook in list order. An addon class that must run after others names
them in `AFTER`; `check_order` refuses a list that breaks one of those (make_addons checks its own).
Addons that need another one get it passed here, never look it up by name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from headroom.core.proxychain import UpstreamProxy
    from headroom.settings import Settings

__all__ = ["check_order", "make_addons"]


def check_order(addons: Sequence[object]) -> None:
    """Raise ValueError naming the first addon placed before one it runs after (its class's AFTER)."""
    seen: set[str] = set()
    names = {type(a).__name__ for a in addons}
    for addon in addons:
        name = type(addon).__name__
        for dep in getattr(addon, "AFTER", ()):
            if dep in names and dep not in seen:
                raise ValueError(f"addon {name} must come after {dep}")
        seen.add(name)


def make_addons(settings: Settings | None = None, effective: Mapping[str, str] | None = None,
                upstream: UpstreamProxy | None = None) -> list:
    """The addons, in hook order. `upstream`: the user's proxy every upstream connection goes through (the
    runner puts mitmproxy in upstream mode for it; Chain, the relay, Health and Admin are told)."""
    from headroom.addon.admin import Admin
    from headroom.addon.chain import Chain
    from headroom.addon.health import Health
    from headroom.addon.intercept import Encode, Intercept
    from headroom.addon.ops import Ops
    from headroom.addon.retrieve import Retrieve
    from headroom.addon.route import Route
    from headroom.addon.sessions import Sessions
    from headroom.addon.shape import Shape
    from headroom.addon.stats import Stats
    from headroom.addon.team import Team
    from headroom.addon.tlspolicy import TlsPolicy
    from headroom.settings import Settings

    reported = settings.reported if settings is not None else {}
    if effective is None:  # no flags: what the settings alone give
        effective = (settings or Settings()).effective()
    stats = Stats()
    sessions = Sessions()
    team = Team()
    route = Route()
    chain = Chain(upstream, route)
    admin = Admin(stats, sessions, chain)
    intercept = Intercept(sessions, team)
    ops = Ops(intercept, stats, team)
    # Route only redirects upstream connections of routed hosts; TlsPolicy runs before anything opens an
    # upstream connection. Ops answers a balancer's probes (no credential) before Team refuses a request
    # without one; Team refuses before anything else sees the connection. The rest is each class's AFTER.
    addons = [ops, team, route, TlsPolicy(), Health(reported, admin, effective, chain, intercept), sessions, intercept, Shape(),
              Retrieve(chain, intercept), Encode(), chain, stats, admin]
    check_order(addons)
    return addons
