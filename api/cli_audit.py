"""`kemitraan audit export / verify / check` (contract: Audit; ADRs 0013 and 0014).

- `export --out FILE [--region P]` catches the views up, signs a checkpoint covering the whole
  log if none does, and writes the bundle (JSON Lines).
- `verify FILE [--checkpoint SAVED.json] [--keys KEYS.json]` needs no database: only the bundle,
  optionally the keys to trust (from `GET /v1/audit/keys`) and a
  checkpoint saved earlier from `GET /v1/audit/checkpoints/latest`.
- `check` rebuilds the bundle from the live store and verifies it the same way.

Verification failures print the report on stdout, one line on stderr naming the first bad leaf,
and exit 1; unreadable input exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

audit_app = typer.Typer(no_args_is_help=True, help="Export and verify the tamper-evident log.")


def _finish(report: Any) -> None:
    from api.cli import fail

    typer.echo(report.summary())
    if not report.ok:
        where = (f"first bad leaf: {report.first_bad_leaf}"
                 if report.first_bad_leaf is not None else report.problems[0])
        fail(f"audit verification failed: {where}", 1)


def _live(container: Any, region: str | None, sign: bool) -> Any:
    from api.audit import checkpointer
    from projections.audit_export import live_bundle

    container.views.catch_up()
    signer = checkpointer(container, sign=sign)
    size = int(signer.fresh()["tree_size"]) if sign else None
    # Signed: the bundle ends at the checkpoint just signed (another process may fold more
    # meanwhile), so every leaf in it is covered by a signature.
    checkpoints = [cp for cp in signer.all() if size is None or int(cp["tree_size"]) <= size]
    return live_bundle(container.engine, container.settings.audit_origin, signer.keys(),
                       checkpoints, region=region, tree_size=size)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="the bundle file to write (JSON Lines)")],
    region: Annotated[Optional[str], typer.Option(
        help="only this region's events in full; the others as bare leaf hashes")] = None,
) -> None:
    """Write the audit bundle: events with their leaves, signed checkpoints, public keys."""
    import re

    from api.cli import fail, open_container
    from domain.values import REGION_PATTERN
    from projections.audit_export import write_bundle

    if region is not None and not re.fullmatch(REGION_PATTERN, region):
        fail(f"--region {region!r} is not a Kemendagri region code such as 32.16", 2)
    container = open_container()
    try:
        bundle = _live(container, region, sign=True)
        tmp = out.with_name(out.name + ".partial")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                n = write_bundle(bundle, f)
            tmp.replace(out)
        except OSError as e:
            fail(f"cannot write {out}: {e.strerror or e}", 2)
    finally:
        container.close()
    typer.echo(f"{out}: {n} leaves, {len(bundle.checkpoints)} checkpoints", err=True)


@audit_app.command("verify")
def verify_file(
    file: Annotated[Path, typer.Argument(help="a bundle written by `kemitraan audit export`")],
    checkpoint: Annotated[Optional[Path], typer.Option(
        "--checkpoint", help="a checkpoint saved earlier (JSON from /v1/audit/checkpoints)")]
    = None,
    keys: Annotated[Optional[Path], typer.Option(
        "--keys", help="the signing keys to trust, saved earlier (JSON from /v1/audit/keys); "
                       "without it the bundle's own keys are trusted")] = None,
) -> None:
    """Verify a bundle offline; exit 1 naming the first bad leaf if anything was changed."""
    from api.cli import fail
    from projections.audit_verify import read_bundle, verify

    saved = _json_file(checkpoint, dict) if checkpoint is not None else None
    if saved is not None and not {"tree_size", "root_hash", "key_id", "signature",
                                  "origin"} <= set(saved):
        fail(f"cannot read {checkpoint}: not a checkpoint (GET /v1/audit/checkpoints/latest)", 2)
    pinned = _json_file(keys, list) if keys is not None else None
    try:
        report = verify(read_bundle(str(file)), saved, pinned)
    except OSError as e:
        fail(f"cannot read {file}: {e.strerror or e}", 2)
    except ValueError as e:
        fail(f"{file}: {str(e).splitlines()[0]}", 2)
    _finish(report)


def _json_file(path: Path, kind: type) -> Any:
    """A JSON object or list saved from the API; exit 2 with the reason when it is not."""
    from api.cli import fail

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, kind) or (kind is list and not all(
                isinstance(k, dict) for k in value)):
            raise ValueError("not a JSON object" if kind is dict else "not a JSON list of keys")
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {str(e).splitlines()[0]}", 2)
    return value


@audit_app.command("check")
def check() -> None:
    """Recompute every leaf from the live store and verify it against the signed checkpoints."""
    from api.cli import open_container
    from projections.audit_verify import verify

    container = open_container()
    try:
        report = verify(_live(container, None, sign=False), signed_to_the_end=False,
                        trust_note="keys as registered in this store")
    finally:
        container.close()
    _finish(report)


@audit_app.command("rotate-key")
def rotate_key() -> None:
    """Replace the checkpoint signing key (ADR 0014): the key file gets a new key, the old one
    is kept beside it as `*.retired` and its validity ends now in /v1/audit/keys. A running
    server sharing the key file switches to the new key by itself; checkpoints signed with the
    old key stay valid, and the next one (when the log grows) is signed with the new key."""
    from api.audit import checkpointer
    from api.cli import fail, open_container
    from projections.checkpoints import KeyRetired

    container = open_container()
    try:
        container.views.catch_up()
        signer = checkpointer(container)
        try:
            retired = signer.key_id
            new = signer.rotate()
        except KeyRetired as e:
            fail(f"cannot rotate: {e} (the configured key file holds a retired key)", 1)
        checkpoint = signer.fresh()  # covers the whole log (one checkpoint per tree size)
    finally:
        container.close()
    typer.echo(json.dumps({"retired_key_id": retired, "key_id": new,
                           "key_file": str(signer.key_path),
                           "latest_checkpoint": {k: checkpoint[k] for k in (
                               "tree_size", "key_id", "issued_at")}}, default=str))
