"""The gateway's side of the embedded model: one supervised worker process per loaded model.

The worker (`llamacpp_worker`) speaks JSON lines over its stdin and stdout. This supervisor
starts it, hands it jobs, routes each reply line to the request that asked, and watches the pipe:
when the worker dies (a segfault in a native kernel, an OOM kill, `kill -9`), every request in
flight fails with `WorkerCrashed` (retryable and counted against the breaker, so failover and the
breaker treat it like any provider failure), the exit is reported to the listeners (log, audit,
metrics) with its signal, and a new worker is started after a backoff. More than `max_restarts`
unexpected exits within `restart_window_s` is a crash loop: no restart until the window allows
one, and calls fail at once with `ProviderUnavailable`, which opens the target's breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import orjson

from sluicegate.config.providers import WorkerSupervisionConfig
from sluicegate.errors import (
    ProviderBadRequest,
    ProviderError,
    ProviderServerError,
    ProviderUnavailable,
    WorkerCrashed,
)
from sluicegate.providers.cpu import ExtraBuffersChoice
from sluicegate.providers.restarts import RestartPolicy, WorkerExit, exit_cause, signal_name

log = logging.getLogger("sluicegate.providers.llamacpp")

WorkerState = Literal["not_started", "starting", "ready", "restarting", "crash_loop", "failed", "stopped"]
# A reply line holds one token; a count request's prompt travels the other way. Large for safety.
_LINE_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    model_path: Callable[[], Path]
    n_ctx: int
    n_threads: int | None
    extra_buffers: ExtraBuffersChoice


@dataclass(slots=True)
class _Running:
    process: asyncio.subprocess.Process
    ready: asyncio.Future[dict[str, Any]]
    reader: asyncio.Task[None] | None = None
    became_ready: bool = False


class ModelWorker:
    def __init__(
        self, provider: str, spec: WorkerSpec, supervision: WorkerSupervisionConfig | None = None
    ) -> None:
        self._provider = provider
        self._spec = spec
        self._supervision = supervision or WorkerSupervisionConfig()
        self._running: _Running | None = None
        self._pending: dict[int, asyncio.Queue[dict[str, Any] | ProviderError]] = {}
        self._ids = itertools.count(1)
        self._restarts = RestartPolicy(self._supervision)
        self._next_start = 0.0
        self._state: WorkerState = "not_started"
        self._start_lock: asyncio.Lock | None = None
        self._restart: asyncio.Task[None] | None = None
        self._closing = False
        self.listeners: list[Callable[[WorkerExit], None]] = []
        self.last_ready: dict[str, Any] = {}
        self.last_error: str | None = None

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def pid(self) -> int | None:
        running = self._running
        return running.process.pid if running is not None and running.became_ready else None

    @property
    def extra_buffers(self) -> bool:
        return self._spec.extra_buffers.enabled

    async def start(self) -> None:
        """Start the worker (if it is not running) and wait until its model answers."""
        await self._ensure()

    async def generate(
        self, prompt: str, options: dict[str, Any], max_tokens: int | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The worker's reply lines for one generation: text lines, then the `done` line."""
        await self._ensure()
        job_id, replies = self._open()
        finished = False
        try:
            await self._send(
                {
                    "op": "generate",
                    "id": job_id,
                    "prompt": prompt,
                    "options": options,
                    "max_tokens": max_tokens,
                }
            )
            while True:
                message = await self._next(replies)
                finished = bool(message.get("done"))
                yield message
                if finished:
                    return
        finally:
            self._pending.pop(job_id, None)
            if not finished:
                # The caller went away (or the worker died): stop the generation at its next token.
                with contextlib.suppress(ProviderError):
                    await self._send({"op": "cancel", "id": job_id})

    async def count(self, prompt: str) -> int:
        await self._ensure()
        job_id, replies = self._open()
        try:
            await self._send({"op": "count", "id": job_id, "prompt": prompt})
            return int((await self._next(replies))["tokens"])
        finally:
            self._pending.pop(job_id, None)

    async def aclose(self) -> None:
        self._closing = True
        if self._restart is not None:
            self._restart.cancel()
        running, self._running = self._running, None
        self._state = "stopped"
        self._fail_pending(ProviderUnavailable("the gateway is shutting down", provider=self._provider))
        if running is None:
            self._closing = False
            return
        process = running.process
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if running.reader is not None:
            running.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.reader
        # An app started again on the same runtime (tests do) starts a new worker on first use.
        self._closing = False

    # -- starting -------------------------------------------------------------------------

    async def _ensure(self) -> None:
        running = self._running
        if running is not None and running.became_ready:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            for _ in range(2):
                spec_before = self._spec
                try:
                    running = self._running
                    if running is None:
                        self._refuse_if_looping()
                        wait = self._next_start - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                        running = await self._spawn()
                    await self._await_ready(running)
                    return
                except WorkerCrashed:
                    # Dead during its probe with extra buffers on: the supervisor has switched
                    # them off; start again at once instead of failing this call.
                    if self._spec is spec_before:
                        raise

    def _refuse_if_looping(self) -> None:
        if self._closing:
            raise ProviderUnavailable("the gateway is shutting down", provider=self._provider)
        if self._state == "crash_loop" and time.monotonic() < self._next_start:
            wait = self._next_start - time.monotonic()
            error = ProviderUnavailable(
                f"the embedded model's worker is crash-looping ({self._restarts.exits_in_window} exits in "
                f"{self._supervision.restart_window_s:g} s); next start in {wait:.0f} s",
                provider=self._provider,
            )
            error.retry_after = wait
            raise error

    async def _spawn(self) -> _Running:
        self._state = "starting" if self._state in ("not_started", "starting") else "restarting"
        spec = self._spec
        try:
            model_path = spec.model_path()
        except ProviderError as exc:
            self._state, self.last_error = "failed", exc.message
            raise
        settings = {
            "model_path": str(model_path),
            "n_ctx": spec.n_ctx,
            "n_threads": spec.n_threads,
            "extra_buffers": spec.extra_buffers.enabled,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sluicegate.providers.llamacpp_worker",
            orjson.dumps(settings).decode(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        running = _Running(process, asyncio.get_running_loop().create_future())
        running.reader = asyncio.create_task(self._read(running), name=f"llamacpp-{self._provider}-reader")
        self._running = running
        return running

    async def _await_ready(self, running: _Running) -> None:
        try:
            ready = await asyncio.wait_for(
                asyncio.shield(running.ready), timeout=self._supervision.start_timeout_s
            )
        except TimeoutError:
            running.process.kill()
            raise ProviderUnavailable(
                f"the embedded model did not start within {self._supervision.start_timeout_s:g} s",
                provider=self._provider,
            ) from None
        if not running.became_ready:
            running.became_ready = True
            self.last_ready = ready
            self._state, self.last_error = "ready", None
            log.info(
                "embedded model %s ready in worker %s (%.2f s, extra buffers %s: %s)",
                self._provider,
                running.process.pid,
                float(ready.get("load_s", 0.0)),
                "on" if self._spec.extra_buffers.enabled else "off",
                self._spec.extra_buffers.reason,
            )

    # -- talking ----------------------------------------------------------------------------

    def _open(self) -> tuple[int, asyncio.Queue[dict[str, Any] | ProviderError]]:
        job_id = next(self._ids)
        replies: asyncio.Queue[dict[str, Any] | ProviderError] = asyncio.Queue()
        self._pending[job_id] = replies
        return job_id, replies

    async def _send(self, message: dict[str, Any]) -> None:
        running = self._running
        stdin = running.process.stdin if running is not None else None
        if stdin is None or stdin.is_closing():
            raise WorkerCrashed("the embedded model's worker is not running", provider=self._provider)
        try:
            stdin.write(orjson.dumps(message) + b"\n")
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerCrashed("the embedded model's worker is gone", provider=self._provider) from None

    async def _next(self, replies: asyncio.Queue[dict[str, Any] | ProviderError]) -> dict[str, Any]:
        message = await replies.get()
        if isinstance(message, ProviderError):
            raise message
        if "error" in message:
            if message.get("kind") == "bad_request":
                raise ProviderBadRequest(str(message["error"]), provider=self._provider)
            raise ProviderServerError(str(message["error"]), provider=self._provider)
        return message

    async def _read(self, running: _Running) -> None:
        stdout = running.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            message: dict[str, Any] = orjson.loads(line)
            event = message.get("event")
            if event == "ready":
                if not running.ready.done():
                    running.ready.set_result(message)
            elif event == "failed":
                if not running.ready.done():
                    running.ready.set_exception(
                        ProviderUnavailable(
                            f"the embedded model failed to load: {message['error']}", provider=self._provider
                        )
                    )
            else:
                replies = self._pending.get(int(message["id"]))
                if replies is not None:
                    replies.put_nowait(message)
        await running.process.wait()
        self._exited(running)

    # -- dying ------------------------------------------------------------------------------

    def _exited(self, running: _Running) -> None:
        process = running.process
        code = process.returncode
        if self._running is not running or self._closing:
            return
        self._running = None
        cause = exit_cause(code)
        in_flight = len(self._pending)
        self._fail_pending(
            WorkerCrashed(f"the embedded model's worker died ({cause})", provider=self._provider)
        )
        if not running.ready.done():
            running.ready.set_exception(
                WorkerCrashed(
                    f"the embedded model's worker died while starting ({cause})", provider=self._provider
                )
            )
        running.ready.exception()  # retrieved: a start nobody waits for must not warn
        now = time.monotonic()
        choice = self._spec.extra_buffers
        decision = self._restarts.exited(
            now,
            probe_fault_with_extra_buffers=signal_name(code) is not None
            and not running.became_ready
            and choice.enabled
            and choice.automatic,
        )
        action, delay = decision.action, decision.delay_s
        if action == "fallback_without_extra_buffers":
            self._spec = replace(
                self._spec,
                extra_buffers=ExtraBuffersChoice(
                    False, f"the worker died ({cause}) with extra buffers on", automatic=False
                ),
            )
        self._state = "crash_loop" if action == "crash_loop" else "restarting"
        self.last_error = f"worker died ({cause})"
        self._next_start = now + delay
        exit_report = WorkerExit(
            provider=self._provider,
            pid=process.pid,
            exit_code=code,
            in_flight=in_flight,
            during_start=not running.became_ready,
            restarts_in_window=decision.exits_in_window,
            action=action,
            restart_in_s=round(delay, 3),
        )
        log.error(
            "embedded model %s: worker %s died (%s) with %d request(s) in flight; %s in %.1f s",
            self._provider,
            process.pid,
            cause,
            in_flight,
            action.replace("_", " "),
            delay,
        )
        for listener in self.listeners:
            listener(exit_report)
        self._restart = asyncio.get_running_loop().create_task(self._restart_later())

    async def _restart_later(self) -> None:
        await asyncio.sleep(max(0.0, self._next_start - time.monotonic()))
        if self._closing or self._running is not None:
            return
        try:
            await self._ensure()
        except ProviderError as exc:
            # Its own exit was reported already; a failed restart is reported when it exits.
            log.warning("embedded model %s: restart failed: %s", self._provider, exc)

    def _fail_pending(self, error: ProviderError) -> None:
        for replies in self._pending.values():
            replies.put_nowait(error)
