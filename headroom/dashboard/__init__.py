"""The savings dashboard: static files (static/) served by the proxy's Admin addon; no CDN, no build step."""
