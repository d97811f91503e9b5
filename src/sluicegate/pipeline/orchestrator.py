"""The orchestrator: one request's way through the pipeline, top to bottom, as an explicit state
machine (`states.py`). Every door hands it a `PipelineRequest` with its `RequestContext` and
renders the frames it yields; a non-streamed answer is the same frames collected.

    AUTHORIZE → MEMORY_LOAD → TIER0_GATE → ROUTING_DECISION → (TOOL_ONLY_EXECUTION |
    MODEL_SELECTION → RETRIEVAL → CACHE_LOOKUP → BUDGET_RESERVE → LLM_CALL ⇄ TOOL_EXECUTION →
    POST_STREAM → VALIDATION → SYNTHESIS) → BUDGET_SETTLE → CACHE_STORE → MEMORY_UPDATE → COMPLETED

ROUTING_DECISION, the gateway's own tools and VALIDATION act on `model: auto` requests. A stage
that is off (no session, no tier-0 rule, no cache or budget for the request, no domain pack) is
not entered. Failures raise; the door decides whether one is a status code or an `error` frame
(`AcceptedFrame` marks the point after which its clients expect frames). Whatever ends the
request settles the budget and records the outcome once (`ending.py`). An answer's record comes
after its `CompleteFrame`, so a door may send the answer before letting the frames run to their end.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace
from functools import partial

from sluicegate.audit.events import Correction as CorrectionEvent
from sluicegate.calltrace import CallTrace
from sluicegate.config.schema import Config
from sluicegate.costs import CostControls
from sluicegate.errors import (
    AnswerRejected,
    FenceViolation,
    Forbidden,
    InvalidRequest,
    ModelNotFound,
    PolicyRefused,
    SessionNotFound,
    UnsupportedByTarget,
)
from sluicegate.guardrails.guard import InlineGuard
from sluicegate.guardrails.tier0 import Tier0Gate
from sluicegate.memory.sessions import SessionStore
from sluicegate.observability.recorder import Recorder
from sluicegate.pipeline.auth import Gatekeeper
from sluicegate.pipeline.context import RequestContext
from sluicegate.pipeline.ending import RequestEnding
from sluicegate.pipeline.job import Job
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.outcomes import outcome_of
from sluicegate.pipeline.packs import Correction, DomainPack, apply
from sluicegate.pipeline.render import FrameRenderer, replay
from sluicegate.pipeline.request import PipelineRequest
from sluicegate.pipeline.rounds import ModelRounds
from sluicegate.pipeline.stages import RouteDecision, Stages
from sluicegate.pipeline.states import State, StateMachine
from sluicegate.pipeline.validation import ValidationLoop
from sluicegate.types import (
    AcceptedFrame,
    CompleteFrame,
    Completion,
    CorrectionFrame,
    Frame,
    Message,
    TokenFrame,
    ToolSpec,
    Usage,
)

AUTO = "auto"  # the `model` that asks the router (seed 001 §2.6)


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
        self.stages = stages or Stages()  # also read by the stages' own doors (/v1/route)
        self._renderer = FrameRenderer(InlineGuard(config.guardrails), recorder)
        self._rounds = ModelRounds(stacks, self.stages, self._renderer)
        self._tier0 = Tier0Gate(config.guardrails.tier0)
        self._ending = RequestEnding(costs, sessions, recorder)
        self._validation = ValidationLoop(
            self.stages.validator, stacks, self._renderer, recorder, config.routing
        )

    async def run(self, request: PipelineRequest, ctx: RequestContext) -> AsyncGenerator[Frame, None]:
        machine = StateMachine(partial(self._recorder.transition, ctx), ctx.started)
        job = Job(request, ctx, machine, request.completion)
        failure: BaseException | None = None
        try:
            await self._authorize(job)
            if request.session_id is not None:
                await self._load_memory(job, request.session_id)
            routed = request.model == AUTO
            if not routed:
                yield AcceptedFrame(ctx.trace_id)
            decision = await self._route(job, routed=routed)
            if routed:
                # A routed request is accepted once its route is known and allowed: until then a
                # refusal (the key's roles, the gate) is a status code, as for a named role.
                yield AcceptedFrame(ctx.trace_id)
            if decision is not None and decision.kind == "tool":
                async for frame in self._tool_only(job, decision):
                    yield frame
                return
            if request.session_id is not None and job.pack is not None:
                await self._retrieve(job, job.pack)
            async for frame in await self._answer(job):
                yield frame
            for frame in await self._after_answer(job, decision):
                yield frame
            await self._conclude(job, job.outcome)
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
                await self._conclude(job, outcome_of(failure))
            # After the complete frame (the door has sent the answer), or a door that stopped there.
            self._ending.record_answered(job)

    # -- before the model ----------------------------------------------------------------------------

    async def _authorize(self, job: Job) -> None:
        job.machine.move(State.AUTHORIZE, "local caller" if job.request.caller.local else "bearer key")
        ctx, caller = job.ctx, job.request.caller
        key = None if caller.local else await self._gatekeeper.authenticate(caller.secret)
        # The route asked for is the role a key must allow (ROUTING_DECISION checks its own choice).
        if job.request.model != AUTO:
            self._gatekeeper.authorize(key, job.request.model)
        if key is not None:
            ctx.key, ctx.user = key, key.user
        tools = [tool.name for tool in job.call.tools]
        self._recorder.received(
            ctx, job.request.endpoint, job.request.model, job.request.stream, job.call.messages, tools
        )
        job.received = True

    async def _load_memory(self, job: Job, session_id: str) -> None:
        job.machine.move(State.MEMORY_LOAD, f"session {session_id}")
        owner = job.ctx.key.user if job.ctx.key is not None else None
        # Claimed (a write) before the model is asked: a store that cannot write refuses the turn
        # with nothing spent, and nobody else's session is ever read.
        if not await self.sessions.claim(session_id, owner):
            # The same answer whether the session does not exist or belongs to another user.
            raise SessionNotFound(f"No session '{session_id}' for this key.")
        session = await self.sessions.get(session_id)
        job.new_session = not session["turns"]
        history = tuple(Message(t["role"], t["content"]) for t in session["turns"])
        job.call = replace(job.call, messages=history + job.call.messages)

    def _gate(self, job: Job) -> None:
        """Tier 0: refuse before any token (or budget) is spent."""
        job.machine.move(State.TIER0_GATE)
        refusal = self._tier0.check(job.ctx.user, job.call.messages)
        if refusal is not None:
            self._recorder.guardrail(job.ctx, "tier0", refusal.rule, "block", (0, 0))
            raise PolicyRefused(refusal.reason, param=refusal.rule)

    async def _route(self, job: Job, *, routed: bool) -> RouteDecision | None:
        """TIER0_GATE, ROUTING_DECISION and MODEL_SELECTION: where the request goes (a tool, or a
        role's stack with the domain's tools offered when the client offered none)."""
        if self._tier0.enabled:
            self._gate(job)
        decision = await self._decide(job) if routed else None
        if decision is not None and decision.kind == "tool":
            return decision
        await self._select_route(job, decision)
        if decision is not None and self.stages.tools is not None and not job.call.tools:
            self._offer_tools(job, self.stages.tools.specs())
        return decision

    async def _decide(self, job: Job) -> RouteDecision:
        router = self.stages.router
        if router is None:
            raise ModelNotFound(
                "'auto' needs routing, which is switched off (routing.enabled).", param="model"
            )
        job.machine.move(State.ROUTING_DECISION)
        # The router model's call (if it is asked) is recorded apart from the answer's.
        decision = await router.decide(job.call, CallTrace(trace_id=job.ctx.trace_id))
        self._recorder.audit.emit(job.ctx.trace_id, decision.event())
        return decision

    async def _tool_only(self, job: Job, decision: RouteDecision) -> AsyncIterator[Frame]:
        if self.stages.tool_answers is None:
            raise AnswerRejected(f"The router chose the tool '{decision.name}', but no tool can answer.")
        job.machine.move(State.TOOL_ONLY_EXECUTION, f"{decision.decision}: tool {decision.name}")
        job.ctx.route_label = f"{decision.decision}/tool:{decision.name}"
        answer = await self.stages.tool_answers.answer(decision, job.call)
        self._recorder.audit.emit(job.ctx.trace_id, answer.event(decision))
        text = self._renderer.guard_whole(job, answer.text)
        job.delivered = job.final = text
        job.said.append(text)
        yield TokenFrame(text)
        job.usage = Usage()
        await self._conclude(job, "ok")
        yield CompleteFrame(trace_id=job.ctx.trace_id, route=job.ctx.route_label, usage=Usage(), text=text)

    def _select_model(self, job: Job, decision: RouteDecision | None) -> None:
        name = decision.name if decision is not None else job.request.model
        how = decision.decision if decision is not None else "explicit"
        if decision is not None:
            if job.request.session_id is not None and not self.stacks.has_role(name):
                name = self._config.conversation_role  # a conversation turn falls back to its role
            # The router's choice is what the key must allow (a tool-only answer runs no role).
            self._gatekeeper.authorize(job.ctx.key, name)
        job.machine.move(State.MODEL_SELECTION, f"{how}/{name}")
        route = self.stacks.resolve(name)
        self.stacks.check_request(route, job.call)
        job.ctx.route, job.ctx.route_label = route, f"{how}/{route.name}"
        job.call = self.stacks.limited(route, job.call)
        if job.call.model != route.name:
            job.call = job.call.but(model=route.name)
        pack_name = (
            self._config.assistant.pack if job.request.session_id is not None else self._role_pack(route.name)
        )
        job.pack = self.packs.get(pack_name) if pack_name is not None else None
        if job.call.logprobs and (self._renderer.guarding or job.pack is not None):
            # Log probabilities carry the model's own tokens: they would give away what the
            # guardrails redact, and would not match text a pack rewrites.
            raise InvalidRequest(
                "'logprobs' is not returned while the inline guardrails are on or a domain pack "
                f"checks the answers of '{route.name}' (they would carry the text those change).",
                param="logprobs",
            )

    async def _select_route(self, job: Job, decision: RouteDecision | None) -> None:
        try:
            self._select_model(job, decision)
        except Forbidden:
            # A routed turn refused for its route leaves nothing behind: not even the session
            # its first turn opened (another key may open it).
            if job.new_session and job.request.session_id is not None:
                owner = job.ctx.key.user if job.ctx.key is not None else None
                await self.sessions.delete(job.request.session_id, owner)
            raise

    def _offer_tools(self, job: Job, specs: tuple[ToolSpec, ...]) -> None:
        """A routed request whose client offered no tools gets the domain's, where the route's
        targets can call tools."""
        assert job.ctx.route is not None
        offered = replace(job.call, tools=specs, tool_choice="auto")
        try:
            self.stacks.check_request(job.ctx.route, offered)
        except UnsupportedByTarget:
            return
        job.call, job.server_tools = offered, True

    def _role_pack(self, route: str) -> str | None:
        role = self._config.models.get(route)
        return role.pack if role is not None else None

    async def _retrieve(self, job: Job, pack: DomainPack) -> None:
        """A conversation turn's prompt: the pack's persona, instructions and facts, fenced."""
        job.machine.move(State.RETRIEVAL, f"pack {pack.name}")
        question = job.request.completion.messages[-1].content
        report = partial(self._recorder.audit.emit, job.ctx.trace_id)
        job.turn = await pack.open_turn(question, report)
        job.call = replace(job.call, messages=(Message("system", job.turn.system_prompt), *job.call.messages))

    async def _lookup_cache(self, job: Job) -> Completion | None:
        assert job.ctx.route is not None
        job.machine.move(State.CACHE_LOOKUP)
        job.cache_key_request = job.call
        hit = await self._costs.cached(job.ctx, job.ctx.route, job.call)
        job.ctx.cache = "hit" if hit is not None else "miss"
        if hit is not None:
            job.usage = hit.usage
        return hit

    async def _reserve(self, job: Job) -> None:
        route = job.ctx.route
        assert route is not None
        job.machine.move(State.BUDGET_RESERVE)
        job.prompt_tokens = await self.stacks.prompt_tokens(route, job.call)
        job.reservation, job.call = await self._costs.reserve(job.ctx, route, job.call, job.prompt_tokens)

    # -- the model -----------------------------------------------------------------------------------

    async def _answer(self, job: Job) -> AsyncIterator[Frame]:
        """The answer's frames: from the cache, or from the model within the budget."""
        hit = await self._lookup_cache(job) if self._costs.caches(job.call) else None
        if hit is not None:
            return self._renderer.frames(job, replay(hit), guard=False)
        if self._costs.limit_for(job.ctx) is not None:
            await self._reserve(job)
        return self._rounds.run(job)

    # -- after the model -----------------------------------------------------------------------------

    async def _after_answer(self, job: Job, decision: RouteDecision | None) -> list[Frame]:
        """POST_STREAM, VALIDATION, SYNTHESIS: their corrections of what was delivered."""
        job.final = job.delivered
        frames: list[Frame] = []
        if job.pack is not None:
            frames += await self._post_stream(job, job.pack)
        if self._validates(job, decision):
            final = await self._validation.run(job)
            if final != job.final:
                frames.append(self._correct(job, Correction(0, len(job.delivered), final, "validation")))
                job.final = final
        if self.stages.synthesizer is not None:
            job.machine.move(State.SYNTHESIS)
            composed = await self.stages.synthesizer.compose(job.call, job.final)
            if composed != job.final:
                frames.append(self._correct(job, Correction(0, len(job.delivered), composed, "synthesis")))
                job.final = composed
        return frames

    async def _post_stream(self, job: Job, pack: DomainPack) -> list[Frame]:
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

    def _validates(self, job: Job, decision: RouteDecision | None) -> bool:
        """Routed answers are validated, unless switched off, for a low-risk class, for the role,
        or the answer was cut short by a guardrail or is a tool call."""
        routing = self._config.routing
        if decision is None or self.stages.validator is None or not routing.validation:
            return False
        role = self._config.models.get(decision.name)
        return (
            decision.decision not in routing.skip_validation_for
            and (role is None or role.validate_answers)
            and job.finish == "stop"
            and not job.called
        )

    def _correct(self, job: Job, correction: Correction) -> CorrectionFrame:
        span = (correction.start, correction.end)
        self._recorder.audit.emit(job.ctx.trace_id, CorrectionEvent(replace=span, reason=correction.reason))
        return CorrectionFrame(replace=span, text=correction.text, reason=correction.reason)

    async def _conclude(self, job: Job, outcome: str) -> None:
        await self._ending.conclude(job, outcome)

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
