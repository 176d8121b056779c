"""The `kemitraan` command. Every failure is one line on stderr and a non-zero exit."""

from __future__ import annotations

import errno
import socket
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from typer.exceptions import TyperException

from api.cli_audit import audit_app
from api.cli_compliance import compliance_app
from api.cli_import import import_file
from api.logs import configure
from api.settings import Settings
from api.wiring import ConfigurationError, Container, build
from projections.runtime import POLL_SQLITE
from domain.errors import DomainError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Kemitraan Ledger: an event-sourced ledger of UMKM partnerships.")
token_app = typer.Typer(no_args_is_help=True, help="Manage access tokens.")
app.add_typer(token_app, name="token")
projections_app = typer.Typer(no_args_is_help=True, help="Inspect and rebuild the views.")
app.add_typer(projections_app, name="projections")
app.command("import")(import_file)  # kemitraan import FILE [--dry-run]
app.add_typer(audit_app, name="audit")  # kemitraan audit export / verify / check
app.add_typer(compliance_app, name="compliance")  # kemitraan compliance report


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"kemitraan: {message}", err=True)
    raise typer.Exit(code)


def open_container() -> Container:
    try:
        settings = Settings()
    except ValidationError as e:  # name the bad variable and why, in one line
        fail("bad configuration: " + "; ".join(
            f"KEMITRAAN_{'_'.join(str(p) for p in x['loc']).upper()}: {x['msg']}"
            for x in e.errors()), 2)
    except Exception as e:
        fail(f"bad configuration: {str(e).splitlines()[0]}", 2)
    configure(settings.log_format)
    try:
        return build(settings)
    except ConfigurationError as e:
        fail(str(e))
    except OSError as e:  # a data dir that is a file, or on a read-only file system
        fail(f"cannot use the data dir {settings.data_dir}: "
             f"{e.strerror or type(e).__name__}", 2)
    raise AssertionError("unreachable")


ProcessesOption = Annotated[Optional[int], typer.Option(
    min=1, help="Processes folding the views, each a lane of them (PostgreSQL; default: one "
                "per lane, up to the cores; SQLite: always 1)")]


def lane_processes(store_kind: str, names: list[str], processes: int | None) -> int:
    from api import lanes

    if processes is None:
        return lanes.default_processes(store_kind, names)
    if processes > 1 and store_kind != "postgresql":
        fail("--processes above 1 needs PostgreSQL (SQLite has one writer at a time)", 2)
    return processes


def bind(host: str, port: int) -> list[socket.socket]:
    """The sockets the server will listen on, bound now: a port in use (or a host that cannot
    be had) fails here in one line with exit 2, before the container opens or the demo seeds,
    instead of in uvicorn after all that (exit 3 and its own text). uvicorn is then handed
    these very sockets, so nothing can take the port in between. As asyncio's create_server
    would: every address the host resolves to, SO_REUSEADDR, IPv6 sockets IPv6-only."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        fail(f"cannot listen on {host}: {e.strerror}", 2)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as e:
        for sock in sockets:
            sock.close()
        if e.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is already in use; choose another with --port", 2)
        fail(f"cannot listen on {host} port {port}: {e.strerror or e}", 2)
    return sockets


def run_server(container: Container, sockets: list[socket.socket]) -> None:
    import uvicorn

    from api import audit
    from api.app import create_app, settle_heap

    if container.settings.projections != "follow":  # a follower never signs (ADR 0014)
        audit.checkpointer(container)  # a bad audit key fails here, in one line, not in uvicorn
    app = create_app(container, run_projections=True)
    settle_heap()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    if not server.started:  # as uvicorn.run: a failed start-up (its lifespan) exits with 3
        raise typer.Exit(3)


@app.command()
def serve(host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")]
          = 8000) -> None:
    """Serve the API, the web pages and the projections in one process."""
    sockets = bind(host, port)
    container = open_container()
    typer.echo(f"Kemitraan Ledger on http://{host}:{port} ({container.store_kind})", err=True)
    run_server(container, sockets)


@app.command()
def demo(host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
         port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")]
         = 8000) -> None:
    """Seed the demo ledger into the data dir (if empty), print one token per role, serve."""
    from api.demo import issue_demo_tokens, roles_without_token, seed
    from api.demo.dates import DATA_UNTIL

    sockets = bind(host, port)  # a port in use fails before seeding
    container = open_container()
    now = datetime.now(timezone.utc)
    if container.event_log.head() == 0:
        typer.echo("Seeding the demo ledger...", err=True)
        seed(container, now)
    else:
        typer.echo("The ledger already holds events: serving it as it is, not seeded (the "
                   "demo seeds only an empty one).", err=True)
    tokens = issue_demo_tokens(container, now)
    typer.echo("Demo tokens (one per role; shown once):")
    for role, name, secret in tokens:
        typer.echo(f"  {role:8} {secret}   # {name}")
    for role, why in roles_without_token(tokens):
        typer.echo(f"  {role:8} {why}")
    typer.echo(f"\nAPI:  http://{host}:{port}/v1/health   docs: http://{host}:{port}/docs")
    # The demo's business dates end on DATA_UNTIL: its last year is what the dashboard shows
    # best (the default, the current quarter, may lie after it).
    typer.echo(f"Dashboard: http://{host}:{port}/?tahun={DATA_UNTIL.year}   (sign in with a "
               f"token above; the demo's business dates run to {DATA_UNTIL.isoformat()})")
    run_server(container, sockets)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, dinas, auditor, company or umkm")],
    region: Annotated[Optional[str], typer.Option(help="Region prefix (dinas, auditor)")] = None,
    nib: Annotated[Optional[list[str]], typer.Option(help="NIB (company: one or more; umkm: one)")] = None,
    name: Annotated[str, typer.Option(help="Who holds it, e.g. 'DPMPTSP Kab. Bekasi'")] = "",
) -> None:
    """Create a token and print it alone on stdout (only its hash is stored)."""
    from api.auth import new_secret, secret_hash
    from domain.access import SYSTEM

    container = open_container()
    secret = new_secret()
    try:
        container.ledger.issue_token(SYSTEM, datetime.now(timezone.utc),
                                     secret_sha256_hex=secret_hash(secret), role=role,
                                     region=region, nibs=list(nib or []), name=name)
    except DomainError as e:
        fail(e.detail, 2)
    finally:
        container.close()
    typer.echo(secret)


@token_app.command("list")
def token_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="also the revoked tokens")] = False,
    role: Annotated[Optional[str], typer.Option(help="only this role")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The tokens issued so far, oldest first: id, role, scope, name, issued and revoked
    (WIB). Never the tokens themselves: only their hashes are stored."""
    import json

    from domain.access import Role
    from domain.clock import WIB
    from projections import access_tokens

    if role is not None and role not in {r.value for r in Role}:
        fail(f"--role must be one of {', '.join(r.value for r in Role)}", 2)
    container = open_container()
    try:
        container.views.read_position(None)  # caught up, as every projection read
        with container.engine.connect() as conn:
            rows = access_tokens.every(conn, include_revoked=include_revoked, role=role)
    finally:
        container.close()

    def wib(instant: datetime | None) -> str:
        return instant.astimezone(WIB).isoformat(timespec="seconds") if instant else ""

    for r in rows:
        shown = {**{k: v for k, v in r.items() if k != "seq"},
                 "issued_at": wib(r["issued_at"]), "revoked_at": wib(r["revoked_at"]) or None}
        if as_json:
            typer.echo(json.dumps(shown, ensure_ascii=False))
            continue
        scope = r["region"] if r["region"] is not None else ",".join(r["nibs"])
        revoked = f"  revoked {shown['revoked_at']}" if r["revoked_at"] else ""
        typer.echo(f"{r['id']}  {r['role']:<8} {scope or '(national)':<20} "
                   f"{shown['issued_at']}  {r['name']}{revoked}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id (`kemitraan token list`)")],
    reason: Annotated[Optional[str], typer.Option(help="why, kept in the ledger")] = None,
) -> None:
    """Revoke a token: from now on it answers 401 (a running server forgets it within its
    principal cache's few seconds)."""
    from uuid import UUID

    from domain.access import SYSTEM

    try:
        tid = UUID(token_id)
    except ValueError:
        fail(f"{token_id!r} is not a token id", 2)
    container = open_container()
    try:
        w = container.ledger.revoke_token(SYSTEM, datetime.now(timezone.utc), tid, reason=reason)
    except DomainError as e:
        fail(e.detail, 1)
    finally:
        container.close()
    typer.echo(f"revoked {w.id} (position {w.position})")


def main() -> None:
    """Run the CLI; usage errors are one line too (not click's multi-line panel)."""
    try:
        code = app(standalone_mode=False)
    except TyperException as e:  # usage errors: typer vendors click, so catch its base class
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        if type(e).__name__ == "NoArgsIsHelpError":
            typer.echo(message)
            sys.exit(0)
        typer.echo(f"kemitraan: {message.splitlines()[0]} (see --help)", err=True)
        sys.exit(getattr(e, "exit_code", 2))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except ConfigurationError as e:  # found after start-up, e.g. the audit key (api/audit.py)
        typer.echo(f"kemitraan: {str(e).splitlines()[0]}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


@app.command()
def project(poll: Annotated[float, typer.Option(min=0.05, help="SQLite: seconds between "
                                                "looks at the log")] = POLL_SQLITE,
            processes: ProcessesOption = None) -> None:
    """Run the projections alone (deployments with several API processes)."""
    from api import audit, lanes

    container = open_container()
    try:
        names = [v.name for v in container.views.views]
        plan = lanes.plan(names, lane_processes(container.store_kind, names, processes))
        typer.echo(f"kemitraan project: {len(names)} views on {container.store_kind} in "
                   f"{len(plan)} process(es), signing audit checkpoints; Ctrl-C stops", err=True)
        audit.start_signer(container)  # the folding process signs; followers do not (ADR 0014)
        if len(plan) == 1:
            container.views.run_forever(poll)
        else:
            lanes.run_forever(container.settings, container.views, plan, poll)
    except KeyboardInterrupt:
        pass
    except lanes.LaneFailed as e:
        fail(str(e))
    finally:
        audit.stop_signer(container)
        container.close()


@projections_app.command("status")
def projections_status() -> None:
    """Position and lag of each view."""
    from projections import funnel_cube

    container = open_container()
    try:
        rows = container.views.status()
        max_age = container.settings.stats_max_age
        with container.engine.connect() as conn:
            kept, due = funnel_cube.summary(conn, funnel_cube.jakarta_today())
    finally:
        container.close()
    width = max(len(r["view"]) for r in rows)
    typer.echo(f"{'view':<{width}}  {'position':>10}  {'lag':>10}")
    for r in rows:
        typer.echo(f"{r['view']:<{width}}  {r['position']:>10}  {r['lag']:>10}")
    typer.echo(f"\nfunnel cells (ADR 0019): {kept - len(due)} of {kept} calendar spans fresh"
               + (f"; due: {describe_due(due, datetime.now(timezone.utc), max_age)}"
                  if due else ""))


def describe_due(due: list[tuple[str, datetime | None]], now: datetime, max_age: float) -> str:
    """The spans waiting for a refresh, and whether their older cells still answer
    (`KEMITRAAN_STATS_MAX_AGE`) or the statistics scan meanwhile."""
    def one(label: str, computed: datetime | None) -> str:
        if computed is None:
            return f"{label} (no cells yet)"
        age = (now - computed).total_seconds()
        answering = "still answering" if age <= max_age else "the scan answers"
        return f"{label} (cells {age:.0f} s old, {answering})"
    return ", ".join(one(label, computed) for label, computed in due)


@projections_app.command("rebuild")
def projections_rebuild(name: Annotated[Optional[str], typer.Argument(
        help="one view (default: all)")] = None, processes: ProcessesOption = None) -> None:
    """Drop a view (or all) and replay the log into it; readers see the old view until done.
    A view that reads another view's rows while folding rebuilds that one with it."""
    from api import lanes

    container = open_container()
    try:
        names = [v.name for v in container.views.views]
        if name is not None and name not in names:
            fail(f"no view named {name!r}; views: {', '.join(names)}", 2)
        wanted = container.views.with_reads([name]) if name else names
        plan = lanes.plan(wanted, lane_processes(container.store_kind, names, processes))
        head = container.views.head()
        with typer.progressbar(length=max(head, 1), label="rebuilding", file=sys.stderr) as bar:
            done = [0]

            def progress(position: int, _head: int = 0) -> None:
                bar.update(max(min(position, head) - done[0], 0))
                done[0] = max(done[0], min(position, head))

            try:
                if len(plan) == 1:
                    folded = container.views.rebuild(wanted, progress=progress)
                else:
                    folded = lanes.rebuild(container.settings, plan, progress=progress)
            except lanes.LaneFailed as e:
                fail(f"rebuild failed: {e}")
        what = ", ".join(wanted) if name else "all views"
        typer.echo(f"rebuilt {what}: {folded} events folded, "
                   f"position {container.views.position()}", err=True)
    finally:
        container.close()


rules_app = typer.Typer(no_args_is_help=True, help="Load regulations (rule packs).")
app.add_typer(rules_app, name="rules")


def load_pack(container: Container, raw: object, now: datetime) -> tuple[str, int, str]:
    """Enact a pack, or amend it when the id exists and the pack differs: (id, version, what)."""
    from api.routes.regulations import parse_pack
    from domain.access import SYSTEM
    from domain.errors import NotFound

    pack = parse_pack(raw)
    ledger = container.ledger
    try:
        current = ledger.get_regulation(SYSTEM, pack["id"])
    except NotFound:
        w = ledger.enact_regulation(SYSTEM, now, pack)
        return pack["id"], w.version, "enacted"
    if current.pack == pack:
        return pack["id"], current.version, "unchanged"
    w = ledger.amend_regulation(SYSTEM, now, pack["id"], pack)
    return pack["id"], w.version, "amended"


@rules_app.command("load")
def rules_load(file: Annotated[str, typer.Argument(help="a rule pack (.json)")]) -> None:
    """Enact a rule pack, or amend it when its id exists and the pack differs."""
    import json

    from api.problems import Problem

    try:
        with open(file, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {file}: {str(e).splitlines()[0]}", 2)
    container = open_container()
    try:
        pack_id, version, what = load_pack(container, raw, datetime.now(timezone.utc))
    except Problem as e:
        fail(f"{file}: " + "; ".join(f"{x['field']}: {x['message']}" for x in e.errors or []), 2)
    except DomainError as e:
        fail(f"{file}: {e.detail}", 2)
    finally:
        container.close()
    typer.echo(f"{pack_id} version {version} ({what})")


if __name__ == "__main__":  # last: every command above is registered by now
    main()
