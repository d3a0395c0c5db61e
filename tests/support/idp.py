"""A small OAuth 2.0 / OpenID Connect authorization server for the tests, run as a process
(``python tests/support/idp.py --port N --ttl SECONDS``), plus an upstream that accepts only
its live access tokens.

Authorization server (what the gateway talks to):

- ``GET /.well-known/openid-configuration``, ``GET /jwks`` (RS256 keys; ``POST
  /_idp/rotate-key`` adds a new signing key and signs with it from then on);
- ``GET /authorize``: approves at once as the *current user* (``POST /_idp/user``) and
  redirects with a code; PKCE S256 is required and checked at the token endpoint;
- ``POST /token``: ``authorization_code``, ``refresh_token`` (rotated: a refresh token works
  once; using one again, or one revoked, is ``invalid_grant``) and the device grant;
- ``POST /device_authorization``; ``POST /_idp/approve`` approves a user code;
- ``GET /logout`` (end-session endpoint): redirects to ``post_logout_redirect_uri``.

Upstream (what the gateway routes to): ``POST /v1/chat/completions`` answers an OpenAI chat
completion when the bearer token is a live access token, else 401; ``GET /v1/models``.

Test controls: ``GET /_idp/stats`` (refreshes, concurrent refreshes seen, rejected calls,
calls per token), ``POST /_idp/revoke`` (every refresh token of a grant, by ``sub``),
``POST /_idp/ttl``, ``POST /_idp/verification`` (``{"uri": ...}``: the verification page the
device endpoint names from then on, ``verification_uri_complete`` left out; ``{}`` restores
the real one).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "turnout-test"
CLIENT_SECRET = "test-client-secret-0123456789"


class State:
    def __init__(self, issuer: str, ttl: float) -> None:
        self.issuer = issuer
        self.ttl = ttl
        self.keys: list[RSAKey] = []
        self.rotate_key()
        self.user: dict[str, Any] = {"sub": "alice", "email": "alice@example.com", "groups": []}
        self.codes: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}  # device_code -> grant
        self.access: dict[str, tuple[str, float]] = {}  # token -> (sub, expires)
        self.refresh: dict[str, str] = {}  # live refresh token -> sub
        self.used_refresh: set[str] = set()
        self.refreshes = 0
        self.refreshing: dict[str, int] = {}
        self.overlaps = 0
        self.reused = 0
        self.rejected = 0
        self.calls: dict[str, int] = {}
        self.verification: str | None = None  # a hostile provider's verification_uri

    def rotate_key(self) -> None:
        key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4), "use": "sig"})
        self.keys.append(key)

    def tokens(self, sub: str, nonce: str | None = None, client: str = CLIENT_ID) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(24)
        self.access[access] = (sub, time.time() + self.ttl)
        self.refresh[refresh] = sub
        out: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.ttl,
            "refresh_token": refresh,
        }
        if nonce is not None:
            now = int(time.time())
            claims = {
                **{k: v for k, v in self.user.items() if k != "sub"},
                "iss": self.issuer,
                "sub": sub,
                "aud": client,
                "iat": now,
                "exp": now + 300,
                "nonce": nonce,
            }
            key = self.keys[-1]
            out["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        return out


def _error(error: str, status: int = 400, description: str = "") -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _form(request: Request) -> dict[str, Any]:
    return dict(parse_qsl((await request.body()).decode()))


def _client_ok(request: Request, form: dict[str, Any]) -> bool:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        pair = base64.b64decode(auth[6:]).decode()
        return pair == f"{CLIENT_ID}:{CLIENT_SECRET}"
    return form.get("client_id") == CLIENT_ID


def build(state: State) -> Starlette:
    async def discovery(request: Request) -> Response:
        i = state.issuer
        return JSONResponse(
            {
                "issuer": i,
                "authorization_endpoint": f"{i}/authorize",
                "token_endpoint": f"{i}/token",
                "device_authorization_endpoint": f"{i}/device_authorization",
                "jwks_uri": f"{i}/jwks",
                "end_session_endpoint": f"{i}/logout",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(KeySet(list(state.keys)).as_dict(private=False))

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return _error("invalid_request")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return _error("invalid_request", description="PKCE S256 required")
        code = "code-" + secrets.token_urlsafe(16)
        state.codes[code] = {
            "sub": state.user["sub"],
            "challenge": q["code_challenge"],
            "redirect_uri": q.get("redirect_uri"),
            "nonce": q.get("nonce"),
            "scope": q.get("scope", ""),
        }
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(params)}", status_code=302)

    async def token(request: Request) -> Response:
        form = await _form(request)
        if not _client_ok(request, form):
            return _error("invalid_client", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = state.codes.pop(str(form.get("code")), None)
            if found is None or found["redirect_uri"] != form.get("redirect_uri"):
                return _error("invalid_grant", description="unknown code")
            verifier = str(form.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if challenge != found["challenge"]:
                return _error("invalid_grant", description="PKCE verifier does not match")
            nonce = found["nonce"] if "openid" in found["scope"].split() else None
            return JSONResponse(state.tokens(found["sub"], nonce))
        if grant == "refresh_token":
            old = str(form.get("refresh_token"))
            owner = state.refresh.get(old)
            if owner is not None:
                state.refreshing[owner] = state.refreshing.get(owner, 0) + 1
                if state.refreshing[owner] > 1:
                    state.overlaps += 1  # two refreshes of one grant at once
            try:
                await asyncio.sleep(0.2)  # a slow server: overlapping refreshes would show
                sub = state.refresh.pop(old, None)
                if sub is None:
                    if old in state.used_refresh:
                        state.reused += 1
                    return _error("invalid_grant", description="refresh token revoked or used")
                state.used_refresh.add(old)
                state.refreshes += 1
                return JSONResponse(state.tokens(sub))
            finally:
                if owner is not None:
                    state.refreshing[owner] -= 1
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            device = state.devices.get(str(form.get("device_code")))
            if device is None:
                return _error("invalid_grant")
            if not device["approved"]:
                return _error("authorization_pending")
            del state.devices[str(form.get("device_code"))]
            return JSONResponse(state.tokens(device["sub"]))
        return _error("unsupported_grant_type")

    async def device_authorization(request: Request) -> Response:
        form = await _form(request)
        if not _client_ok(request, form):
            return _error("invalid_client", 401)
        device_code = "dc-" + secrets.token_urlsafe(16)
        user_code = secrets.token_hex(3).upper()
        state.devices[device_code] = {"user_code": user_code, "approved": False, "sub": None}
        answer: dict[str, Any] = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{state.issuer}/device",
            "verification_uri_complete": f"{state.issuer}/device?user_code={user_code}",
            "interval": 0.2,
            "expires_in": 60,
        }
        if state.verification is not None:
            answer["verification_uri"] = state.verification
            del answer["verification_uri_complete"]
        return JSONResponse(answer)

    async def set_verification(request: Request) -> Response:
        state.verification = (await request.json()).get("uri")
        return JSONResponse({"verification_uri": state.verification})

    async def approve(request: Request) -> Response:
        body = await request.json()
        for device in state.devices.values():
            if device["user_code"] == body["user_code"]:
                device["approved"] = True
                device["sub"] = body.get("sub", state.user["sub"])
                return JSONResponse({"approved": True})
        return _error("not_found", 404)

    async def logout(request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri")
        return RedirectResponse(target, status_code=302) if target else Response("signed out")

    async def set_user(request: Request) -> Response:
        state.user = await request.json()
        return JSONResponse(state.user)

    async def revoke(request: Request) -> Response:
        sub = (await request.json())["sub"]
        gone = [t for t, s in state.refresh.items() if s == sub]
        for t in gone:
            del state.refresh[t]
        for t, (s, _) in list(state.access.items()):
            if s == sub:
                del state.access[t]
        return JSONResponse({"revoked": len(gone)})

    async def set_ttl(request: Request) -> Response:
        state.ttl = float((await request.json())["ttl"])
        return JSONResponse({"ttl": state.ttl})

    async def rotate(request: Request) -> Response:
        state.rotate_key()
        return JSONResponse({"kid": state.keys[-1].kid})

    async def stats(request: Request) -> Response:
        return JSONResponse(
            {
                "refreshes": state.refreshes,
                "overlaps": state.overlaps,
                "reused": state.reused,
                "rejected": state.rejected,
                "calls": sum(state.calls.values()),
                "tokens_used": len(state.calls),
                "live_refresh_tokens": len(state.refresh),
            }
        )

    async def chat(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        found = state.access.get(token)
        if found is None or found[1] <= time.time():
            state.rejected += 1
            return JSONResponse(
                {
                    "error": {
                        "message": "invalid or expired token",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        state.calls[token] = state.calls.get(token, 0) + 1
        body = await request.json()
        return JSONResponse(
            {
                "id": "chatcmpl-" + secrets.token_hex(6),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "up"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"hello {found[0]}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            }
        )

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "up", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/device_authorization", device_authorization, methods=["POST"]),
            Route("/logout", logout),
            Route("/_idp/approve", approve, methods=["POST"]),
            Route("/_idp/user", set_user, methods=["POST"]),
            Route("/_idp/revoke", revoke, methods=["POST"]),
            Route("/_idp/ttl", set_ttl, methods=["POST"]),
            Route("/_idp/verification", set_verification, methods=["POST"]),
            Route("/_idp/rotate-key", rotate, methods=["POST"]),
            Route("/_idp/stats", stats),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttl", type=float, default=3600)
    args = parser.parse_args()
    state = State(f"http://127.0.0.1:{args.port}", args.ttl)
    uvicorn.run(build(state), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
