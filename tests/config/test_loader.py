"""Loading sluicegate.yaml: valid files, clear errors (file, key path, reason), env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.cli.starter import STARTER_CONFIG
from sluicegate.config import ConfigError, load_config
from sluicegate.config.schema import STANDARD_ROLES

GOOD = """
providers:
  up: {type: openai, base_url: "http://127.0.0.1:9/v1", models: [m]}
models:
  reasoning: {use: [up/m], max_concurrency: 2, default_timeout: 30}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluicegate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    assert config.models["reasoning"].use == ["up/m"]
    assert config.models["reasoning"].max_concurrency == 2
    assert config.circuit_breaker.failure_threshold == 3


def test_no_file_is_the_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert set(STANDARD_ROLES) <= set(config.models)
    assert config.providers["local"].type == "llamacpp"
    assert config.state.backend == "sqlite"


def test_a_file_without_providers_or_models_keeps_the_embedded_roles(tmp_path: Path) -> None:
    """A sluicegate.yaml that only tunes the assistant once left the gateway with no roles at all."""
    config = load_config(write(tmp_path, "assistant: {max_tokens: 120}\n"), environ={})
    assert config.assistant.max_tokens == 120
    assert set(STANDARD_ROLES) <= set(config.models)
    assert config.models["reasoning"].use == ["local/smollm2-135m"]
    assert config.providers["local"].type == "llamacpp"


def test_a_file_with_its_own_providers_or_models_keeps_only_those(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    assert set(config.providers) == {"up"}
    assert set(config.models) == {"reasoning"}
    only_providers = load_config(write(tmp_path, "providers:\n  up: {type: openai}\n"), environ={})
    assert set(only_providers.providers) == {"up"}
    assert only_providers.models == {}


def test_cpu_extra_buffers_is_a_closed_choice(tmp_path: Path) -> None:
    text = "providers:\n  local: {type: llamacpp, cpu_extra_buffers: %s}\n"
    assert (
        load_config(write(tmp_path, text % "off"), environ={}).providers["local"].cpu_extra_buffers == "off"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text % "maybe"), environ={})
    assert caught.value.key == "providers.local.cpu_extra_buffers"


@pytest.mark.parametrize(
    "section", ["memory: {summarize_at_turn: 20}", "rag: {high_floor: 0.8}", "trust_signals: {}"]
)
def test_a_section_nothing_acts_on_yet_is_refused_at_start(tmp_path: Path, section: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + section + "\n"), environ={})
    assert caught.value.key == section.partition(":")[0]
    assert "not available yet" in caught.value.reason


def test_starter_file_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, STARTER_CONFIG), environ={})
    assert "reasoning" in config.models


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("models:\n  reasoning: {use: [nobody/m]}\n", "models", "provider 'nobody' is not configured"),
        (
            GOOD + "  coding: {use: [up/m], max_concurrency: 0}\n",
            "models.coding.max_concurrency",
            "greater than or equal to 1",
        ),
        (
            GOOD + "circuit_breaker: {failure_treshold: 3}\n",
            "circuit_breaker.failure_treshold",
            "unknown key",
        ),
        (GOOD + "  coding: {use: [justamodel]}\n", "models.coding.use", "not of the form provider/model"),
        ("providers:\n  x: {type: gemini}\n", "providers.x", "tag"),
        ("providers:\n  x: {type: openai, base_url: ftp://x}\n", "providers.x.base_url", "http"),
        ("providers: [1, 2]\n", "providers", "dictionary"),
        ("- just\n- a list\n", "", "mapping"),
        ("models: {reasoning: {use: [a/b]\n", "line", "invalid YAML"),
        ("providers:\n  o: {type: openai, api_key: sk-inline}\n", "providers.o.api_key", "inline secrets"),
    ],
)
def test_errors_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(str(path))
    assert key in caught.value.key
    assert reason in message
    assert caught.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(
        environ={
            "SLUICEGATE_CONFIG": str(path),
            "SLUICEGATE_PORT": "9999",
            "SLUICEGATE__MODELS__REASONING__DEFAULT_TIMEOUT": "5",
            "SLUICEGATE__CACHE__TTL_S": "60",
        }
    )
    assert config.server.port == 9999
    assert config.models["reasoning"].default_timeout == 5
    assert config.cache.ttl_s == 60


def test_bad_environment_override_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD), environ={"SLUICEGATE_PORT": "not-a-port"})
    assert caught.value.key == "server.port"


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
sections = st.sampled_from(
    ["providers", "models", "server", "cache", "retry", "circuit_breaker", "state", "x"]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(sections, yaml_values, max_size=4))
def test_any_yaml_is_a_config_or_a_clear_error(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, object]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        load_config(path, environ={})
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
        assert exc.reason
