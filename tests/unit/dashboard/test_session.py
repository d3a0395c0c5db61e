"""Dashboard session tokens: signed, expiring, bound to their secret, refused once signed out;
CSRF tokens bound to their session; cookies with the right flags."""

from __future__ import annotations

import hashlib

from turnout.dashboard.session import COOKIE, Sessions, over_tls, same_origin


def test_a_token_verifies_until_it_expires() -> None:
    sessions = Sessions(b"k" * 32, lifetime=60)
    token, session = sessions.issue("master", "admin", now=1000)
    assert sessions.verify(token, now=1059) == session
    assert sessions.verify(token, now=1060) is None


def test_forged_or_foreign_tokens_are_refused() -> None:
    sessions = Sessions(b"k" * 32)
    token, _ = sessions.issue("key_1", "viewer")
    version, body, mac = token.split(".")
    # The payload changed (say, viewer -> admin) with the old signature.
    import base64

    raw = base64.urlsafe_b64decode(body + "==").replace(b"viewer", b"admin")
    forged = f"{version}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}.{mac}"
    assert sessions.verify(forged) is None
    assert Sessions(b"j" * 32).verify(token) is None  # another gateway's secret
    for junk in ("", "v1", "v1.a.b", "v2." + body + "." + mac, "v1.!!.??", "a.b.c.d"):
        assert sessions.verify(junk) is None


def test_signing_out_refuses_the_session_and_stays_bounded() -> None:
    sessions = Sessions(b"k" * 32)
    token, session = sessions.issue("master", "admin")
    sessions.sign_out(session)
    assert sessions.verify(token) is None
    for _ in range(10_050):
        sessions.sign_out(sessions.issue("master", "admin")[1])
    assert len(sessions._signed_out) <= 10_000


def test_csrf_tokens_belong_to_their_session() -> None:
    sessions = Sessions(b"k" * 32)
    _, one = sessions.issue("master", "admin")
    _, two = sessions.issue("master", "admin")
    assert sessions.csrf_ok(one, sessions.csrf(one).encode())
    assert not sessions.csrf_ok(one, sessions.csrf(two).encode())
    assert not sessions.csrf_ok(one, None) and not sessions.csrf_ok(one, b"")


def test_the_signing_secret_is_shared_when_it_can_be() -> None:
    digest = hashlib.sha256(b"master-key-0123456789").digest()
    a, b = Sessions.for_gateway(digest), Sessions.for_gateway(digest)
    token, _ = a.issue("master", "admin")
    assert b.verify(token) is not None and a.shared
    env = {"TURNOUT_SECRET_KEY": "x" * 40}
    c, d = Sessions.for_gateway(None, env), Sessions.for_gateway(None, env)
    assert d.verify(c.issue("key_1", "admin")[0]) is not None
    e, f = Sessions.for_gateway(None, {}), Sessions.for_gateway(None, {})
    assert not e.shared and f.verify(e.issue("key_1", "admin")[0]) is None


def test_cookies_and_tls() -> None:
    sessions = Sessions(b"k" * 32)
    cookie = sessions.set_cookie("tok", secure=False)
    assert cookie.startswith(f"{COOKIE}=tok;") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/admin" in cookie and "Secure" not in cookie
    assert sessions.set_cookie("tok", secure=True).endswith("; Secure")
    header = f"a=1; {COOKIE}=tok; b=2".encode()
    assert Sessions.from_cookie_header(header) == "tok"
    assert Sessions.from_cookie_header(b"a=1") is None
    assert over_tls("https", {}) and over_tls("http", {b"x-forwarded-proto": b"https"})
    assert not over_tls("http", {b"x-forwarded-proto": b"http"})


def test_cross_origin_requests_are_told_apart() -> None:
    host = {b"host": b"gw.example:4141"}
    assert same_origin(host)  # no Origin: not a cross-site page
    assert same_origin({**host, b"origin": b"http://gw.example:4141"})
    assert same_origin({**host, b"origin": b"https://GW.example:4141"})
    assert not same_origin({**host, b"origin": b"https://evil.example"})
    assert not same_origin({**host, b"origin": b"null"})
    proxied = {b"host": b"127.0.0.1:4141", b"x-forwarded-host": b"gw.example"}
    assert same_origin({**proxied, b"origin": b"https://gw.example"})
