"""Sans-IO core: request bodies in, request bodies out. Never imports mitmproxy, never touches the network."""
