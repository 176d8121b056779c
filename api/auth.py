"""Bearer tokens: secrets are generated here and only their SHA-256 is ever stored.

Authenticated principals are cached for a few seconds per process (tokens never change, they
are only revoked): a revocation takes effect at once in the process that revoked the token and
within `CACHE_SECONDS` in any other process (ADR 0004).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from domain.access import Principal, Role
from domain.errors import Forbidden

TOKEN_PREFIX = "kl_"
CACHE_SECONDS = 5.0
_bearer = HTTPBearer(auto_error=False, description="A token from `kemitraan token create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class PrincipalCache:
    """secret hash -> (principal, expiry); bounded, and emptied of a token when it is revoked."""

    def __init__(self, seconds: float = CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.seconds, self.max_entries = seconds, max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self.revocations = 0  # counts `forget`: what a reader compares before it `put`s


    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: str, who: Principal, revocations: int) -> None:
        """Keep what was read while `revocations` was the count: not if a token was revoked
        meanwhile (the read may predate it, and would outlive the revocation here)."""
        with self._lock:
            if revocations != self.revocations:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (who, time.monotonic() + self.seconds)

    def read_through(self, key: str, read: Callable[[str], Principal | None]
                     ) -> Principal | None:
        """`read(key)` from the store, kept unless a token was revoked while it read; the
        caller asked `get` first. Sync: the API calls it in the threadpool."""
        revocations = self.revocations
        who = read(key)
        if who is not None:
            self.put(key, who, revocations)
        return who

    def forget(self, token_id: str) -> None:
        with self._lock:
            self.revocations += 1
            self._entries = {k: v for k, v in self._entries.items() if v[0].id != token_id}


async def principal(request: Request,
                    creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or not creds.credentials:
        raise Problem(401, "missing bearer token", headers=_CHALLENGE)
    key = secret_hash(creds.credentials)
    cache: PrincipalCache = request.app.state.principals
    # The store is synchronous: read it in the threadpool, never on the event loop.
    who = cache.get(key) or await run_in_threadpool(
        cache.read_through, key, request.app.state.container.ledger.authenticate)
    if who is None:
        raise Problem(401, "unknown or revoked token", headers=_CHALLENGE)
    request.state.principal = who
    if who.role is Role.AUDITOR and request.method not in _READS:
        # Decided here, before the body or the path is validated: an auditor posting anything
        # is 403 (contract), never a 422 or 404 that depends on what was posted.
        raise Forbidden("the auditor role may not write anything")
    return who
