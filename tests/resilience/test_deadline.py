"""The stream deadline: each wait bounded, one timer for the stream, and a cancellation that is
not its own (the caller going away) never turned into a timeout."""

from __future__ import annotations

import asyncio

import pytest

from sluicegate.resilience.deadline import StreamDeadline


async def test_waits_that_finish_in_time_return_their_results() -> None:
    deadline = StreamDeadline(0.05)
    try:
        for index in range(5):
            await asyncio.sleep(0.03)  # time between waits does not count
            assert await deadline.wait(asyncio.sleep(0.02, result=index)) == index
    finally:
        deadline.close()


async def test_a_wait_longer_than_the_limit_times_out_and_the_task_is_not_left_cancelled() -> None:
    deadline = StreamDeadline(0.02)
    with pytest.raises(TimeoutError):
        await deadline.wait(asyncio.sleep(1))
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    assert await deadline.wait(asyncio.sleep(0, result="again")) == "again"
    deadline.close()


async def test_the_limit_counts_from_each_wait_not_from_the_first() -> None:
    deadline = StreamDeadline(0.05)
    try:
        for _ in range(4):  # 4 x 30 ms: longer than the limit in all, never in one wait
            await deadline.wait(asyncio.sleep(0.03))
    finally:
        deadline.close()


async def test_someone_elses_cancellation_stays_a_cancellation() -> None:
    deadline = StreamDeadline(10)

    async def waiting() -> None:
        await deadline.wait(asyncio.sleep(5))

    task = asyncio.create_task(waiting())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline.close()


async def test_closed_it_leaves_no_timer_behind() -> None:
    deadline = StreamDeadline(600)
    await deadline.wait(asyncio.sleep(0))
    assert deadline.armed
    deadline.close()
    assert not deadline.armed
