"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright,
against `kemitraan demo` serving the seeded demo ledger on a free localhost port.

Walks what dinas staff and a company do: sign in; see the demo region's funnel; open a
partnership and step back in time; verify an evidence file; download the XLSX; import a file
with one bad row and see its error; sign out. Screenshots of the main pages go to
docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("KEMITRAAN_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
KEMITRAAN = str(Path(sys.executable).with_name("kemitraan"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`kemitraan demo` in a fresh data dir: the seeded ledger, one token per role."""
    data = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEMITRAAN_")}
    env["KEMITRAAN_DATA_DIR"] = str(data)
    out = (data / "stdout.txt").open("w+")
    proc = subprocess.Popen([KEMITRAAN, "demo", "--port", str(port)], stdout=out,
                            stderr=subprocess.STDOUT, env=env, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(base + "/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (data / "stdout.txt").read_text()
            assert time.monotonic() < deadline, "kemitraan demo did not start"
            time.sleep(0.5)
        tokens = dict(re.findall(r"^\s+(\w+)\s+(kl_\S+)", (data / "stdout.txt").read_text(),
                                 re.MULTILINE))
        assert {"dinas", "company"} <= set(tokens), (data / "stdout.txt").read_text()
        yield {"base": base, "tokens": tokens}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # No skip: without Chromium (`apt-get install chromium`; .ci/run installs it) this fails.
    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM} (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _sign_in(page: Any, base: str, token: str) -> None:
    page.goto(base + "/")
    assert "/masuk" in page.url
    page.fill("#token", token)
    page.click("button:has-text('Masuk')")
    page.wait_for_load_state()


def test_dinas_staff_walk_the_dashboard(demo: dict[str, Any], browser: Any) -> None:
    base = demo["base"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  locale="id-ID", timezone_id="Asia/Jakarta")
    page = context.new_page()
    _sign_in(page, base, demo["tokens"]["dinas"])

    # the demo region's funnel, for 2025 (the demo's business dates run to the end of 2025)
    page.goto(base + "/?tahun=2025")
    funnel = page.locator("#corong-desc")
    text = funnel.text_content() or ""
    reported = int(re.search(r"Dilaporkan: ([\d.]+)", text).group(1).replace(".", ""))
    assert reported > 0, text
    assert page.locator("figure.grafik svg").count() >= 4
    page.screenshot(path=str(SHOTS / "ringkasan.png"), full_page=True)

    # the partnership list, downloaded as XLSX
    page.goto(base + "/kemitraan")
    assert page.locator("table tbody tr").count() > 1
    page.screenshot(path=str(SHOTS / "kemitraan.png"))
    with page.expect_download() as download:
        page.click("#unduh-xlsx")
    from openpyxl import load_workbook

    assert download.value.suggested_filename == "kemitraan.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert sheet.cell(row=1, column=1).value == "ID kemitraan" and sheet.max_row > 1

    # the evidence queue: open a file, verify it
    page.goto(base + "/bukti")
    rows = page.locator("table tbody tr")
    before = rows.count()
    assert before > 0
    page.screenshot(path=str(SHOTS / "bukti.png"))
    first = rows.first
    title_link = first.locator("a").first
    detail_href = title_link.get_attribute("href")
    file_href = first.locator("a:has-text('Buka berkas')").get_attribute("href")
    response = page.request.get(base + file_href)
    assert response.status == 200 and len(response.body()) > 0
    first.locator("button:has-text('Verifikasi')").click()
    page.wait_for_load_state()
    assert "Bukti diverifikasi." in page.locator(".pesan").text_content()
    # Enter in a rejection's reason rejects (with one form it pressed Verifikasi)
    reason = page.locator("table tbody tr").first.locator("input[name=alasan]")
    reason.fill("Foto buram, tidak terbaca")
    with page.expect_navigation():
        reason.press("Enter")
    status = page.locator("main [role=status]").first.text_content() or ""
    assert "Bukti ditolak" in status, status

    # that partnership's page: the review is in its timeline; step back to its first event
    page.goto(base + detail_href)
    assert "Bukti ditinjau" in page.locator(".linimasa").text_content()
    page.screenshot(path=str(SHOTS / "kemitraan-detail.png"), full_page=True)
    version_now = page.locator("dd").nth(8).text_content()
    page.locator("a.mundur").first.click()  # the first event (the demo seeds at one instant)
    page.wait_for_load_state()
    assert "Menampilkan keadaan seperti tercatat" in page.content()
    # the review just made was not yet recorded then: greyed in the timeline, one version less
    assert "Bukti ditinjau" in page.locator(".linimasa li.kemudian").last.text_content()
    assert int(page.locator("dd").nth(8).text_content()) < int(version_now)

    # compliance with each business's explanation, and the audit page
    page.goto(base + "/kepatuhan?periode=2025")
    page.screenshot(path=str(SHOTS / "kepatuhan.png"), full_page=True)
    page.goto(base + "/audit")
    assert "Checkpoint bertanda tangan terbaru" in page.content()
    page.screenshot(path=str(SHOTS / "audit.png"))

    # sign out: the pages ask for a token again
    page.click("button:has-text('Keluar')")
    page.wait_for_load_state()
    assert "/masuk" in page.url
    page.goto(base + "/kemitraan")
    assert "/masuk" in page.url
    context.close()


def test_a_company_imports_a_file_with_one_bad_row(demo: dict[str, Any], browser: Any,
                                                   tmp_path: Path) -> None:
    base = demo["base"]
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    _sign_in(page, base, demo["tokens"]["company"])
    assert "/kemitraan" in page.url
    page.goto(base + "/impor")
    # the company's own NIB and an UMKM it already works with, from its list
    listing = page.request.get(base + "/kemitraan/unduh.csv").text().splitlines()
    large, umkm = listing[1].split(",")[1:3]
    lines = ["external_ref,large_nib,umkm_nib,pola,program,title,start_date,end_date,value_idr,"
             "location_region_code",
             f"BROWSER-1,{large},{umkm},rantai_pasok,,Uji peramban,2025-01-01,,5000000,32.16",
             f"BROWSER-2,{large},{umkm},rantai_pasok,,Uji peramban 2,2025-02-30,,5000000,32.16"]
    path = tmp_path / "kemitraan.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.set_input_files("#berkas", str(path))
    page.click("#form-impor button[type=submit]")
    page.wait_for_selector("#ditolak")
    rejected = page.locator("#ditolak tbody tr")
    assert rejected.count() == 1
    cells = rejected.first.locator("td").all_text_contents()
    assert cells[:2] == ["3", "start_date"] and "harus tanggal" in cells[2]
    assert "1 dibuat" in " ".join(page.locator("#hasil .ringkas").text_content().split())
    page.screenshot(path=str(SHOTS / "impor.png"), full_page=True)
    page.click("button:has-text('Keluar')")
    page.wait_for_load_state()
    assert "/masuk" in page.url
    context.close()


def test_an_admin_issues_and_revokes_a_token(demo: dict[str, Any], browser: Any) -> None:
    base = demo["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, base, demo["tokens"]["admin"])
    page.goto(base + "/token")
    page.select_option("select[name=peran]", "auditor")
    page.fill("input[name=wilayah]", "64.71")
    page.fill("input[name=nama]", "Inspektorat Kota Balikpapan (sampel)")
    page.click("button:has-text('Terbitkan')")
    page.wait_for_selector("#token-baru")
    secret = page.locator("#rahasia").text_content() or ""
    assert secret.startswith("kl_")
    assert httpx.get(base + "/v1/audit/keys",
                     headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # the secret is masked: a throwaway demo's, but a token all the same
    page.screenshot(path=str(SHOTS / "token.png"), full_page=True, mask=[page.locator("#rahasia")])
    row = page.locator("tr", has_text="Inspektorat Kota Balikpapan")
    row.locator("button:has-text('Cabut')").click()
    page.wait_for_load_state()
    assert "Token dicabut" in page.content()
    assert page.locator("tr", has_text="Inspektorat Kota Balikpapan").count() == 0
    context.close()


def test_the_umkm_confirms_the_proposal_waiting_for_it(demo: dict[str, Any],
                                                       browser: Any) -> None:
    base = demo["base"]
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    _sign_in(page, base, demo["tokens"]["umkm"])
    page.goto(base + "/kemitraan?status=proposed")
    page.locator("table tbody tr a").first.click()
    page.wait_for_selector("#jawaban")
    page.screenshot(path=str(SHOTS / "konfirmasi.png"), full_page=True)
    page.fill("#konfirmasi input[name=catatan]", "Benar, kami memasok setiap bulan")
    page.press("#konfirmasi input[name=catatan]", "Enter")  # Enter confirms, in its own form
    page.wait_for_load_state()
    assert "Anda konfirmasi benar" in page.content()
    assert page.locator("#status").text_content() == "Aktif"
    assert page.locator("#jawaban").count() == 0
    context.close()
