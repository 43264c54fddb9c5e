"""Small attachments made in code for the demo: an ECG-like strip (PNG) and a letter (PDF)."""

import functools
import math
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@functools.cache
def ecg_png(seed: int, width: int = 240, height: int = 60) -> bytes:
    """Return a greyscale PNG of a heart-rhythm-like trace (``seed`` varies the rate)."""
    period = 38 + seed % 17
    baseline = height // 2
    trace = []
    for x in range(width):
        phase = x % period
        spike = -22 if phase == 10 else (14 if phase == 11 else 0)
        wave = -4 * math.exp(-((phase - 24) ** 2) / 12)
        trace.append(max(1, min(height - 2, int(baseline + spike + wave))))
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            on_trace = abs(trace[x] - y) <= 1 or (
                x > 0 and min(trace[x - 1], trace[x]) <= y <= max(trace[x - 1], trace[x])
            )
            grid = x % 20 == 0 or y % 20 == 0
            rows.append(0 if on_trace else (200 if grid else 255))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def letter_pdf(title: str, lines: list[str]) -> bytes:
    """Return a one-page PDF with a title and a few lines (Latin-1 text, Helvetica)."""
    commands = ["BT", "/F1 16 Tf", "56 780 Td", f"({_pdf_text(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        commands += ["0 -22 Td", f"({_pdf_text(line)}) Tj"]
    commands.append("ET")
    stream = "\n".join(commands).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
