"""`sluicegate`: serve, chat, init, models, route, ab."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from sluicegate.cli.ab import ab
from sluicegate.cli.audit import audit_app
from sluicegate.cli.common import config_or_exit, err, fail, runtime_or_exit
from sluicegate.cli.keys import keys_app
from sluicegate.cli.route import route
from sluicegate.cli.starter import STARTER_CONFIG
from sluicegate.config.schema import Config
from sluicegate.errors import FenceViolation, GatewayError, ProviderSetupError, StateError
from sluicegate.frames import error_frame
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.runtime import Runtime
from sluicegate.types import (
    CardFrame,
    CompleteFrame,
    CompletionRequest,
    CorrectionFrame,
    GuardrailFrame,
    Message,
    TokenFrame,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="sluicegate: a self-hostable LLM gateway.")
out = Console(highlight=False)

app.command()(route)
app.command()(ab)

ConfigOption = typer.Option(
    None, "--config", "-c", help="Config file (default: $SLUICEGATE_CONFIG or ./sluicegate.yaml)."
)


def auth_summary(settings: Config) -> str:
    mode = settings.auth.required
    if mode is True:
        return "auth: required (every API call needs a virtual key)"
    if mode is False:
        return "auth: optional (auth.required: false; a key, if sent, must be valid)"
    return "auth: auto (open until the first virtual key is created, then closed for good)"


def admin_open_warning(settings: Config) -> str | None:
    variable = settings.auth.admin_key_env
    if variable and os.environ.get(variable):
        return None
    reason = f"${variable} is not set" if variable else "auth.admin_key_env is not set"
    if settings.auth.required is True:
        return f"no admin key ({reason}): /admin/* is closed to everyone"
    return f"no admin key ({reason}): /admin/* is open to anyone who can reach this port while auth is open"


@app.command()
def serve(
    config: Path | None = ConfigOption,
    host: str | None = typer.Option(None, help="Listen address."),
    port: int | None = typer.Option(None, help="Listen port."),
    workers: int | None = typer.Option(None, help="Worker processes."),
) -> None:
    """Run the gateway. With no config: the embedded default (local model, SQLite state)."""
    settings = config_or_exit(config)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    # The Host allow-list defaults by the address really listened on.
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"host": bind_host})})
    count = workers or settings.server.workers
    if count > 1 and settings.state.backend != "redis":
        # Breakers, budgets, keys and the cache must be one across processes: Redis holds them.
        fail("--workers > 1 needs state.backend: redis (each worker is a process of its own)")
    embedded = sorted(name for name, spec in settings.providers.items() if spec.type == "llamacpp")
    if count > 1 and embedded:
        # Each gateway process supervises its own model worker: N processes would load N copies.
        fail(
            f"--workers {count} would load the embedded model ({', '.join(embedded)}) {count} times, once "
            "per gateway process; run one gateway process for it, or serve the model with llama.cpp's "
            "server and point an openai provider at it"
        )
    runtime = runtime_or_exit(settings)
    import uvicorn

    from sluicegate.logs import configure_logging
    from sluicegate.server import create_app
    from sluicegate.server.http_protocol import uvicorn_options

    configure_logging(settings.server.log_level)
    out.print(f"sluicegate listening on http://{bind_host}:{bind_port} (roles: {', '.join(settings.models)})")
    out.print(auth_summary(settings))
    warning = admin_open_warning(settings)
    if warning:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if count > 1:
        if config is not None:
            os.environ["SLUICEGATE_CONFIG"] = str(config.resolve())
        uvicorn.run(
            "sluicegate.server.factory:app_from_environment",
            factory=True,
            workers=count,
            host=bind_host,
            port=bind_port,
            log_level=settings.server.log_level,
            access_log=False,
            log_config=None,
            **uvicorn_options(settings.server),
        )
        return
    uvicorn.run(
        create_app(runtime, settle_gc=True),
        host=bind_host,
        port=bind_port,
        log_level=settings.server.log_level,
        access_log=False,
        log_config=None,
        **uvicorn_options(settings.server),
    )


@app.command()
def chat(
    message: str | None = typer.Argument(None, help="One message; without it, an interactive loop."),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="A role or provider/model (default: reasoning; with --session: the assistant's role).",
    ),
    session: str | None = typer.Option(
        None, "--session", "-s", help="Talk to the assistant in this session (its history, its domain pack)."
    ),
    max_tokens: int | None = typer.Option(None, help="Cap on the reply's length."),
    config: Path | None = ConfigOption,
) -> None:
    """Talk through the gateway's pipeline (the stages of the HTTP API), frames rendered as they stream."""
    settings = config_or_exit(config)
    if session is not None:
        chosen: str | None = model or settings.conversation_role
    else:
        chosen = model or (
            "reasoning" if "reasoning" in settings.models else next(iter(settings.models), None)
        )
    if chosen is None:
        fail("no role is configured")
    from sluicegate.logs import configure_logging

    configure_logging("warning")  # the terminal is for the conversation; logs go to stderr
    runtime = runtime_or_exit(settings)
    turn_tokens = max_tokens or (settings.assistant.max_tokens if session is not None else None)
    asyncio.run(_chat(runtime, chosen, message, turn_tokens, session))


async def _chat(
    runtime: Runtime, model: str, message: str | None, max_tokens: int | None, session: str | None
) -> None:
    history: list[Message] = []
    try:
        while True:
            text = message if message is not None else _prompt()
            if text is None:
                return
            # In a session the pipeline keeps the history; otherwise this loop does.
            turn = (Message("user", text),) if session is not None else (*history, Message("user", text))
            request = PipelineRequest(
                CompletionRequest(model=model, messages=turn, max_tokens=max_tokens),
                endpoint="cli:chat",
                caller=Caller(local=True),
                session_id=session,
            )
            answer = await _turn(runtime, request)
            history += [Message("user", text), Message("assistant", answer)]
            if message is not None:
                return
    except (GatewayError, StateError, FenceViolation) as exc:
        fail(error_frame(exc).message, 1)
    finally:
        await runtime.aclose()


async def _turn(runtime: Runtime, request: PipelineRequest) -> str:
    """One turn's frames in the terminal: tokens as they come, then what the guardrails did."""
    context = RequestContext()
    token = bind(context)
    notes: list[str] = []
    final = ""
    try:
        async for frame in runtime.pipeline.run(request, context):
            match frame:
                case TokenFrame(text=text):
                    out.print(text, end="", soft_wrap=True, markup=False)
                case GuardrailFrame(stage=stage, rule=rule, action=action):
                    notes.append(f"guardrail {stage}: {rule} ({action})")
                case CorrectionFrame(replace=(start, end), text=text, reason=reason):
                    notes.append(f"correction [{start}:{end}] -> {text!r}: {reason}")
                case CardFrame(card=card):
                    price = f"{card.get('price')} {card.get('currency')}"
                    notes.append(f"card {card.get('id')}: {card.get('title')}, {price}")
                case CompleteFrame(text=text):
                    final = text or ""
                case _:
                    pass
    finally:
        unbind(token)
    out.print()
    for note in notes:
        err.print(note, markup=False, soft_wrap=True)
    return final


def _prompt() -> str | None:
    try:
        text = input("you> ").strip()
    except (EOFError, KeyboardInterrupt):
        return None
    return text if text not in ("", "/exit", "/quit") else None


@app.command()
def init(
    path: Path = typer.Option(Path("sluicegate.yaml"), "--path", help="Where to write it."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter sluicegate.yaml."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    try:
        path.write_text(STARTER_CONFIG, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    out.print(f"wrote {path}")


@app.command()
def models(config: Path | None = ConfigOption) -> None:
    """Roles, their provider chains, breaker states (from the state store) and calls in flight
    (from the running server, when one answers)."""
    settings = config_or_exit(config)
    live = _live_state(settings.server.host, settings.server.port)
    circuits = asyncio.run(_breaker_states(settings))
    roles_live = live.get("roles", {})
    table = Table("role", "use (in order) and breaker state", "in use / max", "timeout (s)", "context")
    for role, spec in settings.models.items():
        chain = " → ".join(f"{t} ({circuits.get(t, 'unknown')})" for t in spec.use)
        in_use = roles_live.get(role, {}).get("in_flight", "-")
        table.add_row(
            role,
            chain,
            f"{in_use} / {spec.max_concurrency}",
            f"{spec.default_timeout:g}",
            str(spec.context_length or "-"),
        )
    out.print(table)


async def _breaker_states(settings: Config) -> dict[str, str]:
    """Every target's breaker as the state store has it: shared by all instances, running or not."""
    from sluicegate.errors import StateError
    from sluicegate.resilience.breaker import CircuitBreaker
    from sluicegate.runtime import build_state_store

    targets = {t for spec in settings.models.values() for t in spec.use}
    try:
        store = build_state_store(settings.state)
    except ProviderSetupError:
        return {}
    try:
        return {t: (await CircuitBreaker(t, settings.circuit_breaker, store).state()).value for t in targets}
    except StateError:
        return {}
    finally:
        await store.aclose()


def _live_state(host: str, port: int) -> dict[str, Any]:
    """The running gateway's breakers and limits, if one answers on the configured address."""
    import httpx

    try:
        response = httpx.get(f"http://{host}:{port}/admin/circuits", timeout=1)
        data: dict[str, Any] = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}
    return data


app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")

if __name__ == "__main__":
    app()
