"""Load `sluicegate.yaml`: YAML → environment overrides → validated `Config`.

Every failure is a `ConfigError` naming the file, the key path and the reason; the CLI
turns it into one line and exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sluicegate.config.schema import Config, embedded_default
from sluicegate.errors import ConfigError

ENV_PREFIX = "SLUICEGATE_"
# Plain variables for the settings people change most; anything else: SLUICEGATE__SECTION__KEY=value.
SHORTHAND_ENV = {
    "SLUICEGATE_HOST": ("server", "host"),
    "SLUICEGATE_PORT": ("server", "port"),
    "SLUICEGATE_WORKERS": ("server", "workers"),
    "SLUICEGATE_LOG_LEVEL": ("server", "log_level"),
    "SLUICEGATE_MAX_BODY_BYTES": ("server", "max_body_bytes"),
    "SLUICEGATE_STATE_DIR": ("state_dir",),
}


_KEYED_REASON = re.compile(r"^([A-Za-z0-9_.\-]+): (.+)$", re.DOTALL)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config named by `path`, else $SLUICEGATE_CONFIG, else ./sluicegate.yaml if present.

    With none of those, the embedded default (local model, SQLite state) is returned, still
    with environment overrides applied.
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get("SLUICEGATE_CONFIG") or _default_file()
    if chosen is None:
        raw: dict[str, Any] = embedded_default().model_dump(mode="json", exclude_unset=True)
        source = "<embedded default>"
    else:
        source = str(chosen)
        raw = with_embedded_models(_read_yaml(Path(chosen)))
    _apply_env_overrides(raw, env, source)
    return validate(raw, source)


def with_embedded_models(raw: dict[str, Any]) -> dict[str, Any]:
    """A file that defines no providers and no models keeps the embedded default's (ARCHITECTURE
    §6): a file that only tunes the assistant or the budgets still has roles to serve. A file that
    defines either keeps only its own."""
    if "providers" in raw or "models" in raw:
        return raw
    default = embedded_default().model_dump(mode="json", exclude_unset=True)
    return {**raw, "providers": default["providers"], "models": default["models"]}


def validate(raw: object, source: str) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a mapping of sections")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"] if not _is_union_tag(part))
        reason = _reason(first)
        # Cross-field checks (model validators) have no location; they name the key themselves.
        located = _KEYED_REASON.match(reason)
        if not key and located:
            key, reason = located.group(1), located.group(2)
        raise ConfigError(source, key, reason) from None


def _reason(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        return "unknown key"
    return message


def _is_union_tag(part: object) -> bool:
    # pydantic puts the discriminator value (e.g. "openai") into the location of union errors.
    return part in {"openai", "anthropic", "llamacpp", "scripted"}


def _default_file() -> Path | None:
    candidate = Path("sluicegate.yaml")
    return candidate if candidate.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read the file ({type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), where, f"invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "the top level must be a mapping of sections")
    return data


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str], source: str) -> None:
    for name, value in env.items():
        if name in SHORTHAND_ENV:
            _set_path(raw, SHORTHAND_ENV[name], _parse_scalar(value), source, name)
        elif name.startswith(ENV_PREFIX + "_"):
            path = tuple(part.lower() for part in name[len(ENV_PREFIX) + 1 :].split("__") if part)
            if path:
                _set_path(raw, path, _parse_scalar(value), source, name)


def _parse_scalar(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _set_path(raw: dict[str, Any], path: tuple[str, ...], value: Any, source: str, env_name: str) -> None:
    node = raw
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(source, ".".join(path), f"cannot override from ${env_name}: not a section")
        node = child
    node[path[-1]] = value
