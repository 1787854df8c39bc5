"""The prediction boxes samples/documents/ carry sit on what each document prints, in the page size the
emulator reports (a PDF page 1240x1754, a JPEG its own pixels), so the review console draws them there."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from devtools.emulator.bodies import PAGE_SIZE
from devtools.emulator.predictions import predict
from scripts.make_samples import SAMPLE_DOCUMENTS, Sample

DOCUMENTS = Path(__file__).resolve().parents[2] / "samples" / "documents"
PDFS = [s for s in SAMPLE_DOCUMENTS if s.name.endswith(".pdf")]
JPEGS = [s for s in SAMPLE_DOCUMENTS if s.name.endswith(".jpg")]


def squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.mark.parametrize("sample", PDFS, ids=[s.name for s in PDFS])
def test_every_box_of_a_sample_pdf_holds_the_text_it_frames(sample: Sample) -> None:
    content = (DOCUMENTS / sample.name).read_bytes()
    document = pdfium.PdfDocument(content)
    try:
        for index, (boxes, readings) in enumerate(
            zip(predict(content, sample.name), sample.readings, strict=True)
        ):
            page = document[index]
            width, height = page.get_size()
            x_scale, y_scale = PAGE_SIZE["width"] / width, PAGE_SIZE["height"] / height
            textpage = page.get_textpage()
            for box, reading in zip(boxes, readings, strict=True):
                inside = textpage.get_text_bounded(
                    box["xmin"] / x_scale,
                    height - box["ymax"] / y_scale,
                    box["xmax"] / x_scale,
                    height - box["ymin"] / y_scale,
                )
                for text in reading.framed():
                    assert squeezed(text) in squeezed(inside), (box["label"], inside)
    finally:
        document.close()


@pytest.mark.parametrize("sample", JPEGS, ids=[s.name for s in JPEGS])
def test_every_box_of_a_sample_jpeg_lies_on_printed_ink_within_the_image(sample: Sample) -> None:
    content = (DOCUMENTS / sample.name).read_bytes()
    with Image.open(io.BytesIO(content)) as image:
        photo = image.convert("L")
    [boxes] = predict(content, sample.name)
    for box in boxes:
        assert (
            0 <= box["xmin"] < box["xmax"] <= photo.width and 0 <= box["ymin"] < box["ymax"] <= photo.height
        )
        ink = photo.crop((box["xmin"], box["ymin"], box["xmax"], box["ymax"]))
        top = photo.crop((box["xmin"], box["ymin"], box["xmax"], box["ymin"] + 2))
        bottom = photo.crop((box["xmin"], box["ymax"] - 2, box["xmax"], box["ymax"]))
        assert ink.getextrema()[0] < 100, box["label"]  # printed text inside
        assert min(top.getextrema()[0], bottom.getextrema()[0]) > 200, box["label"]  # no glyph cut by an edge
