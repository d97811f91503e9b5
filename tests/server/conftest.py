"""Fixtures shared by the server tests."""

from tests.server.test_costs import served  # noqa: F401 - a gateway over a mock upstream, keys and budgets
