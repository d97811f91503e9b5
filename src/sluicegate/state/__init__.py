"""Shared state behind one port: SQLite (embedded default) or Redis (many instances)."""
