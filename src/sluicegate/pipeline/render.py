"""The model's chunks as frames (LLM_CALL): each chunk through the inline guard (nothing leaks
across chunk boundaries), then the domain pack's renderer on a conversation turn (placeholders,
cards); tool-call pieces passed on in order, their arguments guarded as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sluicegate.guardrails.arguments import guard_arguments
from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.inline import ScanResult, StreamScanner
from sluicegate.guardrails.rules import Rule
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.job import Job
from sluicegate.pipeline.packs import Rendered
from sluicegate.providers.base import close_stream
from sluicegate.providers.script import WORD_CHUNKS
from sluicegate.types import (
    CardFrame,
    Chunk,
    Completion,
    Frame,
    GuardrailFrame,
    TokenFrame,
    TokenLogprob,
    ToolCallFrame,
)


class FrameRenderer:
    def __init__(self, guard: InlineGuard, recorder: Recorder) -> None:
        self._guard = guard
        self._recorder = recorder

    @property
    def guarding(self) -> bool:
        """Whether any inline rule may change the text (then no log probabilities go out)."""
        return self._guard.enabled

    async def frames(self, job: Job, chunks: AsyncIterator[Chunk], *, guard: bool) -> AsyncIterator[Frame]:
        """The model's chunks as frames: through the inline guard (each chunk, nothing leaks across
        chunk boundaries), then the pack's renderer on a conversation turn (placeholders, cards)."""
        scanner = self._guard.scanner(self._echoes(job)) if guard and self._guard.enabled else None
        try:
            async for chunk in chunks:
                frames, ended = await self._frames_of(job, chunk, scanner)
                for frame in frames:
                    yield frame
                if ended:
                    return
        finally:
            # Closed here, not left to the garbage collector: the provider releases its stream now.
            await close_stream(chunks)

    def guard_whole(self, job: Job, text: str) -> str:
        """A whole text of the pipeline's own making (a tool's answer, a corrected answer) through
        the inline guard, its hits recorded; a blocked one becomes the empty text."""
        if not self._guard.enabled:
            return text
        result = self._guard.scan(text, self._echoes(job))
        for hit in result.hits:
            self._recorder.guardrail(job.ctx, "inline", hit.rule, hit.action, (hit.start, hit.end))
        return "" if result.blocked is not None else result.text

    def _echoes(self, job: Job) -> list[Rule]:
        """The request's PII values, remembered once per request: their echo in the answer is
        redacted in any form (docs/pii.md). The operator's system prompt is not the user's data."""
        if job.echoes is None:
            texts = [
                text
                for message in job.call.messages
                if message.role != "system"
                for text in (message.content, *(call.arguments for call in message.tool_calls))
            ]
            job.echoes = self._guard.remembered(texts)
        return job.echoes

    async def _frames_of(
        self, job: Job, chunk: Chunk, scanner: StreamScanner | None
    ) -> tuple[list[Frame], bool]:
        """One chunk's frames, and whether the answer ended with it."""
        job.said.append(chunk.text)
        # Tool-call pieces go out as they came, in order (their arguments are not scanned yet).
        calls = self._call_frames(job, chunk, guarded=scanner is not None)
        if scanner is None:
            results = [ScanResult(chunk.text)]
        else:
            results = [scanner.feed(chunk.text)] if chunk.text else []
            if chunk.finish_reason is not None:
                results.append(scanner.finish())
        frames: list[Frame] = []
        for result in results:
            for hit in result.hits:
                self._recorder.guardrail(job.ctx, "inline", hit.rule, hit.action, (hit.start, hit.end))
                frames.append(GuardrailFrame("inline", hit.rule, hit.action, (hit.start, hit.end)))
            if result.text:
                job.shown.append(result.text)
                rendered = await job.turn.feed(result.text) if job.turn is not None else None
                frames += self._show(job, rendered, result.text, chunk.logprobs if scanner is None else ())
            if result.blocked is not None:
                # A blocked answer ends here, as OpenAI ends a filtered one.
                job.finish = "content_filter"
                return frames + await self._end_of_stream(job), True
        frames += calls
        if chunk.finish_reason is None:
            return frames, False
        if scanner is not None and job.called:
            held, blocked = self._guarded_arguments(job)
            frames += held
            if blocked:
                job.finish = "content_filter"
                return frames + await self._end_of_stream(job), True
        job.finish = chunk.finish_reason
        job.usage = job.usage + chunk.usage if job.usage and chunk.usage else chunk.usage or job.usage
        return frames + await self._end_of_stream(job), True

    @staticmethod
    def _call_frames(job: Job, chunk: Chunk, *, guarded: bool) -> list[Frame]:
        """A chunk's tool-call pieces, passed on in order. With the inline guard on, a call's
        arguments are held until the answer ends and scanned whole (`_guarded_arguments`)."""
        frames: list[Frame] = []
        for piece in chunk.tool_calls:
            call = job.called.setdefault(piece.index, ["", ""])
            call[0], call[1] = piece.name or call[0], call[1] + piece.arguments
            if not guarded:
                frames.append(ToolCallFrame(piece.index, piece.id, piece.name, piece.arguments))
            elif piece.id is not None or piece.name is not None:
                frames.append(ToolCallFrame(piece.index, piece.id, piece.name))
        return frames

    def _guarded_arguments(self, job: Job) -> tuple[list[Frame], bool]:
        """Each call's arguments through the inline guard: string values redacted in place (still
        valid JSON); a blocking hit ends the answer with none of them sent."""
        frames: list[Frame] = []
        for index, call in sorted(job.called.items()):
            result = guard_arguments(call[1], self._guard)
            for hit in result.hits:
                self._recorder.guardrail(
                    job.ctx, "tool_arguments", hit.rule, hit.action, (hit.start, hit.end)
                )
                frames.append(GuardrailFrame("tool_arguments", hit.rule, hit.action, (hit.start, hit.end)))
            if result.blocked is not None:
                return frames, True
            call[1] = result.text
            frames.append(ToolCallFrame(index, arguments=result.text))
        return frames, False

    async def _end_of_stream(self, job: Job) -> list[Frame]:
        return self._show(job, await job.turn.finish(), "") if job.turn is not None else []

    def _show(
        self, job: Job, rendered: Rendered | None, text: str, logprobs: tuple[TokenLogprob, ...] = ()
    ) -> list[Frame]:
        """Frames of what passed the guard: as it is (with its log probabilities, unguarded), or as
        the pack rendered it."""
        if rendered is None:
            job.delivered += text
            return [TokenFrame(text, logprobs)] if text else []
        offset = len(job.delivered)
        frames: list[Frame] = []
        for rule, entity in rendered.hits:
            self._recorder.guardrail(job.ctx, "placeholder", rule, "block", (offset, offset))
            frames.append(GuardrailFrame("placeholder", rule, "block", (offset, offset), listing=entity))
        if rendered.text:
            frames.append(TokenFrame(rendered.text))
        frames += [CardFrame(card) for card in rendered.cards]
        job.facts += [(offset + s, offset + e) for s, e in rendered.facts]
        job.delivered += rendered.text
        return frames


async def replay(completion: Completion) -> AsyncIterator[Chunk]:
    """A cached completion, streamed again: one chunk per word, then the finish."""
    for piece in WORD_CHUNKS.findall(completion.text):
        yield Chunk(text=piece)
    yield Chunk(finish_reason=completion.finish_reason, usage=completion.usage)
