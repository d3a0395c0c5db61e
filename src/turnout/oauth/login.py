"""Signing a provider account in: the device flow and the authorization code flow with PKCE
and a loopback callback (RFC 8252 §7.3), then the sealed tokens stored as a new account.

The loopback listener binds 127.0.0.1 only, on the port asked for (0: any free one), serves
exactly one callback on ``/callback`` whose ``state`` matches, and is closed afterwards; a
callback with another ``state`` (a page trying to plant its own code) is refused and the
listener keeps waiting until its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from turnout.auth import tokens as ids
from turnout.crypto import SecretBox
from turnout.oauth.accounts import AccountRecord, AccountStore, seal_tokens
from turnout.oauth.client import DeviceCode, OAuthClient, OAuthError, Tokens, pkce_pair

_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Turnout</title><p>%s You can close this tab.</p>"
)
MAX_HEAD = 16 * 1024


async def device_login(client: OAuthClient, show: Callable[[DeviceCode], None]) -> Tokens:
    code = await client.device_code()
    show(code)
    return await client.poll_device(code)


async def browser_login(
    client: OAuthClient,
    show: Callable[[str], None],
    *,
    port: int = 0,
    timeout: float = 300.0,  # noqa: ASYNC109 - how long the user has to sign in
) -> Tokens:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        target = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else ""
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        ok = parts.path == "/callback" and query.get("state") == [state]
        if ok and "code" in query and not got.done():
            got.set_result(query["code"][0])
            status, text = b"200 OK", b"Signed in."
        elif ok and "error" in query and not got.done():
            got.set_exception(
                OAuthError(query["error"][0], query.get("error_description", [""])[0])
            )
            status, text = b"200 OK", b"Sign-in was refused."
        else:
            status, text = b"400 Bad Request", b"Not the sign-in this terminal is waiting for."
        body = _PAGE % text
        writer.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: text/html; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(on_callback, "127.0.0.1", port, limit=MAX_HEAD)
    try:
        bound = server.sockets[0].getsockname()[1]
        redirect_uri = f"http://127.0.0.1:{bound}/callback"
        show(client.authorization_url(redirect_uri, state, challenge))
        try:
            code = await asyncio.wait_for(got, timeout)
        except TimeoutError:
            raise OAuthError("timeout", "no sign-in arrived in time") from None
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
    return await client.exchange_code(code, redirect_uri, verifier)


async def store_account(
    store: AccountStore, box: SecretBox, provider: str, tokens: Tokens, name: str | None
) -> AccountRecord:
    """Seal the tokens and add the account; gateways pick it up on their next sync."""
    account_id = ids.new_id("acct")
    access, refresh, expires = seal_tokens(box, account_id, provider, tokens)
    record = AccountRecord(
        id=account_id,
        provider=provider,
        name=name,
        access_token=access,
        refresh_token=refresh,
        expires_at=expires,
    )
    await store.add(record)
    return record
