"""Fact-source adapters: the bundled demo catalog (SQLite) and an HTTP catalog service."""
