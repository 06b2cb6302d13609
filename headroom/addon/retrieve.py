"""(being built; see its issue)"""
from __future__ import annotations


class Retrieve:
    pass
