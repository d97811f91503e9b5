"""Provider adapters: one per wire protocol, all behind the `Provider` port."""

from sluicegate.providers.base import Capabilities, Provider

__all__ = ["Capabilities", "Provider"]
