"""Typed configuration: the schema, its loader, and the starter file."""

from sluicegate.config.loader import load_config
from sluicegate.config.schema import Config, ProviderConfig, RoleConfig
from sluicegate.errors import ConfigError

__all__ = ["Config", "ConfigError", "ProviderConfig", "RoleConfig", "load_config"]
