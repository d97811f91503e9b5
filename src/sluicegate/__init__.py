"""sluicegate: a self-hostable LLM gateway and runtime."""

__version__ = "0.1.0"
