"""Test doubles that ship with sluicegate: mock upstream servers that speak real wire protocols."""

from sluicegate.testing.mock_upstream import MockUpstream

__all__ = ["MockUpstream"]
