"""The orchestrator's transition table: an undeclared move raises, and every declared move is taken
by some request below (each a real run of the pipeline over the scripted provider, with the
empty places filled by small stages and the stores by doubles that fail on demand)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from sluicegate.audit.events import Event
from sluicegate.calltrace import CallTrace
from sluicegate.config.schema import Config
from sluicegate.errors import FenceViolation, IllegalTransition, SluicegateError, StateError
from sluicegate.pipeline.context import RequestContext, bind, unbind
from sluicegate.pipeline.packs import Correction, Rendered, Report
from sluicegate.pipeline.request import Caller, PipelineRequest
from sluicegate.pipeline.stages import RouteDecision, Stages, ToolAnswer
from sluicegate.pipeline.states import TRANSITIONS, State, StateMachine, Transition
from sluicegate.providers.base import Capabilities
from sluicegate.providers.script import Script
from sluicegate.providers.scripted import ScriptedProvider
from sluicegate.routing.validation import Validation
from sluicegate.runtime import Runtime, build_runtime
from sluicegate.state.memory import MemoryStateStore
from sluicegate.testing.event_log import MemoryEventLog
from sluicegate.types import CompleteFrame, CompletionRequest, Message, ToolCall, ToolSpec

TAKEN: set[tuple[State, State]] = set()


class FailingStore(MemoryStateStore):
    """A state store that fails where a test says: reads of a key prefix, writes, or hangs."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_set: BaseException | None = None
        self.fail_update: str | None = None  # a key prefix
        self.hang_get = False

    async def get(self, key: str) -> bytes | None:
        if self.hang_get and key.startswith("cache:"):
            await asyncio.sleep(3600)
        return await super().get(key)

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if self.fail_set is not None:
            raise self.fail_set
        await super().set(key, value, ttl_s)

    async def update(self, key: str, change: Any) -> Any:
        # The claim of a new session passes; saving its turn fails.
        if self.fail_update is not None and key.startswith(self.fail_update) and await self.read(key):
            raise StateError("disk full")
        return await super().update(key, change)


@dataclass
class Plugged:
    """Stages for the empty places, each told what to do by the test."""

    decide: RouteDecision = field(
        default_factory=lambda: RouteDecision("role", "ok", "maths", "reasoning_required")
    )
    fail_in: str | None = None
    tool_rounds: int = 0
    verdict: Validation = field(default_factory=lambda: verdict(True, "fine"))
    composed: str | None = None

    def _maybe_fail(self, where: str) -> None:
        if self.fail_in == where:
            raise SluicegateError(f"{where} failed")

    async def decide_route(self, request: CompletionRequest, call: CallTrace) -> RouteDecision:
        self._maybe_fail("routing")
        return self.decide

    async def answer(self, decision: RouteDecision, request: CompletionRequest) -> ToolAnswer:
        self._maybe_fail("tool_only")
        return ToolAnswer(f"answered by {decision.name}", "{}")

    def specs(self) -> tuple[ToolSpec, ...]:
        return (ToolSpec("lookup", {"type": "object", "properties": {}}),)

    async def run(
        self, request: CompletionRequest, calls: Sequence[ToolCall], trace_id: str
    ) -> tuple[Message, ...] | None:
        self._maybe_fail("tools")
        if self.tool_rounds <= 0:
            return None
        self.tool_rounds -= 1
        return (Message("tool", "42"),)

    async def validate(self, question: str, answer: str, context: str, call: CallTrace) -> Validation:
        self._maybe_fail("validation")
        return self.verdict

    async def compose(self, request: CompletionRequest, answer: str) -> str:
        self._maybe_fail("synthesis")
        return self.composed or answer


def verdict(valid: bool, reason: str) -> Validation:
    return Validation("valid" if valid else "invalid", [reason], ["test"])


class RouterPort:
    def __init__(self, plugged: Plugged) -> None:
        self.decide = plugged.decide_route


class PackDouble:
    """A domain pack double: its turn's prompt and renderer, and checks that fail on demand."""

    name = "shop"

    def __init__(self) -> None:
        self.fail_retrieval = False
        self.leak = False

    async def open_turn(self, question: str, report: Report) -> Any:
        if self.fail_retrieval:
            raise FenceViolation("forged fence in the catalog")
        pack = self

        class Turn:
            system_prompt = "be brief"

            async def feed(self, text: str) -> Rendered:
                return Rendered(text)

            async def finish(self) -> Rendered:
                return Rendered()

            def check_output(self, text: str) -> None:
                if pack.leak:
                    raise FenceViolation("canary")

        return Turn()

    async def check(self, text: str, trusted: Sequence[tuple[int, int]] = ()) -> list[Correction]:
        return [Correction(0, 5, "HELLO", "shouting")] if text.startswith("hello") else []

    def entities(self, text: str) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


class ToolCallingScript(ScriptedProvider):
    """The scripted model, declared able to call tools (the gateway offers its own to it)."""

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities, tools=True)


SCRIPT = {
    "models": {
        "ok": [{"text": "hello world"}],
        "down": [{"fault": "server_error"}],
        # A model that cannot write the gateway's tool call (400), then answers in words.
        "picky": [{"fault": "bad_request"}, {"text": "hello world"}],
    }
}


@dataclass
class Harness:
    runtime: Runtime
    log: MemoryEventLog
    store: FailingStore
    plugged: Plugged
    pack: PackDouble
    routed: bool = False  # its requests ask for `model: auto` unless told otherwise


def harness(
    *,
    plugged: Plugged | None = None,
    budget: bool = False,
    tier0: bool = False,
    pack: bool = False,
    router: bool = False,
    stages: Stages | None = None,
) -> Harness:
    """A runtime over the scripted provider; `stages` fills the empty places (by default, what
    `plugged` is told to do decides which)."""
    settings: dict[str, Any] = {
        "providers": {"s": {"type": "scripted", "inline": SCRIPT}},
        "models": {
            "ok": {"use": ["s/ok"], "pack": "shop" if pack else None},
            "down": {"use": ["s/down"]},
            "picky": {"use": ["s/picky"]},
            "assistant": {"use": ["s/ok"]},
        },
        "retry": {"attempts": 1},
        "assistant": {"pack": "shop" if pack else None},
        "state": {"backend": "memory"},
    }
    if budget:
        settings["budgets"] = {"tokens_per_hour_per_user": 1000}
    if tier0:
        settings["guardrails"] = {
            "tier0": {"deny": [{"name": "no_secrets", "pattern": "secret", "reason": "no"}]}
        }
    plugged = plugged or Plugged()
    validates = plugged.fail_in == "validation" or not plugged.verdict.valid
    stages = stages or Stages(
        router=RouterPort(plugged)
        if router or validates or plugged.tool_rounds or plugged.fail_in == "tools"
        else None,
        tool_answers=plugged if router else None,
        tools=plugged if plugged.tool_rounds or plugged.fail_in == "tools" else None,
        validator=plugged if validates else None,
        synthesizer=plugged if plugged.composed or plugged.fail_in == "synthesis" else None,
    )
    if stages.tools is not None and stages.router is None:
        # The gateway's own tools are offered on routed requests only.
        stages = dataclasses.replace(stages, router=RouterPort(Plugged()))
    log, store = MemoryEventLog(), FailingStore()
    config = Config.model_validate(settings)
    providers = {"s": ToolCallingScript("s", Script.parse(SCRIPT))}
    runtime = build_runtime(config, providers, event_log=log, state=store, stages=stages)
    test_pack = PackDouble()
    if pack:
        runtime.pipeline.packs["shop"] = test_pack
    return Harness(runtime, log, store, plugged, test_pack, routed=stages.routing)


async def run(
    h: Harness,
    model: str | None = None,
    *,
    text: str = "hi",
    temperature: float | None = None,
    session: str | None = None,
    secret: str | None = None,
    stream: bool = True,
    cancel_after: float | None = None,
) -> list[State]:
    """One request; the states it went through, added to what the suite has taken."""
    ctx = RequestContext()
    token = bind(ctx)
    caller = Caller(secret=secret) if secret is not None else Caller(local=True)
    model = model or ("auto" if h.routed else "ok")
    request = PipelineRequest(
        CompletionRequest(model, (Message("user", text),), temperature=temperature),
        endpoint="test",
        caller=caller,
        stream=stream,
        session_id=session,
    )

    async def drain() -> None:
        async for _ in h.runtime.pipeline.run(request, ctx):
            pass

    try:
        if cancel_after is None:
            await drain()
        else:
            task = asyncio.ensure_future(drain())
            await asyncio.sleep(cancel_after)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    except (SluicegateError, RuntimeError):
        pass  # the states say where it failed
    finally:
        unbind(token)
    await h.runtime.audit.flush()
    mine = [e for e in h.log.events if e.type == "routing_transition" and e.trace_id == ctx.trace_id]
    # Written from typed values on the request's path: each still reads back as its schema says.
    moves = [Event.model_validate(dataclasses.asdict(e)).typed().model_dump() for e in mine]
    for move in moves:
        TAKEN.add((State(move["from_state"]), State(move["to_state"])))
    return [State(m["to_state"]) for m in moves]


def pairs(states: list[State]) -> set[tuple[State, State]]:
    return set(itertools.pairwise(states))


@pytest.fixture
async def made() -> AsyncIterator[Callable[..., Harness]]:
    built: list[Harness] = []

    def make(**options: Any) -> Harness:
        built.append(harness(**options))
        return built[-1]

    yield make
    for h in built:
        await h.runtime.aclose()


def test_an_undeclared_move_raises() -> None:
    seen: list[Transition] = []
    machine = StateMachine(seen.append)
    machine.move(State.AUTHORIZE, "key")
    with pytest.raises(IllegalTransition, match="AUTHORIZE -> LLM_CALL"):
        machine.move(State.LLM_CALL)
    assert [t.to_state for t in seen] == [State.AUTHORIZE]
    assert seen[0].reason == "key"
    assert seen[0].elapsed_ms >= 0


async def test_plain_requests(made: Callable[..., Harness]) -> None:
    h = made()
    assert await run(h) == [State.AUTHORIZE, State.MODEL_SELECTION, State.LLM_CALL, State.COMPLETED]
    assert (await run(h, stream=False))[-1] is State.COMPLETED
    assert await run(h, "nope") == [State.AUTHORIZE, State.MODEL_SELECTION, State.FAILED]
    assert (await run(h, "down"))[-2:] == [State.LLM_CALL, State.FAILED]
    # A key the gateway does not know, once keys exist: refused at AUTHORIZE.
    await h.runtime.keys.create("ann")
    assert await run(h, secret="sk-sg-nobody") == [State.AUTHORIZE, State.FAILED]


async def test_cache_and_budget(made: Callable[..., Harness]) -> None:
    h = made(budget=True)
    first = await run(h, temperature=0)
    assert first == [
        State.AUTHORIZE,
        State.MODEL_SELECTION,
        State.CACHE_LOOKUP,
        State.BUDGET_RESERVE,
        State.LLM_CALL,
        State.BUDGET_SETTLE,
        State.CACHE_STORE,
        State.COMPLETED,
    ]
    assert await run(h, temperature=0) == [
        State.AUTHORIZE,
        State.MODEL_SELECTION,
        State.CACHE_LOOKUP,
        State.COMPLETED,
    ]
    assert (await run(h, "down"))[-3:] == [State.LLM_CALL, State.BUDGET_SETTLE, State.FAILED]
    assert (await run(h, text="x" * 5000))[-2:] == [State.BUDGET_RESERVE, State.FAILED]
    plain = made()
    assert State.LLM_CALL in await run(plain, temperature=0)  # cache miss, no budget: straight to the model
    plain.store.hang_get = True  # the caller leaves while the cache is read
    assert (await run(plain, temperature=0.0, text="other", cancel_after=0.2))[-2:] == [
        State.CACHE_LOOKUP,
        State.FAILED,
    ]
    broken = made()
    broken.store.fail_set = RuntimeError("store broke")
    assert (await run(broken, temperature=0, text="third"))[-2:] == [State.CACHE_STORE, State.FAILED]


async def test_conversation_turns(made: Callable[..., Harness]) -> None:
    h = made(pack=True, tier0=True)
    turn = await run(h, "assistant", session="s1")
    assert turn == [
        State.AUTHORIZE,
        State.MEMORY_LOAD,
        State.TIER0_GATE,
        State.MODEL_SELECTION,
        State.RETRIEVAL,
        State.LLM_CALL,
        State.POST_STREAM,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]
    assert (await run(h, "assistant", session="s1", text="a secret"))[-2:] == [State.TIER0_GATE, State.FAILED]
    h.pack.leak = True
    assert (await run(h, "assistant", session="s1"))[-2:] == [State.POST_STREAM, State.FAILED]
    h.pack.leak, h.pack.fail_retrieval = False, True
    assert (await run(h, "assistant", session="s1"))[-2:] == [State.RETRIEVAL, State.FAILED]
    h.store.fail_update = "session:"
    h.pack.fail_retrieval = False
    assert (await run(h, "assistant", session="fresh"))[-2:] == [State.MEMORY_UPDATE, State.FAILED]
    h.store.fail_update = None
    # Another user's session is not found: refused where it is loaded.
    await h.runtime.keys.create("ann")
    bob, _ = await h.runtime.keys.create("bob")
    assert (await run(h, "assistant", session="s1", secret=bob))[-2:] == [State.MEMORY_LOAD, State.FAILED]
    cached = made(pack=True, tier0=True, budget=True)
    await run(cached, "ok", temperature=0)
    assert await run(cached, "ok", temperature=0) == [
        State.AUTHORIZE,
        State.TIER0_GATE,
        State.MODEL_SELECTION,
        State.CACHE_LOOKUP,
        State.POST_STREAM,
        State.COMPLETED,
    ]
    saved = made(tier0=True)
    assert (await run(saved, "assistant", session="s2"))[-3:] == [
        State.LLM_CALL,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]
    history = made()
    await run(history, "assistant", session="s3", temperature=0)
    await run(history, "assistant", session="s4", temperature=0, text="hi")
    # The same question in another session with no history yet: the answer comes from the cache.
    assert (await run(history, "assistant", session="s5", temperature=0))[-3:] == [
        State.CACHE_LOOKUP,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]
    paid = made(pack=True, budget=True)
    assert (State.RETRIEVAL, State.BUDGET_RESERVE) in pairs(await run(paid, "assistant", session="s7"))
    assert (await run(paid, "assistant", session="s7"))[-3:] == [
        State.BUDGET_SETTLE,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]
    assert (State.RETRIEVAL, State.CACHE_LOOKUP) in pairs(
        await run(paid, "assistant", session="s8", temperature=0)
    )
    memory_only = made()
    assert (await run(memory_only, "assistant", session="s6"))[:3] == [
        State.AUTHORIZE,
        State.MEMORY_LOAD,
        State.MODEL_SELECTION,
    ]


async def test_the_empty_places_filled(made: Callable[..., Harness]) -> None:
    tool = made(
        router=True, plugged=Plugged(decide=RouteDecision("tool", "price", "a price", "simple_tool_call"))
    )
    assert await run(tool) == [
        State.AUTHORIZE,
        State.ROUTING_DECISION,
        State.TOOL_ONLY_EXECUTION,
        State.COMPLETED,
    ]
    assert (await run(tool, session="s1"))[-3:] == [
        State.TOOL_ONLY_EXECUTION,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]
    tool.plugged.fail_in = "tool_only"
    assert (await run(tool))[-2:] == [State.TOOL_ONLY_EXECUTION, State.FAILED]
    tool.plugged.fail_in = "routing"
    assert (await run(tool))[-2:] == [State.ROUTING_DECISION, State.FAILED]
    role = made(
        router=True,
        tier0=True,
        plugged=Plugged(decide=RouteDecision("role", "ok", "chat", "router_can_handle")),
    )
    assert await run(role) == [
        State.AUTHORIZE,
        State.TIER0_GATE,
        State.ROUTING_DECISION,
        State.MODEL_SELECTION,
        State.LLM_CALL,
        State.COMPLETED,
    ]
    session_route = made(router=True)
    assert (await run(session_route, session="s9"))[:4] == [
        State.AUTHORIZE,
        State.MEMORY_LOAD,
        State.ROUTING_DECISION,
        State.MODEL_SELECTION,
    ]
    all_four = Plugged(tool_rounds=1, composed="composed", verdict=verdict(True, "ok"))
    loops = made(
        pack=True,
        stages=Stages(router=RouterPort(all_four), tools=all_four, validator=all_four, synthesizer=all_four),
    )
    assert await run(loops, session="s1") == [
        State.AUTHORIZE,
        State.MEMORY_LOAD,
        State.ROUTING_DECISION,
        State.MODEL_SELECTION,
        State.RETRIEVAL,
        State.LLM_CALL,
        State.TOOL_EXECUTION,
        State.LLM_CALL,
        State.TOOL_EXECUTION,
        State.POST_STREAM,
        State.VALIDATION,
        State.SYNTHESIS,
        State.MEMORY_UPDATE,
        State.COMPLETED,
    ]


async def test_each_empty_place_on_its_own(made: Callable[..., Harness]) -> None:
    for plugged, last in [
        (Plugged(fail_in="tools"), State.TOOL_EXECUTION),
        (Plugged(verdict=verdict(False, "wrong")), State.VALIDATION),
        (Plugged(fail_in="synthesis"), State.SYNTHESIS),
    ]:
        assert (await run(made(plugged=plugged)))[-2:] == [last, State.FAILED]
    budgeted = {"budget": True}
    for plugged, after in [
        (Plugged(tool_rounds=0, fail_in=None), State.TOOL_EXECUTION),
        (Plugged(verdict=verdict(True, "ok")), State.VALIDATION),
        (Plugged(composed="other words"), State.SYNTHESIS),
    ]:
        only = {
            State.TOOL_EXECUTION: Stages(tools=plugged),
            State.VALIDATION: Stages(router=RouterPort(plugged), validator=plugged),
            State.SYNTHESIS: Stages(synthesizer=plugged),
        }[after]
        h = made(stages=only, **budgeted)
        assert (await run(h))[-3:] == [after, State.BUDGET_SETTLE, State.COMPLETED]
        h2 = made(pack=True, stages=only)
        states = await run(h2, temperature=0)
        assert states[-2:] == [State.CACHE_STORE, State.COMPLETED]
        again = await run(h2, temperature=0)
        assert State.CACHE_LOOKUP in again
        h3 = made(stages=only)
        assert (await run(h3, session="s1"))[-3:] == [after, State.MEMORY_UPDATE, State.COMPLETED]
        assert (await run(h3))[-2:] == [after, State.COMPLETED]
        await run(h3, temperature=0)
        hit = await run(h3, temperature=0)
        assert State.LLM_CALL not in hit
        assert hit[-1] is State.COMPLETED
    composing = Plugged(composed="x")
    mixed = made(pack=True, stages=Stages(tools=composing, synthesizer=composing))
    assert State.SYNTHESIS in await run(mixed)
    to_post = made(pack=True, stages=Stages(tools=Plugged()))
    assert (await run(to_post))[-3:] == [State.TOOL_EXECUTION, State.POST_STREAM, State.COMPLETED]
    checked = Plugged()
    to_valid = made(stages=Stages(router=RouterPort(checked), tools=checked, validator=checked))
    assert (await run(to_valid))[-3:] == [State.TOOL_EXECUTION, State.VALIDATION, State.COMPLETED]
    to_synth = made(stages=Stages(tools=Plugged(), synthesizer=Plugged()))
    assert (await run(to_synth))[-3:] == [State.TOOL_EXECUTION, State.SYNTHESIS, State.COMPLETED]
    post_valid = made(pack=True, stages=Stages(router=RouterPort(checked), validator=checked))
    assert (await run(post_valid))[-3:] == [State.POST_STREAM, State.VALIDATION, State.COMPLETED]
    post_synth = made(pack=True, budget=True, stages=Stages(synthesizer=Plugged()))
    assert (await run(post_synth))[-4:] == [
        State.POST_STREAM,
        State.SYNTHESIS,
        State.BUDGET_SETTLE,
        State.COMPLETED,
    ]
    valid_synth = made(stages=Stages(router=RouterPort(checked), validator=checked, synthesizer=checked))
    assert (await run(valid_synth))[-3:] == [State.VALIDATION, State.SYNTHESIS, State.COMPLETED]
    post_store = made(pack=True)
    await run(post_store, temperature=0)
    assert (await run(post_store, temperature=0, text="new"))[-3:] == [
        State.POST_STREAM,
        State.CACHE_STORE,
        State.COMPLETED,
    ]


async def test_a_tool_call_the_model_cannot_write_is_asked_again_without_tools(
    made: Callable[..., Harness],
) -> None:
    picky = Plugged(decide=RouteDecision("role", "picky", "maths", "reasoning_required"))
    states = await run(made(plugged=picky, stages=Stages(router=RouterPort(picky), tools=picky)))
    assert states[states.index(State.LLM_CALL) + 1] == State.LLM_CALL
    assert states[-1] == State.COMPLETED


@pytest.mark.parametrize("door_stops_at_the_answer", [False, True])
async def test_an_answer_is_settled_before_its_complete_frame_and_recorded_after_it(
    made: Callable[..., Harness], door_stops_at_the_answer: bool
) -> None:
    """What a next request may read (the budget) is settled before the answer is shown; the
    request's record (COMPLETED, request_completed) follows it, also when the door closes the frames
    at the complete frame instead of running them to their end."""
    h = made(budget=True)
    ctx = RequestContext()
    request = PipelineRequest(
        CompletionRequest("ok", (Message("user", "hi"),)), endpoint="test", caller=Caller(local=True)
    )
    frames = h.runtime.pipeline.run(request, ctx)
    async for frame in frames:
        if isinstance(frame, CompleteFrame):
            break
    (user,) = await h.runtime.ledger.users()
    usage = await h.runtime.ledger.usage(user, None)
    assert usage.used > 0
    assert usage.reserved == 0
    await h.runtime.audit.flush()

    def trail() -> tuple[list[str], list[str]]:
        mine = [e for e in h.log.events if e.trace_id == ctx.trace_id]
        states = [str(e.payload["to_state"]) for e in mine if e.type == "routing_transition"]
        return states, [e.type for e in mine]

    states, kinds = trail()
    assert states[-1] == "BUDGET_SETTLE"
    assert "request_completed" not in kinds
    if door_stops_at_the_answer:
        await frames.aclose()
    else:
        assert [frame async for frame in frames] == []
    await h.runtime.audit.flush()
    states, kinds = trail()
    assert states[-2:] == ["BUDGET_SETTLE", "COMPLETED"]
    completed = [e for e in h.log.events if e.trace_id == ctx.trace_id and e.type == "request_completed"]
    assert len(completed) == 1
    assert completed[0].payload["outcome"] == "ok"


def test_every_declared_move_was_taken() -> None:
    """Runs last in this module: the union of what the requests above took is the whole table."""
    if not TAKEN:
        pytest.skip("the requests of this module's other tests did not run (a partial selection)")
    declared = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    missing = sorted(f"{a} -> {b}" for a, b in declared - TAKEN)
    assert missing == [], "\n".join(missing)
