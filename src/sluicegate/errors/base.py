"""The root of the tree, and the errors of configuration, state and internal checks."""

from __future__ import annotations


class SluicegateError(Exception):
    """Base of every error sluicegate raises on purpose."""


class ConfigError(SluicegateError):
    """A wrong configuration: the CLI prints it as one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


class ProviderSetupError(SluicegateError):
    """A provider cannot be built from its configuration (missing key file, bad script)."""


class ScriptError(SluicegateError, ValueError):
    """A scripted provider's script (or a mock upstream's) is invalid."""


class StateError(SluicegateError):
    """The store cannot be reached or is broken; callers decide whether to fail open or closed."""


class FactSourceError(SluicegateError):
    """The fact source failed or did not answer in time; callers degrade, never guess."""


class FenceViolation(SluicegateError):
    """Untrusted text tried to forge the fence, or the model's output gave the canary away."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutputNotJson(SluicegateError, ValueError):
    """No JSON value could be found in a model's structured answer (none, or cut off)."""


class BudgetExhausted(SluicegateError):
    """A workflow's budget token cannot pay for the next internal call."""

    def __init__(self, workflow: str, needed: int, remaining: int) -> None:
        super().__init__(f"workflow '{workflow}' needs {needed} tokens, {remaining} remain")
        self.workflow = workflow
        self.needed = needed
        self.remaining = remaining


class IllegalTransition(SluicegateError, RuntimeError):
    """The orchestrator was asked to move between two states its transition table does not link:
    a defect in a stage, never a user's error."""

    def __init__(self, from_state: str, to_state: str) -> None:
        super().__init__(f"illegal transition {from_state} -> {to_state}")
        self.from_state = from_state
        self.to_state = to_state


class NotAllowed(SluicegateError, ValueError):
    """A trust-signal checker outside the allowlist."""


class UnknownSchemaVersion(SluicegateError, ValueError):
    """An audit event written by a newer version of the schema than this code knows."""


class ServerUnavailable(SluicegateError, RuntimeError):
    """A server the tests need (Redis, PostgreSQL) is not installed here."""


class TransportError(SluicegateError, ConnectionError):
    """The providers' HTTP client could not read an answer; the adapters translate it (a
    ConnectionError, so that it is handled where a reset connection is)."""


class HttpProtocolError(TransportError):
    """The upstream's bytes are not an HTTP/1.1 answer we can read."""


class ConnectionClosed(TransportError):
    """The upstream closed the connection before its answer was whole."""
