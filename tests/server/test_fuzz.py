"""schemathesis against the server's own OpenAPI schema: generated requests — valid and not —
never cause a 5xx, and every answer conforms to the documented schema."""

from __future__ import annotations

import asyncio
import os

import schemathesis
from hypothesis import HealthCheck, settings

from sluicegate.config.schema import Config
from sluicegate.keys import KeyRing
from sluicegate.runtime import build_runtime
from sluicegate.server import create_app
from sluicegate.state.memory import MemoryStateStore

CONFIG = {
    "providers": {"demo": {"type": "scripted", "inline": {"models": {"m": [{"echo": True}]}}}},
    "models": {"reasoning": {"use": ["demo/m"]}},
    "state": {"backend": "memory"},
    "audit": {"enabled": False},
    # schemathesis's ASGI client sends Host: testserver.
    "server": {"allowed_hosts": ["testserver"]},
}
app = create_app(build_runtime(Config.model_validate(CONFIG)), warm=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
# Derandomized: the same examples every run, so CI is repeatable; change the seed to explore.
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()


# The same, with auth on: a virtual key for the API and the admin key for /admin, so that the
# generated requests get past authentication and reach what lies behind it.
ADMIN_KEY = "sg-fuzz-admin-key"
os.environ["SG_FUZZ_ADMIN_KEY"] = ADMIN_KEY
_store = MemoryStateStore()
VIRTUAL_KEY, _ = asyncio.run(KeyRing(_store).create("fuzzer", tokens_per_hour=10_000_000))
_authed = create_app(
    build_runtime(
        Config.model_validate({**CONFIG, "auth": {"required": True, "admin_key_env": "SG_FUZZ_ADMIN_KEY"}}),
        state=_store,
    ),
    warm=False,
)
authed_schema = schemathesis.openapi.from_asgi("/openapi.json", _authed)


@authed_schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_with_auth_on(case: schemathesis.Case) -> None:
    key = ADMIN_KEY if case.path.startswith("/admin") else VIRTUAL_KEY
    case.call_and_validate(headers={"authorization": f"Bearer {key}"})
