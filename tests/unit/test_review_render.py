"""service.review.render: PDF pages rendered, images as they are, TIFF converted, bad pages refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from scripts.printed import pdf_bytes
from service.review.render import PageOutOfRange, RenderError, render_page


def png_size(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "PNG"
        return image.size


def test_pdf_page_is_rendered_and_sized_in_points() -> None:
    two_pages = pdf_bytes([["first page"], ["second page"]], b"")
    page = render_page(two_pages, 1)
    assert (page.content_type, page.width, page.height, page.page_count) == ("image/png", 595.0, 842.0, 2)
    assert png_size(page.body) == (1190, 1684)  # two pixels per point: sharp on a screen


def test_jpeg_is_served_as_it_is_with_its_pixel_size() -> None:
    out = io.BytesIO()
    Image.new("RGB", (480, 640), "white").save(out, "JPEG")
    page = render_page(out.getvalue(), 0)
    assert (page.body, page.content_type, page.width, page.height) == (out.getvalue(), "image/jpeg", 480, 640)


def test_tiff_page_becomes_png() -> None:
    out = io.BytesIO()
    Image.new("L", (300, 200)).save(out, "TIFF", save_all=True, append_images=[Image.new("L", (100, 50))])
    page = render_page(out.getvalue(), 1)
    assert (page.content_type, page.width, page.height, page.page_count) == ("image/png", 100, 50, 2)
    assert png_size(page.body) == (100, 50)


@pytest.mark.parametrize("page", [-1, 1, 99])
def test_page_outside_the_document_is_refused(page: int) -> None:
    with pytest.raises(PageOutOfRange):
        render_page(pdf_bytes([["only page"]], b""), page)


@pytest.mark.parametrize("content", [b"%PDF-1.4 not really", b"hello", b"\xff\xd8\xff broken jpeg"])
def test_unreadable_documents_are_refused_with_a_reason(content: bytes) -> None:
    with pytest.raises(RenderError):
        render_page(content, 0)
