"""The orchestrator: one request's way through the pipeline, top to bottom, as an explicit state
machine (`states.py`). Every door hands it a `PipelineRequest` with its `RequestContext` and
renders the frames it yields; a non-streamed answer is the same frames collected.

    AUTHORIZE → MEMORY_LOAD → TIER0_GATE → ROUTING_DECISION → (TOOL_ONLY_EXECUTION |
    MODEL_SELECTION → RETRIEVAL → CACHE_LOOKUP → BUDGET_RESERVE → LLM_CALL ⇄ TOOL_EXECUTION →
    POST_STREAM → VALIDATION → SYNTHESIS) → BUDGET_SETTLE → CACHE_STORE → MEMORY_UPDATE → COMPLETED

A stage that is off (no session, no tier-0 rule, nothing plugged into an empty place, no cache
or budget for the request, no domain pack) is not entered. Failures raise; the door decides
whether one is a status code or an `error` frame (`AcceptedFrame` marks the point after which
its clients expect frames). Whatever ends the request — an answer, an error, or the client
going away — settles the budget and records the outcome once, in a task the caller's
cancellation cannot stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from sluicegate.audit.events import Correction as CorrectionEvent
from sluicegate.budgets import Reservation
from sluicegate.config.schema import Config
from sluicegate.costs import CostControls, usage_of
from sluicegate.errors import (
    AnswerRejected,
    FenceViolation,
    GatewayError,
    PolicyRefused,
    SessionNotFound,
    StateError,
)
from sluicegate.guardrails.arguments import guard_arguments
from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.inline import ScanResult, StreamScanner
from sluicegate.guardrails.tier0 import Tier0Gate
from sluicegate.memory.sessions import SessionStore
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.auth import Gatekeeper
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.packs import Correction, DomainPack, PackTurn, Rendered, apply
from sluicegate.pipeline.request import PipelineRequest
from sluicegate.pipeline.stages import RouteDecision, Stages
from sluicegate.pipeline.states import State, StateMachine
from sluicegate.providers.base import close_stream
from sluicegate.providers.script import WORD_CHUNKS
from sluicegate.types import (
    AcceptedFrame,
    CardFrame,
    Chunk,
    CompleteFrame,
    Completion,
    CompletionRequest,
    CorrectionFrame,
    FinishReason,
    Frame,
    GuardrailFrame,
    Message,
    TokenFrame,
    ToolCallFrame,
    Usage,
)


@dataclass
class _Job:
    """What the orchestrator keeps about one request while it runs: its own, never shared."""

    request: PipelineRequest
    ctx: RequestContext
    machine: StateMachine
    call: CompletionRequest  # the request as the model gets it (history, prompt, budget cap)
    pack: DomainPack | None = None
    turn: PackTurn | None = None
    received: bool = False
    reservation: Reservation | None = None
    prompt_tokens: int = 0
    usage: Usage | None = None
    finish: FinishReason = "stop"
    said: list[str] = field(default_factory=list)  # what the model wrote
    shown: list[str] = field(default_factory=list)  # what passed the inline guard
    delivered: str = ""  # the token frames' text
    facts: list[tuple[int, int]] = field(default_factory=list)  # spans the pack wrote itself
    final: str = ""
    concluded: bool = False
    cache_key_request: CompletionRequest | None = None  # the request as the cache was asked
    called: dict[int, list[str]] = field(default_factory=dict)  # the model's calls: [name, arguments]


class Orchestrator:
    def __init__(
        self,
        config: Config,
        stacks: RoleStacks,
        *,
        costs: CostControls,
        recorder: Recorder,
        gatekeeper: Gatekeeper,
        sessions: SessionStore,
        packs: Mapping[str, DomainPack],
        stages: Stages | None = None,
    ) -> None:
        self._config = config
        self.stacks = stacks
        self._costs = costs
        self._recorder = recorder
        self._gatekeeper = gatekeeper
        self.sessions = sessions
        self.packs = dict(packs)
        self._stages = stages or Stages()
        self._guard = InlineGuard(config.guardrails)
        self._tier0 = Tier0Gate(config.guardrails.tier0)
        self._finishing: set[asyncio.Future[None]] = set()

    async def run(self, request: PipelineRequest, ctx: RequestContext) -> AsyncGenerator[Frame, None]:
        machine = StateMachine(partial(self._recorder.transition, ctx), ctx.started)
        job = _Job(request, ctx, machine, request.completion)
        failure: BaseException | None = None
        try:
            await self._authorize(job)
            if request.session_id is not None:
                await self._load_memory(job, request.session_id)
            yield AcceptedFrame(ctx.trace_id)
            if self._tier0.enabled:
                self._gate(job)
            decision = await self._decide(job) if self._stages.router is not None else None
            if decision is not None and decision.kind == "tool":
                async for frame in self._tool_only(job, decision):
                    yield frame
                return
            self._select_model(job, decision)
            if request.session_id is not None and job.pack is not None:
                await self._retrieve(job, job.pack)
            async for frame in await self._answer(job):
                yield frame
            for frame in await self._after_answer(job):
                yield frame
            await self._conclude(job, "ok")
            yield CompleteFrame(
                trace_id=ctx.trace_id,
                route=ctx.route_label or "",
                usage=job.usage or Usage(),
                text=job.final,
                finish_reason=job.finish,
            )
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if not job.concluded:
                await self._conclude(job, _outcome_of(failure))

    # -- before the model ----------------------------------------------------------------------------

    async def _authorize(self, job: _Job) -> None:
        job.machine.move(State.AUTHORIZE, "local caller" if job.request.caller.local else "bearer key")
        ctx, caller = job.ctx, job.request.caller
        key = None if caller.local else await self._gatekeeper.authenticate(caller.secret)
        # The route asked for is the role a key must allow (ROUTING_DECISION checks its own choice).
        self._gatekeeper.authorize(key, job.request.model)
        if key is not None:
            ctx.key, ctx.user = key, key.user
        tools = [tool.name for tool in job.call.tools]
        self._recorder.received(
            ctx, job.request.endpoint, job.request.model, job.request.stream, job.call.messages, tools
        )
        job.received = True

    async def _load_memory(self, job: _Job, session_id: str) -> None:
        job.machine.move(State.MEMORY_LOAD, f"session {session_id}")
        owner = job.ctx.key.user if job.ctx.key is not None else None
        # Claimed (a write) before the model is asked: a store that cannot write refuses the turn
        # with nothing spent, and nobody else's session is ever read.
        if not await self.sessions.claim(session_id, owner):
            # The same answer whether the session does not exist or belongs to another user.
            raise SessionNotFound(f"No session '{session_id}' for this key.")
        session = await self.sessions.get(session_id)
        history = tuple(Message(t["role"], t["content"]) for t in session["turns"])
        job.call = replace(job.call, messages=history + job.call.messages)

    def _gate(self, job: _Job) -> None:
        """Tier 0: refuse before any token (or budget) is spent."""
        job.machine.move(State.TIER0_GATE)
        refusal = self._tier0.check(job.ctx.user, job.call.messages)
        if refusal is not None:
            self._recorder.guardrail(job.ctx, "tier0", refusal.rule, "block", (0, 0))
            raise PolicyRefused(refusal.reason, param=refusal.rule)

    async def _decide(self, job: _Job) -> RouteDecision | None:
        assert self._stages.router is not None
        job.machine.move(State.ROUTING_DECISION)
        decision = await self._stages.router.decide(job.call)
        if decision is not None:
            self._gatekeeper.authorize(
                job.ctx.key, decision.name if decision.kind == "role" else job.request.model
            )
        return decision

    async def _tool_only(self, job: _Job, decision: RouteDecision) -> AsyncIterator[Frame]:
        if self._stages.tool_answers is None:
            raise AnswerRejected(f"The router chose the tool '{decision.name}', but no tool can answer.")
        job.machine.move(State.TOOL_ONLY_EXECUTION, f"{decision.decision}: tool {decision.name}")
        job.ctx.route_label = f"{decision.decision}/tool:{decision.name}"
        text = await self._stages.tool_answers.answer(decision, job.call)
        job.delivered = job.final = text
        yield TokenFrame(text)
        job.usage = Usage()
        await self._conclude(job, "ok")
        yield CompleteFrame(trace_id=job.ctx.trace_id, route=job.ctx.route_label, usage=Usage(), text=text)

    def _select_model(self, job: _Job, decision: RouteDecision | None) -> None:
        name = decision.name if decision is not None else job.request.model
        how = decision.decision if decision is not None else "explicit"
        job.machine.move(State.MODEL_SELECTION, f"{how}/{name}")
        route = self.stacks.resolve(name)
        self.stacks.check_request(route, job.call)
        job.ctx.route, job.ctx.route_label = route, f"{how}/{route.name}"
        job.call = self.stacks.limited(route, job.call)
        if job.call.model != route.name:
            job.call = replace(job.call, model=route.name)
        pack_name = (
            self._config.assistant.pack if job.request.session_id is not None else self._role_pack(route.name)
        )
        job.pack = self.packs.get(pack_name) if pack_name is not None else None

    def _role_pack(self, route: str) -> str | None:
        role = self._config.models.get(route)
        return role.pack if role is not None else None

    async def _retrieve(self, job: _Job, pack: DomainPack) -> None:
        """A conversation turn's prompt: the pack's persona, instructions and facts, fenced."""
        job.machine.move(State.RETRIEVAL, f"pack {pack.name}")
        question = job.request.completion.messages[-1].content
        report = partial(self._recorder.audit.emit, job.ctx.trace_id)
        job.turn = await pack.open_turn(question, report)
        job.call = replace(job.call, messages=(Message("system", job.turn.system_prompt), *job.call.messages))

    async def _lookup_cache(self, job: _Job) -> Completion | None:
        assert job.ctx.route is not None
        job.machine.move(State.CACHE_LOOKUP)
        job.cache_key_request = job.call
        hit = await self._costs.cached(job.ctx, job.ctx.route, job.call)
        job.ctx.cache = "hit" if hit is not None else "miss"
        if hit is not None:
            job.usage = hit.usage
        return hit

    async def _reserve(self, job: _Job) -> None:
        route = job.ctx.route
        assert route is not None
        job.machine.move(State.BUDGET_RESERVE)
        job.prompt_tokens = await self.stacks.prompt_tokens(route, job.call)
        job.reservation, job.call = await self._costs.reserve(job.ctx, route, job.call, job.prompt_tokens)

    # -- the model -----------------------------------------------------------------------------------

    async def _answer(self, job: _Job) -> AsyncIterator[Frame]:
        """The answer's frames: from the cache, or from the model within the budget."""
        hit = await self._lookup_cache(job) if self._costs.caches(job.call) else None
        if hit is not None:
            return self._render(job, _replay(hit), guard=False)
        if self._costs.limit_for(job.ctx) is not None:
            await self._reserve(job)
        return self._llm_rounds(job)

    async def _llm_rounds(self, job: _Job) -> AsyncIterator[Frame]:
        """LLM_CALL ⇄ TOOL_EXECUTION: the model answers; tools it needs answer it back."""
        route, tools = job.ctx.route, self._stages.tools
        assert route is not None
        for round_number in range(1, self._stages.max_tool_rounds + 2):
            job.machine.move(State.LLM_CALL, f"{route.name}, round {round_number}")
            upstream = self.stacks.stream if job.request.stream else self.stacks.answer
            async for frame in self._render(job, upstream(route, job.call, job.ctx.call), guard=True):
                yield frame
            if tools is None or job.finish == "content_filter":
                return
            job.machine.move(State.TOOL_EXECUTION)
            results = await tools.run(job.call, "".join(job.shown))
            if results is None or round_number > self._stages.max_tool_rounds:
                return
            answer = Message("assistant", "".join(job.shown))
            job.call = replace(job.call, messages=(*job.call.messages, answer, *results))

    async def _render(self, job: _Job, chunks: AsyncIterator[Chunk], *, guard: bool) -> AsyncIterator[Frame]:
        """The model's chunks as frames: through the inline guard (each chunk, nothing leaks across
        chunk boundaries), then the pack's renderer on a conversation turn (placeholders, cards)."""
        scanner = self._guard.scanner() if guard and self._guard.enabled else None
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

    async def _frames_of(
        self, job: _Job, chunk: Chunk, scanner: StreamScanner | None
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
                frames += self._show(job, rendered, result.text)
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
    def _call_frames(job: _Job, chunk: Chunk, *, guarded: bool) -> list[Frame]:
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

    def _guarded_arguments(self, job: _Job) -> tuple[list[Frame], bool]:
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

    async def _end_of_stream(self, job: _Job) -> list[Frame]:
        return self._show(job, await job.turn.finish(), "") if job.turn is not None else []

    def _show(self, job: _Job, rendered: Rendered | None, text: str) -> list[Frame]:
        """Frames of what passed the guard: as it is, or as the pack rendered it."""
        if rendered is None:
            job.delivered += text
            return [TokenFrame(text)] if text else []
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

    # -- after the model -----------------------------------------------------------------------------

    async def _after_answer(self, job: _Job) -> list[Frame]:
        """POST_STREAM, VALIDATION, SYNTHESIS: their corrections of what was delivered."""
        job.final = job.delivered
        frames: list[Frame] = []
        if job.pack is not None:
            frames += await self._post_stream(job, job.pack)
        if self._stages.validator is not None:
            job.machine.move(State.VALIDATION)
            verdict = await self._stages.validator.validate(job.call, job.final)
            if not verdict.valid:
                raise AnswerRejected(f"The answer failed validation: {verdict.reason}")
        if self._stages.synthesizer is not None:
            job.machine.move(State.SYNTHESIS)
            composed = await self._stages.synthesizer.compose(job.call, job.final)
            if composed != job.final:
                frames.append(self._correct(job, Correction(0, len(job.delivered), composed, "synthesis")))
                job.final = composed
        return frames

    async def _post_stream(self, job: _Job, pack: DomainPack) -> list[Frame]:
        job.machine.move(State.POST_STREAM, f"pack {pack.name}")
        if job.turn is not None:
            try:
                job.turn.check_output(job.delivered)
            except FenceViolation:
                self._recorder.guardrail(job.ctx, "post", "canary", "block", (0, len(job.delivered)))
                raise
        corrections = await pack.check(job.delivered, job.facts)
        job.final = apply(job.delivered, corrections)
        return [self._correct(job, correction) for correction in corrections]

    def _correct(self, job: _Job, correction: Correction) -> CorrectionFrame:
        span = (correction.start, correction.end)
        self._recorder.audit.emit(job.ctx.trace_id, CorrectionEvent(replace=span, reason=correction.reason))
        return CorrectionFrame(replace=span, text=correction.text, reason=correction.reason)

    async def _conclude(self, job: _Job, outcome: str) -> None:
        """The end of every request, once: settle the budget, store, save the turn, record. It runs
        in a task of its own: a caller that goes away must not stop the usage being committed nor
        the outcome being recorded."""
        job.concluded = True
        waits = job.reservation is not None or (
            outcome == "ok" and (self._caches(job) or job.request.session_id is not None)
        )
        if not waits:
            # Nothing to await on the way (no budget, no store, no session): nothing to protect from
            # a cancellation either, and no task to pay for on every request.
            await self._finish(job, outcome)
            return
        finish = asyncio.ensure_future(self._finish(job, outcome))
        self._finishing.add(finish)
        finish.add_done_callback(self._finishing.discard)
        await asyncio.shield(finish)

    async def _finish(self, job: _Job, outcome: str) -> None:
        """`outcome`: "ok", or what ended the request (an error's code, client_disconnected)."""
        result = outcome
        try:
            if job.reservation is not None:
                job.machine.move(State.BUDGET_SETTLE)
                await self._costs.settle(
                    job.ctx,
                    job.reservation,
                    job.usage,
                    prompt_tokens=job.prompt_tokens,
                    said="".join(job.said),
                )
            if outcome == "ok":
                await self._store(job)
                job.machine.move(State.COMPLETED)
            else:
                job.machine.move(State.FAILED, result)
        except BaseException as exc:
            result = _outcome_of(exc)
            if not job.machine.ended:
                job.machine.move(State.FAILED, result)
            raise
        finally:
            self._record(job, result)

    @staticmethod
    def _caches(job: _Job) -> bool:
        return (
            job.cache_key_request is not None and job.ctx.cache == "miss" and job.finish != "content_filter"
        )

    async def _store(self, job: _Job) -> None:
        route, asked = job.ctx.route, job.cache_key_request
        if route is not None and asked is not None and self._caches(job):
            job.machine.move(State.CACHE_STORE)
            answer = Completion("".join(job.shown), job.finish, job.usage or Usage(), job.call.model, "")
            await self._costs.remember(route, asked, answer)
        if job.request.session_id is not None:
            job.machine.move(State.MEMORY_UPDATE)
            entities = job.pack.entities(job.final) if job.pack is not None else []
            question = job.request.completion.messages[-1].content
            await self.sessions.append(job.request.session_id, question, job.final, entities)

    def _record(self, job: _Job, outcome: str) -> None:
        if not job.received:
            return  # refused before it was admitted (no key, or a role the key may not use)
        # A cache hit spent nothing; a stream cut short reported no usage: what was asked and said.
        spent = None if job.ctx.cache == "hit" else usage_of(job.usage, job.prompt_tokens, "".join(job.said))
        self._recorder.completed(
            job.ctx,
            role=job.ctx.role or "-",
            outcome=outcome,
            usage=spent,
            text="".join(job.said),
            tool_calls=[(name, arguments) for name, arguments in job.called.values()],
        )

    async def collect(self, request: PipelineRequest, ctx: RequestContext) -> tuple[Completion, list[Frame]]:
        """A whole answer: the same frames, collected (internal calls, tests)."""
        frames = [frame async for frame in self.run(request, ctx)]
        complete = next(f for f in frames if isinstance(f, CompleteFrame))
        text = "".join(f.text for f in frames if isinstance(f, TokenFrame))
        return Completion(
            text, complete.finish_reason, complete.usage, request.model, ctx.call.served_by or ""
        ), frames

    async def aclose(self) -> None:
        for pack in self.packs.values():
            await pack.aclose()


def _outcome_of(error: BaseException | None) -> str:
    match error:
        case GatewayError():
            return error.code or "error"
        case StateError():
            return "state_unavailable"
        case FenceViolation():
            return "prompt_injection"
        case None | asyncio.CancelledError() | GeneratorExit():
            # Neither an answer nor an error: the caller left.
            return "client_disconnected"
        case _:
            return "error"


async def _replay(completion: Completion) -> AsyncIterator[Chunk]:
    """A cached completion, streamed again: one chunk per word, then the finish."""
    for piece in WORD_CHUNKS.findall(completion.text):
        yield Chunk(text=piece)
    yield Chunk(finish_reason=completion.finish_reason, usage=completion.usage)
