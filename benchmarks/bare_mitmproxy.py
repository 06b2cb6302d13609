"""The bare-mitmproxy arm of benchmarks/proxy_cost.py: mitmdump with only what any intercepting proxy needs.

    mitmdump -s benchmarks/bare_mitmproxy.py --set bare_routes=api.openai.com=127.0.0.1:PORT ...

Routes the LLM hosts to the fake upstream (keeping SNI and Host, as Headroom's Route does) and streams SSE
responses, so the comparison with `headroom proxy` is like for like: same allow_hosts, same CA, same upstream
trust, same routing, streams streamed. Nothing else: no compression, no ledger, no retrieval.
"""
from collections.abc import Sequence

from mitmproxy import ctx


class Bare:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, int]] = {}

    def load(self, loader) -> None:
        loader.add_option("bare_routes", Sequence[str], [], "HOST=IP:PORT, one per entry")

    def configure(self, updated) -> None:
        if "bare_routes" in updated:
            self.routes = {}
            for spec in ctx.options.bare_routes:
                host, _, addr = spec.partition("=")
                ip, _, port = addr.rpartition(":")
                self.routes[host.lower()] = (ip, int(port))

    def server_connect(self, data) -> None:
        server = data.server
        if server.address and (target := self.routes.get(str(server.address[0]).lower())):
            if server.sni is None:
                server.sni = str(server.address[0])
            server.address = target

    def responseheaders(self, flow) -> None:
        if "text/event-stream" in flow.response.headers.get("content-type", ""):
            flow.response.stream = True


addons = [Bare()]
