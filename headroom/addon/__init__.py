"""The proxy's mitmproxy addons, one class per concern. Order matters: request hooks run in list order."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headroom.settings import Settings

__all__ = ["make_addons"]


def make_addons(settings: Settings | None = None) -> list:
    from headroom.addon.admin import Admin
    from headroom.addon.health import Health
    from headroom.addon.intercept import Encode, Intercept
    from headroom.addon.retrieve import Retrieve
    from headroom.addon.route import Route
    from headroom.addon.stats import Stats
    from headroom.addon.tlspolicy import TlsPolicy

    reported = settings.reported if settings is not None else {}
    # Route first (it only redirects upstream connections of routed hosts); TlsPolicy before anything
    # opens an upstream connection; Health answers its own requests before
    # Intercept looks at them; Intercept compresses, Retrieve splices history and adds its tool, Encode
    # writes the body back once; Stats wraps whatever response stream the others set up.
    return [Route(), TlsPolicy(), Health(reported), Intercept(), Retrieve(), Encode(), Stats(), Admin()]
