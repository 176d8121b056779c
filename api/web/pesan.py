"""Messages shown to dinas and company staff in the web pages, in Bahasa Indonesia.

The API speaks English (its `detail` and `errors[].message` are part of the public contract),
and the domain raises those English messages. The pages translate them here, by pattern, at the
last moment: the import's rejected rows, a refused file, a failed evidence review, a wrong
period. A message with no pattern is shown as it is (English) rather than hidden; the tests
drive every row error the import can produce through the page and fail on any left untranslated.
"""

from __future__ import annotations

import re

# (pattern over the whole English message, Indonesian text; groups are carried over)
_CATALOG: tuple[tuple[str, str], ...] = (
    # --- values (domain/values.py) ---
    (r"is required", "wajib diisi"),
    (r"must be 13 digits", "harus 13 digit angka"),
    (r"each KBLI code must be 5 digits", "setiap kode KBLI harus 5 digit angka"),
    (r"must be a Kemendagri code such as (\S+) or (\S+)",
     r"harus kode wilayah Kemendagri, misalnya \1 atau \2"),
    (r"must be empty or a Kemendagri code such as (\S+)",
     r"harus kosong atau kode wilayah Kemendagri, misalnya \1"),
    (r"must be a Kemendagri code such as (\S+) or (\S+) \(no part is all zeros\)",
     r"harus kode wilayah Kemendagri, misalnya \1 atau \2 (tidak ada bagian yang semuanya nol)"),
    (r"must be empty or a Kemendagri code such as (\S+) \(no part is all zeros\)",
     r"harus kosong atau kode wilayah Kemendagri, misalnya \1 "
     r"(tidak ada bagian yang semuanya nol)"),
    (r"must be one of (.+)", r"harus salah satu dari: \1"),
    (r"must be an integer number of rupiah", "harus bilangan bulat rupiah"),
    (r"must be an integer number of rupiah \(no decimals\)",
     "harus bilangan bulat rupiah (tanpa desimal)"),
    (r"must be an integer number of rupiah, e\.g\. (\S+) or (\S+)",
     r"harus bilangan bulat rupiah, misalnya \1 atau \2"),
    (r"must be between 0 and 10\^18 rupiah", "harus antara 0 dan 10^18 rupiah"),
    (r"must be text", "harus berupa teks"),
    (r"must be text, not a date", "harus berupa teks, bukan tanggal"),
    (r"must be at most (\d+) characters", r"paling banyak \1 karakter"),
    (r"must be a date YYYY-MM-DD", "harus tanggal dengan format TTTT-BB-HH"),
    (r"must be a date YYYY-MM-DD \(or DD/MM/YYYY\)",
     "harus tanggal dengan format TTTT-BB-HH (atau HH/BB/TTTT)"),
    (r"must not be before (\w+)", r"tidak boleh sebelum \1"),
    (r"must be a date between 1900-01-01 and 9998-12-31",
     "harus tanggal antara 1900-01-01 dan 9998-12-31"),
    # --- the parties of a proposal (domain/use_cases/partnerships.py) ---
    (r"is not a registered business", "bukan pelaku usaha yang terdaftar"),
    (r"must be a besar business", "harus usaha besar"),
    (r"must be a mikro, kecil or menengah business", "harus usaha mikro, kecil, atau menengah"),
    (r"a company may only propose partnerships where it is the large party",
     "perusahaan hanya boleh mengajukan kemitraan yang menyebut dirinya sebagai usaha besar"),
    # --- the import (domain/use_cases/imports.py, api/imports.py) ---
    (r"repeats row (\d+) \(same large_nib and external_ref\)",
     r"mengulang baris \1 (large_nib dan external_ref sama)"),
    (r"was imported before with other values; change that partnership through the API "
     r"\(amend\) instead",
     "sudah pernah diimpor dengan isi lain; ubah kemitraan itu melalui API (amend), "
     "bukan dengan impor ulang"),
    (r"the file is larger than the upload limit of (\d+) bytes",
     r"berkas lebih besar dari batas unggahan \1 byte"),
    (r"the file is empty", "berkas kosong"),
    (r"is empty", "kosong"),
    (r"old \.xls workbooks are not read: save the file as \.xlsx or \.csv",
     "berkas .xls lama tidak dapat dibaca: simpan sebagai .xlsx atau .csv"),
    (r"(.+) is not a readable \.xlsx or \.csv file",
     r"\1 bukan berkas .xlsx atau .csv yang dapat dibaca"),
    (r"the file is neither CSV text nor an \.xlsx workbook",
     "berkas bukan teks CSV maupun buku kerja .xlsx"),
    (r"the file is neither CSV text nor a readable \.xlsx workbook",
     "berkas bukan teks CSV maupun buku kerja .xlsx yang dapat dibaca"),
    (r"the workbook inflates to more than the import accepts",
     "isi buku kerja setelah dibuka melebihi batas impor"),
    (r"the file is not a readable \.xlsx workbook", "berkas bukan buku kerja .xlsx yang dapat dibaca"),
    (r"the file has more than (\d+) rows; split it",
     r"berkas berisi lebih dari \1 baris; pecah menjadi beberapa berkas"),
    (r"the file has (\d+) rows, more than the (\d+) one import accepts; split it",
     r"berkas berisi \1 baris, lebih dari \2 baris yang diterima satu kali impor; "
     r"pecah menjadi beberapa berkas"),
    (r"the header row lacks the column\(s\) (.+) \(download the template\)",
     r"baris judul tidak memuat kolom \1 (unduh template)"),
    (r"missing column (.+)", r"kolom \1 tidak ada"),
    (r"holds the spreadsheet error (\S+), not a value",
     r"berisi galat lembar kerja \1, bukan nilai"),
    # --- evidence review (domain/partnership.py) ---
    (r"decision: must be verified or rejected", "keputusan harus diverifikasi atau ditolak"),
    (r"evidence (\S+) was already reviewed \(verified\); submit a new file instead",
     r"bukti \1 sudah diverifikasi; kirim berkas baru bila perlu"),
    (r"evidence (\S+) was already reviewed \(rejected\); submit a new file instead",
     r"bukti \1 sudah ditolak; kirim berkas baru bila perlu"),
    # --- the UMKM's answer to a proposal (domain/partnership.py) ---
    *((f"cannot {verb} a partnership that is {status}",
       f"kemitraan yang berstatus {nama} tidak dapat {kata}")
      for verb, kata in (("confirm", "dikonfirmasi"), ("decline", "ditolak"))
      for status, nama in (("proposed", "diusulkan"), ("active", "aktif"),
                           ("suspended", "ditangguhkan"), ("declined", "ditolak UMKM"),
                           ("withdrawn", "ditarik"), ("terminated", "diakhiri"))),
    # --- tokens (domain/use_cases/tokens.py, domain/access_token.py) ---
    (r"a dinas token needs a region", "token dinas memerlukan wilayah"),
    (r"an? (\w+) token has no region", r"token \1 tidak memiliki wilayah"),
    (r"a company token needs at least one NIB",
     "token perusahaan memerlukan paling sedikit satu NIB"),
    (r"an umkm token needs exactly one NIB", "token UMKM memerlukan tepat satu NIB"),
    (r"an? (\w+) token has no NIBs", r"token \1 tidak memiliki NIB"),
    (r"(\d+) is not a registered business", r"\1 bukan pelaku usaha yang terdaftar"),
    (r"(\d+) is not a besar business", r"\1 bukan usaha besar"),
    (r"(\d+) is not a mikro, kecil or menengah business",
     r"\1 bukan usaha mikro, kecil, atau menengah"),
    (r"the token is already revoked", "token sudah dicabut"),
    # --- periods (domain/compliance.py) ---
    (r"a period is a year \(2024\) or a quarter \(2024-Q1\)",
     "periode berupa tahun (2024) atau triwulan (2024-Q1)"),
    (r"the year must be between 1900 and 9998", "tahun harus antara 1900 dan 9998"),
)
_COMPILED = tuple((re.compile(pattern), text) for pattern, text in _CATALOG)


def translate(message: str) -> str | None:
    """The Indonesian text of an English message, or None if the catalog has no pattern."""
    for pattern, text in _COMPILED:
        found = pattern.fullmatch(message)
        if found:
            return found.expand(text)
    return None


def indonesian(message: str) -> str:
    """The message in Bahasa Indonesia where the catalog knows it, else as it is."""
    return translate(message) or message
