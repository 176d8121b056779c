"""Compliance: gathering the facts `domain.compliance` evaluates, and the reports (CSV, XLSX,
PDF) built from its results (ADR 0015).

Two ways to gather the same facts:
- from the views (`projections.compliance_facts`), for the current state — the list, and the
  explanation without `as_of`;
- from the event store, every stream replayed up to an instant (`as_of`): the business, its
  partnerships (with reviews and realizations), their UMKM, and every regulation — "everything as
  it was recorded at that instant". One business is small, so this stays cheap.
Both produce `BusinessFacts` and `PartnershipRecord`s; tests check that they agree.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from api.exports import Column
from domain.base import project
from domain.business import Business, business_id
from domain.clock import WIB
from domain.compliance import (
    Aggregate, BusinessFacts, DeclaredFact, ObligationResult, PartnershipRecord, Period,
    RegulationVersion, due_obligations, evaluate_business, partner_matches, periods_for,
    result_from_aggregate, scales_held,
)
from domain.partnership import Partnership
from domain.reality import (
    assess, counts, facts_from_partnership, in_period, party_from_businesses,
)
from domain.regulation import Regulation, regulation_id
from projections import compliance_facts as cf
from projections import real_partnerships as rp
from projections.regulations import regulation_list


# --- regulations ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A regulation as evaluated: its versions (as recorded at the instant asked) and title."""

    id: str
    title: str
    versions: tuple[RegulationVersion, ...]
    source_url: str


def _replay(ledger: Any, stream: UUID, as_of: datetime | None) -> Any:
    """The aggregate as recorded at `as_of` (None: now); None when it did not exist yet."""
    def until() -> Iterable[Any]:
        for e in ledger.events.get(stream):
            if as_of is not None and e.timestamp > as_of:
                return
            yield e
    return project(None, until())


def rules(ledger: Any, conn: sa.Connection, *, only: str | None = None,
          as_of: datetime | None = None) -> list[Rule]:
    ids = [r.id for r in conn.execute(sa.select(regulation_list.c.id)
                                      .order_by(regulation_list.c.id))]
    out = []
    for pack_id in ids:
        if only is not None and pack_id != only:
            continue
        r = _replay(ledger, regulation_id(pack_id), as_of)
        if not isinstance(r, Regulation):
            continue
        versions = tuple(RegulationVersion(pack_id, v.number, v.pack, v.effective_from,
                                           v.effective_to) for v in r.versions)
        out.append(Rule(pack_id, r.pack["title"], versions, r.pack.get("source_url", "")))
    return out


def _scales(rule_list: Sequence[Rule]) -> list[str]:
    return sorted({s for r in rule_list for v in r.versions for o in v.pack["obligations"]
                   for s in o["applies_to"]["scale"]})


# --- the facts, from the views or from the event store ----------------------------------------

def facts_from_views(conn: sa.Connection, nib: str) -> tuple[BusinessFacts | None,
                                                              list[PartnershipRecord]]:
    found = cf.business_facts(conn, nibs=[nib])
    if not found:
        return None, []
    return found[0], cf.partnership_records(conn, [nib]).get(nib, [])


def _business_facts(b: Business) -> BusinessFacts:
    return BusinessFacts(
        nib=b.nib, name=b.name, region_code=b.region_code, kbli=tuple(b.kbli),
        scale_periods=tuple(b.scale_periods()),
        facts=tuple(DeclaredFact(f.name, f.value, f.unit, f.effective_date, f.recorded_at)
                    for f in b.facts))


def facts_as_of(ledger: Any, conn: sa.Connection, nib: str, as_of: datetime
                ) -> tuple[BusinessFacts | None, list[PartnershipRecord]]:
    """The same facts as `facts_from_views`, each stream replayed up to `as_of`."""
    large = _replay(ledger, business_id(nib), as_of)
    if not isinstance(large, Business):
        return None, []
    ids = [r.id for r in conn.execute(sa.select(rp.facts.c.id).where(
        rp.facts.c.large_nib == nib).order_by(rp.facts.c.id))]
    umkms: dict[str, Any] = {}
    records = []
    for pid in ids:
        p = _replay(ledger, UUID(pid), as_of)
        if not isinstance(p, Partnership):
            continue
        if p.umkm_nib not in umkms:
            umkms[p.umkm_nib] = _replay(ledger, business_id(p.umkm_nib), as_of)
        umkm = umkms[p.umkm_nib]
        f = facts_from_partnership(p)
        f = replace(f, realizations=tuple(sorted(f.realizations,
                                                 key=lambda x: x.realization_id)))
        records.append(PartnershipRecord(
            f, party_from_businesses(umkm if isinstance(umkm, Business) else None, large)))
    return _business_facts(large), records


# --- evaluation ---------------------------------------------------------------------------------

def explain(ledger: Any, conn: sa.Connection, nib: str, period: Period, *,
            as_of: datetime | None = None) -> tuple[BusinessFacts | None, list[Rule],
                                                    list[ObligationResult]]:
    rule_list = rules(ledger, conn, as_of=as_of)
    if as_of is None:
        b, records = facts_from_views(conn, nib)
    else:
        b, records = facts_as_of(ledger, conn, nib, as_of)
    if b is None:
        return None, rule_list, []
    return b, rule_list, evaluate_business([r.versions for r in rule_list], b, records, period)


def evaluate_region(ledger: Any, conn: sa.Connection, *, region: str | None, period: Period,
                    regulation: str | None = None, nibs: Sequence[str] | None = None,
                    ) -> tuple[list[Rule], list[ObligationResult]]:
    """Every obligation due in `period` for the businesses registered in `region` (and among
    `nibs` when given). Reads, for each business, only the partnerships that may be real in the
    periods asked (the explanation reads them all)."""
    rule_list = rules(ledger, conn, only=regulation)
    if not rule_list:
        return rule_list, []
    scales = _scales(rule_list)
    businesses = cf.business_facts(conn, region=region, nibs=nibs, scales=scales)
    kinds = {o["period"] for r in rule_list for v in r.versions for o in v.pack["obligations"]}
    spans = [p for k in kinds for p in periods_for(k, period)]
    window = (min(p.start for p in spans), max(p.end for p in spans))
    records = cf.partnership_records(conn, [b.nib for b in businesses], realized_between=window)
    versions = [r.versions for r in rule_list]
    results: list[ObligationResult] = []
    for b in businesses:
        results += evaluate_business(versions, b, records.get(b.nib, []), period)
    results.sort(key=lambda r: (r.nib, r.regulation_id, r.obligation_id, r.period.label))
    return rule_list, results


def measure_region(ledger: Any, conn: sa.Connection, *, region: str | None, period: Period,
                   regulation: str | None = None, nibs: Sequence[str] | None = None,
                   ) -> tuple[list[Rule], list[ObligationResult]]:
    """The list's fast path: the same results as `evaluate_region` (status, measured,
    required, version...) without the per-partnership explanation (`counted`, `left_out`
    empty). The database sums each obligation's counted partnerships (`cf.partner_sums`) over
    the stored derivations of `domain.reality`; Python applies what depends on a partner's
    scale history (UMKM whose scale changed: `scales_held`; a graduation grace:
    `cf.grace_candidates` judged by `assess`) and the status rule (`result_from_aggregate`).
    ADR 0015, "The list's fast path"."""
    rule_list = rules(ledger, conn, only=regulation)
    if not rule_list:
        return rule_list, []
    businesses = cf.business_facts(conn, region=region, nibs=nibs, scales=_scales(rule_list))
    versions = [r.versions for r in rule_list]
    due = [(b, v, oid, p) for b in businesses
           for v, oid, p in due_obligations(versions, b, period)]
    obligations = {(id(v), oid): next(o for o in v.pack["obligations"] if o["id"] == oid)
                   for _, v, oid, _ in due}
    units: dict[tuple[Period, str], set[str]] = {}
    graces: set[tuple[Period, int]] = set()
    for _, v, oid, p in due:
        ob = obligations[(id(v), oid)]
        key = (p, ob["partner_filter"].get("region_prefix", ""))
        units.setdefault(key, set()).update([ob["unit"]] if ob.get("unit") else [])
        if ob.get("graduated_partner_grace_days"):
            graces.add((p, ob["graduated_partner_grace_days"]))
    scope = cf.business_scope(region=region, nibs=nibs)
    sums: dict[tuple[Period, str], tuple[list[str], dict[str, list[Any]]]] = {}
    for (p, prefix), wanted in units.items():
        unit_list = sorted(wanted)
        by_nib: dict[str, list[Any]] = {}
        for r in cf.partner_sums(conn, scope, p, prefix, unit_list):
            by_nib.setdefault(r.large_nib, []).append(r)
        sums[(p, prefix)] = (unit_list, by_nib)
    extra = {(p, g): cf.grace_candidates(conn, scope, p.start, p.end, g) for p, g in graces}
    held: dict[tuple[str, str, int], set[str]] = {}
    results: list[ObligationResult] = []
    for b, v, oid, p in due:
        ob = obligations[(id(v), oid)]
        filt, unit = ob["partner_filter"], ob.get("unit")
        grace = ob.get("graduated_partner_grace_days") or 0
        wanted_scales = set(filt["scale"])
        unit_list, by_nib = sums[(p, filt.get("region_prefix", ""))]
        q = f"q{unit_list.index(unit)}" if unit else None
        n = umkm = value = 0
        quantity = 0.0
        partners: set[str] = set()
        for r in by_nib.get(b.nib, ()):
            if r.umkm_nib is None:
                if r.scale not in wanted_scales:
                    continue
                umkm += r.umkm
            else:
                key = (r.umkm_nib, p.label, grace)
                if key not in held:
                    held[key] = scales_held(rp.parse_scale_history(r.scales), p, grace)
                if not held[key] & wanted_scales:
                    continue
                partners.add(r.umkm_nib)
            n += r.partnerships
            value += int(r.value_idr)
            quantity += float(getattr(r, q)) if q else 0.0
        for rec in extra.get((p, grace), {}).get(b.nib, ()) if grace else ():
            f = rec.facts
            a = assess(f, rec.party, p.start, p.end, grace)
            if a.reasons or not partner_matches(filt, rec, p, grace):
                continue
            n += 1
            partners.add(f.umkm_nib)
            value += a.realization_value_idr
            if unit is not None:
                quantity += sum(x.quantity or 0.0 for x in f.realizations
                                if x.unit == unit and counts(x)
                                and in_period(x, p.start, p.end))
        results.append(result_from_aggregate(v, oid, b, p,
                                             Aggregate(n, umkm + len(partners), value, quantity)))
    results.sort(key=lambda r: (r.nib, r.regulation_id, r.obligation_id, r.period.label))
    return rule_list, results


# --- rows and files -----------------------------------------------------------------------------

COLUMNS = [Column("nib", "NIB"), Column("name", "Nama usaha"),
           Column("regulation_id", "Peraturan"), Column("regulation_version", "Versi"),
           Column("obligation_id", "Kewajiban"), Column("period", "Periode"),
           Column("measure", "Ukuran"), Column("unit", "Satuan"),
           Column("measured", "Terukur"), Column("required", "Wajib"),
           Column("status", "Status"), Column("illustrative", "Ketentuan ilustratif"),
           Column("reasons", "Alasan")]


def number(value: float) -> int | float:
    """Counts and rupiah stay integers; quantities and shares keep 4 decimals."""
    if float(value).is_integer():
        return int(value)
    return round(float(value), 4)


def item(r: ObligationResult) -> dict[str, Any]:
    return {"nib": r.nib, "name": r.name, "regulation_id": r.regulation_id,
            "regulation_version": r.regulation_version, "obligation_id": r.obligation_id,
            "period": r.period.label, "measure": r.measure, "unit": r.unit,
            "measured": number(r.measured), "required": number(r.required), "status": r.status,
            "illustrative": r.illustrative, "reasons": list(r.reasons)}


def row(r: ObligationResult) -> dict[str, Any]:
    return {**item(r), "reasons": ",".join(r.reasons)}


STATUS_ID = {"compliant": "patuh", "non_compliant": "tidak patuh"}
MEASURE_ID = {
    "real_partnerships": "jumlah kemitraan riil",
    "distinct_umkm_partners": "jumlah UMKM mitra (berbeda)",
    "realization_value_idr": "nilai realisasi (rupiah)",
    "realization_quantity": "jumlah realisasi",
    "share": "porsi dari data usaha",
}
FACT_ID = {"commercial_area": "luas area komersial", "listed_products": "produk terdaftar",
           "plantation_area": "luas kebun"}
REASON_ID = {
    "not_confirmed": "belum dikonfirmasi UMKM",
    "no_verified_perjanjian": "perjanjian belum terverifikasi",
    "no_verified_realization": "tidak ada realisasi terverifikasi dalam periode",
    "inactive_in_period": "tidak aktif dalam periode",
    "affiliated": "terafiliasi",
    "partner_not_umkm": "mitra bukan UMKM",
    "outside_partner_filter": "mitra di luar kriteria kewajiban",
    "fact_missing": "data usaha yang dibutuhkan belum dideklarasikan",
}


def _latin1(text: Any) -> str:
    return str(text).replace("≥", ">=").replace("—", "-").replace("–", "-").encode(
        "latin-1", "replace").decode("latin-1")


def to_pdf(*, region: str | None, period: Period, as_of: datetime, rule_list: Sequence[Rule],
           results: Sequence[ObligationResult],
           explanations: dict[str, list[ObligationResult]]) -> bytes:
    """A report a dinas can attach to a letter: title, region, period, as-of instant, the rule
    versions applied (illustrative thresholds marked), the table, then one page per
    non-compliant business with its explanation (`explanations`: every obligation result of
    that business, evaluated over all its partnerships)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title("Laporan Kepatuhan Kemitraan")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Laporan Kepatuhan Kemitraan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    lines = [f"Wilayah: {region or 'Nasional'}", f"Periode: {period.label} "
             f"({period.start.isoformat()} s.d. {period.end.isoformat()})",
             f"Data per: {as_of.astimezone(WIB).isoformat(timespec='seconds')} WIB"]
    for line in lines:
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    applied = sorted({(r.regulation_id, r.regulation_version) for r in results})
    titles = {r.id: r for r in rule_list}
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Versi peraturan yang diterapkan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    if not applied:
        pdf.cell(0, 5, "Tidak ada kewajiban yang berlaku.", new_x="LMARGIN", new_y="NEXT")
    for rid, number_ in applied:
        rule = titles.get(rid)
        v = next((x for x in rule.versions if x.number == number_), None) if rule else None
        illustrative = [o["id"] for o in (v.pack["obligations"] if v else [])
                        if o.get("illustrative")]
        text = (f"{rid} versi {number_}" + (f" (berlaku sejak {v.effective_from.isoformat()})"
                                             if v else "") + (f": {rule.title}" if rule else ""))
        if illustrative:
            text += (" - KETENTUAN ILUSTRATIF (ambang atau cakupan wajibnya contoh, bukan "
                     "ketentuan resmi peraturan): "
                     + ", ".join(illustrative))
        pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Ringkasan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    header = ("NIB", "Nama usaha", "Peraturan / kewajiban", "Periode", "Terukur", "Wajib",
              "Status")
    with pdf.table(col_widths=(28, 55, 90, 20, 25, 25, 27), text_align="LEFT") as table:
        table.row(header)
        for r in results:
            table.row(tuple(_latin1(x) for x in (
                r.nib, r.name, f"{r.regulation_id} v{r.regulation_version} / {r.obligation_id}",
                r.period.label, f"{number(r.measured)}{'%' if r.measure == 'share' else ''}",
                f"{number(r.required)}{'%' if r.measure == 'share' else ''}"
                f"{'*' if r.illustrative else ''}",
                STATUS_ID[r.status])))
    if any(r.illustrative for r in results):
        pdf.set_font("Helvetica", "I", 8)
        pdf.multi_cell(0, 5, "* ketentuan ilustratif: peraturan tidak menerbitkan angka ini, atau "
                       "tidak mewajibkan usaha ini dengan cara ini; hanya contoh dan bukan dasar "
                       "hukum.", new_x="LMARGIN", new_y="NEXT")
    for nib in sorted(explanations):
        own = explanations[nib]
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 13)
        name = own[0].name if own else ""
        pdf.cell(0, 8, _latin1(f"Penjelasan: {name} (NIB {nib})"), new_x="LMARGIN",
                 new_y="NEXT")
        for r in own:
            pdf.set_font("Helvetica", "B", 10)
            pdf.multi_cell(0, 6, _latin1(
                f"{r.regulation_id} versi {r.regulation_version} / {r.obligation_id} - "
                f"periode {r.period.label}: {STATUS_ID[r.status].upper()}"),
                new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            unit = f" {r.unit}" if r.unit and r.measure != "share" else ""
            pct = " %" if r.measure == "share" else ""
            text = (f"Ukuran: {MEASURE_ID.get(r.measure, r.measure)}; terukur "
                    f"{number(r.measured)}{unit}{pct}, wajib "
                    f"{number(r.required)}{unit}{pct}"
                    + (" (KETENTUAN ILUSTRATIF)" if r.illustrative else "") + ".")
            if r.reasons:
                text += " Alasan: " + "; ".join(REASON_ID.get(x, x) for x in r.reasons) + "."
            if r.fact is not None:
                text += (f" Data usaha: {FACT_ID.get(r.fact.name, r.fact.name)} "
                         f"{r.fact.value} {r.fact.unit} (berlaku "
                         f"{r.fact.effective_date.isoformat()}).")
            pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 5, _latin1(
                f"Kemitraan dihitung ({len(r.counted)}): "
                + (", ".join(c.id for c in r.counted) or "-")), new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 5, _latin1(f"Kemitraan tidak dihitung ({len(r.left_out)}):"),
                           new_x="LMARGIN", new_y="NEXT")
            for x in r.left_out:
                pdf.multi_cell(0, 5, _latin1(
                    f"  - {x.id} (UMKM {x.umkm_nib}): "
                    + "; ".join(REASON_ID.get(y, y) for y in x.reasons)),
                    new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


def explanations_for(ledger: Any, conn: sa.Connection, results: Sequence[ObligationResult],
                     period: Period) -> dict[str, list[ObligationResult]]:
    """For each business with a non-compliant result: all its results over all its
    partnerships (to list the ones left out and why)."""
    nibs = sorted({r.nib for r in results if r.status == "non_compliant"})
    wanted = {(r.nib, r.regulation_id, r.obligation_id, r.period.label) for r in results}
    out: dict[str, list[ObligationResult]] = {}
    for nib in nibs:
        _, _, own = explain(ledger, conn, nib, period)
        out[nib] = [r for r in own if (r.nib, r.regulation_id, r.obligation_id,
                                       r.period.label) in wanted]
    return out


def today_period(today: date) -> Period:
    return Period(str(today.year), date(today.year, 1, 1), date(today.year, 12, 31))
