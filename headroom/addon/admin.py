"""(being built; see its issue)"""
from __future__ import annotations


class Admin:
    pass
