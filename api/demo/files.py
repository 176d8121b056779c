"""The demo's evidence files, generated in code (no file is read from disk): a minimal valid PDF,
a small PNG, a tiny baseline JPEG and UTF-8 CSV, each small enough for any upload limit.
"""

from __future__ import annotations

import csv
import io
import struct
import textwrap
import zlib
from random import Random

def _pdf_text(s: str) -> bytes:
    return (s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            .encode("latin-1", errors="replace"))


def pdf(title: str, paragraphs: list[str]) -> bytes:
    """A one-page PDF 1.4 with Helvetica text and a correct cross-reference table."""
    lines: list[str] = [title, ""]
    for para in paragraphs:
        lines.extend(textwrap.wrap(para, 92) or [""])
    lines = lines[:58]  # one A4 page at 13 pt leading
    ops = [b"BT /F1 10 Tf 13 TL 50 800 Td"]
    for i, line in enumerate(lines):
        ops.append((b"T* " if i else b"") + b"(" + _pdf_text(line) + b") Tj")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + _pdf_text(title) + b") /Producer (Kemitraan Ledger demo) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def shelf_photo_png(rng: Random, caption: str, width: int = 48, height: int = 36) -> bytes:
    """A small RGB picture of three shelves of coloured products, captioned in a tEXt chunk."""
    background, shelf = (236, 232, 224), (118, 84, 52)
    palette = [(rng.randrange(40, 230), rng.randrange(40, 230), rng.randrange(40, 230))
               for _ in range(3 * (width // 6 + 1))]
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: none
        band, row_in_band = divmod(y, 12)
        for x in range(width):
            if row_in_band >= 10:
                colour = shelf
            elif row_in_band >= 2 and x % 6 != 5:
                colour = palette[band * (width // 6 + 1) + x // 6]
            else:
                colour = background
            raw += bytes(colour)
    text = b"Description\x00" + caption.encode("latin-1", errors="replace")
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"tEXt", text)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _png_chunk(b"IEND", b""))


def photo_jpeg(caption: str) -> bytes:
    """A valid 8x8 grey baseline JPEG (one block: DC 0, end of block) with a COM caption."""
    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # a single code of length 1 for symbol 0
    return (b"\xff\xd8"
            + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + segment(0xFE, caption.encode("latin-1", errors="replace")[:60000])
            + segment(0xDB, b"\x00" + bytes([1] * 64))
            + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
            + segment(0xC4, b"\x00" + one_code) + segment(0xC4, b"\x10" + one_code)
            + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x3f"  # bits 0 (DC category 0) and 0 (EOB), padded with ones
            + b"\xff\xd9")


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
