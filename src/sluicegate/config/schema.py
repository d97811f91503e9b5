"""The shape of `sluicegate.yaml` (ARCHITECTURE §5), validated with pydantic.

Unknown keys are errors: a misspelt key must fail at start, not silently do nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sluicegate.config.base import CircuitBreakerConfig, Strict
from sluicegate.config.competitors import DEFAULT_COMPETITORS, Competitor
from sluicegate.config.providers import LlamaCppProviderConfig, ProviderConfig
from sluicegate.config.routing import AssistantConfig, PackName, RoutingConfig

STANDARD_ROLES = ("router", "reasoning", "coding", "coding_large_context", "summarization", "validation")
ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_\-]*$"


class RetryConfig(Strict):
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    base_delay_s: Annotated[float, Field(ge=0)] = 0.2
    max_delay_s: Annotated[float, Field(ge=0)] = 5.0


class RoleLimits(Strict):
    context_length: Annotated[int, Field(ge=1)] | None = None
    max_concurrency: Annotated[int, Field(ge=1)] = 8
    default_timeout: Annotated[float, Field(gt=0)] = 60.0
    attempt_timeout: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="Per-provider attempt: first chunk and every gap after it (default: the timeout "
        "shared across the chain's targets).",
    )
    max_queue: Annotated[int, Field(ge=0)] = 64
    queue_timeout: Annotated[float, Field(gt=0)] = 10.0
    max_tokens: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Cap on completion tokens for this role (also the budget's worst case)."
    )


class RoleConfig(RoleLimits):
    use: Annotated[list[str], Field(min_length=1)]
    validate_answers: bool = Field(
        default=True, description="Routed answers of this role go through VALIDATION (routing.validation)."
    )
    pack: PackName | None = Field(
        default=None,
        description="A domain pack whose post-stream checks run on this role's answers (the embedded "
        "default enables 'shop'); none: no domain logic on its answers.",
    )

    @field_validator("use")
    @classmethod
    def _provider_slash_model(cls, value: list[str]) -> list[str]:
        for target in value:
            provider, sep, model = target.partition("/")
            if not sep or not provider or not model:
                raise ValueError(f"'{target}' is not of the form provider/model")
        return value


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    workers: Annotated[int, Field(ge=1)] = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    header_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=10.0, description="A connection whose request headers are not complete by then is closed."
    )
    body_timeout_s: Annotated[float, Field(gt=0)] = Field(
        default=30.0, description="A request body not received whole by then is answered 408."
    )
    keep_alive_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    max_connections: Annotated[int, Field(ge=1)] = Field(
        default=1000, description="Connections and requests in flight; beyond, 503 at once."
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port], or *) whose web pages may call the API; "
        "a request from any other Origin is refused with 403 before any work.",
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host header values served (names or addresses, port ignored; * for any). "
        "Default: loopback names when listening on a loopback address (DNS rebinding), else any.",
    )


class CacheConfig(Strict):
    enabled: bool = True
    ttl_s: Annotated[float, Field(gt=0)] = 3600.0


class BudgetsConfig(Strict):
    tokens_per_hour_per_user: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="The default budget; a virtual key's own tokens_per_hour wins."
    )
    default_completion_tokens: Annotated[int, Field(ge=1)] = 4096
    reservation_ttl_s: Annotated[float, Field(gt=0)] = 900.0


class AuthConfig(Strict):
    required: bool | Literal["auto"] = Field(
        default="auto",
        description="true: every API call needs a virtual key; false: keys are optional (a bad or "
        "revoked one is still refused); auto: open until the first key is created, closed from then "
        "on, also after every key is revoked.",
    )
    admin_key_env: str | None = Field(default=None, description="The variable holding the admin key.")


class StateConfig(Strict):
    backend: Literal["sqlite", "redis", "memory"] = "sqlite"
    path: Path = Path(".sluicegate/state.db")
    url: str | None = None
    url_env: str | None = Field(
        default=None, description="Read the Redis URL (it may hold a password) from here."
    )

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StateConfig:
        if self.backend == "redis" and not (self.url or self.url_env):
            raise ValueError("state: the redis backend needs url or url_env")
        return self


class AuditConfig(Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: Path = Path(".sluicegate/audit.db")
    dsn: str | None = None
    dsn_env: str | None = Field(
        default=None, description="Read the DSN (it holds a password) from this variable."
    )
    store_content: bool = False
    retention_days: Annotated[float, Field(gt=0)] | None = 30
    queue_size: Annotated[int, Field(ge=1)] = 10_000
    enabled: bool = True

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> AuditConfig:
        if self.backend == "postgres" and not (self.dsn or self.dsn_env):
            raise ValueError("audit: the postgres backend needs dsn or dsn_env")
        return self


class TelemetryConfig(Strict):
    """OpenTelemetry spans (needs the [otel] extra): exported over OTLP/HTTP when an endpoint is set."""

    otlp_endpoint: str | None = None
    service_name: str = "sluicegate"


class TrustConfig(Strict):
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.7
    missing_default: Annotated[float, Field(ge=0, le=1)] = 0.5


class InlineGuardrailsConfig(Strict):
    pii: Literal["redact", "block", "flag", "off"] = "redact"
    competitors: Literal["redact", "block", "flag", "off"] = "redact"
    profanity: Literal["redact", "block", "flag", "off"] = "redact"


class Tier0Rule(Strict):
    name: str
    pattern: str = Field(description="A regular expression, searched in the user's messages.")
    reason: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Tier0Config(Strict):
    """Declarative refusals before any token is spent (seed 003 ADR-0012)."""

    max_input_chars: Annotated[int, Field(ge=1)] | None = None
    blocked_users: list[str] = Field(default_factory=list)
    deny: list[Tier0Rule] = Field(default_factory=list, description="Refuse when any of these matches.")
    require_any: list[Tier0Rule] = Field(
        default_factory=list,
        description="Scope: refuse unless one of these matches (the first one's reason).",
    )


class GuardrailsConfig(Strict):
    inline: InlineGuardrailsConfig = InlineGuardrailsConfig()
    tier0: Tier0Config = Tier0Config()
    competitors: list[str | Competitor] = Field(
        default_factory=lambda: list(DEFAULT_COMPETITORS),
        description="Stores not to name, link or compare with (config/competitors.py).",
    )
    trust: TrustConfig = TrustConfig()


class MemoryConfig(Strict):
    summarize_at_turn: Annotated[int, Field(ge=2)] = 20
    sync_fallback_turn: Annotated[int, Field(ge=2)] = 25


class RagConfig(Strict):
    high_floor: Annotated[float, Field(ge=0, le=1)] = 0.80
    degraded_floor: Annotated[float, Field(ge=0, le=1)] = 0.60


class AlertsConfig(Strict):
    webhook_url: str | None = None


class EgressConfig(Strict):
    allow: list[str] = Field(
        default_factory=list,
        description="Hosts or addresses admitted although internal (a name that resolves to 10.0.0.5).",
    )


class TrustSignalsConfig(Strict):
    allowed_binaries: list[Path] = Field(
        default_factory=list, description="Absolute paths of the checkers trust signals may run."
    )
    timeout_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("allowed_binaries")
    @classmethod
    def _absolute(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not path.is_absolute():
                raise ValueError(f"'{path}' is not an absolute path")
        return value


# Sections of ARCHITECTURE §5 whose capability has not landed: refused at start until it does.
NOT_YET_AVAILABLE = {
    "memory": "conversation memory",
    "rag": "solved-example retrieval",
    "trust_signals": "running trust-signal checkers on answers",
}


class Config(Strict):
    """The whole configuration (ARCHITECTURE §5)."""

    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[Annotated[str, Field(pattern=ROLE_NAME_PATTERN)], RoleConfig] = Field(default_factory=dict)
    defaults: RoleLimits = Field(
        default_factory=RoleLimits,
        description="Concurrency and timeout for a request that names provider/model directly.",
    )
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    retry: RetryConfig = RetryConfig()
    cache: CacheConfig = CacheConfig()
    budgets: BudgetsConfig = BudgetsConfig()
    auth: AuthConfig = AuthConfig()
    state: StateConfig = StateConfig()
    audit: AuditConfig = AuditConfig()
    guardrails: GuardrailsConfig = GuardrailsConfig()
    memory: MemoryConfig = MemoryConfig()
    rag: RagConfig = RagConfig()
    alerts: AlertsConfig = AlertsConfig()
    assistant: AssistantConfig = AssistantConfig()
    routing: RoutingConfig = RoutingConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    egress: EgressConfig = EgressConfig()
    trust_signals: TrustSignalsConfig = TrustSignalsConfig()
    allow_inline_secrets: bool = False
    state_dir: Path = Path(".sluicegate")

    @property
    def conversation_role(self) -> str:
        """The role of conversation turns: assistant.role, else 'assistant' if one is configured, else
        'reasoning'."""
        if self.assistant.role:
            return self.assistant.role
        return "assistant" if "assistant" in self.models else "reasoning"

    @model_validator(mode="after")
    def _nothing_declared_that_nothing_does(self) -> Config:
        # A section that nothing reads yet would look configured and do nothing: refuse it.
        for section, owner in NOT_YET_AVAILABLE.items():
            if section in self.model_fields_set:
                raise ValueError(
                    f"{section}: not available yet in this version ({owner} is not built); nothing would "
                    "act on this section, so remove it"
                )
        return self

    @model_validator(mode="after")
    def _roles_name_known_providers(self) -> Config:
        for role, spec in self.models.items():
            for target in spec.use:
                provider = target.partition("/")[0]
                if provider not in self.providers:
                    known = ", ".join(sorted(self.providers)) or "none"
                    raise ValueError(
                        f"models.{role}.use: provider '{provider}' is not configured (known: {known})"
                    )
        for name, provider_config in self.providers.items():
            base_url = getattr(provider_config, "base_url", None)
            if base_url and _metadata_literal(base_url) and _host(base_url) not in self.egress.allow:
                raise ValueError(
                    f"providers.{name}.base_url: {_host(base_url)} is a cloud metadata address; "
                    "list it in egress.allow if you really mean it"
                )
            if getattr(provider_config, "api_key", None) and not self.allow_inline_secrets:
                raise ValueError(
                    f"providers.{name}.api_key: inline secrets are refused; use api_key_env or api_key_file "
                    "(or set allow_inline_secrets: true)"
                )
        return self


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


def _metadata_literal(url: str) -> bool:
    from sluicegate.security.addresses import is_metadata, parse_literal

    address = parse_literal(_host(url))
    return address is not None and is_metadata(address)


def embedded_default() -> Config:
    """No config file: the local model for every role, state under ./.sluicegate/."""
    target = "local/smollm2-135m"
    return Config(
        providers={"local": LlamaCppProviderConfig(type="llamacpp", models=["smollm2-135m"])},
        models={
            role: RoleConfig(
                use=[target], context_length=2048, max_concurrency=1, default_timeout=120, pack="shop"
            )
            for role in STANDARD_ROLES
        },
    )
