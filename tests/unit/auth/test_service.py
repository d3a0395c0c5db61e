"""The auth service in one process: when the steps are in the pipeline, what each refusal looks
like in each protocol, the admin rules, and settlement from finished calls."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.support.wait import until_async
from turnout.auth import manage
from turnout.auth.credentials import MemoryCredentialStore
from turnout.auth.manage import KeyBody, TeamBody
from turnout.auth.service import AdminDenied, AuthService
from turnout.auth.store import MemoryKeyStore
from turnout.config.compile import compile_config
from turnout.config.schema import TurnoutConfig
from turnout.errors import (
    AuthenticationFailed,
    AuthUnavailable,
    BudgetExceeded,
    GatewayError,
    LimitExceeded,
    PermissionDenied,
    error_body,
)
from turnout.limits.settle import SettleSink
from turnout.types import Call, Reply, Usage

pytestmark = pytest.mark.asyncio(loop_scope="function")
MASTER = "master-key-for-tests-0001"


def runtime(**extra: Any) -> Any:
    cfg = TurnoutConfig.model_validate(
        {
            "providers": {"m": {"type": "mock"}},
            "models": {"*": {"deployments": [{"provider": "m"}]}},
            "pricing": {"models": {"priced": {"input": 1_000_000, "output": 1_000_000}}},
            **extra,
        }
    )
    return compile_config(cfg)


async def started(env: dict[str, str] | None = None, **extra: Any) -> AuthService:
    service = AuthService(runtime(**extra), environ=env or {})
    await service.start(None)
    return service


def call(model: str = "gpt-x", headers: dict[bytes, bytes] | None = None, **kw: Any) -> Call:
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    return Call(
        protocol=kw.pop("protocol", "openai"),
        operation="chat",
        model=model,
        body=body,
        data=orjson.loads(body),
        stream=False,
        headers=headers or {},
        request_id="r",
        started=time.perf_counter(),
        **kw,
    )


async def ok(c: Call) -> Reply:
    return Reply(200, [])


async def run(service: AuthService, c: Call) -> Reply:
    async def chain(c: Call, steps: list[Any]) -> Reply:
        if not steps:
            return await ok(c)
        reply: Reply = await steps[0](c, lambda c2: chain(c2, steps[1:]))
        return reply

    return await chain(c, service.steps())


def bearer(secret: str) -> dict[bytes, bytes]:
    return {b"authorization": f"Bearer {secret}".encode()}


async def test_off_without_keys_on_with_the_first_key_and_stays_on() -> None:
    service = await started()
    changes: list[list[Any]] = []
    service.on_change = lambda: changes.append(service.steps())
    try:
        assert service.steps() == [] and not service.active
        service.check_admin(None)  # an open gateway has an open admin API...
        with pytest.raises(AdminDenied) as denied:
            service.check_admin(None, manage=True)  # ...but keys need a master key
        assert denied.value.status == 403
        _secret, key = await manage.create_key(service.store, KeyBody())
        await service.refresh()
        assert changes == [[service.step]]  # the pipeline was rebuilt with auth only
        await manage.update_key(service.store, key.id, KeyBody(rpm=5))
        await service.refresh()
        assert changes[-1] == [service.step, service.limit_step]
        await manage.revoke_key(service.store, key.id)
        await service.refresh()
        assert service.active and changes[-1] == [service.step]
        with pytest.raises(AdminDenied) as denied:
            service.check_admin(None)  # keys exist, no master key: admin closed
        assert denied.value.status == 401
    finally:
        await service.stop()


async def test_master_key_turns_auth_on_and_guards_admin() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        assert service.steps() == [service.step]
        with pytest.raises(AdminDenied):
            service.check_admin(None)
        with pytest.raises(AdminDenied):
            service.check_admin(b"wrong-master-key-000000")
        service.check_admin(MASTER.encode(), manage=True)
        c = call(headers={b"x-api-key": MASTER.encode()})
        await run(service, c)
        assert c.key_id == "master"
    finally:
        await service.stop()
    with pytest.raises(ValueError, match="16"):
        AuthService(runtime(), environ={"TURNOUT_MASTER_KEY": "short"})


@pytest.mark.parametrize("env", [{}, {"TURNOUT_MASTER_KEY": MASTER}])
async def test_an_admin_scoped_key_opens_the_admin_api_and_a_plain_key_is_forbidden(
    env: dict[str, str],
) -> None:
    service = await started(env)
    try:
        admin, _ = await manage.create_key(service.store, KeyBody(scopes=["admin"]))
        plain, _ = await manage.create_key(service.store, KeyBody())
        expired, _ = await manage.create_key(
            service.store, KeyBody(scopes=["admin"], expires_in="0s")
        )
        await service.refresh()
        service.check_admin(admin.encode(), manage=True)  # reads and writes alike
        service.check_admin(admin.encode())
        for secret, status in ((plain, 403), (expired, 401), ("sk-sy-unknown", 401), (None, 401)):
            with pytest.raises(AdminDenied) as denied:
                service.check_admin(secret.encode() if secret else None, manage=True)
            assert denied.value.status == status, secret
        record = next(k for k in await service.store.list_keys() if "admin" in k.scopes)
        assert record.public()["scopes"] == ["admin"]
        await manage.revoke_key(service.store, record.id)
        await service.refresh()
        with pytest.raises(AdminDenied) as denied:
            service.check_admin(admin.encode())
        assert denied.value.status == 401
    finally:
        await service.stop()


async def test_a_viewer_key_reads_and_loses_its_role_with_its_scope() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        await manage.create_team(service.store, manage.TeamBody(name="ops"))
        viewer, record = await manage.create_key(
            service.store, KeyBody(scopes=["viewer"], team="ops")
        )
        both, _ = await manage.create_key(service.store, KeyBody(scopes=["viewer", "admin"]))
        await service.refresh()
        assert service.check_admin(viewer.encode()) == "viewer"
        assert service.check_admin(both.encode()) == "admin"
        assert service.check_admin(MASTER.encode()) == "admin"
        assert service.subject_role(record.id) == "viewer"
        assert service.subject_role("master") == "admin"
        await manage.update_key(service.store, record.id, KeyBody(scopes=[]))
        await service.refresh()
        assert service.subject_role(record.id) is None
        with pytest.raises(AdminDenied) as denied:
            service.check_admin(viewer.encode())
        assert denied.value.status == 403
    finally:
        await service.stop()


async def test_rejections() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        await manage.create_team(service.store, TeamBody(name="t", models=["gpt-*"]))
        secret, key = await manage.create_key(
            service.store, KeyBody(team="t", models=["gpt-x", "claude-*"])
        )
        expired, _ = await manage.create_key(service.store, KeyBody(expires_in="0s"))
        await service.refresh()
        for headers, error, text in [
            ({}, AuthenticationFailed, "Missing"),
            (bearer("sk-sy-wrong"), AuthenticationFailed, "Invalid"),
            (bearer(expired), AuthenticationFailed, "expired"),
        ]:
            with pytest.raises(error, match=text) as caught:
                await run(service, call(headers=headers))
            assert "sk-sy-wrong" not in caught.value.message
        with pytest.raises(PermissionDenied):
            await run(service, call("claude-3", bearer(secret)))  # the team does not allow it
        c = call("gpt-x", bearer(secret))
        await run(service, c)
        assert (c.key_id, c.team) == (key.id, "t")
        await manage.revoke_key(service.store, key.id)
        await service.refresh()
        with pytest.raises(AuthenticationFailed):
            await run(service, call("gpt-x", bearer(secret)))
    finally:
        await service.stop()


async def test_store_down_at_start_fails_closed_until_it_answers() -> None:
    class Flaky(MemoryKeyStore):
        down = True

        async def changes(self, since: int) -> Any:
            if self.down:
                raise OSError("database down")
            return await super().changes(since)

    store = Flaky()
    service = AuthService(runtime(auth={"refresh_interval": 0.05}), environ={})
    await service.start(None, stores=(store, MemoryCredentialStore()))
    rebuilt: list[list[Any]] = []
    service.on_change = lambda: rebuilt.append(service.steps())
    try:
        assert service.active and service.steps() == [service.step]
        with pytest.raises(AuthUnavailable):
            await run(service, call(headers=bearer("sk-sy-anything")))
        store.down = False  # the database answers: no keys in it, so the gateway opens
        await until_async(lambda: not service.active)
        assert rebuilt == [[]]  # the pipeline lost its auth step
    finally:
        await service.stop()


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
async def test_refusals_in_each_protocol(protocol: str) -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        secret, _ = await manage.create_key(service.store, KeyBody(rpm=1, tpm=1_000_000))
        await service.refresh()
        first = await run(service, call(headers=bearer(secret), protocol=protocol))
        names = dict(first.headers)
        assert names[b"x-ratelimit-limit-requests"] == b"1"
        assert names[b"x-ratelimit-remaining-requests"] == b"0"
        assert names[b"x-ratelimit-limit-tokens"] == b"1000000"
        with pytest.raises(LimitExceeded) as caught:
            await run(service, call(headers=bearer(secret), protocol=protocol))
        err = caught.value
        headers = dict(err.headers())
        assert err.status == 429 and int(headers[b"retry-after"]) >= 59
        assert headers[b"x-ratelimit-remaining-requests"] == b"0"
        body = orjson.loads(error_body(err, protocol))
        if protocol == "anthropic":
            assert body["error"]["type"] == "rate_limit_error"
        elif protocol == "gemini":
            assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
        else:
            assert body["error"]["code"] == "rate_limit_exceeded"
    finally:
        await service.stop()


async def test_budget_refusal_and_settlement_from_finished_calls() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        secret, key = await manage.create_key(service.store, KeyBody(budget=0.5))
        await service.refresh()
        c = call("priced", bearer(secret))
        await run(service, c)
        ticket = c.ticket
        assert ticket is not None and ticket.cost > 0  # estimated from the price of "priced"

        class Done:
            def __init__(self, c: Call, cost: float) -> None:
                self.call, self.usage, self.cost = c, Usage(1, 0), cost
                self.prompt_only = False

        c.status = 200
        SettleSink(service.limiter).observe([Done(c, 0.75)])  # type: ignore[list-item]
        spend = await service.budgets.spend(f"k:{key.id}", "month")
        assert spend["spent"] == pytest.approx(0.75) and spend["reserved"] == 0
        with pytest.raises(BudgetExceeded) as caught:
            await run(service, call("priced", bearer(secret)))
        err: GatewayError = caught.value
        assert err.status == 429 and dict(err.headers())[b"x-should-retry"] == b"false"
        assert orjson.loads(error_body(err, "openai"))["error"]["code"] == "insufficient_quota"
    finally:
        await service.stop()
