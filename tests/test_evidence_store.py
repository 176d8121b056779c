"""Tests for the content-addressed evidence store, against real files in tmp_path."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest

from api.evidence_store import (
    XLSX_MEDIA_TYPE,
    EmptyFile,
    EvidenceFileError,
    EvidenceNotFound,
    EvidenceStore,
    FileTooLarge,
    StoredFile,
    UnsupportedMediaType,
)

LIMIT = 1 << 20


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def store(root: Path) -> EvidenceStore:
    return EvidenceStore(root)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def save(store: EvidenceStore, data: bytes, max_bytes: int = LIMIT) -> StoredFile:
    return store.save(io.BytesIO(data), max_bytes)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["mitra", "nilai"])
    sheet.append(["UD Sumber Rejeki", 1500000])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 200 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200
WEBP = b"RIFF" + (212).to_bytes(4, "little") + b"WEBPVP8 " + b"\x00" * 200
CSV = b"tanggal,mitra,nilai\n2024-01-05,UD Sumber Rejeki,1500000\n"


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        pytest.param(PDF, "application/pdf", id="pdf"),
        pytest.param(JPEG, "image/jpeg", id="jpeg"),
        pytest.param(PNG, "image/png", id="png"),
        pytest.param(WEBP, "image/webp", id="webp"),
        pytest.param(xlsx_bytes(), XLSX_MEDIA_TYPE, id="xlsx"),
        pytest.param(CSV, "text/csv", id="csv-comma"),
        pytest.param(b"\xef\xbb\xbfTanggal;Mitra\r\n05/01/2024;CV Maju\r\n", "text/csv",
                     id="csv-utf8-bom-semicolon"),
        pytest.param("Mitra;Catatan\nCafé Kopi;Rp 1.000 – lunas\n".encode("cp1252"), "text/csv",
                     id="csv-windows-1252"),
    ],
)
def test_each_allowed_type_is_accepted_with_the_media_type_detected_from_its_bytes(
    store: EvidenceStore, data: bytes, media_type: str
) -> None:
    stored = save(store, data)

    assert stored == StoredFile(hashlib.sha256(data).hexdigest(), len(data), media_type)
    assert store.path(stored.sha256).read_bytes() == data


def test_the_file_is_stored_under_its_sharded_sha256_and_never_under_a_client_name(
    store: EvidenceStore, root: Path
) -> None:
    stored = save(store, PDF)
    digest = hashlib.sha256(PDF).hexdigest()

    assert stored.sha256 == digest
    assert stored_files(root) == [root / digest[:2] / digest[2:4] / digest]
    assert store.path(digest) == root / digest[:2] / digest[2:4] / digest


def test_a_csv_longer_than_the_sniff_window_is_accepted_even_if_a_character_straddles_it(
    store: EvidenceStore,
) -> None:
    data = b"mitra,kota\n" + b"a" * (8 * 1024 - 12) + "é,Surabaya\n".encode() * 10

    assert save(store, data).media_type == "text/csv"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
                     id="docx-like-zip"),
        pytest.param(zip_bytes({"readme.txt": b"hello, world"}), id="plain-zip"),
        pytest.param(zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>",
                                "xl/vbaProject.bin": b"\x00"}), id="macro-enabled-xlsm"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 40, id="damaged-zip"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, id="exe"),
        pytest.param(b"\x7fELF\x02\x01\x01" + b"\x00" * 100, id="elf"),
        pytest.param(b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20, id="gif"),
        pytest.param(b"<!DOCTYPE html><html><body><script>alert(1, 2)</script></body></html>",
                     id="html-with-commas"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg" onload="a;b"/>', id="svg"),
        pytest.param(random.Random(20240105).randbytes(4096), id="random-bytes"),
        pytest.param(b"just a note without any separators\n", id="text-without-separators"),
        pytest.param(b"a,b\n\x1b[31mred\x1b[0m\n", id="text-with-control-characters"),
        pytest.param("a,b\n1,2\n".encode("utf-16"), id="utf16-csv"),
    ],
)
def test_disallowed_content_is_rejected_and_leaves_nothing_behind(
    store: EvidenceStore, root: Path, data: bytes
) -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        save(store, data)

    assert list(root.iterdir()) == []
    assert isinstance(excinfo.value, EvidenceFileError)
    assert "Unsupported file type" in str(excinfo.value)


def test_rejection_messages_name_what_was_detected(store: EvidenceStore) -> None:
    cases = {
        b"MZ\x90\x00" + b"\x00" * 60: "Windows executable",
        zip_bytes({"[Content_Types].xml": b"<T/>", "word/document.xml": b"<w/>"}): "not an XLSX",
        b"<html><body>hi</body></html>": "HTML",
    }
    for data, expected in cases.items():
        with pytest.raises(UnsupportedMediaType, match=expected):
            save(store, data)


def test_the_client_filename_and_extension_play_no_part_in_detection(store: EvidenceStore) -> None:
    upload = io.BytesIO(b"MZ\x90\x00" + b"\x00" * 60)
    upload.name = "laporan.pdf"

    with pytest.raises(UnsupportedMediaType):
        store.save(upload, LIMIT)


def test_file_over_the_limit_is_rejected_and_leaves_nothing_behind(
    store: EvidenceStore, root: Path
) -> None:
    data = CSV + b"x" * 100

    with pytest.raises(FileTooLarge) as excinfo:
        save(store, data, max_bytes=len(data) - 1)

    assert excinfo.value.max_bytes == len(data) - 1
    assert list(root.iterdir()) == []


def test_file_exactly_at_the_limit_is_accepted(store: EvidenceStore) -> None:
    data = CSV + b"x" * 100

    assert save(store, data, max_bytes=len(data)).size == len(data)


class EndlessUpload(io.RawIOBase):
    """A client that never stops sending; counts what the store asked for."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = b"a" * (64 * 1024 if size < 0 else size)
        self.bytes_read += len(chunk)
        return chunk


def test_an_endless_upload_is_cut_off_one_byte_past_the_limit(
    store: EvidenceStore, root: Path
) -> None:
    upload = EndlessUpload()

    with pytest.raises(FileTooLarge, match="1 MiB"):
        store.save(upload, max_bytes=LIMIT)

    assert upload.bytes_read <= LIMIT + 1
    assert list(root.iterdir()) == []


def test_an_empty_file_is_rejected_and_leaves_nothing_behind(
    store: EvidenceStore, root: Path
) -> None:
    with pytest.raises(EmptyFile, match="empty"):
        save(store, b"")

    assert list(root.iterdir()) == []


def test_same_content_twice_gives_the_same_sha256_and_one_file_on_disk(
    store: EvidenceStore, root: Path
) -> None:
    first = save(store, PNG)
    second = save(store, PNG)

    assert first == second
    assert first.sha256 == hashlib.sha256(PNG).hexdigest()
    assert len(stored_files(root)) == 1


def test_concurrent_writers_of_the_same_content_end_with_one_intact_file(
    store: EvidenceStore, root: Path
) -> None:
    data = PDF + random.Random(7).randbytes(2 * 1024 * 1024)
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[StoredFile] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            results.append(save(store, data, max_bytes=len(data)))
        except BaseException as exc:  # surfaced by the assertions below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == writers and len(set(results)) == 1
    assert stored_files(root) == [store.path(results[0].sha256)]
    assert hashlib.sha256(store.path(results[0].sha256).read_bytes()).hexdigest() == results[0].sha256


def test_a_stored_file_can_be_opened_and_checked_for_existence(store: EvidenceStore) -> None:
    stored = save(store, JPEG)

    assert store.exists(stored.sha256)
    with store.open(stored.sha256) as handle:
        assert handle.read() == JPEG


def test_a_missing_file_raises_a_not_found_key_error(store: EvidenceStore) -> None:
    missing = hashlib.sha256(b"never uploaded").hexdigest()

    assert not store.exists(missing)
    with pytest.raises(EvidenceNotFound) as excinfo:
        store.path(missing)
    assert isinstance(excinfo.value, KeyError)
    with pytest.raises(KeyError):
        store.open(missing)


@pytest.mark.parametrize(
    "digest",
    [
        "../etc/passwd",
        "../../" + "a" * 58,
        hashlib.sha256(PDF).hexdigest().upper(),
        "abc123",
        "",
        "g" * 64,
        hashlib.sha256(PDF).hexdigest() + "\n",
        "/" + "a" * 63,
    ],
)
def test_malformed_digests_such_as_path_traversal_are_rejected(
    store: EvidenceStore, digest: str
) -> None:
    save(store, PDF)  # something real is in the store, yet nothing matches

    assert not store.exists(digest)
    with pytest.raises(ValueError):
        store.path(digest)
    with pytest.raises(ValueError):
        store.open(digest)
