"""The demo ledger: four real settings from docs/domain.md, acted out through the use cases.

`seed` writes only through `container.ledger`, as the principal who would act in life: the
DPMPTSP of each kabupaten registers businesses, records naik kelas and reviews evidence; a
company proposes, amends, suspends, resumes and terminates its own partnerships; the UMKM
confirms or declines and submits its own invoices. `SYSTEM` is used for nothing but tokens.
Every event is recorded at the real `now` and carries a business date as its `effective_date`
(2023-2025, but for large firms registered earlier and proposals starting in 2026): evidence
goes in a few days after the period it covers (a perjanjian around its signing), the
realization with it, and the dinas reviews it days to weeks later; nothing is dated after
DATA_UNTIL (see `api.demo.dates`). Seeded `random.Random`s make the content deterministic: two
runs differ only in ids and recorded instants.

- `kendal`: Forum UMKM Kaliwungu beside an industrial estate without partnerships.
- `balikpapan`: 15 UMKM communities fostered by hotels, supermarkets and malls.
- `rembang`: local shelves, a fish processor's suppliers, a cement company's subcontractors.
- `bekasi`: the 162 "UMKM Juara" participants and retail chains, every lifecycle state.

`actors` makes the use-case calls, `reports` what running partnerships send in each period,
`world` holds the places and businesses, `documents` and `files` the evidence files.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from api.auth import new_secret, secret_hash
from api.demo import balikpapan, bekasi, kendal, rembang
from api.demo.actors import Seeder
from api.demo.dates import DATA_UNTIL
from api.demo.world import DINAS_NAMES, nib
from api.wiring import Container
from domain.access import SYSTEM
from domain.clock import jakarta_date
from domain.errors import NotFound
from projections.tables import partnership_list

__all__ = ["DEMO_COMPANY_NIB", "LedgerNotEmpty", "issue_demo_tokens", "roles_without_token",
           "seed"]

DEMO_COMPANY_NIB = nib(bekasi.KAB, 1, large=True)  # PT Contoh Ritel Nusantara (sampel)
DEMO_DINAS_REGION = bekasi.KAB


class LedgerNotEmpty(RuntimeError):
    """The demo seeds only an empty ledger (the CLI checks first; this guards other callers)."""


def seed(container: Container, now: datetime) -> None:
    """Seed the demo ledger into an empty store; refuses (and writes nothing) otherwise."""
    if container.event_log.head() != 0:
        raise LedgerNotEmpty("the ledger already holds events: the demo seeds only an empty one")
    if jakarta_date(now) <= DATA_UNTIL:
        raise ValueError(f"the demo's business dates run to {DATA_UNTIL}: `now` must be later")
    s = Seeder(container, now)
    kendal.seed(s)
    in_bekasi = bekasi.businesses(s)
    balikpapan.seed(s)
    rembang.seed(s, in_bekasi.chain_a)
    bekasi.partnerships(s, in_bekasi)
    load_rules(container, now)


def load_rules(container: Container, now: datetime) -> None:
    """The example rule packs in rules/ (enacted by the system, as `kemitraan rules load`)."""
    import json
    from pathlib import Path

    from api.cli import load_pack

    for path in sorted((Path(__file__).resolve().parents[2] / "rules").glob("*.json")):
        load_pack(container, json.loads(path.read_text(encoding="utf-8")), now)


def issue_demo_tokens(container: Container, now: datetime) -> list[tuple[str, str, str]]:
    """One fresh token per role, as (role, holder's name, secret). Only hashes are stored, so
    this runs on every `kemitraan demo` start. The company and UMKM tokens are issued only if
    the demo businesses exist; the UMKM is one with a proposal waiting for its confirmation
    (looked up in the list view, so it stays true after someone confirms the first one)."""
    ledger = container.ledger
    wanted: list[tuple[str, str, str | None, list[str]]] = [
        ("admin", "Admin demo", None, []),
        ("dinas", DINAS_NAMES[DEMO_DINAS_REGION], DEMO_DINAS_REGION, []),
        ("auditor", "Auditor nasional (demo)", None, []),
    ]
    try:
        company = ledger.get_business(SYSTEM, DEMO_COMPANY_NIB)
    except NotFound:
        company = None
    if company is not None:
        wanted.append(("company", company.name, None, [company.nib]))
        umkm_nib = _umkm_waiting_for(container, company.nib, jakarta_date(now))
        if umkm_nib:
            umkm = ledger.get_business(SYSTEM, umkm_nib)
            wanted.append(("umkm", umkm.name, None, [umkm.nib]))
    issued = []
    for role, name, region, nibs in wanted:
        secret = new_secret()
        ledger.issue_token(SYSTEM, now, secret_sha256_hex=secret_hash(secret), role=role,
                           region=region, nibs=nibs, name=name)
        issued.append((role, name, secret))
    return issued


def roles_without_token(issued: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The roles `issue_demo_tokens` gave no token, as (role, one line: why, and how to make
    one). Only company and umkm can be missing: on a ledger seeded by something else than the
    demo (the demo seeds only an empty one) the demo company is not there to hold them."""
    roles = {role for role, _, _ in issued}
    if "company" not in roles:
        why = (f"this ledger holds no demo company (NIB {DEMO_COMPANY_NIB}; the demo seeds only "
               f"an empty data dir)")
        return [(role, f"no token: {why}; create one with `kemitraan token create --role {role} "
                       f"--nib NIB` for a business of this ledger")
                for role in ("company", "umkm")]
    if "umkm" not in roles:
        return [("umkm", f"no token: the demo company {DEMO_COMPANY_NIB} has no partnership "
                         f"with an UMKM; create one with `kemitraan token create --role umkm "
                         f"--nib NIB` for an UMKM of this ledger")]
    return []


def _umkm_waiting_for(container: Container, large_nib: str, today: date) -> str | None:
    """The UMKM of the company's oldest proposal still waiting (else of its first partnership)."""
    container.views.catch_up()
    t = partnership_list
    not_expired = sa.or_(t.c.end_date.is_(None), t.c.end_date >= today)
    with container.engine.connect() as conn:
        for where in (sa.and_(t.c.status == "proposed", not_expired), sa.true()):
            row = conn.execute(sa.select(t.c.umkm_nib).where(t.c.large_nib == large_nib, where)
                               .order_by(t.c.created_seq).limit(1)).first()
            if row is not None:
                return str(row.umkm_nib)
    return None
