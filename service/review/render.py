"""A page of a source document as an image the browser can show, and the size its boxes are measured in.

PDF pages are rendered on the server with PDFium (pypdfium2); JPEG and PNG are served as they are; TIFF (which
browsers do not show) is converted to PNG, one page per frame. Without page sizes from Nanonets, box
coordinates are taken to be in the page's own units: PDF points (72 per inch) or image pixels, which is what
`width`/`height` report.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageSequence, UnidentifiedImageError

# PDFium keeps process-wide state and is not thread-safe (pypdfium2's documentation): one render at a time
# per process, whatever the number of gunicorn threads.
_PDFIUM = threading.Lock()
MAX_SIDE_PIXELS = 2200  # a rendered page is at most this tall or wide: sharp on a screen, small to send
PDF_SCALE = 2.0  # pixels per PDF point, unless that passes MAX_SIDE_PIXELS
MAX_CONVERT_PIXELS = 60_000_000  # a TIFF frame larger than this is refused rather than decoded


class RenderError(Exception):
    """The page cannot be shown; the message says why in a sentence for the reviewer."""


class PageOutOfRange(RenderError):
    """The document has no such page."""


@dataclass(frozen=True)
class PageImage:
    body: bytes
    content_type: str
    width: float  # the page in the units its boxes use when Nanonets does not say (points or pixels)
    height: float
    page_count: int


def render_page(content: bytes, page: int) -> PageImage:
    """Page `page` (0-based) of a PDF, JPEG, PNG or TIFF document."""
    if page < 0:
        raise PageOutOfRange(f"page {page} does not exist")
    if content.startswith(b"%PDF") or b"%PDF-" in content[:1024]:
        return _pdf_page(content, page)
    if content.startswith((b"II*\x00", b"MM\x00*")):
        return _tiff_page(content, page)
    if content.startswith(b"\xff\xd8\xff"):
        return _image_as_is(content, page, "image/jpeg", "JPEG")
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image_as_is(content, page, "image/png", "PNG")
    raise RenderError("this kind of document cannot be shown (PDF, JPEG, PNG and TIFF can)")


def _pdf_page(content: bytes, page: int) -> PageImage:
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as error:
            raise RenderError(f"the PDF cannot be opened: {error}") from None
        try:
            count = len(document)
            if page >= count:
                raise PageOutOfRange(f"page {page + 1} does not exist: the document has {count}")
            pdf_page = document[page]
            width, height = pdf_page.get_size()
            scale = min(PDF_SCALE, MAX_SIDE_PIXELS / max(width, height, 1.0))
            image = pdf_page.render(scale=scale).to_pil()
            pdf_page.close()
        finally:
            document.close()
    return PageImage(_png(image), "image/png", float(width), float(height), count)


def _image_as_is(content: bytes, page: int, content_type: str, expected: str) -> PageImage:
    if page != 0:
        raise PageOutOfRange(f"page {page + 1} does not exist: an image has one page")
    try:
        with Image.open(io.BytesIO(content)) as image:  # reads the header only
            if image.format != expected:
                raise RenderError("the image cannot be read")
            width, height = image.size
    except (UnidentifiedImageError, OSError):
        raise RenderError("the image cannot be read") from None
    return PageImage(content, content_type, float(width), float(height), 1)


def _tiff_page(content: bytes, page: int) -> PageImage:
    try:
        with Image.open(io.BytesIO(content)) as tiff:
            count = getattr(tiff, "n_frames", 1)
            if page >= count:
                raise PageOutOfRange(f"page {page + 1} does not exist: the document has {count}")
            frame = next(f for index, f in enumerate(ImageSequence.Iterator(tiff)) if index == page)
            width, height = frame.size
            if width * height > MAX_CONVERT_PIXELS:
                raise RenderError("the page is too large to show")
            image = frame.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise RenderError("the TIFF cannot be read") from None
    image.thumbnail((MAX_SIDE_PIXELS, MAX_SIDE_PIXELS))
    return PageImage(_png(image), "image/png", float(width), float(height), count)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()
