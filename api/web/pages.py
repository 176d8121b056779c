"""The dashboard's reading pages: sign-in, the region overview, the list, one partnership.

Each page calls the same use cases and view queries as the API route that answers the same
question (api/routes/stats.py, signals.py, partnerships.py): no SQL and no rules here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import deps, exports
from api.routes.partnerships import LIST_COLUMNS
from api.routes.stats import current_quarter, stats_region
from api.schemas.common import REGION_PREFIX_PATTERN
from api.logs import command_done
from api.views import event_type, summary_read
from api.web import pesan
from api.web.common import (
    ROLE_NAMES, business_names, guard, guard_form, not_found, render, safe_next,
)
from api.web.session import (
    authenticate, check_csrf, clear_session, message_url, set_session, web_principal,
)
from domain.access import Principal, Role, partnership_scope_filter
from domain.values import region_within
from domain.clock import WIB, jakarta_date
from domain.errors import DomainError, NotFound, StaleVersion
from domain.values import Pola
from projections import funnel_cube, partnership_list, scale_upgrades

router = APIRouter(include_in_schema=False)

POLA_NAMES = {
    "inti_plasma": "Inti-plasma", "subkontrak": "Subkontrak", "waralaba": "Waralaba",
    "perdagangan_umum": "Perdagangan umum", "distribusi_keagenan": "Distribusi dan keagenan",
    "rantai_pasok": "Rantai pasok", "bagi_hasil": "Bagi hasil",
    "kerja_sama_operasional": "Kerja sama operasional", "usaha_patungan": "Usaha patungan",
    "penyumberluaran": "Penyumberluaran", "lainnya": "Lainnya"}
PROGRAM_NAMES = {"penempatan_ritel": "Penempatan ritel",
                 "rantai_pasok_industri": "Rantai pasok industri",
                 "bapak_angkat": "Bapak angkat", None: "(tanpa program)"}
STATUS_NAMES = {"proposed": "Diusulkan", "active": "Aktif", "suspended": "Ditangguhkan",
                "declined": "Ditolak UMKM", "withdrawn": "Ditarik", "terminated": "Diakhiri",
                "expired": "Berakhir (lewat tanggal)"}
EVENT_NAMES = {
    "Partnership.Proposed": "Diusulkan", "Partnership.Confirmed": "Dikonfirmasi UMKM",
    "Partnership.Declined": "Ditolak UMKM", "Partnership.Withdrawn": "Ditarik pengusul",
    "Partnership.Suspended": "Ditangguhkan", "Partnership.Resumed": "Dilanjutkan",
    "Partnership.Terminated": "Diakhiri", "Partnership.Amended": "Diubah",
    "Partnership.EvidenceSubmitted": "Bukti diunggah",
    "Partnership.EvidenceReviewed": "Bukti ditinjau",
    "Partnership.RealizationReported": "Realisasi dilaporkan"}
KIND_NAMES = {"perjanjian": "Perjanjian", "purchase_order": "Pesanan pembelian (PO)",
              "invoice": "Faktur", "delivery_note": "Surat jalan", "payment_proof": "Bukti bayar",
              "shelf_photo": "Foto rak", "mentoring_log": "Catatan pendampingan",
              "other": "Lainnya"}
SCALE_NAMES = {"mikro": "Mikro", "kecil": "Kecil", "menengah": "Menengah", "besar": "Besar"}
NAMES = {"pola": POLA_NAMES, "program": PROGRAM_NAMES, "status": STATUS_NAMES,
         "event": EVENT_NAMES, "kind": KIND_NAMES, "scale": SCALE_NAMES}


# ---- sign in / out ----------------------------------------------------------------------------

@router.get("/masuk")
def sign_in_page(request: Request, lanjut: str | None = None, keluar: bool = False) -> Response:
    return render(request, "masuk.html", None, lanjut=safe_next(lanjut), keluar=keluar)


@router.post("/masuk")
def sign_in(request: Request, token: Annotated[str, Form(max_length=200)] = "",
            lanjut: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    # The sign-in form has no session to bind a CSRF token to: a form posted from another
    # site (which would sign the visitor in with the other site's token) is told apart by the
    # headers browsers add to it.
    origin = request.headers.get("origin")
    if (request.headers.get("sec-fetch-site") == "cross-site"
            or (origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc)):
        return Response("Masuk hanya dari halaman ini", status_code=403)
    who = authenticate(request, token.strip())
    if who is None:
        return render(request, "masuk.html", None, status=401, lanjut=safe_next(lanjut),
                      galat="Token tidak dikenal atau sudah dicabut.")
    target = safe_next(lanjut)
    if target == "/" and who.role not in (Role.ADMIN, Role.DINAS, Role.AUDITOR):
        target = "/kemitraan"
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, token.strip())
    return response


@router.post("/keluar")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    if web_principal(request) is not None and not check_csrf(request, csrf):
        return Response("CSRF token salah", status_code=403)
    response = RedirectResponse("/masuk?keluar=true", status_code=303)
    clear_session(response)
    return response


# A region filter (`wilayah`) of the overview, the list and its downloads: "" or a Kemendagri
# code with no part all zeros; anything else is the 422 page.
Wilayah = Annotated[str | None, Query(pattern=REGION_PREFIX_PATTERN)]


# ---- the region overview ----------------------------------------------------------------------

def _period(tahun: int | None, kuartal: int | None, today: date) -> tuple[date, date, str]:
    if tahun is None and kuartal is not None:  # a quarter picked, the year left as it was
        tahun = today.year
    if tahun is None:
        start, end = current_quarter(today)
        return start, end, f"Kuartal {(start.month - 1) // 3 + 1} {start.year}"
    if kuartal is None:
        return date(tahun, 1, 1), date(tahun, 12, 31), f"Tahun {tahun}"
    start = date(tahun, 3 * (kuartal - 1) + 1, 1)
    end = (date(tahun + (kuartal == 4), (3 * kuartal) % 12 + 1, 1) - timedelta(days=1))
    return start, end, f"Kuartal {kuartal} {tahun}"


@router.get("/")
def overview(request: Request, tahun: Annotated[int | None, Query(ge=2000, le=2100)] = None,
             kuartal: Annotated[int | None, Query(ge=1, le=4)] = None,
             wilayah: Wilayah = None) -> Response:
    who = web_principal(request)
    if who is not None and who.role in (Role.COMPANY, Role.UMKM):
        return RedirectResponse("/kemitraan", status_code=303)
    page = guard(request, "ringkasan")
    if isinstance(page, Response):
        return page
    who = page
    try:
        area = stats_region(who, wilayah or None)
    except DomainError:
        return not_found(request, who)
    today = jakarta_date(deps.now(request))
    start, end, label = _period(tahun, kuartal, today)
    c = deps.container(request)
    position, as_of = c.views.read_position(None), deps.now(request)
    tolerance = deps.funnel_tolerance(request, None)
    with c.engine.connect() as conn:
        answers = [funnel_cube.funnel_stats(conn, region=area, date_from=start, date_to=end,
                                            group_by=g, tolerance=tolerance)
                   for g in ("pola", "program", "region")]
        upgrades = scale_upgrades.counts(conn, area or "", start, end)
    (by_pola, totals, _), (by_program, _, _), (by_region, _, _) = answers
    behind = [a[2] for a in answers if a[2] is not None]
    for b in behind:  # the oldest figures shown
        position, as_of = min(position, b.position), min(as_of, b.as_of)
    funnel = [("Dilaporkan", totals["reported"]), ("Dikonfirmasi UMKM", totals["confirmed"]),
              ("Terdokumentasi", totals["documented"]), ("Riil", totals["real"])]
    years = list(range(today.year, today.year - 6, -1))
    return render(request, "ringkasan.html", who, active="ringkasan", area=area or "",
                  label=label, start=start, end=end, totals=totals, funnel=funnel,
                  by_pola=[(POLA_NAMES.get(g["key"], g["key"]), g) for g in by_pola],
                  by_program=[(PROGRAM_NAMES.get(g["key"], g["key"]), g) for g in by_program],
                  by_region=[(g["key"], g) for g in by_region], upgrades=upgrades,
                  # a drill-down link only below the area shown (a partnership touching it
                  # through a party may lie elsewhere, outside what the caller may open)
                  opens={g["key"] for g in by_region
                         if g["key"] != (area or "") and region_within(g["key"], area or "")},
                  names=NAMES, years=years, tahun=tahun, kuartal=kuartal, position=position,
                  as_of=as_of,
                  dihitung_lebih_dulu=round(c.settings.stats_max_age) if behind else None)


# ---- the list ---------------------------------------------------------------------------------

def _list_rows(request: Request, who: Principal, filters: dict[str, Any], limit: int,
               after: int | None) -> tuple[list[Any], int | None]:
    c = deps.container(request)
    c.views.read_position(None)
    today = jakarta_date(deps.now(request))
    with c.engine.connect() as conn:
        rows, next_seq = partnership_list.query(
            conn, scope=partnership_scope_filter(who), today=today,
            limit=limit, after_seq=after, **filters)
    return [summary_read(r, today) for r in rows], next_seq


def _filters(pola: str | None, status: str | None, program: str | None,
             wilayah: str | None) -> dict[str, Any]:
    return {"pola": pola if pola in POLA_NAMES else None,
            "status": status if status in STATUS_NAMES else None,
            "program": program or None, "region": wilayah or None}


# The list's filters, the same on the page and on its downloads ("" = no filter).
Program = Annotated[str | None, Query(max_length=100)]


@router.get("/kemitraan")
def partnership_list_page(
        request: Request, pola: str | None = None, status: str | None = None,
        program: Program = None, wilayah: Wilayah = None,
        setelah: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    page = guard(request, "kemitraan")
    if isinstance(page, Response):
        return page
    filters = _filters(pola, status, program, wilayah)
    items, next_seq = _list_rows(request, page, filters, 50, setelah)
    query = {k: v for k, v in (("pola", filters["pola"]), ("status", filters["status"]),
                               ("program", filters["program"]), ("wilayah", wilayah)) if v}
    waiting = 0  # an UMKM's proposals waiting for its answer, pointed out at the top
    if page.role is Role.UMKM:
        waiting = len(_list_rows(request, page, {**_filters(None, "proposed", None, None),
                                                 "umkm_nib": page.nibs[0]}, 100, None)[0])
    # the parties of partnerships in the caller's scope: their names may be shown
    nama = business_names(request, [n for i in items for n in (i.large_nib, i.umkm_nib)])
    return render(request, "kemitraan.html", page, active="kemitraan", items=items,
                  next_seq=next_seq, query=query, names=NAMES, polas=[p.value for p in Pola],
                  waiting=waiting, nama=nama)


@router.get("/kemitraan/unduh.{ext}")
def partnership_download(request: Request, ext: str, pola: str | None = None,
                         status: str | None = None, program: Program = None,
                         wilayah: Wilayah = None) -> Response:
    page = guard(request, "kemitraan")
    if isinstance(page, Response):
        return page
    if ext not in ("csv", "xlsx"):
        return not_found(request, page)
    items, _ = _list_rows(request, page, _filters(pola, status, program, wilayah), 1000, None)
    return exports.tabular_response(ext, LIST_COLUMNS,  # type: ignore[arg-type]
                                    [i.model_dump() for i in items], "kemitraan", "Kemitraan")


# ---- one partnership --------------------------------------------------------------------------

def _as_of(value: str | None) -> datetime | None:
    """The date picker's value (`YYYY-MM-DDTHH:MM`, Jakarta time) as an instant."""
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return None
    instant = local.replace(tzinfo=WIB) if local.tzinfo is None else local
    return instant if deps.showable(instant) else None


@router.get("/kemitraan/{pid}")
def partnership_page(request: Request, pid: str,
                     pada: Annotated[str | None, Query(max_length=40)] = None,
                     versi: Annotated[int | None, Query(ge=1, le=10**9)] = None) -> Response:
    """`pada`: the state as recorded at an instant; `versi`: after its N-th event (what each
    timeline entry links to: events recorded at one instant differ by version only)."""
    page = guard(request, "kemitraan")
    if isinstance(page, Response):
        return page
    who = page
    c = deps.container(request)
    try:
        agg_id = UUID(pid)
        instant = _as_of(pada) if versi is None else None
        p = c.ledger.get_partnership(who, agg_id, as_of=instant, version=versi)
        events = c.ledger.partnership_events(who, agg_id)
        if versi is not None:  # shown as of that version: its recorded instant for the rest
            instant = next(e.timestamp for e in events if e.originator_version == versi)
    except (ValueError, NotFound):
        if pada and _as_of(pada) is not None:  # it exists now, but had not been recorded yet
            try:
                c.ledger.get_partnership(who, UUID(pid))
            except (ValueError, NotFound):
                return not_found(request, who)
            return RedirectResponse(message_url(
                request, f"/kemitraan/{pid}", "Kemitraan ini belum tercatat pada waktu yang "
                                              "dipilih."), status_code=303)
        return not_found(request, who)
    seqs = c.event_log.positions(agg_id)
    timeline = [{"seq": seqs.get(e.originator_version), "version": e.originator_version,
                 "type": event_type(e), "name": EVENT_NAMES.get(event_type(e), event_type(e)),
                 "instant": e.timestamp.astimezone(WIB).isoformat(),
                 "at": e.timestamp, "effective": e.effective_date,
                 "role": ROLE_NAMES.get(Role(e.actor_role), e.actor_role)
                 if e.actor_role in {r.value for r in Role} else e.actor_role,
                 "later": (e.originator_version > versi if versi is not None
                           else instant is not None and e.timestamp > instant),
                 "detail": _detail(e)} for e in events]
    today = jakarta_date(deps.now(request))
    may_review = who.role in (Role.ADMIN, Role.DINAS) and instant is None
    # The UMKM named in a proposal answers it here: a partnership nobody confirmed is not real.
    may_answer = (who.role is Role.UMKM and p.umkm_nib in who.nibs and p.status == "proposed"
                  and instant is None)
    c.views.read_position(None)
    nama = business_names(request, (p.large_nib, p.umkm_nib))  # both parties of one it may see
    return render(request, "kemitraan_detail.html", who, active="kemitraan", p=p, nama=nama,
                  keadaan=p.effective_status(today), timeline=timeline, instant=instant,
                  pada=_picker_value(instant), versi=versi, names=NAMES,
                  may_review=may_review, may_answer=may_answer,
                  evidence=list(p.evidence.values()), realizations=list(p.realizations.values()))


@router.post("/kemitraan/{pid}/jawab")
def answer(request: Request, pid: str, csrf: Annotated[str, Form(max_length=200)],
           keputusan: Annotated[Literal["konfirmasi", "tolak"], Form()],
           versi: Annotated[int, Form(ge=1, le=10**9)],
           catatan: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """The UMKM confirms or declines the proposal it was shown (`versi`: a proposal amended
    since is not answered unseen)."""
    who = guard_form(request, "kemitraan", csrf)
    if isinstance(who, Response):
        return who
    c = deps.container(request)
    try:
        agg_id = UUID(pid)
        shown = c.ledger.get_partnership(who, agg_id)  # 404 outside the caller's scope
        if who.role is not Role.UMKM or shown.umkm_nib not in who.nibs:
            return not_found(request, who)  # only the UMKM named in it answers, here
        if keputusan == "tolak" and not catatan.strip():
            message = "Gagal: tuliskan alasan bila menolak, agar perusahaan tahu sebabnya."
        elif keputusan == "tolak":
            written = c.ledger.decline(who, deps.now(request), agg_id,
                                       reason=catatan.strip(), expected_version=versi)
            command_done(request, "partnership.decline", written)
            message = "Kemitraan ditolak. Alasan Anda tercatat."
        else:
            written = c.ledger.confirm(who, deps.now(request), agg_id,
                                       note=catatan.strip() or None, expected_version=versi)
            command_done(request, "partnership.confirm", written)
            message = "Terima kasih: kemitraan ini Anda konfirmasi benar."
    except (ValueError, NotFound):
        return not_found(request, who)
    except StaleVersion:
        message = ("Gagal: kemitraan ini berubah sejak halaman dibuka. Periksa isinya lagi, "
                   "lalu jawab.")
    except DomainError as e:
        message = "Gagal: " + pesan.indonesian(e.detail)
    return RedirectResponse(message_url(request, f"/kemitraan/{pid}", message), status_code=303)


# What an amendment may change, in the reader's words, and how each value is written.
CHANGED_FIELDS = {"end_date": "tanggal akhir", "value_idr": "nilai kontrak", "title": "judul",
                  "description": "uraian"}


def _changed_value(field: str, value: Any) -> str:
    from api.web.format import rupiah, tanggal

    if value is None:
        return "(dikosongkan)"
    if field == "end_date":
        return tanggal(value)
    if field == "value_idr":
        return rupiah(value)
    return str(value)


def _picker_value(instant: datetime | None) -> str:
    """The picker's value for an instant: WIB, rounded *up* to the second (the field has no
    microseconds; rounded down, "Lihat" asked for a moment before the event shown)."""
    if instant is None:
        return ""
    local = instant.astimezone(WIB)
    if local.microsecond:
        local = local.replace(microsecond=0) + timedelta(seconds=1)
    return local.strftime("%Y-%m-%dT%H:%M:%S")


def _detail(e: Any) -> str:
    """One line about what an event recorded, in the reader's words: the decision first, then
    what it was about and why."""
    parts = []
    for name in ("decision", "kind", "reason", "note", "changes"):
        value = getattr(e, name, None)
        if value:
            if name == "kind":
                value = KIND_NAMES.get(value, value)
            if name == "decision":
                value = {"verified": "diverifikasi", "rejected": "ditolak"}.get(value, value)
            if name == "changes":
                value = ", ".join(f"{CHANGED_FIELDS.get(k, k)} → {_changed_value(k, v)}"
                                  for k, v in value.items())
            parts.append(str(value))
    if getattr(e, "value_idr", None) and type(e).__name__ == "RealizationReported":
        from api.web.format import rupiah
        parts.append(rupiah(e.value_idr))
    return "; ".join(parts)
