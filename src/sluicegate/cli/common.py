"""What every command shares: loading the config and turning user errors into one line."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from sluicegate.config import Config, ConfigError, load_config
from sluicegate.errors import ProviderSetupError
from sluicegate.runtime import Runtime, build_runtime

err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def config_or_exit(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), exc.exit_code)


def runtime_or_exit(config: Config) -> Runtime:
    try:
        return build_runtime(config)
    except ProviderSetupError as exc:
        fail(str(exc))
