"""`kemitraan import FILE [--dry-run]`: the spreadsheet import from the command line.

The same reader and use case as `POST /v1/imports/partnerships`, run as the system principal
(whoever runs the command holds the database). Registered in api/cli.py as the `import` command.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer


def import_file(
    file: Annotated[Path, typer.Argument(help="a .csv or .xlsx with the template's header")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, record nothing")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the full answer as JSON")]
    = False,
) -> None:
    """Import partnerships from a spreadsheet (the rows that pass go in).

    Rejected rows are listed with their reasons and the exit status is 1."""
    from api.cli import fail, open_container
    from api.imports import read_upload, result_body, run_import
    from api.problems import Problem
    from domain.access import SYSTEM
    from domain.errors import DomainError

    try:
        content = file.read_bytes()
    except OSError as e:
        fail(f"cannot read {file}: {e.strerror or e}", 2)
    container = open_container()
    try:
        upload = read_upload(content, file.name, container.settings.max_upload_bytes)
        with typer.progressbar(length=max(upload.estimate, 1), label="importing",
                               file=sys.stderr) as bar:
            result = run_import(container, SYSTEM, datetime.now(timezone.utc), upload,
                                dry_run=dry_run, progress=bar.update)
    except Problem as e:
        fail(f"{file}: {e.detail}", 2)
    except DomainError as e:
        fail(f"{file}: {e.detail}", 2)
    finally:
        container.close()
    body = result_body(result, dry_run)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    else:
        for rejected in body["rejected"]:
            cells = "; ".join(f"{e['column']}: {e['message']}" for e in rejected["errors"])
            typer.echo(f"row {rejected['row']}: {cells}")
        verb = "would be created" if dry_run else "created"
        typer.echo(f"{body['rows']} rows: {body['accepted']} {verb}, {body['unchanged']} "
                   f"unchanged, {len(body['rejected'])} rejected")
    if body["rejected"]:  # with --json too (it exited 0)
        raise typer.Exit(1)  # scripts see that some rows did not go in
