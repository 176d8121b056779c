"""The audit log's services for the API and the CLI: one `Checkpointer` per container."""

from __future__ import annotations

import threading

from api.wiring import ConfigurationError, Container
from projections.checkpoints import Cadence, Checkpointer, KeyRetired, audit_metadata

_lock = threading.Lock()


def signs(c: Container) -> bool:
    """Whether this process signs checkpoints: every one but a server that follows
    (KEMITRAAN_PROJECTIONS=follow): the process folding the views signs them (ADR 0014)."""
    return not c.views.following


def checkpointer(c: Container, sign: bool = True) -> Checkpointer:
    """The container's checkpointer, set up on first use (tables, key, rotation). With
    `sign=False` (`kemitraan audit check`: reads keys and checkpoints only), and in a process
    that does not sign (`signs`), the key file is not even read: a wrong
    KEMITRAAN_AUDIT_KEY_PATH in a read-only command, or a follower on another host with a key
    of its own, must not make its key the current one (it retired the live key)."""
    existing = c.__dict__.get("_audit_checkpointer")
    if existing is not None:
        return existing
    s = c.settings
    if not sign or not signs(c):
        reader = c.__dict__.get("_audit_reader")
        if reader is None:
            reader = Checkpointer(c.engine, s.audit_key_file, s.audit_origin)
            audit_metadata.create_all(c.engine)
            c.__dict__["_audit_reader"] = reader
        return reader
    with _lock:
        existing = c.__dict__.get("_audit_checkpointer")
        if existing is None:
            if s.audit_key_path is not None and not s.audit_key_path.is_file():
                # An explicit path names an existing key: creating one there (a typo) would
                # rotate the signing key (ADR 0014). Only the data dir's default is created.
                raise ConfigurationError(f"KEMITRAAN_AUDIT_KEY_PATH: no key file at "
                                         f"{s.audit_key_path}")
            existing = Checkpointer(c.engine, s.audit_key_file, s.audit_origin,
                                    Cadence(s.audit_checkpoint_events,
                                            s.audit_checkpoint_seconds))
            try:
                existing.setup()
            except KeyRetired as e:  # reads still work; signing answers 503 (ADR 0014)
                import structlog

                structlog.get_logger("audit").error("audit.key_retired", error=str(e))
            except (ValueError, OSError) as e:  # not a PEM key, a directory, unreadable
                raise ConfigurationError(f"cannot use the audit key {s.audit_key_file}: "
                                         f"{getattr(e, 'strerror', None) or e}") from None
            c.__dict__["_audit_checkpointer"] = existing
        return existing


def start_signer(c: Container) -> None:
    """`kemitraan serve` (folding the views) and `kemitraan project`: sign checkpoints in the
    background, per the configured cadence. A server that follows does not (ADR 0014)."""
    try:
        checkpointer(c).start()
    except Exception as e:  # a bad or retired key must not keep the API down; say so loudly
        import structlog

        structlog.get_logger("audit").error("audit.signer_not_started", error=str(e))


def stop_signer(c: Container) -> None:
    existing = c.__dict__.get("_audit_checkpointer")
    if existing is not None:
        existing.stop()


def leaf_index_of(c: Container, seq: int, timeout: float = 3.0) -> int | None:
    """The leaf of the event at `seq` once the audit view has folded it (an evidence receipt):
    waits up to `timeout` for the views, None if they are slower."""
    import sqlalchemy as sa

    from projections.audit_log import leaves

    c.views.wait_for(seq, timeout=timeout)
    with c.engine.connect() as conn:
        found = conn.execute(sa.select(leaves.c.leaf_index).where(leaves.c.seq == seq)).scalar()
    return None if found is None else int(found)


def evidence_leaves(c: Container, stream_id: str) -> dict[str, int]:
    """{evidence_id: leaf_index} of one partnership's evidence submissions folded so far."""
    import sqlalchemy as sa

    from projections.audit_log import leaves

    c.views.read_position(None)
    with c.engine.connect() as conn:
        rows = conn.execute(sa.select(leaves.c.evidence_id, leaves.c.leaf_index).where(
            leaves.c.stream_id == stream_id, leaves.c.evidence_id.is_not(None))).all()
    return {r.evidence_id: int(r.leaf_index) for r in rows}
