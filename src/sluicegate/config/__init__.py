"""Typed configuration: the schema, its loader, and the starter file."""

from sluicegate.config.loader import load_config
from sluicegate.config.providers import ProviderConfig
from sluicegate.config.schema import Config, RoleConfig
from sluicegate.errors import ConfigError

__all__ = ["Config", "ConfigError", "ProviderConfig", "RoleConfig", "load_config"]
