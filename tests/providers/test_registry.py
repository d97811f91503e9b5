"""Building adapters from configuration: what cannot be sent is refused at start, by name."""

from __future__ import annotations

import pytest

from sluicegate.config.schema import Config
from sluicegate.errors import ProviderSetupError
from sluicegate.providers.registry import build_providers


def one_provider(kind: str, **fields: object) -> Config:
    spec = {"type": kind, "base_url": "https://api.example.com/v1", "models": ["m"], **fields}
    return Config.model_validate({"providers": {"up": spec}, "models": {"m": {"use": ["up/m"]}}})


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_key_with_a_line_break_is_refused_without_showing_it(kind: str) -> None:
    config = one_provider(kind, api_key_env="UP_KEY")
    with pytest.raises(ProviderSetupError, match=r"providers\.up: .* header holds a line break") as caught:
        build_providers(config, environ={"UP_KEY": "sk-live-123\r\nx-injected: 1"})
    assert "sk-live-123" not in str(caught.value)


def test_a_header_that_would_split_the_request_is_refused() -> None:
    config = one_provider("openai", headers={"x-team": "a\nb"})
    with pytest.raises(ProviderSetupError, match="'x-team' header holds a line break"):
        build_providers(config, environ={})
