"""Roles (seed 001): a name a request may use for `model`, bound to an ordered chain of
provider/model targets with its own limits. A request may also name a configured
`provider/model` directly; it then gets the `defaults` limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sluicegate.config.schema import Config, RoleLimits
from sluicegate.errors import ModelNotFound
from sluicegate.providers.base import Provider


@dataclass(frozen=True, slots=True)
class Target:
    provider: Provider
    model: str

    @property
    def label(self) -> str:
        return f"{self.provider.name}/{self.model}"


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """What a request's `model` resolved to."""

    name: str
    kind: str  # "role" or "model"
    targets: tuple[Target, ...]
    limits: RoleLimits


class RoleTable:
    def __init__(self, config: Config, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        self._routes: dict[str, RouteSpec] = {}
        for role, spec in config.models.items():
            targets = tuple(self._target(ref) for ref in spec.use)
            self._routes[role] = RouteSpec(role, "role", targets, spec)
        self._defaults = config.defaults
        self._declared = {
            f"{name}/{model}" for name, spec in config.providers.items() for model in spec.models
        } | {ref for spec in config.models.values() for ref in spec.use}

    def _target(self, ref: str) -> Target:
        provider_name, _, model = ref.partition("/")
        return Target(self._providers[provider_name], model)

    def resolve(self, model: str) -> RouteSpec:
        route = self._routes.get(model)
        if route is not None:
            return route
        provider_name, sep, provider_model = model.partition("/")
        if sep and provider_name in self._providers and provider_model:
            if model not in self._declared:
                raise ModelNotFound(f"The model '{model}' is not configured.", param="model")
            return RouteSpec(model, "model", (self._target(model),), self._defaults)
        raise ModelNotFound(
            f"The model '{model}' does not exist: name a role or a provider/model id.", param="model"
        )

    @property
    def roles(self) -> dict[str, RouteSpec]:
        return dict(self._routes)

    @property
    def model_ids(self) -> list[str]:
        return sorted(self._declared)

    @property
    def providers(self) -> dict[str, Provider]:
        return dict(self._providers)
