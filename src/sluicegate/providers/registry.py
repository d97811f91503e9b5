"""Build provider adapters from configuration; the only place that knows every adapter."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from sluicegate.config.providers import (
    AnthropicProviderConfig,
    LlamaCppProviderConfig,
    OpenAIProviderConfig,
    ScriptedProviderConfig,
)
from sluicegate.config.schema import Config
from sluicegate.errors import ProviderSetupError
from sluicegate.providers.base import Provider
from sluicegate.providers.http1 import AddressLookup
from sluicegate.security.secrets import SECRETS


def build_providers(
    config: Config,
    environ: Mapping[str, str] | None = None,
    addresses: AddressLookup | None = None,
) -> dict[str, Provider]:
    """Every configured provider; HTTP ones connect only to addresses `addresses` admits (egress)."""
    env = os.environ if environ is None else environ
    providers: dict[str, Provider] = {}
    for name, spec in config.providers.items():
        providers[name] = build_provider(name, spec, env, addresses)
    return providers


ProviderSpec = (
    OpenAIProviderConfig | AnthropicProviderConfig | LlamaCppProviderConfig | ScriptedProviderConfig
)


def build_provider(
    name: str, spec: ProviderSpec, env: Mapping[str, str], addresses: AddressLookup | None = None
) -> Provider:
    try:
        return _built(name, spec, env, addresses)
    except ValueError as exc:  # a base_url or a header the HTTP client cannot send as it is
        raise ProviderSetupError(f"providers.{name}: {exc}") from None


def _built(
    name: str, spec: ProviderSpec, env: Mapping[str, str], addresses: AddressLookup | None
) -> Provider:
    if isinstance(spec, OpenAIProviderConfig):
        from sluicegate.providers.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            name,
            base_url=spec.base_url,
            api_key=_secret(name, spec, env),
            headers=spec.headers,
            timeout_s=spec.timeout_s,
            addresses=addresses,
            vision=spec.vision,
        )
    if isinstance(spec, AnthropicProviderConfig):
        from sluicegate.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            name,
            base_url=spec.base_url,
            api_key=_secret(name, spec, env),
            anthropic_version=spec.anthropic_version,
            default_max_tokens=spec.default_max_tokens,
            headers=spec.headers,
            timeout_s=spec.timeout_s,
            addresses=addresses,
            vision=spec.vision,
        )
    if isinstance(spec, LlamaCppProviderConfig):
        from sluicegate.providers.llamacpp import LlamaCppProvider, Sampling

        return LlamaCppProvider(
            name,
            model=spec.model,
            n_ctx=spec.n_ctx,
            n_threads=spec.n_threads,
            system_prompt=spec.system_prompt,
            sampling=Sampling(temperature=spec.temperature, top_p=spec.top_p),
            cpu_extra_buffers=spec.cpu_extra_buffers,
            supervision=spec.worker,
        )
    from sluicegate.errors import ScriptError
    from sluicegate.providers.script import load_script
    from sluicegate.providers.scripted import ScriptedProvider

    try:
        return ScriptedProvider(name, load_script(spec.script, spec.inline))
    except ScriptError as exc:
        raise ProviderSetupError(f"providers.{name}: {exc}") from None


def _secret(
    name: str, spec: OpenAIProviderConfig | AnthropicProviderConfig, env: Mapping[str, str]
) -> str | None:
    """The provider's key, from the environment or a file; inline only when allowed (and warned)."""
    if spec.api_key_env:
        value = env.get(spec.api_key_env)
        if not value:
            raise ProviderSetupError(f"providers.{name}.api_key_env: ${spec.api_key_env} is not set")
        SECRETS.register(value)
        return value
    if spec.api_key_file:
        try:
            value = spec.api_key_file.read_text(encoding="utf-8").strip()
            SECRETS.register(value)
            return value
        except OSError as exc:
            raise ProviderSetupError(
                f"providers.{name}.api_key_file: cannot read {spec.api_key_file} ({type(exc).__name__})"
            ) from None
    if spec.api_key:
        warnings.warn(f"providers.{name}.api_key is inline in the config file", UserWarning, stacklevel=2)
        SECRETS.register(spec.api_key)
        return spec.api_key
    return None
