"""Documents that print text, and where on their pages they print it.

`pdf_bytes` lays out A4 PDF pages, `jpeg_bytes` a receipt-sized JPEG. `pdf_rects` and `jpeg_rects` measure
where a text is printed in the units Nanonets gives box coordinates in: pixels of the page size it reports
(origin top left). For a PDF page that is the emulator's page size (A4 at 150 dpi), for an image its own
pixels. Sample documents (scripts/make_samples.py) and the tests' printed receipts build their prediction
boxes from these, so the review console draws each box on the value it stands for.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from devtools.emulator.bodies import PAGE_SIZE

PDF_PAGE_PIXELS = (PAGE_SIZE["width"], PAGE_SIZE["height"])
JPEG_PIXELS = (480, 640)
PDF_PADDING_POINTS = 2  # boxes sit a little outside the glyphs, as a reader would draw them
JPEG_PADDING_PIXELS = 4

# The JPEG's layout: one text line every _JPEG_LINE_PIXELS, from (_JPEG_LEFT, _JPEG_TOP).
_JPEG_LEFT, _JPEG_TOP, _JPEG_LINE_PIXELS, _JPEG_FONT_SIZE = 24, 40, 34, 18

Span = tuple[int, str]  # (page index, a text printed on that page)


@dataclass(frozen=True)
class Rect:
    """A box in page pixels, as Nanonets writes it (integers, origin top left)."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int

    def union(self, other: Rect) -> Rect:
        return Rect(
            min(self.xmin, other.xmin),
            min(self.ymin, other.ymin),
            max(self.xmax, other.xmax),
            max(self.ymax, other.ymax),
        )

    def coordinates(self) -> dict[str, int]:
        return asdict(self)


# ---------------------------------------------------------------- PDF


def pdf_bytes(lines: list[list[str]], marker: bytes) -> bytes:
    """A small valid PDF (one Helvetica text page per entry of `lines`) with `marker` in a comment."""
    count = len(lines)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(count))
        + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, page_lines in enumerate(lines):
        text = ["BT", "/F1 13 Tf", "16 TL", "56 780 Td"]
        for line in page_lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            text.append(f"({escaped}) Tj T*")
        text.append("ET")
        stream = "\n".join(text).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * index} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n%" + marker + b"\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def pdf_rects(
    lines: list[list[str]], spans: Sequence[Span], page_pixels: tuple[int, int] | None = PDF_PAGE_PIXELS
) -> list[Rect]:
    """Where `pdf_bytes(lines, ...)` prints each span (its first occurrence on that page, any case), found
    by PDFium's text search: in pixels of a `page_pixels` rendering of the page, or in points from the top
    when `page_pixels` is None."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_bytes(lines, b""))  # the layout does not depend on the marker
    try:
        return [_pdf_rect(document[page], text, page_pixels) for page, text in spans]
    finally:
        document.close()


def _pdf_rect(page: Any, text: str, page_pixels: tuple[int, int] | None) -> Rect:
    width, height = page.get_size()
    x_scale, y_scale = (page_pixels[0] / width, page_pixels[1] / height) if page_pixels else (1.0, 1.0)
    textpage = page.get_textpage()
    found = textpage.search(text).get_next()
    if not found:
        raise ValueError(f"{text!r} is not printed on the page")
    start, count = found
    # PDF boxes are (left, bottom, right, top) in points from the bottom left; ours count from the top.
    chars = [textpage.get_charbox(index) for index in range(start, start + count)]
    pad = PDF_PADDING_POINTS
    return Rect(
        round((min(c[0] for c in chars) - pad) * x_scale),
        round((height - max(c[3] for c in chars) - pad) * y_scale),
        round((max(c[2] for c in chars) + pad) * x_scale),
        round((height - min(c[1] for c in chars) + pad) * y_scale),
    )


# ---------------------------------------------------------------- JPEG


def _jpeg_font() -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=_JPEG_FONT_SIZE)


def jpeg_bytes(lines: list[str], marker: bytes) -> bytes:
    """A receipt-sized JPEG (JPEG_PIXELS) that prints `lines`, the marker in a COM segment."""
    from PIL import Image, ImageDraw

    image = Image.new("L", JPEG_PIXELS, color=250)
    draw = ImageDraw.Draw(image)
    font = _jpeg_font()
    for row, line in enumerate(lines):
        draw.text((_JPEG_LEFT, _JPEG_TOP + _JPEG_LINE_PIXELS * row), line, fill=20, font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70, comment=marker)
    return out.getvalue()


def jpeg_rects(lines: list[str], texts: Sequence[str]) -> list[Rect]:
    """Where `jpeg_bytes(lines, ...)` prints each text (its first occurrence, any case), in its pixels."""
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("L", JPEG_PIXELS))
    font = _jpeg_font()
    rects = []
    for text in texts:
        row, at = _first_occurrence(lines, text)
        line = lines[row]
        left = _JPEG_LEFT + draw.textlength(line[:at], font=font)
        bbox = draw.textbbox(
            (left, _JPEG_TOP + _JPEG_LINE_PIXELS * row), line[at : at + len(text)], font=font
        )
        pad = JPEG_PADDING_PIXELS
        rects.append(
            Rect(round(bbox[0] - pad), round(bbox[1] - pad), round(bbox[2] + pad), round(bbox[3] + pad))
        )
    return rects


def _first_occurrence(lines: list[str], text: str) -> tuple[int, int]:
    for row, line in enumerate(lines):
        at = line.lower().find(text.lower())
        if at >= 0:
            return row, at
    raise ValueError(f"{text!r} is not printed on the image")
