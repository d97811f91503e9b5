"""When to start a model worker again after it died: backoff, crash loops, and the fallback from
llama.cpp's extra CPU buffers. Pure bookkeeping over times, so it is tested without processes."""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass
from typing import Literal

from sluicegate.config.providers import WorkerSupervisionConfig

ExitAction = Literal["restart", "crash_loop", "fallback_without_extra_buffers"]


@dataclass(frozen=True, slots=True)
class RestartDecision:
    action: ExitAction
    # Seconds from the exit until the next start may happen.
    delay_s: float
    exits_in_window: int


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """A worker ended on its own: what the log, the audit trail and the metrics are told."""

    provider: str
    pid: int
    exit_code: int | None
    in_flight: int
    during_start: bool
    restarts_in_window: int
    action: ExitAction
    restart_in_s: float | None

    @property
    def signal(self) -> str | None:
        return signal_name(self.exit_code)

    @property
    def cause(self) -> str:
        return exit_cause(self.exit_code)


def signal_name(returncode: int | None) -> str | None:
    """SIGSEGV for a process killed by signal 11 (asyncio reports it as returncode -11)."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def exit_cause(returncode: int | None) -> str:
    name = signal_name(returncode)
    return f"signal {name}" if name else f"exit code {returncode}"


class RestartPolicy:
    def __init__(self, supervision: WorkerSupervisionConfig) -> None:
        self.supervision = supervision
        self._exits: deque[float] = deque()

    @property
    def exits_in_window(self) -> int:
        return len(self._exits)

    def exited(self, now: float, *, probe_fault_with_extra_buffers: bool) -> RestartDecision:
        """Record an unexpected exit at `now` (monotonic seconds) and decide what follows.

        `probe_fault_with_extra_buffers`: the worker died from a signal before it was ready, with
        extra buffers chosen automatically; a kernel of that path faulted on this CPU, so the next
        start, at once, goes without them.
        """
        window = self.supervision.restart_window_s
        self._exits.append(now)
        while self._exits and self._exits[0] < now - window:
            self._exits.popleft()
        count = len(self._exits)
        if probe_fault_with_extra_buffers:
            return RestartDecision("fallback_without_extra_buffers", 0.0, count)
        if count > self.supervision.max_restarts:
            # No start until the oldest exit leaves the window; the breaker opens meanwhile.
            return RestartDecision("crash_loop", self._exits[0] + window - now, count)
        backoff = min(self.supervision.backoff_s * 2 ** (count - 1), self.supervision.max_backoff_s)
        return RestartDecision("restart", backoff, count)
