"""Signing in to the web pages with a token, and CSRF protection of their forms (ADR 0017).

The token a person pastes on the sign-in page is kept in an httpOnly, SameSite=Strict cookie:
scripts on the page cannot read it and other sites cannot send it. The cookie authenticates
exactly as the `Authorization: Bearer` header does (same lookup, same cache, a revoked token
is refused within seconds). Every POST form carries a CSRF token derived from the session
token with an HMAC, so it needs no server-side state and changes with every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from api.auth import PrincipalCache, secret_hash
from domain.access import Principal

COOKIE = "kemitraan_sesi"
MAX_AGE = 8 * 3600  # a working day


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"kemitraan-web-csrf", hashlib.sha256).hexdigest()


def _message_mark(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), b"kemitraan-web-pesan\x00" + message.encode(),
                    hashlib.sha256).hexdigest()[:32]


def message_url(request: Request, path: str, message: str, **params: Any) -> str:
    """`path` with `message` to show once there, marked with the session's secret: a link
    made elsewhere (`/kemitraan?pesan=Sesi berakhir, masuk di https://...`) shows nothing."""
    secret = request.cookies.get(COOKIE) or ""
    query = {**{k: v for k, v in params.items() if v is not None}, "pesan": message,
             "tanda": _message_mark(secret, message)}
    return f"{path}?{urlencode(query)}"


def shown_message(request: Request) -> str | None:
    message, mark = request.query_params.get("pesan"), request.query_params.get("tanda")
    secret = request.cookies.get(COOKIE)
    if not (message and mark and secret):
        return None
    ok = hmac.compare_digest(_message_mark(secret, message).encode(),
                             mark.encode("utf-8", "replace"))
    return message if ok else None


def check_csrf(request: Request, sent: str | None) -> bool:
    secret = request.cookies.get(COOKIE)
    # bytes: compare_digest refuses str with non-ASCII characters (a forged field)
    return bool(secret and sent and hmac.compare_digest(csrf_token(secret).encode(),
                                                         sent.encode("utf-8", "replace")))


def authenticate(request: Request, secret: str | None) -> Principal | None:
    if not secret:
        return None
    key = secret_hash(secret)
    cache: PrincipalCache = request.app.state.principals
    return cache.get(key) or cache.read_through(
        key, request.app.state.container.ledger.authenticate)


def web_principal(request: Request) -> Principal | None:
    """The signed-in caller of a page (routes are sync: they run in the threadpool)."""
    who = authenticate(request, request.cookies.get(COOKIE))
    if who is not None:
        request.state.principal = who
    return who


def set_session(response: object, request: Request, secret: str) -> None:
    response.set_cookie(  # type: ignore[attr-defined]
        COOKIE, secret, max_age=MAX_AGE, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https")


def clear_session(response: object) -> None:
    response.delete_cookie(COOKIE, path="/")  # type: ignore[attr-defined]
