"""What the demo's documents say: the partnership as the seeder knows it, document numbers, and
the perjanjian, sales recaps, attendance lists, weighing notes, invoices and orders of each kind
of partnership, rendered as the files of `api.demo.files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random
from uuid import UUID

from api.demo.dates import Period
from api.demo.files import csv_bytes, pdf
from api.demo.world import Biz, place

DEMO_NOTE = "Dokumen contoh buatan demo Kemitraan Ledger; bukan dokumen sungguhan."


def rupiah(n: int) -> str:
    return "Rp " + f"{n:,}".replace(",", ".")


@dataclass
class Kemitraan:
    """A partnership as the seeder knows it (the ledger holds the real one)."""

    id: UUID
    large: Biz
    umkm: Biz
    pola: str
    program: str | None
    title: str
    start: date
    end: date | None
    value: int | None
    location: str
    description: str | None = None


class Numbers:
    """Document numbers (`PKS/202403/00012`), counted in the order the documents are made."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, prefix: str, on: date) -> str:
        self.count += 1
        return f"{prefix}/{on:%Y%m}/{self.count:05d}"


AGREEMENT_TERMS = {  # program or pola -> (rights and obligations, form of development)
    "penempatan_ritel": (
        "PIHAK PERTAMA menyediakan ruang rak produk lokal dan membayar hasil penjualan "
        "konsinyasi setiap bulan; PIHAK KEDUA memasok produk berizin edar (PIRT/halal) dengan "
        "label dan kemasan sesuai standar gerai.",
        "kurasi produk, pelatihan kemasan dan label, serta akses rak produk lokal di gerai."),
    "rantai_pasok_industri": (
        "PIHAK KEDUA memasok hasil tangkapan segar sesuai mutu yang disepakati; PIHAK PERTAMA "
        "membeli seluruh pasokan yang memenuhi mutu dengan harga acuan mingguan dan membayar "
        "paling lambat 7 hari setelah penimbangan.",
        "bantuan sarana rantai dingin (cool box), pelatihan penanganan ikan, dan kepastian harga."),
    "bapak_angkat": (
        "PIHAK PERTAMA menyelenggarakan pendampingan usaha secara berkala; PIHAK KEDUA mengikuti "
        "pendampingan dan menyampaikan laporan perkembangan usaha setiap semester.",
        "pendampingan manajemen, pembukuan, perizinan, pemasaran, dan akses pembiayaan."),
    "subkontrak": (
        "PIHAK KEDUA mengerjakan pekerjaan sesuai surat pesanan dan spesifikasi; PIHAK PERTAMA "
        "membayar sesuai faktur paling lambat 30 hari.",
        "alih keterampilan, standar keselamatan kerja, dan pesanan berulang."),
    "penyumberluaran": (
        "PIHAK KEDUA menyediakan jasa sesuai standar yang disepakati; PIHAK PERTAMA membayar "
        "setiap bulan berdasarkan berita acara.",
        "pelatihan standar higiene dan keamanan pangan."),
}


def agreement_pdf(k: Kemitraan, number: str, signed: date, *,
                  signed_by_both: bool = True) -> bytes:
    """A perjanjian with the minimum content of UU 20/2008 Pasal 34, naming both parties."""
    duties, development = AGREEMENT_TERMS.get(k.program or "", AGREEMENT_TERMS.get(
        k.pola, AGREEMENT_TERMS["subkontrak"]))
    term = (f"sampai {k.end:%d-%m-%Y}" if k.end else
            "sampai diakhiri salah satu pihak dengan pemberitahuan tertulis 30 hari")
    return pdf(f"PERJANJIAN KEMITRAAN No. {number}", [
        f"Pada tanggal {signed:%d-%m-%Y} di {place(k.location)} yang bertanda tangan di bawah "
        "ini:",
        f"1. {k.large.name}, NIB {k.large.nib}, usaha besar, selanjutnya PIHAK PERTAMA;",
        f"2. {k.umkm.name}, NIB {k.umkm.nib}, usaha {k.umkm.scale}, selanjutnya PIHAK KEDUA.",
        f"Pasal 1 Kegiatan usaha: {k.title}. Pola kemitraan: {k.pola.replace('_', ' ')}"
        + (f"; program {k.program.replace('_', ' ')}." if k.program else "."),
        f"Pasal 2 Hak dan kewajiban: {duties}",
        f"Pasal 3 Bentuk pengembangan oleh PIHAK PERTAMA: {development}",
        f"Pasal 4 Jangka waktu: sejak {k.start:%d-%m-%Y} {term}.",
        "Pasal 5 Nilai: " + (f"{rupiah(k.value)} (perkiraan)." if k.value else
                             "sesuai realisasi transaksi."),
        "Pasal 6 Penyelesaian perselisihan: musyawarah untuk mufakat; bila tidak tercapai, "
        "melalui Pengadilan Negeri setempat.",
        "Perjanjian ini dibuat dalam Bahasa Indonesia dalam dua rangkap bermeterai cukup.",
        "PIHAK PERTAMA: (ttd)      PIHAK KEDUA: "
        + ("(ttd)" if signed_by_both else "(belum ditandatangani)"),
        DEMO_NOTE,
    ])


def consignment_recap(rng: Random, number: Numbers, k: Kemitraan,
                      period: Period) -> tuple[bytes, int, int]:
    """(CSV, rupiah, SKUs): a quarter's consignment sales of the UMKM's products in the chain."""
    skus = 2 + int(k.umkm.nib) % 5  # stable per UMKM
    rows, total = [], 0
    for i in range(skus):
        qty = rng.randint(20, 160)
        price = rng.choice([8_500, 12_000, 15_000, 18_500, 22_000, 27_500])
        total += qty * price
        rows.append([number("KNS", period[1]), f"{period[0]}/{period[1]}", k.umkm.nib,
                     k.umkm.name, k.large.nib, place(k.location), f"{k.umkm.trade} varian {i + 1}",
                     f"SKU-{k.umkm.nib[-4:]}{i + 1:02d}", qty, price, qty * price])
    recap = csv_bytes(["nomor", "periode", "pemasok_nib", "pemasok", "pembeli_nib",
                       "wilayah_gerai", "produk", "kode_sku", "qty_terjual", "harga_satuan_idr",
                       "jumlah_idr"], rows)
    return recap, total, skus


MENTORING_TOPICS = ["Pembukuan sederhana", "Kemasan dan label", "Perizinan PIRT dan halal",
                    "Pemasaran digital", "Higiene produksi", "Penetapan harga jual",
                    "Akses pembiayaan KUR", "Foto produk", "Manajemen stok",
                    "Layanan pelanggan"]


def mentoring_sessions(rng: Random, k: Kemitraan, period: Period) -> list[list[object]]:
    """3-8 dated sessions spread over the period, with topic and attendance."""
    count = rng.randint(3, 8)
    span = (period[1] - period[0]).days
    return [[period[0] + timedelta(days=span * (i + 1) // (count + 1)), i + 1,
             rng.choice(MENTORING_TOPICS), f"Tim pendamping {k.large.name}", k.umkm.nib,
             k.umkm.name, rng.randint(1, 3)] for i in range(count)]


def attendance_list(sessions: list[list[object]], signature: str) -> bytes:
    return csv_bytes(["tanggal", "sesi_ke", "topik", "mentor", "peserta_nib", "peserta_usaha",
                      "jumlah_hadir", "tanda_tangan"], [[*s, signature] for s in sessions])


FISH = [("tongkol", 21_000), ("layang", 17_500), ("kembung", 24_000), ("teri", 31_000),
        ("cumi", 42_000)]  # (species, rupiah per kg)


def fish_of(k: Kemitraan) -> tuple[str, int]:
    return FISH[int(k.umkm.nib) % len(FISH)]


def weighing_notes(number: Numbers, k: Kemitraan, months: list[Period], kgs: list[int]) -> bytes:
    species, _ = fish_of(k)
    return csv_bytes(["nomor_nota_timbang", "tanggal", "pemasok_nib", "penerima", "jenis_ikan",
                      "berat_kg", "mutu"],
                     [[number("NTB", m[1]), m[1], k.umkm.nib, k.large.name, species, kg, "A"]
                      for m, kg in zip(months, kgs)])


def fish_invoice(number: Numbers, k: Kemitraan, months: list[Period], kgs: list[int]) -> bytes:
    species, price = fish_of(k)
    return csv_bytes(["nomor_faktur", "tanggal", "penjual_nib", "penjual", "pembeli_nib",
                      "jenis_ikan", "berat_kg", "harga_per_kg_idr", "jumlah_idr"],
                     [[number("FKT", m[1]), m[1], k.umkm.nib, k.umkm.name, k.large.nib, species,
                       kg, price, kg * price] for m, kg in zip(months, kgs)])


def subcontract_documents(number: Numbers, k: Kemitraan, period: Period,
                          amount: int) -> tuple[bytes, bytes, bytes]:
    """The large firm's purchase order, the UMKM's invoice and the payment proof."""
    order_no = number("PO", period[0])
    order = pdf(f"SURAT PESANAN No. {order_no}", [
        f"Dari: {k.large.name} (NIB {k.large.nib}). Kepada: {k.umkm.name} (NIB {k.umkm.nib}).",
        f"Pekerjaan: {k.title}, periode {period[0]:%d-%m-%Y} s.d. {period[1]:%d-%m-%Y}.",
        f"Nilai pesanan: {rupiah(amount)}, belum termasuk pajak.", DEMO_NOTE])
    invoice = csv_bytes(["nomor_faktur", "tanggal", "penjual_nib", "pembeli_nib",
                         "nomor_pesanan", "uraian", "jumlah_idr"],
                        [[number("INV", period[1]), period[1], k.umkm.nib, k.large.nib,
                          order_no, k.title, amount]])
    paid = pdf(f"BUKTI PEMBAYARAN {number('TRF', period[1])}", [
        f"Telah dibayar oleh {k.large.name} kepada {k.umkm.name} sebesar {rupiah(amount)} "
        f"untuk pesanan {order_no}.", DEMO_NOTE])
    return order, invoice, paid
