"""A loop timer for a deadline that moves on every use (each read of a connection, each wait of a
stream, each request on a kept connection).

uvloop arms and cancels a timer in about 2.7 µs; moving a float costs nothing. A `MovableTimer`
keeps one loop timer: `arm` moves the moment due, `disarm` stops the countdown, and the timer, when
it fires before the moment due, sleeps on until it. `expired` is called once the moment has
passed while armed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable


class MovableTimer:
    __slots__ = ("_due", "_expired", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._due = math.inf  # disarmed
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, seconds: float) -> None:
        """Expire `seconds` from now, unless armed again or disarmed before."""
        self._due = self._loop.time() + seconds
        if self._timer is None:
            self._timer = self._loop.call_at(self._due, self._fire)

    def disarm(self) -> None:
        self._due = math.inf

    @property
    def pending(self) -> bool:
        """Whether a loop timer is set (it may outlive a disarm until it fires, or `close`)."""
        return self._timer is not None

    def close(self) -> None:
        """Disarmed, and its loop timer cancelled (else it holds its owner until it fires)."""
        self._due = math.inf
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._due == math.inf:
            return  # disarmed: the next arm sets a timer again
        if self._loop.time() < self._due:
            self._timer = self._loop.call_at(self._due, self._fire)
            return
        self._due = math.inf
        self._expired()
