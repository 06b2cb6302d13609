"""The proxy's IO on disk: the retrieval store, the savings ledger's writer and the report read from it (SQLite).

Each implements a Protocol of `headroom.core.ports` (`Store`, `LedgerWriter`); core never imports this package.
"""
