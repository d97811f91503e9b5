"""Several choices for one request (`n > 1`): the whole pipeline run once per choice, side by
side, each with its own trace, budget reservation, guard and audit trail — every target serves
it, whether or not its API has `n` — and their frames merged as they come, tagged with the
choice's index. The first failure ends them all (a request is answered whole or not at all)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.orchestrator import Orchestrator
from sluicegate.pipeline.request import PipelineRequest
from sluicegate.types import Frame

MAX_CHOICES = 8


async def choices(
    pipeline: Orchestrator, request: PipelineRequest, contexts: Sequence[RequestContext]
) -> AsyncGenerator[tuple[int, Frame], None]:
    """(choice index, frame) as each run yields them; one context per choice."""
    queue: asyncio.Queue[tuple[int, Frame | BaseException | None]] = asyncio.Queue()

    async def run(index: int, ctx: RequestContext) -> None:
        token = bind(ctx)  # this task's provider stack reports into this choice's call record
        try:
            async for frame in pipeline.run(request, ctx):
                queue.put_nowait((index, frame))
            queue.put_nowait((index, None))  # this choice is done
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
            queue.put_nowait((index, exc))
        finally:
            unbind(token)

    tasks = [asyncio.create_task(run(index, ctx)) for index, ctx in enumerate(contexts)]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
