"""The loopback relay that answers headroom_retrieve inside responses: `server` (h11, towards mitmproxy,
and the one loop that executes the retrieval driver's actions) and `upstream` (httpx, towards the real
host, with mitmproxy's trust and routes)."""
