"""Signed checkpoints of the audit log (ADR 0014): Ed25519 keys, rotation, signing cadence.

Keys and checkpoints are not view state: a rebuild replays the same leaves, so old checkpoints
stay valid, and they must survive it. Their tables live in their own `MetaData`.
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections import audit_log
from projections.audit_format import b64, checkpoint_body, key_id, signed_note

log = structlog.get_logger("audit")

audit_metadata = sa.MetaData()

keys = sa.Table(
    "audit_keys", audit_metadata,
    sa.Column("key_id", sa.String(8), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("public_key", sa.String(44), nullable=False),  # base64 of the raw 32 bytes
    sa.Column("valid_from", sa.String(40), nullable=False),  # RFC 3339, UTC
    sa.Column("valid_to", sa.String(40)),
)

checkpoints = sa.Table(
    "audit_checkpoints", audit_metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.String(40), nullable=False),
    sa.Column("key_id", sa.String(8), nullable=False),
    sa.Column("signature", sa.String(88), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)


class KeyRetired(Exception):
    """This process holds a key that a newer one replaced: it must not sign any more."""


def _utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat()


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path` (PKCS#8 PEM); created with mode 0600 if missing."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


@dataclass(frozen=True)
class Cadence:
    every_events: int = 1000
    every_seconds: float = 30.0


class Checkpointer:
    """Signs checkpoints of the audit view's tree and keeps the public keys' validity."""

    def __init__(self, engine: sa.Engine, key_path: Path, origin: str,
                 cadence: Cadence | None = None) -> None:
        self.engine = engine
        self.key_path = key_path
        self.origin = origin
        self.cadence = cadence or Cadence()
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the key ------------------------------------------------------------------------------

    @property
    def public_key(self) -> bytes:
        return _raw_public(self._signing_key())

    @property
    def key_id(self) -> str:
        return key_id(self.origin, self.public_key)

    def _signing_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_key(self.key_path)
        return self._key

    def setup(self, now: datetime | None = None) -> None:
        """Create the tables, and make this process's key the current one: a key not seen
        before retires the current key (rotation); a key retired earlier may not sign again."""
        audit_metadata.create_all(self.engine)
        now = now or datetime.now(timezone.utc)
        kid, public = self.key_id, b64(self.public_key)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(keys).where(keys.c.key_id == kid)).first()
            if row is not None:
                if row.valid_to is not None:
                    raise KeyRetired(f"signing key {kid} was retired at {row.valid_to}")
                return
            conn.execute(keys.update().where(keys.c.valid_to.is_(None))
                         .values(valid_to=_utc(now)))
            try:
                conn.execute(keys.insert().values(key_id=kid, name=self.origin,
                                                  public_key=public, valid_from=_utc(now)))
            except sa.exc.IntegrityError:  # another process registered it at the same moment
                pass
        log.info("audit.key_registered", key_id=kid)

    def rotate(self, now: datetime | None = None) -> str:
        """Replace the signing key: the file at `key_path` gets a new key (the old one is kept
        beside it as `<name>.<key_id>.retired`, mode 0600), which retires the current key and
        becomes current. A running signer that shares the file picks the new key up by itself
        (`_reload`). Answers the new key id."""
        old = self._signing_key()
        old_id = self.key_id
        kept = self.key_path.with_name(f"{self.key_path.name}.{old_id}.retired")
        self.key_path.rename(kept)
        self._key = None
        try:
            self.setup(now)
        except BaseException:  # nothing registered: put the old key back
            self.key_path.unlink(missing_ok=True)
            kept.rename(self.key_path)
            self._key = old
            raise
        log.info("audit.key_rotated", retired=old_id, key_id=self.key_id)
        return self.key_id

    def _reload(self) -> bool:
        """After `KeyRetired`: if the key file now holds the current key (rotated by another
        process), sign with it from now on. False if it does not."""
        try:
            fresh = load_or_create_key(self.key_path) if self.key_path.exists() else None
        except ValueError:
            return False
        if fresh is None:
            return False
        kid = key_id(self.origin, _raw_public(fresh))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(keys.c.valid_to).where(keys.c.key_id == kid)).first()
        if row is None or row.valid_to is not None:
            return False
        self._key = fresh
        log.info("audit.key_reloaded", key_id=kid)
        return True

    def keys(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(keys).order_by(keys.c.valid_from, keys.c.key_id)).all()
        return [dict(r._mapping) for r in rows]

    # --- checkpoints ----------------------------------------------------------------------------

    @staticmethod
    def _row(r: Any) -> dict[str, Any] | None:
        return dict(r._mapping) if r is not None else None

    def latest(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return self._row(conn.execute(sa.select(checkpoints)
                                          .order_by(checkpoints.c.tree_size.desc()).limit(1))
                             .first())

    def at(self, tree_size: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return self._row(conn.execute(sa.select(checkpoints).where(
                checkpoints.c.tree_size == tree_size)).first())

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in
                    conn.execute(sa.select(checkpoints).order_by(checkpoints.c.tree_size))]

    def sign(self, now: datetime | None = None) -> dict[str, Any]:
        """Sign the tree as the audit view holds it now (idempotent per tree size)."""
        now = now or datetime.now(timezone.utc)
        with self._lock:
            with self.engine.connect() as conn:
                current = conn.execute(sa.select(keys.c.valid_to).where(
                    keys.c.key_id == self.key_id)).first()
                if (current is None or current.valid_to is not None) and not self._reload():
                    raise KeyRetired(f"signing key {self.key_id} is not the current key")
                size = audit_log.tree_size(conn)
                root = audit_log.root(conn, size)
            existing = self.at(size)
            if existing is not None:
                return existing
            body = checkpoint_body(self.origin, size, root)
            signature = self._signing_key().sign(body.encode("utf-8"))
            row = {"tree_size": size, "origin": self.origin, "root_hash": root.hex(),
                   "issued_at": _utc(now), "key_id": self.key_id,
                   "signature": base64.b64encode(signature).decode("ascii"),
                   "note": signed_note(body, self.origin, self.public_key, signature)}
            try:
                with self.engine.begin() as conn:
                    conn.execute(checkpoints.insert().values(**row))
            except sa.exc.IntegrityError:  # another process signed this size first
                return self.at(size) or row
            log.info("audit.checkpoint", tree_size=size, root=row["root_hash"][:16])
            return row

    def due(self, now: datetime | None = None) -> bool:
        """The tree grew by `every_events`, or grew at all and the last checkpoint is older
        than `every_seconds` (or there is none)."""
        now = now or datetime.now(timezone.utc)
        with self.engine.connect() as conn:
            size = audit_log.tree_size(conn)
        latest = self.latest()
        if latest is None:
            return size > 0
        grown = size - int(latest["tree_size"])
        if grown <= 0:
            return False
        age = (now - datetime.fromisoformat(latest["issued_at"])).total_seconds()
        return grown >= self.cadence.every_events or age >= self.cadence.every_seconds

    def fresh(self, now: datetime | None = None) -> dict[str, Any]:
        """The latest checkpoint, signing one first if the tree grew past it."""
        latest = self.latest()
        with self.engine.connect() as conn:
            size = audit_log.tree_size(conn)
        if latest is not None and int(latest["tree_size"]) >= size:
            return latest
        return self.sign(now)

    # --- the background signer (kemitraan serve) ------------------------------------------------

    def start(self, tick_seconds: float = 1.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(tick_seconds,),
                                        name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self, tick_seconds: float) -> None:
        while not self._stop.wait(tick_seconds):
            try:
                if self.due():
                    self.sign()
            except KeyRetired as e:  # sign() already tried the key file again
                log.error("audit.key_retired", error=str(e))
                return
            except Exception as e:  # an outage must not kill the signer
                log.error("audit.checkpoint_error", error=str(e).splitlines()[0] if str(e)
                          else type(e).__name__)
