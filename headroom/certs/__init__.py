"""The local CA that agents trust, client trust bundles, and upstream trust."""
