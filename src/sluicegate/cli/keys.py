"""`sluicegate keys create|list|revoke`: virtual API keys in the configured state store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from sluicegate.budgets import BudgetLedger
from sluicegate.cli.common import config_or_exit, fail
from sluicegate.config.schema import Config
from sluicegate.errors import ProviderSetupError, StateError
from sluicegate.keys import KeyRing
from sluicegate.runtime import build_state_store
from sluicegate.state.base import StateStore

keys_app = typer.Typer(no_args_is_help=True, help="Virtual API keys (only a hash is stored).")
out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")
ConfigOption = typer.Option(None, "--config", "-c", help="Config file.")


def _with_store(config: Path | None, work: Callable[[Config, StateStore], Awaitable[T]]) -> T:
    settings = config_or_exit(config)
    try:
        store = build_state_store(settings.state)
    except ProviderSetupError as exc:
        fail(str(exc))

    async def run() -> T:
        try:
            return await work(settings, store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(run())
    except StateError as exc:
        fail(str(exc))


@keys_app.command()
def create(
    user: str = typer.Option(..., "--user", help="Who the key belongs to (budgets are per user)."),
    tokens_per_hour: int | None = typer.Option(
        None, "--tokens-per-hour", min=1, help="The user's hourly budget."
    ),
    roles: str | None = typer.Option(
        None, "--roles", help="Comma-separated roles the key may use (default: all)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Create a key and print it. It is shown this once: only its hash is kept."""
    allowed = [r.strip() for r in roles.split(",") if r.strip()] if roles else None

    async def work(settings: Config, store: StateStore) -> None:
        unknown = [r for r in allowed or [] if r not in settings.models]
        if unknown:
            fail(f"unknown role(s): {', '.join(unknown)}")
        secret, key = await KeyRing(store).create(user, tokens_per_hour, allowed)
        out.print(secret, markup=False)
        err = Console(stderr=True, highlight=False)
        err.print(f"key {key.key_id} for {user} (keep it now: it cannot be shown again)", markup=False)

    _with_store(config, work)


@keys_app.command("list")
def list_keys(config: Path | None = ConfigOption) -> None:
    """Keys (never their secrets), with each user's use of the hourly budget."""

    async def work(settings: Config, store: StateStore) -> None:
        ledger = BudgetLedger(store)
        table = Table("key id", "user", "roles", "tokens/hour", "used", "remaining", "status")
        for key in await KeyRing(store).list():
            limit = key.tokens_per_hour or settings.budgets.tokens_per_hour_per_user
            usage = await ledger.usage(key.user, limit)
            table.add_row(
                key.key_id,
                key.user,
                ",".join(key.roles) if key.roles else "all",
                str(limit or "unlimited"),
                str(usage.used + usage.reserved),
                "-" if usage.remaining is None else str(usage.remaining),
                "revoked" if key.revoked else "active",
            )
        out.print(table)

    _with_store(config, work)


@keys_app.command()
def revoke(
    key_id: str = typer.Argument(..., help="The key id shown by `keys list`."),
    config: Path | None = ConfigOption,
) -> None:
    """Revoke a key: it stops working at once, on every instance."""

    async def work(settings: Config, store: StateStore) -> None:
        revoked = await KeyRing(store).revoke(key_id)
        if revoked is None:
            fail(f"no single active key matches '{key_id}'", 1)
        out.print(f"revoked {revoked.key_id} ({revoked.user})")

    _with_store(config, work)
