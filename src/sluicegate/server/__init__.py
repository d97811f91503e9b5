"""The HTTP doors: the OpenAI-compatible API, health, and (in time) admin and assistant APIs."""

from sluicegate.server.app import create_app

__all__ = ["create_app"]
