"""The one exception tree of sluicegate (defined in `base`, `provider` and `gateway`; import
every name from here).

    SluicegateError
    ├── ConfigError                    a configuration file or value is wrong (file, key path, reason)
    ├── ProviderSetupError             a provider cannot be built from its configuration
    ├── ScriptError                    a scripted provider's script is invalid
    ├── StateError                     the state store cannot be reached or is broken
    ├── FactSourceError                the fact source failed or did not answer in time
    ├── OutputNotJson                  a structured answer holds no (whole) JSON value
    ├── FenceViolation                 untrusted text forged the fence, or the output gave the canary away
    ├── BudgetExhausted                a workflow's budget token cannot pay for the next internal call
    ├── IllegalTransition              the orchestrator moved along a transition its table does not declare
    ├── NotAllowed                     a trust-signal checker outside the allowlist
    ├── UnknownSchemaVersion           an audit event newer than this code
    ├── ServerUnavailable              (testing) a server a test needs is not installed
    ├── TransportError                 the providers' HTTP client could not read an answer (translated)
    │   ├── HttpProtocolError          the upstream's bytes are not HTTP/1.1 we can read
    │   └── ConnectionClosed           the upstream closed the connection before its answer was whole
    ├── ProviderError                  raised by adapters; foreign errors are translated at the edge
    │   ├── ProviderTimeout            (retryable)
    │   ├── ProviderUnavailable        connection refused/reset, DNS failure (retryable)
    │   ├── ProviderServerError        5xx or an in-band error event (retryable)
    │   │   └── WorkerCrashed          the embedded model's worker process died (retryable)
    │   ├── ProviderRateLimited        429, carries retry_after (retryable)
    │   ├── TruncatedStream            the stream ended without a finish reason (retryable)
    │   ├── MalformedResponse          unparseable body or event (retryable)
    │   ├── ProviderAuthError          401/403 from the upstream (not retryable)
    │   ├── ProviderBadRequest         the upstream refused the request as invalid (not retryable)
    │   ├── EgressBlocked              the egress guard refused the connection (not retryable)
    │   ├── CannotContinue             failover asked for a continuation this target cannot write
    │   ├── ChainExhausted             every target of a failover chain failed
    │   └── CircuitOpen                the breaker refused without contacting the provider
    └── GatewayError                   what the API answers; each has an HTTP status and an OpenAI error type
        ├── InvalidRequest             400
        ├── Unauthorized               401, no or a bad virtual key
        ├── Forbidden                  403, a role the key may not use
        ├── PolicyRefused              403, the tier-0 gate's rule and reason
        ├── PayloadTooLarge            413
        ├── RequestTimeout             408, the request body did not arrive in time
        ├── ClientDisconnected         499 (nginx's), the client left before its request was read
        ├── UnsupportedMediaType       415, a body that is not application/json
        ├── SessionNotFound            404, no such session for this caller (another's looks the same)
        ├── ModelNotFound              404
        ├── SchemaNotFound             404, no output schema of that name
        ├── AnswerRejected             422, the VALIDATION stage refused the answer
        ├── UnsupportedByTarget        400, no target of the route has a capability the request needs
        ├── UpstreamRejected           400, the upstream refused the request itself
        ├── Overloaded                 429, the role's concurrency limit and queue are full
        ├── BudgetExceeded             429, the user's hourly token budget is spent (Retry-After)
        ├── RequestOverBudget          400, the request needs more than the whole hourly budget
        ├── AllProvidersFailed         503, lists each attempt (provider, model, error type)
        ├── StateUnavailable           503, the state store failed (a full disk, Redis gone)
        └── GatewayTimeout             504

Business logic catches only these, never an SDK's or an HTTP client's exceptions.
"""

from sluicegate.errors.base import (
    BudgetExhausted,
    ConfigError,
    ConnectionClosed,
    FactSourceError,
    FenceViolation,
    HttpProtocolError,
    IllegalTransition,
    NotAllowed,
    OutputNotJson,
    ProviderSetupError,
    ScriptError,
    ServerUnavailable,
    SluicegateError,
    StateError,
    TransportError,
    UnknownSchemaVersion,
)
from sluicegate.errors.gateway import (
    AllProvidersFailed,
    AnswerRejected,
    BudgetExceeded,
    ClientDisconnected,
    Forbidden,
    GatewayError,
    GatewayTimeout,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    PayloadTooLarge,
    PolicyRefused,
    RequestOverBudget,
    RequestTimeout,
    SchemaNotFound,
    SessionNotFound,
    StateUnavailable,
    Unauthorized,
    UnsupportedByTarget,
    UnsupportedMediaType,
    UpstreamRejected,
)
from sluicegate.errors.provider import (
    Attempt,
    CannotContinue,
    ChainExhausted,
    CircuitOpen,
    EgressBlocked,
    MalformedResponse,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    TruncatedStream,
    WorkerCrashed,
)

__all__ = [
    "AllProvidersFailed",
    "AnswerRejected",
    "Attempt",
    "BudgetExceeded",
    "BudgetExhausted",
    "CannotContinue",
    "ChainExhausted",
    "CircuitOpen",
    "ClientDisconnected",
    "ConfigError",
    "ConnectionClosed",
    "EgressBlocked",
    "FactSourceError",
    "FenceViolation",
    "Forbidden",
    "GatewayError",
    "GatewayTimeout",
    "HttpProtocolError",
    "IllegalTransition",
    "InvalidRequest",
    "MalformedResponse",
    "ModelNotFound",
    "NotAllowed",
    "OutputNotJson",
    "Overloaded",
    "PayloadTooLarge",
    "PolicyRefused",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderServerError",
    "ProviderSetupError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RequestOverBudget",
    "RequestTimeout",
    "SchemaNotFound",
    "ScriptError",
    "ServerUnavailable",
    "SessionNotFound",
    "SluicegateError",
    "StateError",
    "StateUnavailable",
    "TransportError",
    "TruncatedStream",
    "Unauthorized",
    "UnknownSchemaVersion",
    "UnsupportedByTarget",
    "UnsupportedMediaType",
    "UpstreamRejected",
    "WorkerCrashed",
]
