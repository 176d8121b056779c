"""The dashboard through HTTP: sign-in cookie, CSRF, role visibility, the pages' content."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.helpers import (
    LARGE_A, REGION_A, UMKM_A, expect, post, propose, register_business, two_parties,
    upload,
)

PAGES = ["/", "/kemitraan", "/bukti", "/impor", "/impor/template.xlsx",
         "/kemitraan/unduh.xlsx", "/kemitraan/00000000-0000-4000-8000-000000000000",
         "/bukti/no-such-evidence/berkas", "/kepatuhan", "/audit", "/token"]


@pytest.fixture
def backend() -> str:
    """The pages call the same view queries as the API (tested on both stores): SQLite here."""
    return "sqlite"


@pytest.fixture
def world(client: Any, make_token: Any, clock: Any) -> dict[str, str]:
    from datetime import timedelta

    parties = two_parties(client, make_token, umkm_scale="mikro")
    admin, company, umkm = parties["admin"], parties["company"], parties["umkm"]
    pid = propose(client, company, LARGE_A, UMKM_A, REGION_A, title="Pasokan & <kue>")["id"]
    clock.now += timedelta(hours=2)  # recorded later than the proposal
    expect(post(client, umkm, pid, "confirm", {"effective_date": "2024-01-15"}), 200)
    evidence = expect(upload(client, company, pid), 201)["evidence_id"]
    return {"admin": admin, "company": company, "umkm": umkm, "pid": pid, "evidence": evidence,
            "dinas": make_token("dinas", region=REGION_A),
            "dinas_other": make_token("dinas", region="33.17"),
            "auditor": make_token("auditor", region=REGION_A)}


def sign_in(client: Any, token: str) -> str:
    client.cookies.clear()
    r = client.post("/masuk", data={"token": token, "lanjut": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get(r.headers["location"])
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert m, page.text[:500]
    return m.group(1)


def test_every_page_but_sign_in_redirects_to_it_without_a_session(client: Any,
                                                                  world: dict[str, str]) -> None:
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/masuk?lanjut="), path
    assert client.get("/masuk").status_code == 200
    # a bearer header is not a session: the pages answer only to the cookie
    r = client.get("/", headers={"Authorization": f"Bearer {world['admin']}"},
                   follow_redirects=False)
    assert r.status_code == 303


def test_a_wrong_token_is_refused_in_indonesian(client: Any, world: dict[str, str]) -> None:
    r = client.post("/masuk", data={"token": "kl_nope"})
    assert r.status_code == 401 and "Token tidak dikenal" in r.text
    assert "kemitraan_sesi" not in r.headers.get("set-cookie", "")


def test_a_sign_in_posted_from_another_site_is_refused(client: Any,
                                                       world: dict[str, str]) -> None:
    """Login CSRF: another site's form would sign the visitor in with that site's token."""
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = client.post("/masuk", data={"token": world["dinas"]}, headers=headers,
                        follow_redirects=False)
        assert r.status_code == 403 and "kemitraan_sesi" not in r.headers.get("set-cookie", "")
    same = client.post("/masuk", data={"token": world["dinas"]}, follow_redirects=False,
                       headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303


def test_the_sign_in_redirect_never_leaves_the_site(client: Any, world: dict[str, str]) -> None:
    r = client.post("/masuk", data={"token": world["dinas"], "lanjut": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/"


@pytest.mark.parametrize("role,visible,hidden", [
    ("admin", {"/", "/kemitraan", "/bukti", "/kepatuhan", "/audit", "/impor", "/token"}, set()),
    ("dinas", {"/", "/kemitraan", "/bukti", "/kepatuhan", "/audit"}, {"/impor", "/token"}),
    ("auditor", {"/", "/kemitraan", "/kepatuhan", "/audit"}, {"/bukti", "/impor", "/token"}),
    ("company", {"/kemitraan", "/impor", "/kepatuhan"}, {"/bukti", "/audit", "/token"}),
    ("umkm", {"/kemitraan"}, {"/bukti", "/impor", "/kepatuhan", "/audit", "/token"}),
])
def test_a_role_sees_only_its_pages_and_the_others_answer_404(
        client: Any, world: dict[str, str], role: str, visible: set[str],
        hidden: set[str]) -> None:
    sign_in(client, world[role])
    menu = client.get("/kemitraan").text
    for path in visible:
        assert client.get(path).status_code == 200, path
        assert f'href="{path}"' in menu, path
    for path in hidden:
        assert client.get(path).status_code == 404, path
        assert f'href="{path}"' not in menu, path


def test_the_overview_shows_the_funnel_as_a_chart_with_text(client: Any,
                                                            world: dict[str, str]) -> None:
    sign_in(client, world["dinas"])
    page = client.get("/", params={"tahun": 2024})
    assert page.status_code == 200
    assert "Corong kemitraan" in page.text and "<svg" in page.text
    assert re.search(r"<desc[^>]*>Dilaporkan: 1; Dikonfirmasi UMKM: 1; Terdokumentasi: 0; "
                     r"Riil: 0</desc>", page.text), page.text
    # the partnership lies at 32.16 itself: no link to the page already shown
    assert "Rantai pasok" in page.text and "32.16 <small>(wilayah ini)</small>" in page.text
    assert 'href="/?wilayah=32.16&amp;tahun=2024"' not in page.text
    # outside the token's region: not found
    assert client.get("/", params={"wilayah": "33.17"}).status_code == 404
    # a quarter picked without a year: that quarter of this year (it was ignored)
    assert "Kuartal 2 2024" in client.get("/", params={"kuartal": 2}).text  # the clock: 2024-03


def test_the_overview_says_how_old_figures_computed_before_a_write_are(
        client: Any, world: dict[str, str], container: Any, monkeypatch: Any) -> None:
    from api.web.format import angka
    from projections import funnel_cube

    container.views.catch_up()
    with container.engine.begin() as conn:
        computed_at = funnel_cube.refresh(conn, "2024")
    propose(client, world["company"], LARGE_A, UMKM_A, REGION_A)  # reported in 2024 too
    sign_in(client, world["dinas"])
    page = client.get("/", params={"tahun": 2024})
    assert re.search(r"<desc[^>]*>Dilaporkan: 1;", page.text)
    assert f"posisi log {angka(computed_at)}." in page.text
    assert "Angka corong dihitung lebih dulu" in page.text and "180 detik" in page.text
    monkeypatch.setattr(container.settings, "stats_max_age", 0)  # only up-to-date figures
    page = client.get("/", params={"tahun": 2024})
    assert re.search(r"<desc[^>]*>Dilaporkan: 2;", page.text)
    assert f"posisi log {angka(computed_at)}." not in page.text
    assert "dihitung lebih dulu" not in page.text


def test_a_partnership_page_shows_its_timeline_and_steps_back_in_time(
        client: Any, world: dict[str, str]) -> None:
    sign_in(client, world["auditor"])
    page = client.get(f"/kemitraan/{world['pid']}")
    assert page.status_code == 200
    assert "Pasokan &amp; &lt;kue&gt;" in page.text  # escaped
    assert "Diusulkan" in page.text and "Dikonfirmasi UMKM" in page.text
    assert "Rp 150.000.000" in page.text and "1 Januari 2024" in page.text
    first = re.search(r'class="mundur" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    then = client.get(first)
    assert 'id="status">Diusulkan<' in then.text and "Belum tercatat" in then.text
    # instants no calendar can show in WIB are ignored (the page as it is now), never a 500
    for beyond in ("9999-12-31T23:59Z", "9999-12-31T23:59", "0001-01-01T00:00"):
        odd = client.get(f"/kemitraan/{world['pid']}", params={"pada": beyond})
        assert odd.status_code == 200 and 'id="status">Aktif<' in odd.text, beyond
    # another region's dinas cannot see it
    sign_in(client, world["dinas_other"])
    assert client.get(f"/kemitraan/{world['pid']}").status_code == 404


def test_a_dinas_verifies_evidence_from_the_queue_with_csrf(client: Any,
                                                            world: dict[str, str]) -> None:
    csrf = sign_in(client, world["dinas"])
    queue = client.get("/bukti")
    assert world["evidence"] in queue.text
    pdf = client.get(f"/bukti/{world['evidence']}/berkas")
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment")
    # a shelf photo opens in the browser (still sandboxed, never sniffed); the API downloads it
    photo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200
    shelf = expect(upload(client, world["company"], world["pid"], photo, kind="shelf_photo",
                          filename="rak.png", media_type="image/png"), 201)["evidence_id"]
    shown = client.get(f"/bukti/{shelf}/berkas")
    assert shown.headers["content-disposition"].startswith("inline")
    assert shown.headers["content-security-policy"] == "sandbox"
    assert shown.headers["x-content-type-options"] == "nosniff"
    api = client.get(f"/v1/evidence/{shelf}/content",
                     headers={"Authorization": f"Bearer {world['dinas']}"})
    assert api.headers["content-disposition"].startswith("attachment")
    form = {"partnership_id": world["pid"], "evidence_id": world["evidence"],
            "keputusan": "verified", "kembali": "/bukti"}
    assert client.post("/bukti/tinjau", data={**form, "csrf": "0" * 64}).status_code == 403
    assert client.post("/bukti/tinjau", data={**form, "csrf": "é" * 64}).status_code == 403
    rejected = client.post("/bukti/tinjau", data={**form, "csrf": csrf, "keputusan": "rejected"})
    assert "alasan wajib diisi" in rejected.text
    done = client.post("/bukti/tinjau", data={**form, "csrf": csrf})
    assert "Bukti diverifikasi." in done.text
    assert world["evidence"] not in client.get("/bukti").text
    got = expect(client.get(f"/v1/partnerships/{world['pid']}",
                            headers={"Authorization": f"Bearer {world['dinas']}"}), 200)
    assert got["evidence"][0]["review"]["decision"] == "verified"


def test_the_umkm_confirms_or_declines_a_proposal_on_its_page(
        client: Any, world: dict[str, str], make_token: Any) -> None:
    pid = propose(client, world["company"], LARGE_A, UMKM_A, REGION_A, title="Rak keripik")["id"]
    # the company sees no answer form; the UMKM does
    sign_in(client, world["company"])
    assert 'id="jawaban"' not in client.get(f"/kemitraan/{pid}").text
    csrf = sign_in(client, world["umkm"])
    listed = client.get("/kemitraan").text  # the world's own proposal was confirmed
    assert "Ada 1 usulan kemitraan yang menunggu jawaban Anda" in listed
    page = client.get(f"/kemitraan/{pid}").text
    assert 'id="jawaban"' in page and "Perlu jawaban Anda" in page
    form = {"csrf": csrf, "versi": "1", "keputusan": "tolak", "catatan": ""}
    assert client.post(f"/kemitraan/{pid}/jawab", data={**form, "csrf": "0" * 64}
                       ).status_code == 403
    assert "tuliskan alasan" in client.post(f"/kemitraan/{pid}/jawab", data=form).text
    # the company amends the proposal after the UMKM opened it: not answered unseen
    expect(post(client, world["company"], pid, "amend", {"value_idr": 7}), 200)
    stale = client.post(f"/kemitraan/{pid}/jawab", data={**form, "keputusan": "konfirmasi"})
    assert "berubah sejak halaman dibuka" in stale.text
    done = client.post(f"/kemitraan/{pid}/jawab",
                       data={**form, "keputusan": "konfirmasi", "versi": "2",
                             "catatan": "Benar, kami bermitra"})
    assert "Anda konfirmasi benar" in done.text and 'id="jawaban"' not in done.text
    # the timeline speaks Indonesian: who (by role), and what an amendment changed
    assert "nilai kontrak → Rp 7" in done.text and "value_idr" not in done.text
    assert "oleh Perusahaan" in done.text and "oleh UMKM" in done.text
    assert 'id="menunggu"' not in client.get("/kemitraan").text
    got = expect(client.get(f"/v1/partnerships/{pid}",
                            headers={"Authorization": f"Bearer {world['umkm']}"}), 200)
    assert (got["status"], got["version"]) == ("active", 3)
    again = client.post(f"/kemitraan/{pid}/jawab", data={**form, "keputusan": "tolak",
                                                          "versi": "3", "catatan": "x"})
    assert "tidak dapat ditolak" in again.text
    # another UMKM (or a company posting the form) gets 404, as for a page it may not see
    other = propose(client, world["company"], LARGE_A, UMKM_A, REGION_A, title="Lain")["id"]
    csrf = sign_in(client, world["company"])
    assert client.post(f"/kemitraan/{other}/jawab", data={**form, "csrf": csrf}
                       ).status_code == 404


def test_an_admin_issues_a_token_sees_it_once_lists_and_revokes_it(
        client: Any, world: dict[str, str]) -> None:
    csrf = sign_in(client, world["admin"])
    form = {"peran": "dinas", "wilayah": "32.16", "nama": "DPMPTSP Kab. Bekasi", "nib": ""}
    assert client.post("/token", data={**form, "csrf": "0" * 64}).status_code == 403
    issued = client.post("/token", data={**form, "csrf": csrf})
    assert issued.status_code == 200 and "tidak akan ditampilkan lagi" in issued.text
    secret = re.search(r'<code id="rahasia">(kl_[^<]+)</code>', issued.text).group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/partnerships", headers=bearer).status_code == 200
    listed = client.get("/token").text
    assert "DPMPTSP Kab. Bekasi" in listed and secret not in listed  # shown once, never again
    token_id = re.search(r'ID token: <code>([0-9a-f-]{36})</code>', issued.text).group(1)
    assert token_id in listed
    # a refusal is explained in Bahasa Indonesia, and the form keeps what was typed
    refused = client.post("/token", data={"peran": "company", "nib": "3216099999999",
                                          "nama": "PT Tidak Ada", "csrf": csrf})
    assert refused.status_code == 422
    assert "NIB: 3216099999999 bukan pelaku usaha yang terdaftar" in refused.text
    assert 'value="PT Tidak Ada"' in refused.text
    revoked = client.post("/token/cabut", data={"token_id": token_id, "csrf": csrf})
    assert "Token dicabut" in revoked.text
    assert client.get("/v1/partnerships", headers=bearer).status_code == 401
    assert token_id not in client.get("/token").text
    assert "dicabut" in client.get("/token", params={"semua": "true"}).text
    again = client.post("/token/cabut", data={"token_id": token_id, "csrf": csrf})
    assert "Gagal: token sudah dicabut" in again.text
    assert client.post("/token/cabut", data={"token_id": "bukan-id", "csrf": csrf}
                       ).status_code == 404


def test_a_message_in_a_link_made_elsewhere_is_not_shown_and_failures_look_like_failures(
        client: Any, world: dict[str, str]) -> None:
    csrf = sign_in(client, world["dinas"])
    spoof = "Sesi Anda berakhir. Masuk lagi di https://evil.example"
    assert spoof not in client.get("/kemitraan", params={"pesan": spoof}).text
    assert spoof not in client.get("/kemitraan", params={"pesan": spoof,
                                                         "tanda": "0" * 32}).text
    # a reason sent with "verified" (an old page, a form filled by hand) is refused, shown red
    form = {"partnership_id": world["pid"], "evidence_id": world["evidence"], "csrf": csrf,
            "keputusan": "verified", "alasan": "Foto buram", "kembali": "/bukti"}
    page = client.post("/bukti/tinjau", data=form).text
    assert '<p class="galat" role="status">Gagal: alasan hanya untuk menolak' in page
    got = expect(client.get(f"/v1/partnerships/{world['pid']}",
                            headers={"Authorization": f"Bearer {world['dinas']}"}), 200)
    assert got["evidence"][0]["review"] is None
    # the rejection has a form of its own: its reason and its button go together
    forms = [f.split("</form>")[0] for f in client.get("/bukti").text.split("<form")[1:]]
    [reject] = [f for f in forms if 'value="rejected"' in f]
    assert 'name="alasan"' in reject and 'value="verified"' not in reject
    out = client.post("/keluar", data={"csrf": csrf})
    assert "Anda telah keluar." in out.text


def test_a_dashboard_url_that_names_no_page_answers_the_indonesian_404_page(
        client: Any, world: dict[str, str]) -> None:
    sign_in(client, world["dinas"])
    for method, path in (("GET", "/tidak-ada"), ("GET", "/static/tidak-ada.css"),
                         ("GET", "/bukti/tinjau"), ("POST", "/kemitraan")):
        r = client.request(method, path)
        assert r.status_code in (404, 405) and r.headers["content-type"].startswith("text/html")
        assert "Not Found" not in r.text and "Method Not Allowed" not in r.text
    api = client.get("/v1/tidak-ada")  # the API keeps its problem+json
    assert api.headers["content-type"].startswith("application/problem+json")


def test_a_compliance_explanation_reads_in_indonesian(client: Any,
                                                      world: dict[str, str]) -> None:
    from tests.api.test_compliance import SHARE_PACK as share

    expect(client.post("/v1/regulations", json=share,
                       headers={"Authorization": f"Bearer {world['admin']}"}), 201)
    sign_in(client, world["dinas"])
    page = client.get("/kepatuhan", params={"nib": LARGE_A, "periode": "2024"}).text
    assert "periode 2024" in page and "wajib 30%" in page
    assert "data usaha yang dibutuhkan belum dideklarasikan" in page  # fact_missing
    assert "perjanjian belum terverifikasi" in page  # the world's partnership, left out
    assert "no_verified_perjanjian" not in page and "fact_missing" not in page


def test_a_timeline_entry_shows_the_state_after_that_event_by_version(
        client: Any, world: dict[str, str]) -> None:
    """Events recorded at one instant (a seeded ledger) differ only by version: the timeline
    links by version, and the picker is filled with the instant rounded up to the second."""
    sign_in(client, world["dinas"])
    page = client.get(f"/kemitraan/{world['pid']}").text
    assert f'href="/kemitraan/{world["pid"]}?versi=1"' in page
    first = client.get(f"/kemitraan/{world['pid']}", params={"versi": 1}).text
    assert "setelah peristiwa ke-1" in first and '<dd id="status">Diusulkan</dd>' in first
    assert first.count('class="kemudian"') == 2  # the confirmation and the upload came later
    picked = re.search(r'id="pada" name="pada" step="1" value="([^"]+)"', first).group(1)
    again = client.get(f"/kemitraan/{world['pid']}", params={"pada": picked}).text
    assert '<dd id="status">Diusulkan</dd>' in again and "belum tercatat" not in again


def test_the_list_downloads_as_xlsx_with_the_api_columns(client: Any,
                                                         world: dict[str, str]) -> None:
    sign_in(client, world["company"])
    listed = client.get("/kemitraan").text
    assert "Pasokan &amp; &lt;kue&gt;" in listed
    assert '<option value="penempatan_ritel">Penempatan ritel</option>' in listed  # not a code
    # a page position beyond any log (and beyond SQLite's integers) is a clear 422
    assert client.get("/kemitraan", params={"setelah": 2**63}).status_code == 422
    # the downloads take the list's filters, validated alike (no LIKE wildcards as a region)
    assert client.get("/kemitraan/unduh.csv", params={"wilayah": "%"}).status_code == 422


def test_a_value_a_page_cannot_use_is_a_page_in_bahasa_indonesia_not_json(
        client: Any, world: dict[str, str]) -> None:
    sign_in(client, world["dinas"])
    for path, params in (("/", {"tahun": "abc"}), ("/", {"kuartal": "9"}),
                         ("/kemitraan", {"wilayah": "32.1"})):
        page = client.get(path, params=params)
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
        assert "Permintaan tidak valid" in page.text and next(iter(params)) in page.text
    # the API keeps its problem+json
    api = client.get("/v1/stats/partnerships", params={"group_by": "x"},
                     headers={"Authorization": f"Bearer {world['dinas']}"})
    assert api.status_code == 422 and api.headers["content-type"].startswith(
        "application/problem+json")
    r = client.get("/kemitraan/unduh.xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "ID kemitraan" and rows[1][0] == world["pid"]


@pytest.mark.parametrize("zeros", ["32.00", "00.16", "32.16.00", "32.16.01.0000", "%"])
def test_a_region_filter_with_a_part_of_zeros_is_the_422_page(client: Any,
                                                               world: dict[str, str],
                                                               zeros: str) -> None:
    """The overview showed an admin "Ringkasan wilayah 32.00", empty, as if it were a region."""
    sign_in(client, world["admin"])
    for path in ("/", "/kemitraan", "/kemitraan/unduh.csv"):
        page = client.get(path, params={"wilayah": zeros})
        assert page.status_code == 422, (path, page.text[:300])
        assert page.headers["content-type"].startswith("text/html")
        assert "Permintaan tidak valid" in page.text and "<code>wilayah</code>" in page.text
    # the forms' own check says the same before anything is sent
    for path in ("/", "/kemitraan"):
        attribute = re.search(r'name="wilayah"[^>]* pattern="([^"]+)"', client.get(path).text)
        assert attribute and not re.fullmatch(attribute.group(1), zeros)
        assert re.fullmatch(attribute.group(1), "32.16.01.2001")


def test_an_import_with_one_bad_row_shows_its_row_and_column(client: Any,
                                                             world: dict[str, str]) -> None:
    csrf = sign_in(client, world["company"])
    content = ("external_ref,large_nib,umkm_nib,pola,program,title,start_date,end_date,"
               "value_idr,location_region_code\n"
               f"W-1,{LARGE_A},{UMKM_A},subkontrak,,Baik,2024-01-01,,1000,32.16\n"
               f"W-2,{LARGE_A},{UMKM_A},subkontrak,,Buruk,2024-01-01,,seribu,32.16\n").encode()
    files = {"file": ("k.csv", content, "text/csv")}
    assert client.post("/impor", data={"csrf": "x"}, files=files).status_code == 403
    page = client.post("/impor", data={"csrf": csrf}, files=files)
    assert page.status_code == 200
    assert re.search(r"<td>3</td><td>value_idr</td><td>harus bilangan bulat rupiah", page.text)
    assert "<strong>1</strong> dibuat" in page.text


HEADER = ("external_ref,large_nib,umkm_nib,pola,program,title,start_date,end_date,value_idr,"
          "location_region_code\n")


def _rejected(page: Any) -> dict[int, list[tuple[str, str]]]:
    """The rejected-rows table of the import page: row -> [(column, message)]."""
    import html

    found: dict[int, list[tuple[str, str]]] = {}
    for row, column, message in re.findall(
            r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page.text):
        found.setdefault(int(row), []).append((column, html.unescape(message)))
    return found


def test_every_rejected_row_is_explained_in_bahasa_indonesia(client: Any,
                                                             world: dict[str, str]) -> None:
    """Dinas and company staff read the import's row errors in Bahasa Indonesia: each kind of
    row error the import produces, through the page, with its row and column."""
    other = "3216000000999"  # registered nowhere
    rows = [
        f"B-1,{LARGE_A},{UMKM_A},subkontrak,,Baik,2024-01-01,,1000,32.16",            # 2 ok
        f"B-2,{LARGE_A},{UMKM_A},subkontrak,,Rupiah,2024-01-01,,seribu,32.16",        # 3
        f"B-3,123,{UMKM_A},subkontrak,,NIB,2024-01-01,,1000,32.16",                   # 4
        f"B-4,{LARGE_A},{UMKM_A},barter,,Pola,2024-01-01,,1000,32.16",                # 5
        f"B-5,{LARGE_A},{UMKM_A},subkontrak,,Tanggal,kemarin,,1000,32.16",            # 6
        f"B-6,{LARGE_A},{UMKM_A},subkontrak,,Urutan,2024-02-01,2024-01-01,1000,32.16",  # 7
        f"B-7,{LARGE_A},{other},subkontrak,,UMKM,2024-01-01,,1000,32.16",             # 8
        f"B-8,{UMKM_A},{UMKM_A},subkontrak,,Besar,2024-01-01,,1000,32.16",            # 9
        f"B-9,{LARGE_A},{LARGE_A},subkontrak,,Skala,2024-01-01,,1000,32.16",          # 10
        f",{LARGE_A},{UMKM_A},subkontrak,,Ref,2024-01-01,,1000,32.16",                # 11
        f"B-1,{LARGE_A},{UMKM_A},subkontrak,,Baik,2024-01-01,,1000,32.16",            # 12
        f"B-12,{LARGE_A},{UMKM_A},subkontrak,,Wilayah,2024-01-01,,1000,Bekasi",       # 13
        f"B-13,{LARGE_A},{UMKM_A},subkontrak,,,2024-01-01,,1000,32.16",               # 14
        f"B-14,{LARGE_A},{UMKM_A},subkontrak,,{'x' * 301},2024-01-01,,1000,32.16",    # 15
        f"B-15,{LARGE_A},{UMKM_A},subkontrak,,Nol,2024-01-01,,1000,32.16.00",         # 16
    ]
    csrf = sign_in(client, world["admin"])
    files = {"file": ("b.csv", (HEADER + "\n".join(rows) + "\n").encode(), "text/csv")}
    page = client.post("/impor", data={"csrf": csrf, "uji": "ya"}, files=files)
    assert page.status_code == 200, page.text
    got = _rejected(page)
    assert got == {
        3: [("value_idr", "harus bilangan bulat rupiah, misalnya 150000000 atau 150.000.000")],
        4: [("large_nib", "harus 13 digit angka")],
        5: [("pola", got[5][0][1])],
        6: [("start_date", "harus tanggal dengan format TTTT-BB-HH (atau HH/BB/TTTT)")],
        7: [("end_date", "tidak boleh sebelum start_date")],
        8: [("umkm_nib", "bukan pelaku usaha yang terdaftar")],
        9: [("large_nib", "harus usaha besar")],
        10: [("umkm_nib", "harus usaha mikro, kecil, atau menengah")],
        11: [("external_ref", "wajib diisi")],
        12: [("external_ref", "mengulang baris 2 (large_nib dan external_ref sama)")],
        13: [("location_region_code",
              "harus kode wilayah Kemendagri, misalnya 32.16 atau 32.16.01.2001")],
        14: [("title", "wajib diisi")],
        15: [("title", "paling banyak 300 karakter")],
        16: [("location_region_code", "harus kode wilayah Kemendagri, misalnya 32.16 atau "
                                      "32.16.01.2001 (tidak ada bagian yang semuanya nol)")],
    }, got
    assert got[5][0][1].startswith("harus salah satu dari: ") and "subkontrak" in got[5][0][1]
    assert "<strong>1</strong> akan dibuat" in page.text

    # a company naming another large business; a row imported before with other values
    client.cookies.clear()
    csrf = sign_in(client, world["company"])
    first = f"C-1,{LARGE_A},{UMKM_A},subkontrak,,Awal,2024-01-01,,1000,32.16\n"
    files = {"file": ("c.csv", (HEADER + first).encode(), "text/csv")}
    assert "<strong>1</strong> dibuat" in client.post("/impor", data={"csrf": csrf},
                                                       files=files).text
    again = (f"C-1,{LARGE_A},{UMKM_A},subkontrak,,Diubah,2024-01-01,,1000,32.16\n"
             f"C-2,{other},{UMKM_A},subkontrak,,Lain,2024-01-01,,1000,32.16\n")
    files = {"file": ("c.csv", (HEADER + again).encode(), "text/csv")}
    got = _rejected(client.post("/impor", data={"csrf": csrf, "uji": "ya"}, files=files))
    assert got == {
        2: [("external_ref", "sudah pernah diimpor dengan isi lain; ubah kemitraan itu melalui "
                             "API (amend), bukan dengan impor ulang")],
        3: [("large_nib", "perusahaan hanya boleh mengajukan kemitraan yang menyebut dirinya "
                          "sebagai usaha besar")],
    }, got


def test_a_refused_file_is_explained_in_bahasa_indonesia(client: Any,
                                                         world: dict[str, str]) -> None:
    csrf = sign_in(client, world["company"])
    files = {"file": ("k.csv", b"external_ref,large_nib\nA,1\n", "text/csv")}
    page = client.post("/impor", data={"csrf": csrf}, files=files)
    assert page.status_code == 422
    assert "baris judul tidak memuat kolom umkm_nib, pola" in page.text
    assert "kolom title tidak ada" in page.text and "missing" not in page.text
    files = {"file": ("k.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
                      "application/vnd.ms-excel")}
    page = client.post("/impor", data={"csrf": csrf}, files=files)
    assert page.status_code == 415
    assert "berkas .xls lama tidak dapat dibaca: simpan sebagai .xlsx atau .csv" in page.text


# Every English message a page can show (the API's own text), with no pattern missing.
ENGLISH = [
    "is required", "must be 13 digits", "each KBLI code must be 5 digits",
    "must be a Kemendagri code such as 32.16 or 32.16.01.2001",
    "must be empty or a Kemendagri code such as 32.16",
    "must be a Kemendagri code such as 32.16 or 32.16.01.2001 (no part is all zeros)",
    "must be empty or a Kemendagri code such as 32.16 (no part is all zeros)",
    "must be one of mikro, kecil, menengah, besar", "must be an integer number of rupiah",
    "must be an integer number of rupiah (no decimals)",
    "must be an integer number of rupiah, e.g. 150000000 or 150.000.000",
    "must be between 0 and 10^18 rupiah", "must be text", "must be text, not a date",
    "must be at most 200 characters", "must be a date YYYY-MM-DD",
    "must be a date YYYY-MM-DD (or DD/MM/YYYY)", "must not be before start_date",
    "must be a date between 1900-01-01 and 9998-12-31",
    "is not a registered business", "must be a besar business",
    "must be a mikro, kecil or menengah business",
    "a company may only propose partnerships where it is the large party",
    "repeats row 7 (same large_nib and external_ref)",
    "was imported before with other values; change that partnership through the API (amend) "
    "instead",
    "the file is larger than the upload limit of 20971520 bytes", "the file is empty", "is empty",
    "old .xls workbooks are not read: save the file as .xlsx or .csv",
    "data.pdf is not a readable .xlsx or .csv file",
    "the file is neither CSV text nor an .xlsx workbook",
    "the file is neither CSV text nor a readable .xlsx workbook",
    "the workbook inflates to more than the import accepts",
    "the file is not a readable .xlsx workbook", "the file has more than 100000 rows; split it",
    "the file has 100001 rows, more than the 100000 one import accepts; split it",
    "the header row lacks the column(s) pola, title (download the template)",
    "missing column pola", "holds the spreadsheet error #N/A, not a value",
    "decision: must be verified or rejected",
    "evidence e1 was already reviewed (verified); submit a new file instead",
    "evidence e1 was already reviewed (rejected); submit a new file instead",
    "a period is a year (2024) or a quarter (2024-Q1)", "the year must be between 1900 and 9998",
    "must be one of admin, dinas, auditor, company, umkm", "a dinas token needs a region",
    "a company token has no region", "an umkm token has no region", "a admin token has no region",
    "a company token needs at least one NIB", "an umkm token needs exactly one NIB",
    "a dinas token has no NIBs", "an auditor token has no NIBs",
    "3216099000001 is not a registered business", "3216099000001 is not a besar business",
    "3216099000001 is not a mikro, kecil or menengah business",
    "the token is already revoked", "cannot confirm a partnership that is declined",
    "cannot decline a partnership that is active",
]


@pytest.mark.parametrize("message", ENGLISH)
def test_the_catalog_translates_every_message_a_page_shows(message: str) -> None:
    from api.web.pesan import translate

    text = translate(message)
    assert text is not None and text != message
    assert not re.search(r"\b(must|the|is|of|be)\b", text), text


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client: Any,
                                                            world: dict[str, str]) -> None:
    csrf = sign_in(client, world["dinas"])
    assert client.post("/keluar", data={"csrf": "nope"}).status_code == 403
    r = client.post("/keluar", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and 'kemitraan_sesi=""' in r.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_pages_are_not_in_the_openapi_document(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all(p.startswith("/v1/") for p in paths), [p for p in paths if
                                                     not p.startswith("/v1/")]


def test_the_audit_page_shows_the_signed_checkpoint_and_proves_an_event(
        client: Any, world: dict[str, str]) -> None:
    sign_in(client, world["auditor"])
    page = client.get("/audit")
    assert "Checkpoint bertanda tangan terbaru" in page.text
    size = int(re.search(r'id="ukuran">([\d.]+) peristiwa', page.text).group(1).replace(".", ""))
    assert size >= 1
    seq = expect(client.get(f"/v1/partnerships/{world['pid']}/events",
                            headers={"Authorization": f"Bearer {world['auditor']}"}),
                 200)["items"][0]["seq"]
    checked = client.get("/audit", params={"seq": seq})
    assert "termasuk dalam pohon bertanda tangan" in checked.text, checked.text


def test_the_audit_page_of_a_following_server_before_any_checkpoint_is_a_503_page(
        settings: Any, clock: Any, make_token: Any) -> None:
    """KEMITRAAN_PROJECTIONS=follow signs nothing: until the folding process signs the first
    checkpoint, /audit answered the API's problem+json in English instead of a page."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.wiring import build

    follower = build(settings.model_copy(update={"projections": "follow"}))
    try:
        with TestClient(create_app(follower, clock=clock, run_projections=True),
                        raise_server_exceptions=False) as client:
            sign_in(client, make_token("auditor", region=REGION_A))
            for params in ({}, {"seq": "1"}):
                page = client.get("/audit", params=params)
                assert page.status_code == 503, page.text[:300]
                assert page.headers["content-type"].startswith("text/html")
                assert page.headers["Retry-After"] == "30"
                assert "Belum ada checkpoint yang ditandatangani" in page.text
                assert "Silakan coba lagi nanti (sekitar 30 detik lagi)" in page.text
                assert 'href="/audit" aria-current="page"' in page.text  # the menu is there
                assert "checkpoint is signed" not in page.text
            # the API keeps its problem+json
            api = client.get("/v1/audit/checkpoints/latest",
                             headers={"Authorization": f"Bearer {make_token('admin')}"})
            assert api.status_code == 503 and api.headers["Retry-After"] == "30"
            assert api.headers["content-type"].startswith("application/problem+json")
    finally:
        follower.close()


def test_the_audit_page_of_a_server_holding_a_retired_key_is_a_503_page(
        client: Any, container: Any, world: dict[str, str], tmp_path: Any) -> None:
    """A server whose key another process retired cannot sign (ADR 0014): the page says so,
    like the API, instead of answering problem+json."""
    from projections.checkpoints import Checkpointer

    sign_in(client, world["auditor"])
    assert client.get("/audit").status_code == 200  # signed with the server's key
    Checkpointer(container.engine, tmp_path / "baru.pem",
                 container.settings.audit_origin).setup()  # a new key retires it
    register_business(client, world["admin"], "3216010000099", "mikro", REGION_A)  # log grows
    page = client.get("/audit")
    assert page.status_code == 503, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["Retry-After"] == "60"
    assert "kunci audit yang sudah dipensiunkan" in page.text
    assert "Silakan coba lagi nanti (sekitar 60 detik lagi)" in page.text


def test_the_compliance_page_lists_the_region_and_explains_a_business(
        client: Any, world: dict[str, str]) -> None:
    import json
    from pathlib import Path

    pack = json.loads((Path(__file__).parents[2] / "rules" / "perbup-bekasi-73-2020.json")
                      .read_text())
    expect(client.post("/v1/regulations", headers={"Authorization": f"Bearer {world['admin']}"},
                       json=pack), 201)
    sign_in(client, world["dinas"])
    page = client.get("/kepatuhan", params={"periode": "2024"})
    assert page.status_code == 200 and pack["id"] in page.text, page.text[-2000:]
    assert "Tidak patuh" in page.text
    explained = client.get("/kepatuhan", params={"periode": "2024", "nib": LARGE_A})
    assert "Penjelasan:" in explained.text
    assert client.get("/kepatuhan", params={"nib": "3317000000001"}).status_code == 404


# ---- business names beside NIBs; the review queue's dates, order and pages --------------------

NAMED_LARGE, NAMED_UMKM = "3216000000011", "3317010000012"  # the UMKM lies in another region


def _named_world(client: Any, world: dict[str, str]) -> dict[str, str]:
    """A partnership of 32.16 between named businesses (its UMKM registered in 33.17), and one
    of 33.17 only, between businesses a 32.16 dinas may not see, each with a file waiting."""
    from tests.api.helpers import LARGE_B, REGION_B, UMKM_B

    admin = world["admin"]
    for nib, scale, region, name in (
            (NAMED_LARGE, "besar", REGION_A, "PT Sampel Makmur"),
            (NAMED_UMKM, "mikro", REGION_B, "UD Sumber Rejeki"),
            (LARGE_B, "besar", REGION_B, "PT Luar Wilayah"),
            (UMKM_B, "mikro", REGION_B, "CV Jauh Sekali")):
        register_business(client, admin, nib, scale, region, name=name)
    inside = propose(client, admin, NAMED_LARGE, NAMED_UMKM, REGION_A, title="Pasokan bumbu")
    outside = propose(client, admin, LARGE_B, UMKM_B, REGION_B, title="Pasokan luar")
    for pid in (inside["id"], outside["id"]):
        expect(upload(client, admin, pid, PDF_OF(pid)), 201)
    return {"inside": inside["id"], "outside": outside["id"]}


def PDF_OF(text: str) -> bytes:
    """A small PDF of its own (files with one content are flagged as reused)."""
    from tests.api.helpers import PDF

    return PDF + f"% {text}\n".encode()


def test_the_pages_name_the_businesses_a_dinas_may_see_and_no_other(
        client: Any, world: dict[str, str]) -> None:
    from tests.api.test_compliance import SHARE_PACK

    named = _named_world(client, world)
    expect(client.post("/v1/regulations", json=SHARE_PACK,
                       headers={"Authorization": f"Bearer {world['admin']}"}), 201)
    hidden = ("PT Luar Wilayah", "CV Jauh Sekali")
    sign_in(client, world["dinas"])
    listed = client.get("/kemitraan").text
    assert "PT Sampel Makmur<br><small>3216000000011</small>" in listed
    # the partnership lies in 32.16: its UMKM of 33.17 is a party the dinas may see
    assert "UD Sumber Rejeki<br><small>3317010000012</small>" in listed
    detail = client.get(f"/kemitraan/{named['inside']}").text
    assert '<dd id="usaha-besar">PT Sampel Makmur (3216000000011)</dd>' in detail
    assert '<dd id="umkm">UD Sumber Rejeki (3317010000012)</dd>' in detail
    queue = client.get("/bukti").text
    assert "PT Sampel Makmur (3216000000011) → UD Sumber Rejeki (3317010000012)" in queue
    explained = client.get("/kepatuhan", params={"nib": NAMED_LARGE, "periode": "2024"}).text
    assert "dengan UMKM UD Sumber Rejeki (3317010000012): belum dikonfirmasi" in explained
    for page in (listed, detail, queue, explained, client.get("/kepatuhan").text):
        assert not any(name in page for name in hidden), page
    assert client.get(f"/kemitraan/{named['outside']}").status_code == 404
    # the other region's dinas sees its own, and not the businesses of 32.16 alone
    sign_in(client, world["dinas_other"])
    listed = client.get("/kemitraan").text
    assert "PT Luar Wilayah<br><small>" in listed and "CV Jauh Sekali" in listed
    for page in (listed, client.get("/bukti").text):
        assert "Usaha 3216000000001" not in page  # the world's large business, all in 32.16


def test_the_umkm_is_told_the_name_of_the_company_that_proposed(
        client: Any, world: dict[str, str], make_token: Any) -> None:
    named = _named_world(client, world)
    sign_in(client, make_token("umkm", nibs=[NAMED_UMKM]))
    page = client.get(f"/kemitraan/{named['inside']}").text
    assert "Usaha besar PT Sampel Makmur (NIB 3216000000011) mencatat" in page


def _queue(page: str) -> list[str]:
    """The evidence ids of a queue page, in the order shown."""
    return re.findall(r'href="/bukti/([0-9a-f-]{36})/berkas"', page)


def _submit(client: Any, token: str, pid: str, **period: str) -> str:
    from uuid import uuid4

    response = client.post(f"/v1/partnerships/{pid}/evidence",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("bukti.pdf", PDF_OF(str(uuid4())), "application/pdf")},
                           data={"kind": "invoice", **period})
    return expect(response, 201)["evidence_id"]


def test_the_review_queue_shows_when_each_file_came_and_its_period_oldest_first(
        client: Any, world: dict[str, str], clock: Any) -> None:
    from datetime import timedelta

    company = world["company"]
    later = propose(client, company, LARGE_A, UMKM_A, REGION_A, title="Kemitraan kedua")["id"]
    clock.now += timedelta(days=1, minutes=3)  # 2 March 2024 12.03 WIB
    second = _submit(client, company, later, period_start="2024-04-01",
                     period_end="2024-06-30")
    clock.now += timedelta(hours=3)
    third = _submit(client, company, world["pid"])  # no period given
    sign_in(client, world["dinas"])
    page = client.get("/bukti").text
    # oldest submission first, whichever partnership was proposed first
    assert _queue(page) == [world["evidence"], second, third]
    rows = {e: row for row in page.split("<tr>")[2:] for e in _queue(row)}
    assert "1 Maret 2024 12.00 WIB" in rows[world["evidence"]]  # 05.00 UTC
    assert "1 Januari 2024 – 31 Desember 2024" in rows[world["evidence"]]
    assert "2 Maret 2024 12.03 WIB" in rows[second]
    assert "1 April 2024 – 30 Juni 2024" in rows[second]
    assert "2 Maret 2024 15.03 WIB" in rows[third] and "<td>–</td>" in rows[third]
    assert '<p id="jumlah">3 bukti menunggu tinjauan.</p>' in page


def test_paging_the_review_queue_reaches_every_waiting_file_exactly_once(
        client: Any, world: dict[str, str], monkeypatch: Any) -> None:
    """Pages of 2: while the officer pages, a file on a page already seen is reviewed and a
    new one arrives; every file still waiting is shown once, none skipped, none twice."""
    from api.web import review

    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    waiting = [world["evidence"]] + [_submit(client, world["company"], world["pid"])
                                     for _ in range(6)]
    csrf = sign_in(client, world["dinas"])
    page = client.get("/bukti").text
    assert '<p id="jumlah">7 bukti menunggu tinjauan.</p>' in page
    seen: list[str] = []
    arrived = None
    while True:
        shown = _queue(page)
        seen += shown
        if len(seen) == 2:  # the officer verifies the first file of the first page
            done = client.post("/bukti/tinjau", data={
                "csrf": csrf, "partnership_id": world["pid"], "evidence_id": shown[0],
                "keputusan": "verified", "kembali": "/bukti"})
            assert "Bukti diverifikasi." in done.text and shown[0] not in _queue(done.text)
        if len(seen) == 4:  # a company submits a new file meanwhile
            arrived = _submit(client, world["company"], world["pid"])
        link = re.search(r'<a href="(/bukti\?setelah=\d+)" rel="next">Berikutnya', page)
        if link is None:
            break
        page = client.get(link.group(1)).text
        assert "Halaman pertama" in page
    assert seen == waiting + [arrived]
    # a review made on a later page comes back to that page
    cursor = re.search(r'setelah=(\d+)" rel="next"', client.get("/bukti").text).group(1)
    later = client.get("/bukti", params={"setelah": cursor}).text
    assert f'name="kembali" value="/bukti?setelah={cursor}"' in later
    moved = client.post("/bukti/tinjau", data={
        "csrf": csrf, "partnership_id": world["pid"], "evidence_id": _queue(later)[0],
        "keputusan": "rejected", "alasan": "Buram", "kembali": f"/bukti?setelah={cursor}"},
        follow_redirects=False)
    assert moved.headers["location"].startswith(f"/bukti?setelah={cursor}&")


def test_a_long_queue_says_more_than_it_counts(client: Any, world: dict[str, str],
                                               monkeypatch: Any) -> None:
    from api.web import review

    monkeypatch.setattr(review, "COUNTED", 1)
    _submit(client, world["company"], world["pid"])
    sign_in(client, world["dinas"])
    assert '<p id="jumlah">Lebih dari 1 bukti menunggu tinjauan.</p>' in client.get("/bukti").text
