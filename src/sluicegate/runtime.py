"""The composition root: configuration in, a wired runtime out. Nothing else builds adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sluicegate.alerts import Alerter, webhook
from sluicegate.config.schema import Config
from sluicegate.providers.base import Provider
from sluicegate.providers.registry import build_providers
from sluicegate.routing.roles import RoleTable
from sluicegate.service import ChatService


@dataclass
class Runtime:
    config: Config
    providers: dict[str, Provider]
    chat: ChatService

    async def warm(self) -> None:
        """Load what is slow to load (embedded models) before declaring ready."""
        for provider in self.providers.values():
            warm = getattr(provider, "warm", None)
            if warm is not None:
                await warm()

    async def aclose(self) -> None:
        await self.chat.alerter.aclose()
        for provider in self.providers.values():
            await provider.aclose()


def build_runtime(config: Config, providers: Mapping[str, Provider] | None = None) -> Runtime:
    built = dict(providers) if providers is not None else build_providers(config)
    roles = RoleTable(config, built)
    url = config.alerts.webhook_url
    alerter = Alerter(webhook(url) if url else None)
    return Runtime(config=config, providers=built, chat=ChatService(roles, config, alerter=alerter))
