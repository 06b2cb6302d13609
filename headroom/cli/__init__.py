"""The `headroom` command: one module per sub-command, composed in main.py."""
