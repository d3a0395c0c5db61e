"""Who may sign in to the dashboard and what a session may do."""

from __future__ import annotations

import pytest

from tests.unit.auth.test_service import MASTER, started
from turnout.auth import manage
from turnout.auth.manage import KeyBody
from turnout.auth.service import AdminDenied
from turnout.dashboard.access import FAILURES_ALLOWED, DashboardAccess
from turnout.dashboard.session import COOKIE, Sessions

pytestmark = pytest.mark.asyncio(loop_scope="function")


def cookie(token: str, csrf: bytes | None = None) -> dict[bytes, bytes]:
    headers = {b"cookie": f"{COOKIE}={token}".encode()}
    if csrf is not None:
        headers[b"x-csrf-token"] = csrf
    return headers


async def test_sign_in_roles_and_writes() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        access = DashboardAccess(Sessions(b"s" * 32), service)
        viewer, record = await manage.create_key(service.store, KeyBody(scopes=["viewer"]))
        plain, _ = await manage.create_key(service.store, KeyBody())
        await service.refresh()
        token, session = access.sign_in(MASTER, "10.0.0.1")
        assert session.role == "admin" and session.subject == "master"
        csrf = access.sessions.csrf(session).encode()
        assert access.admit(cookie(token), "GET") == "admin"
        assert access.admit(cookie(token, csrf), "POST") == "admin"
        with pytest.raises(AdminDenied) as denied:
            access.admit(cookie(token), "POST")
        assert denied.value.status == 403
        vtoken, vsession = access.sign_in(viewer, "10.0.0.1")
        assert vsession.role == "viewer" and vsession.subject == record.id
        vcsrf = access.sessions.csrf(vsession).encode()
        assert access.admit(cookie(vtoken), "GET") == "viewer"
        with pytest.raises(AdminDenied) as denied:
            access.admit(cookie(vtoken, vcsrf), "DELETE")
        assert denied.value.status == 403 and "Read-only" in denied.value.message
        for secret, status in ((plain, 403), ("sk-sy-nope", 401)):
            with pytest.raises(AdminDenied) as denied:
                access.sign_in(secret, "10.0.0.2")
            assert denied.value.status == status
        assert access.admit({}, "GET") is None
        assert access.admit(cookie("v1.bad.token"), "GET") is None
        await manage.revoke_key(service.store, record.id)
        await service.refresh()
        assert access.admit(cookie(vtoken), "GET") is None
    finally:
        await service.stop()


async def test_failed_sign_ins_are_slowed_per_client() -> None:
    service = await started({"TURNOUT_MASTER_KEY": MASTER})
    try:
        access = DashboardAccess(Sessions(b"s" * 32), service)
        for _ in range(FAILURES_ALLOWED):
            with pytest.raises(AdminDenied):
                access.sign_in("wrong", "10.0.0.9")
        with pytest.raises(AdminDenied) as denied:
            access.sign_in(MASTER, "10.0.0.9")  # even the right key, for a while
        assert denied.value.status == 429
        access.sign_in(MASTER, "10.0.0.10")  # another client is not affected
    finally:
        await service.stop()
