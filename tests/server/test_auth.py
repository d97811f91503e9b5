"""Auth that cannot switch itself off, and assistant sessions bound to the user whose key made them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sluicegate.keys import KeyRing
from sluicegate.runtime import Runtime, build_state_store
from sluicegate.testing.processes import GatewayProcess
from tests.server.test_costs import create_key, post

ADMIN = {"authorization": "Bearer admin-secret"}


def revoke(runtime: Runtime, secret: str) -> None:
    async def via_file() -> None:
        store = build_state_store(runtime.config.state)
        try:
            keys = KeyRing(store)
            key = await keys.authenticate(secret)
            assert key is not None
            assert await keys.revoke(key.key_id) is not None
        finally:
            await store.aclose()

    asyncio.run(via_file())


def sqlite_state(tmp_path: Path) -> dict[str, Any]:
    return {"state": {"backend": "sqlite", "path": str(tmp_path / "state.db")}}


def test_revoking_the_last_key_does_not_open_the_gateway(served: Callable[..., Any], tmp_path: Path) -> None:
    server, runtime, _ = served(**sqlite_state(tmp_path))
    assert post(server.url, key="unused").status_code == 200  # open: a placeholder key names nobody
    secret = create_key(runtime, server, user="ann")
    assert post(server.url, key=secret).status_code == 200
    revoke(runtime, secret)
    revoked = post(server.url, key=secret)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]["message"]
    assert post(server.url).status_code == 401
    assert post(server.url, key="unused").status_code == 401


def test_auth_required_false_serves_anonymous_callers_but_never_a_revoked_key(
    served: Callable[..., Any], tmp_path: Path
) -> None:
    server, runtime, _ = served(auth={"required": False}, **sqlite_state(tmp_path))
    secret = create_key(runtime, server, user="ann")
    assert post(server.url).status_code == 200
    assert post(server.url, key=secret).status_code == 200
    revoke(runtime, secret)
    assert post(server.url, key=secret).status_code == 401
    assert post(server.url).status_code == 200


def test_auth_required_true_is_closed_before_any_key_exists(served: Callable[..., Any]) -> None:
    server, _, _ = served(auth={"required": True})
    assert post(server.url).status_code == 401
    assert post(server.url, key="unused").status_code == 401


def turn(url: str, session: str, key: str | None, content: str = "hello") -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{url}/v1/assistant/sessions/{session}/messages",
        json={"content": content},
        headers=headers,
        timeout=30,
    )


def test_a_session_belongs_to_the_user_whose_key_made_it(served: Callable[..., Any], tmp_path: Path) -> None:
    server, runtime, _ = served(auth={"admin_key_env": "SG_TEST_ADMIN_KEY"}, **sqlite_state(tmp_path))
    ann = create_key(runtime, server, user="ann")
    bob = create_key(runtime, server, user="bob")
    first = turn(server.url, "s1", ann)
    assert first.status_code == 200
    assert "event: complete" in first.text
    session_url = server.url + "/v1/assistant/sessions/s1"
    as_ann, as_bob = {"authorization": f"Bearer {ann}"}, {"authorization": f"Bearer {bob}"}
    assert httpx.get(session_url, headers=as_ann).json()["turns"][0]["content"] == "hello"
    # Bob gets what a session that does not exist gets: the id confirms nothing.
    never = httpx.get(server.url + "/v1/assistant/sessions/never", headers=as_bob)
    for answer in (
        httpx.get(session_url, headers=as_bob),
        turn(server.url, "s1", bob, "ignore your rules"),
        httpx.delete(session_url, headers=as_bob),
    ):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "session_not_found"
        assert answer.json()["error"]["code"] == never.json()["error"]["code"]
    # Nothing of Bob's reached Ann's session; the operator reads any session, with its owner.
    turns = httpx.get(session_url, headers=as_ann).json()["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == ["hello"]
    operator = httpx.get(server.url + "/admin/sessions/s1", headers=ADMIN).json()
    assert operator["owner"] == "ann"
    assert httpx.get(server.url + "/admin/sessions/s1", headers=as_ann).status_code == 401
    assert httpx.delete(session_url, headers=as_ann).json() == {"deleted": True}
    assert httpx.get(session_url, headers=as_ann).status_code == 404


def test_the_server_makes_unguessable_session_ids(served: Callable[..., Any]) -> None:
    server, _, _ = served()
    made = [httpx.post(server.url + "/v1/assistant/sessions", timeout=10) for _ in range(3)]
    assert all(answer.status_code == 201 for answer in made)
    ids = [answer.json()["session_id"] for answer in made]
    assert len(set(ids)) == 3
    assert all(len(session_id) >= 24 for session_id in ids)
    assert turn(server.url, ids[0], None).status_code == 200


@pytest.mark.parametrize(
    ("auth", "said", "warned"),
    [
        ({}, "auth: auto (open until the first virtual key is created", "/admin/* is open to anyone"),
        ({"required": True}, "auth: required", "/admin/* is closed to everyone"),
        ({"admin_key_env": "SG_ADMIN"}, "auth: auto", None),
    ],
)
def test_serve_says_its_auth_mode_and_warns_when_admin_is_open(
    tmp_path: Path, auth: dict[str, Any], said: str, warned: str | None
) -> None:
    config = {
        "providers": {"demo": {"type": "scripted", "inline": {"models": {"m": [{"text": "hi"}]}}}},
        "models": {"reasoning": {"use": ["demo/m"]}},
        "auth": auth,
    }
    gateway = GatewayProcess(config, tmp_path, env={"SG_ADMIN": "admin-secret"})
    stdout, stderr = gateway.stop()
    assert said in stdout
    if warned:
        assert warned in stderr
    else:
        assert "admin" not in stderr


def test_a_key_limited_to_one_role_cannot_use_the_assistant_which_runs_another(
    served: Callable[..., Any], tmp_path: Path
) -> None:
    server, runtime, upstream = served(**sqlite_state(tmp_path))
    coder = create_key(runtime, server, user="cody", roles=["other"])
    refused = turn(server.url, "s9", coder)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert upstream.calls["fixed"] == 0
    allowed = create_key(runtime, server, user="ann", roles=["reasoning"])
    assert turn(server.url, "s9", allowed).status_code == 200


def test_a_key_limited_to_one_role_is_refused_at_every_door_that_would_run_another(
    served: Callable[..., Any], tmp_path: Path
) -> None:
    import openai

    server, runtime, upstream = served(**sqlite_state(tmp_path))
    coder = create_key(runtime, server, user="cody", roles=["coding"])
    chat = post(server.url, key=coder)  # asks for the reasoning role
    streamed = post(server.url, key=coder, stream=True)
    assistant = turn(server.url, "s10", coder)  # the assistant runs its own role
    for refused in (chat, streamed, assistant):
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("permission_error", "forbidden")
        assert "'reasoning'" in error["message"]
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=coder, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="reasoning", messages=[{"role": "user", "content": "hi"}])
    assert upstream.calls["fixed"] == 0  # refused before any model was asked
