"""Where the demo happens and who takes part: places, fictional businesses and their names.

Places are real: the four kabupaten/kota of docs/domain.md and their kecamatan, with Kemendagri
codes as listed in the public `api-wilayah-indonesia` data (Kepmendagri codes; kecamatan shown
for plausibility only, never checked by the ledger). Businesses are fictional: large ones carry
"(sampel)" in their name, UMKM names are generic "product + owner" names. NIBs are obviously
synthetic: the four kabupaten digits, zeros, then a counter (a 9 marks a large business).
KBLI 2020 codes are chosen to be plausible for each activity; check the official list before
relying on any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from random import Random

KABUPATEN = {"33.24": "Kab. Kendal", "64.71": "Kota Balikpapan", "33.17": "Kab. Rembang",
             "32.16": "Kab. Bekasi"}
DINAS_NAMES = {code: f"DPMPTSP {name}" for code, name in KABUPATEN.items()}

KECAMATAN = {
    "33.24.08": "Kaliwungu", "33.24.09": "Brangsong", "33.24.20": "Kaliwungu Selatan",
    "64.71.01": "Balikpapan Timur", "64.71.02": "Balikpapan Barat", "64.71.03": "Balikpapan Utara",
    "64.71.04": "Balikpapan Tengah", "64.71.05": "Balikpapan Selatan",
    "64.71.06": "Balikpapan Kota",
    "33.17.03": "Gunem", "33.17.04": "Sale", "33.17.05": "Sarang", "33.17.09": "Kaliori",
    "33.17.10": "Rembang", "33.17.12": "Kragan", "33.17.13": "Sluke", "33.17.14": "Lasem",
    "32.16.01": "Tarumajaya", "32.16.02": "Babelan", "32.16.06": "Tambun Selatan",
    "32.16.07": "Cibitung", "32.16.08": "Cikarang Barat", "32.16.09": "Cikarang Utara",
    "32.16.18": "Setu", "32.16.19": "Cikarang Selatan", "32.16.20": "Cikarang Pusat",
    "32.16.21": "Serang Baru",
}


def kecamatan_in(kab: str) -> list[str]:
    return [code for code in KECAMATAN if code.startswith(kab + ".")]


def place(region_code: str) -> str:
    kab = KABUPATEN[region_code[:5]]
    kec = KECAMATAN.get(region_code)
    return f"Kec. {kec}, {kab}" if kec else kab


@dataclass(frozen=True)
class Biz:
    nib: str
    name: str
    scale: str
    region: str  # kecamatan code
    kbli: tuple[str, ...]
    registered_on: date
    address: str | None = None
    trade: str = ""  # what the business makes or does, for titles and documents


def nib(kab: str, counter: int, *, large: bool = False) -> str:
    """13 synthetic digits: `3216` + zeros + counter (`3216900000001` for large ones)."""
    digits = kab.replace(".", "")
    return f"{digits}9{counter:08d}" if large else f"{digits}{counter:09d}"


# ---- names ---------------------------------------------------------------------------------

WOMEN = ["Sri", "Siti", "Wati", "Yanti", "Rina", "Dewi", "Lestari", "Endang", "Sumarni", "Ani",
         "Nur", "Fitri", "Ratna", "Yuli", "Tuti", "Umi", "Ika", "Wulan", "Rahayu", "Indah",
         "Suci", "Nining", "Eni", "Mariyam"]
MEN = ["Budi", "Agus", "Slamet", "Joko", "Hadi", "Eko", "Rahmat", "Yusuf", "Bambang", "Darto",
       "Hasan", "Iwan", "Rudi", "Sugeng", "Teguh", "Wahyu", "Arif", "Dedi", "Imam", "Syaiful",
       "Mulyono", "Sarman", "Gatot", "Heri"]

# (product or trade, KBLI 2020)
PRODUCTS = {
    "33.24": [("Keripik Singkong", "10794"), ("Kerupuk Rambak", "10794"),
              ("Bandeng Presto", "10750"), ("Kopi Bubuk", "10761"), ("Konveksi", "14111"),
              ("Bengkel Las", "33121"), ("Katering", "56290"), ("Jahit Seragam", "14111"),
              ("Sablon Kaos", "18111"), ("Warung Makan", "56102"), ("Kue Basah", "10710")],
    "64.71": [("Amplang", "10794"), ("Kerupuk Ikan", "10794"), ("Batik Balikpapan", "13134"),
              ("Kerajinan Manik", "32909"), ("Kue Bingka", "10710"), ("Lempok Durian", "10750"),
              ("Sambal Roa", "10750"), ("Kopi Bubuk", "10761"), ("Suvenir Kayu", "16299"),
              ("Jamu Racik", "21022"), ("Abon Ikan", "10750"), ("Kue Kering", "10710")],
    "33.17": [("Terasi", "10215"), ("Garam Krosok", "08930"), ("Batik Tulis Lasem", "13134"),
              ("Sirup Kawis", "11040"), ("Dumbeg", "10710"), ("Kerupuk Ikan", "10794"),
              ("Ikan Asin", "10211"), ("Kopi Lelet", "10761"), ("Petis", "10750"),
              ("Kecap Ikan", "10750"), ("Keripik Kepiting", "10794"), ("Madu Hutan", "10750")],
    "32.16": [("Keripik Pisang", "10794"), ("Dodol Betawi", "10730"), ("Kue Kering", "10710"),
              ("Sambal Bawang", "10750"), ("Kopi Bubuk", "10761"), ("Bir Pletok", "11040"),
              ("Kerupuk Kulit", "10794"), ("Telur Asin", "10750"), ("Rengginang", "10794"),
              ("Kue Lapis", "10710"), ("Abon Sapi", "10750"), ("Madu Lebah", "10750"),
              ("Keripik Tempe", "10794"), ("Minuman Jahe", "11040"), ("Basreng", "10750"),
              ("Cireng Beku", "10750")],
}


class Names:
    """Unique fictional UMKM names, drawn from a seeded `Random`."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def umkm(self, kab: str, trade: tuple[str, str] | None = None) -> tuple[str, str, str]:
        """(name, trade, kbli)."""
        while True:
            product, kbli = trade or self.rng.choice(PRODUCTS[kab])
            if self.rng.random() < 0.6:
                title, owner = "Bu", self.rng.choice(WOMEN)
            else:
                title, owner = "Pak", self.rng.choice(MEN)
            name = f"{product} {title} {owner}"
            if name not in self.used:
                self.used.add(name)
                return name, product, kbli


BALIKPAPAN_COMMUNITIES = [  # (name, members, kecamatan of its kelurahan): 15 communities, 60 UMKM
    ("Komunitas UMKM Manggar", 6, "64.71.01"), ("KUB Perempuan Kariangau", 5, "64.71.02"),
    ("Paguyuban UMKM Sepinggan", 5, "64.71.05"), ("Komunitas UMKM Klandasan", 4, "64.71.06"),
    ("Kelompok Usaha Lamaru", 4, "64.71.01"), ("UMKM Binaan Karang Joang", 4, "64.71.03"),
    ("Komunitas UMKM Gunung Samarinda", 4, "64.71.03"),
    ("Kelompok Usaha Teritip", 4, "64.71.01"), ("Paguyuban UMKM Karang Jati", 4, "64.71.04"),
    ("Komunitas UMKM Baru Ulu", 4, "64.71.02"), ("UMKM Muda Gunung Bahagia", 4, "64.71.05"),
    ("Kelompok Usaha Prapatan", 3, "64.71.06"), ("Komunitas UMKM Margo Mulyo", 3, "64.71.02"),
    ("Paguyuban UMKM Telaga Sari", 3, "64.71.06"), ("Kelompok Usaha Mekar Sari", 3, "64.71.04"),
]
