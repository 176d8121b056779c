"""`kemitraan compliance report`: the compliance of a region's businesses as CSV, XLSX or a PDF a
dinas can attach to a letter (ADR 0015)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

compliance_app = typer.Typer(no_args_is_help=True, help="Compliance with the regulations.")

FORMATS = ("csv", "xlsx", "pdf")


@compliance_app.command("report")
def report(
    region: Annotated[str, typer.Option(help="region code prefix, e.g. 32.16 ('' = national)")],
    period: Annotated[str, typer.Option(help="a year (2024) or a quarter (2024-Q1)")],
    format: Annotated[str, typer.Option("--format", help="csv, xlsx or pdf")] = "pdf",
    out: Annotated[Optional[str], typer.Option(help="output file (default: "
                                                    "kepatuhan-REGION-PERIOD.FORMAT)")] = None,
    regulation: Annotated[Optional[str], typer.Option(help="only this rule pack id")] = None,
) -> None:
    """Write the compliance report of the businesses registered in REGION for PERIOD."""
    import re

    from api import compliance_report as cr
    from api.cli import fail, open_container
    from api.exports import to_csv, to_xlsx
    from domain.compliance import parse_period
    from domain.values import REGION_PATTERN

    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}", 2)
    if region and not re.fullmatch(REGION_PATTERN, region):
        fail(f"--region {region!r} is not a region code such as 32.16", 2)
    try:
        p = parse_period(period)
    except ValueError as e:
        fail(f"--period: {e}", 2)
    target = Path(out or f"kepatuhan-{region or 'nasional'}-{p.label}.{format}")
    container = open_container()
    try:
        now = datetime.now(timezone.utc)
        container.views.read_position(None)
        with container.engine.connect() as conn:
            rule_list, results = cr.evaluate_region(container.ledger, conn, region=region or None,
                                                    period=p, regulation=regulation)
            if regulation and not rule_list:  # an empty report would read as "nothing due"
                fail(f"--regulation {regulation!r}: no such regulation (see kemitraan rules "
                     f"load, GET /v1/regulations)", 2)
            if format == "csv":
                body = to_csv(cr.COLUMNS, [cr.row(r) for r in results])
            elif format == "xlsx":
                body = to_xlsx(cr.COLUMNS, [cr.row(r) for r in results], "Kepatuhan")
            else:
                explanations = cr.explanations_for(container.ledger, conn, results, p)
                body = cr.to_pdf(region=region or None, period=p, as_of=now,
                                 rule_list=rule_list, results=results,
                                 explanations=explanations)
        try:
            target.write_bytes(body)
        except OSError as e:
            fail(f"cannot write {target}: {e.strerror or e}", 1)
    finally:
        container.close()
    bad = sum(1 for r in results if r.status == "non_compliant")
    typer.echo(f"{target}: {len(results)} obligations, {bad} non_compliant")
