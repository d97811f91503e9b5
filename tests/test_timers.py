"""The movable timer: one loop timer for a deadline that moves on every use."""

from __future__ import annotations

import asyncio

from sluicegate.timers import MovableTimer


async def test_it_expires_once_the_last_moment_armed_has_passed() -> None:
    loop = asyncio.get_running_loop()
    expired: list[float] = []
    timer = MovableTimer(loop, lambda: expired.append(loop.time()))
    started = loop.time()
    for _ in range(4):  # moved on before each moment came: 0.24 s in all, twice the limit
        timer.arm(0.12)
        await asyncio.sleep(0.06)
    assert expired == []
    await asyncio.sleep(0.2)
    assert len(expired) == 1
    assert expired[0] - started >= 0.18 + 0.12 - 0.01  # from the last arm, not the first
    assert not timer.pending


async def test_disarmed_it_never_expires_and_armed_again_it_does() -> None:
    loop = asyncio.get_running_loop()
    expired: list[str] = []
    timer = MovableTimer(loop, lambda: expired.append("expired"))
    timer.arm(0.05)
    timer.disarm()
    await asyncio.sleep(0.1)
    assert expired == []
    assert not timer.pending  # the loop timer fired, found it disarmed, and went
    timer.arm(0.05)
    await asyncio.sleep(0.1)
    assert expired == ["expired"]


async def test_closed_it_leaves_no_loop_timer() -> None:
    expired: list[str] = []
    timer = MovableTimer(asyncio.get_running_loop(), lambda: expired.append("expired"))
    timer.arm(0.05)
    assert timer.pending
    timer.close()
    assert not timer.pending
    await asyncio.sleep(0.1)
    assert expired == []
