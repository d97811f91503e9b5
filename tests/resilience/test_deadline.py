"""The stream deadline: each wait bounded, one timer for the stream, and a cancellation that is
not its own (the caller going away) never turned into a timeout. The one-block deadline behaves
as `asyncio.timeout` does."""

from __future__ import annotations

import asyncio

import pytest

from sluicegate.resilience.deadline import Deadline, StreamDeadline


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


async def test_a_block_that_finishes_in_time_leaves_no_timer_and_no_cancellation() -> None:
    async with Deadline(0.03):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # past the deadline: its timer is gone, nothing cancels the task
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_block_past_its_time_raises_timeout_and_the_task_runs_on() -> None:
    with pytest.raises(TimeoutError):
        async with Deadline(0.02):
            await asyncio.sleep(1)
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # not cancelled again


async def test_nested_the_inner_deadline_that_expires_is_the_one_that_raises() -> None:
    async with Deadline(1):
        with pytest.raises(TimeoutError):
            async with Deadline(0.02):
                await asyncio.sleep(1)
        assert await asyncio.sleep(0.01, result="the outer block goes on") == "the outer block goes on"


async def test_a_block_cancelled_by_someone_else_stays_cancelled() -> None:
    started = asyncio.Event()

    async def block() -> None:
        async with Deadline(0.05):
            started.set()
            await asyncio.sleep(1)

    task = asyncio.create_task(block())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
