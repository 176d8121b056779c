"""Content-addressed store for uploaded evidence files (standard library only).

Content addressing: ledger events cite evidence by SHA-256, so what an auditor
downloads is provably what was submitted, client filenames never reach the
filesystem, and a document uploaded twice is stored once. Types are sniffed from
the bytes against an allowlist, because filenames and Content-Type headers are
chosen by the client; the check runs before anything enters the store.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 64 * 1024
SNIFF_SIZE = 8 * 1024  # bytes inspected for magic numbers and the CSV rule
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 except tab, LF, CR
_SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"),
               (b"\x89PNG\r\n\x1a\n", "image/png"))
# Only used to word the rejection message; checked after CSV so "MZ,..." text still passes.
_KNOWN_REJECTS = ((b"MZ", "Windows executable"), (b"\x7fELF", "ELF executable"),
                  (b"GIF8", "GIF image"), (b"\x1f\x8b", "gzip archive"),
                  (b"Rar!", "RAR archive"), (b"7z\xbc\xaf", "7-Zip archive"))


class EvidenceFileError(Exception):
    """An upload the client must fix; str() is short and safe to show them."""


class FileTooLarge(EvidenceFileError):
    """413: aborted as soon as the limit was crossed."""
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"File exceeds the size limit of {_human_size(max_bytes)}.")


class EmptyFile(EvidenceFileError):
    """422: nothing was uploaded."""
    def __init__(self) -> None:
        super().__init__("File is empty.")


class UnsupportedMediaType(EvidenceFileError):
    """415: ``detected`` describes what the bytes looked like."""
    def __init__(self, detected: str) -> None:
        self.detected = detected
        super().__init__(f"Unsupported file type ({detected}); "
                         "allowed: PDF, JPEG, PNG, WebP, XLSX, CSV.")


class EvidenceNotFound(KeyError):
    """No stored file has this digest. A KeyError, so lookup-style callers work."""
    def __str__(self) -> str:
        return f"No evidence file with sha256 {self.args[0]}."


@dataclass(frozen=True)
class StoredFile:
    sha256: str  # lowercase hex; the file's identity in ledger events
    size: int  # bytes
    media_type: str  # detected from content, never taken from the client


class EvidenceStore:
    """Files live at ``<root>/ab/cd/<sha256>``; two directory levels keep listings small."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, stream: BinaryIO, max_bytes: int) -> StoredFile:
        """Stream into a temp file in ``root`` (same filesystem, so the final link
        is atomic), then sniff and move it in; the temp file is removed on every
        way out, so a rejected or failed upload leaves nothing behind."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            digest, size, head = hashlib.sha256(), 0, b""
            with os.fdopen(fd, "wb") as out:
                # Never ask for more than one byte past the limit: an endless
                # upload is cut off without being read (or buffered) further.
                while chunk := stream.read(min(CHUNK_SIZE, max_bytes + 1 - size)):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                    if len(head) < SNIFF_SIZE:
                        head += chunk[: SNIFF_SIZE - len(head)]
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise EmptyFile()
            media_type = _detect(head, complete=size <= SNIFF_SIZE, path=tmp)
            sha256 = digest.hexdigest()
            target = self._target(sha256)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)  # evidence is immutable once stored
                try:
                    os.link(tmp, target)  # fails instead of overwriting
                except FileExistsError:
                    pass  # a concurrent writer stored the same bytes first
                except OSError:
                    os.replace(tmp, target)  # filesystem without hard links
                _fsync_dir(target.parent)
            return StoredFile(sha256=sha256, size=size, media_type=media_type)
        finally:
            tmp.unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        """False for malformed digests too: they can never name a stored file."""
        try:
            return self._target(sha256).is_file()
        except ValueError:
            return False

    def path(self, sha256: str) -> Path:
        target = self._target(sha256)
        if not target.is_file():
            raise EvidenceNotFound(sha256)
        return target

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self._target(sha256), "rb")
        except FileNotFoundError:
            raise EvidenceNotFound(sha256) from None

    def _target(self, sha256: str) -> Path:
        # The only gate between user input and the filesystem: nothing but
        # 64 lowercase hex characters may become a path component.
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise ValueError("sha256 must be 64 lowercase hexadecimal characters")
        return self.root / sha256[:2] / sha256[2:4] / sha256


def _detect(head: bytes, *, complete: bool, path: Path) -> str:
    """Media type from the first bytes (and the ZIP directory), or UnsupportedMediaType."""
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        _check_xlsx(path)
        return XLSX_MEDIA_TYPE
    problem = _csv_problem(head, complete=complete)
    if problem is None:
        return "text/csv"
    for magic, description in _KNOWN_REJECTS:
        if head.startswith(magic):
            raise UnsupportedMediaType(description)
    raise UnsupportedMediaType(problem)


def _check_xlsx(path: Path) -> None:
    """Accept only an Excel workbook ZIP: not DOCX/PPTX/plain ZIPs, nor macros
    (vbaProject.bin). Reads the central directory only, so zip bombs cost nothing."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise UnsupportedMediaType("damaged ZIP archive") from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise UnsupportedMediaType("ZIP archive that is not an XLSX workbook")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise UnsupportedMediaType("macro-enabled Excel workbook")


def _csv_problem(head: bytes, *, complete: bool) -> str | None:
    """Why ``head`` is not plausibly CSV, or None. CSV has no magic number, so:

    1. no NUL byte (rules out binaries and UTF-16 exports);
    2. decode as UTF-8 (a BOM is allowed); if that fails, read it as a single-byte
       encoding (Latin-1/Windows-1252, what Excel exports on Windows);
    3. no control characters other than tab, CR and LF;
    4. does not start with ``<`` (HTML, SVG, XML are markup, not tables);
    5. contains a comma or semicolon (Excel uses ';' in the Indonesian locale).
    """
    if b"\x00" in head:
        return "unrecognised binary data"
    head = head.removeprefix(codecs.BOM_UTF8)
    try:  # incremental: the 8 KiB cut may split a multi-byte character
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    if _CONTROL_CHARS.search(text):
        return "unrecognised binary data"
    if text.lstrip().startswith("<"):
        return "HTML/XML markup"
    if "," not in text and ";" not in text:
        return "text without comma- or semicolon-separated columns"
    return None


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable, not just the file's bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _human_size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"
