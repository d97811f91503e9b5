"""The composition root: configuration in, a wired runtime out. Nothing else builds adapters
or stores."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sluicegate.alerts import Alerter
from sluicegate.audit.events import AlertEvent, BreakerTransition, EgressRefused, WorkerExited
from sluicegate.audit.log import AuditTrail, EventLog
from sluicegate.budgets import BudgetLedger
from sluicegate.cache import ResponseCache
from sluicegate.calltrace import current_trace
from sluicegate.config.schema import AuditConfig, Config, StateConfig
from sluicegate.costs import CostControls
from sluicegate.demo.shop import ShopPack
from sluicegate.demo.tools import ShopTools
from sluicegate.errors import ProviderSetupError
from sluicegate.factsources.catalog import SqliteCatalog, bundled_listings
from sluicegate.factsources.http import HttpFactSource
from sluicegate.guardrails.facts import FactSource, Listing
from sluicegate.keys import KeyRing
from sluicegate.memory.sessions import SessionStore
from sluicegate.observability.metrics import Metrics
from sluicegate.observability.recorder import Recorder
from sluicegate.observability.tracing import Telemetry
from sluicegate.pipeline.auth import Gatekeeper
from sluicegate.pipeline.embeddings import EmbeddingPipeline
from sluicegate.pipeline.llm import RoleStacks
from sluicegate.pipeline.orchestrator import Orchestrator
from sluicegate.pipeline.packs import DomainPack
from sluicegate.pipeline.stages import Stages
from sluicegate.providers.base import Provider
from sluicegate.providers.llamacpp_process import ModelWorker, WorkerState
from sluicegate.providers.registry import build_providers
from sluicegate.providers.restarts import WorkerExit
from sluicegate.resilience.breaker import BreakerRegistry, Transition
from sluicegate.routing.classifier import RouteClassifier, Weights
from sluicegate.routing.roles import RoleTable
from sluicegate.routing.router import RoutingStage
from sluicegate.routing.tool_only import RegistryAnswers
from sluicegate.routing.tool_runner import RegistryRunner
from sluicegate.routing.validation import AnswerValidator
from sluicegate.security.egress import EgressPolicy, GuardedTransport
from sluicegate.state.base import StateStore
from sluicegate.webhooks import webhook

log = logging.getLogger("sluicegate.runtime")


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    state: WorkerState
    error: str | None

    @property
    def serving(self) -> bool:
        # not_started: loaded on first use (warm-up off); it can still serve.
        return self.state in ("ready", "not_started")


@dataclass
class Runtime:
    config: Config
    providers: dict[str, Provider]
    stacks: RoleStacks
    pipeline: Orchestrator
    embeddings: EmbeddingPipeline
    audit: AuditTrail
    metrics: Metrics
    telemetry: Telemetry
    state: StateStore
    keys: KeyRing
    gatekeeper: Gatekeeper
    ledger: BudgetLedger
    sessions: SessionStore

    async def warm(self) -> None:
        """Load what is slow to load (embedded models) before declaring ready."""
        for provider in self.providers.values():
            warm = getattr(provider, "warm", None)
            if warm is not None:
                await warm()

    def worker_states(self) -> dict[str, WorkerStatus]:
        """The model worker of each provider that runs one (the embedded model), as it is now."""
        return {
            name: WorkerStatus(worker.state, worker.last_error)
            for name, worker in model_workers(self.providers).items()
        }

    async def aclose(self) -> None:
        await self.stacks.alerter.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        await self.pipeline.aclose()
        await self.audit.aclose()
        await self.state.aclose()
        self.telemetry.shutdown()


def model_workers(providers: Mapping[str, Provider]) -> dict[str, ModelWorker]:
    """The supervised worker of each provider that runs one (the embedded model)."""
    found = {name: getattr(provider, "worker", None) for name, provider in providers.items()}
    return {name: worker for name, worker in found.items() if isinstance(worker, ModelWorker)}


def build_event_log(settings: AuditConfig, environ: Mapping[str, str] | None = None) -> EventLog | None:
    if not settings.enabled:
        return None
    if settings.backend == "postgres":
        from sluicegate.audit.postgres import PostgresEventLog

        env = os.environ if environ is None else environ
        dsn = settings.dsn or env.get(settings.dsn_env or "", "")
        if not dsn:
            raise ProviderSetupError(f"audit.dsn_env: ${settings.dsn_env} is not set")
        return PostgresEventLog(dsn)
    from sluicegate.audit.sqlite import SqliteEventLog

    return SqliteEventLog(settings.path)


def build_state_store(settings: StateConfig, environ: Mapping[str, str] | None = None) -> StateStore:
    if settings.backend == "redis":
        from sluicegate.state.redis import RedisStateStore

        env = os.environ if environ is None else environ
        url = settings.url or env.get(settings.url_env or "", "")
        if not url:
            raise ProviderSetupError(f"state.url_env: ${settings.url_env} is not set")
        return RedisStateStore(url)
    if settings.backend == "memory":
        from sluicegate.state.memory import MemoryStateStore

        return MemoryStateStore()
    from sluicegate.state.sqlite import SqliteStateStore

    return SqliteStateStore(settings.path)


def egress_policy(config: Config, audit: AuditTrail) -> EgressPolicy:
    """The hosts this configuration may reach: its URLs, and egress.allow."""
    urls: list[str | None] = [getattr(spec, "base_url", None) for spec in config.providers.values()]
    urls.append(config.alerts.webhook_url)
    urls.append(config.assistant.facts_url)

    def refused(host: str, reason: str) -> None:
        log.warning("egress refused: %s (%s)", host, reason)
        audit.emit(current_trace().trace_id, EgressRefused(host=host, reason=reason))

    return EgressPolicy.from_urls(urls, config.egress.allow, on_refuse=refused)


def build_runtime(
    config: Config,
    providers: Mapping[str, Provider] | None = None,
    *,
    event_log: EventLog | None = None,
    telemetry: Telemetry | None = None,
    state: StateStore | None = None,
    stages: Stages | None = None,
) -> Runtime:
    """`stages`: what fills the pipeline's empty places (routing, tools, validation, synthesis)."""
    metrics = Metrics()
    retention = config.audit.retention_days * 86400 if config.audit.retention_days else None
    audit = AuditTrail(
        event_log if event_log is not None else build_event_log(config.audit),
        capacity=config.audit.queue_size,
        retention_s=retention,
        on_drop=metrics.events_dropped.inc,
        on_write=metrics.events_written.inc,
    )
    policy = egress_policy(config, audit)
    built = dict(providers) if providers is not None else build_providers(config, addresses=policy.addresses)
    telemetry = telemetry or Telemetry.configure(
        config.telemetry.otlp_endpoint, config.telemetry.service_name
    )
    recorder = Recorder(config, audit, metrics, telemetry)

    store = state if state is not None else build_state_store(config.state)
    ledger = BudgetLedger(store)
    cache = ResponseCache(store, config.cache.ttl_s) if config.cache.enabled else None
    costs = CostControls(config, ledger, cache, recorder)
    breakers = BreakerRegistry(config.circuit_breaker, store)

    def on_transition(transition: Transition) -> None:
        metrics.breaker_transition(transition)
        audit.emit(
            current_trace().trace_id,
            BreakerTransition(
                target=transition.target,
                from_state=transition.from_state.value,
                to_state=transition.to_state.value,
                reason=transition.reason,
            ),
        )

    breakers.listeners.append(on_transition)

    def on_worker_exit(report: WorkerExit) -> None:
        metrics.worker_exits.labels(report.provider, report.cause).inc()
        audit.emit(
            current_trace().trace_id,
            WorkerExited(signal=report.signal, **asdict(report)),
        )

    for worker in model_workers(built).values():
        worker.listeners.append(on_worker_exit)
    url = config.alerts.webhook_url
    alerter = Alerter(
        webhook(url, GuardedTransport(policy)) if url else None,
        on_alert=lambda event: audit.emit(
            current_trace().trace_id,
            AlertEvent(
                alert=event["alert"],
                role=event["role"],
                detail={k: v for k, v in event.items() if k not in ("alert", "role")},
            ),
        ),
    )
    stacks = RoleStacks(RoleTable(config, built), config, breakers=breakers, alerter=alerter)
    keys = KeyRing(store)
    gatekeeper = Gatekeeper(config.auth.required, keys)
    sessions = SessionStore(store, config.assistant.history_turns)
    packs = build_packs(config, sessions, policy)
    pipeline = Orchestrator(
        config,
        stacks,
        costs=costs,
        recorder=recorder,
        gatekeeper=gatekeeper,
        sessions=sessions,
        packs=packs,
        stages=stages if stages is not None else build_routing(config, stacks, packs, audit),
    )
    return Runtime(
        config=config,
        providers=built,
        stacks=stacks,
        pipeline=pipeline,
        embeddings=EmbeddingPipeline(stacks, costs=costs, recorder=recorder, gatekeeper=gatekeeper),
        audit=audit,
        metrics=metrics,
        telemetry=telemetry,
        state=store,
        keys=keys,
        gatekeeper=gatekeeper,
        ledger=ledger,
        sessions=sessions,
    )


def build_routing(
    config: Config, stacks: RoleStacks, packs: Mapping[str, DomainPack], audit: AuditTrail
) -> Stages:
    """`model: auto`'s stages (seed 001 §2.6): the router with the shop's entities and tools when
    the shop pack is built, the tool-only answers, and the validator (with the shop's price
    checks). Routing switched off: the places stay empty and `auto` is refused."""
    if not config.routing.enabled:
        return Stages()
    shop = packs.get("shop")
    tools = (
        ShopTools(shop.facts, trust_threshold=config.guardrails.trust.threshold)
        if isinstance(shop, ShopPack)
        else None
    )
    classifier = RouteClassifier(Weights.load(), tools.matcher if tools is not None else None)
    facts = None
    if shop is not None:
        checker = shop

        async def facts(answer: str) -> list[str]:
            return [correction.reason for correction in await checker.check(answer)]

    return Stages(
        router=RoutingStage(config.routing, classifier, stacks, tools),
        tool_answers=RegistryAnswers(tools) if tools is not None else None,
        tools=RegistryRunner(tools, audit.emit) if tools is not None else None,
        validator=AnswerValidator(stacks, facts=facts, budget_tokens=config.routing.budget_tokens),
    )


def build_packs(config: Config, sessions: SessionStore, policy: EgressPolicy) -> dict[str, DomainPack]:
    """The domain packs the configuration enables (a role's `pack`, `assistant.pack`), over their
    fact source: a catalog service if configured, else the bundled demo catalog (in SQLite under
    the state folder). None enabled: none built, and no domain logic runs."""
    wanted = {role.pack for role in config.models.values()} | {config.assistant.pack}
    if "shop" not in wanted:
        return {}
    facts: FactSource
    catalog: list[Listing] = []
    if config.assistant.facts_url:
        facts = HttpFactSource(config.assistant.facts_url, transport=GuardedTransport(policy))
    else:
        facts = SqliteCatalog(config.state_dir / "catalog.db")
        catalog = [Listing.model_validate(item) for item in bundled_listings()]
    shop = ShopPack(
        facts,
        catalog,
        trust=config.guardrails.trust,
        sessions=sessions,
        context_listings=config.assistant.context_listings,
        price_mismatch=config.assistant.price_mismatch,
    )
    return {shop.name: shop}
