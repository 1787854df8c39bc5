"""The review console in a real browser: gunicorn (2 workers) + moto server + the emulator, headless
Chromium. Log in, open the queue, open a receipt whose plate fails the rules, see its boxes drawn where the
values are printed, fix the plate, approve, and find the corrected output and its audit record in S3.

`UPDATE_SCREENSHOTS=1` also writes the queue and document screenshots to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import requests

from devtools.emulator.control import EmulatorControl
from devtools.events import s3_event
from devtools.stack import REPO, TEST_SECRET, Process, ServiceEnv, start_gunicorn
from service.review.users import add_user
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import RULES
from tests.support import EMULATOR_PAGE_PIXELS, bad_plate_receipt, list_keys, printed_receipt, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a long reviewer password"
SCREENSHOTS = REPO / "docs" / "screenshots"
PLATE_KEY = "incoming/fleet/repsol-2026-11-04.pdf"
PLATE_OUTPUT = "normalized/fleet/repsol-2026-11-04.pdf.json"
INVOICE_NAME = "invoice-transportes-norte-2026-10.pdf"  # the demo's two-page invoice


@pytest.fixture(scope="module")
def console(
    moto_server: Process, emulator_server: Process, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    folder = tmp_path_factory.mktemp("console")
    users_file = folder / "reviewers.yaml"
    add_user(users_file, "ana", PASSWORD)
    extra = {
        "VALIDATION_RULES": RULES,
        "REVIEW_ENABLED": "true",
        "REVIEW_USERS_FILE": str(users_file),
        "SESSION_SECRET": "browser-test-session-secret-0123456789",
    }
    env = ServiceEnv(s3_url=moto_server.url, emulator_url=emulator_server.url, extra=extra).as_env()
    process = start_gunicorn(env, workers=2, log_dir=folder)
    yield process
    process.stop()


def deliver(service_url: str, s3: Any, key: str, body: bytes) -> None:
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)["ETag"].strip('"')
    answer = requests.post(
        f"{service_url}/events/s3",
        json=s3_event(INPUT_BUCKET, key, size=len(body), etag=etag),
        headers={"X-Webhook-Token": TEST_SECRET},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["submitted"], answer.text


def read_json(s3: Any, key: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()))
    except s3.exceptions.NoSuchKey:
        return None


def fill_queue(service_url: str, s3: Any, emulator_url: str) -> None:
    """The failing receipt, and two more documents a reviewer would find in the queue beside it. The
    emulator answers in webhooks of the prediction shape, with each page's size in pixels (1240 x 1754):
    the boxes are measured in those pixels, as Nanonets' are."""
    EmulatorControl(emulator_url).config(
        webhook_url=f"{service_url}/webhooks/nanonets?token={TEST_SECRET}", processing_delay=0.05
    )
    blurred, _ = printed_receipt(
        ["GALP  Area de Servicio Guadalajara", "19/11/2026 06:12", "Mat. 5530-GHD", "TOTAL 45,30 EUR"],
        {"fecha": ("19/11/2026", 0.9), "matricula": ("5530-GHD", 0.88), "total": ("45,30 EUR", 0.31)},
        EMULATOR_PAGE_PIXELS,
    )
    undated, _ = printed_receipt(
        ["CEPSA  Estacion de Servicio", "Vehiculo: 7310-HJT", "Importe total  88,15 EUR"],
        {"matricula": ("7310-HJT", 0.86), "total": ("88,15 EUR", 0.9)},
        EMULATOR_PAGE_PIXELS,
    )
    deliver(service_url, s3, PLATE_KEY, bad_plate_receipt(EMULATOR_PAGE_PIXELS)[0])
    deliver(service_url, s3, "incoming/fleet/galp-2026-11-19.pdf", blurred)
    deliver(service_url, s3, "incoming/office/cepsa-2026-11-09.pdf", undated)
    assert EmulatorControl(emulator_url).flush()
    # The queue entry is written just after the output: wait for the entries, not only the outputs.
    wait_for(lambda: len(list_keys(s3, OUTPUT_BUCKET, "_state/index/attention-items/")) == 3)


def keep_screenshot(path: Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)


def log_in(page: Any, console_url: str, path: str) -> None:
    page.goto(f"{console_url}{path}")
    assert page.url.startswith(f"{console_url}/review/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{console_url}{path}")


def wait_for_page_image(page: Any) -> dict[str, float]:
    page.wait_for_selector("img.page-image")
    page.wait_for_function(
        "() => { const i = document.querySelector('img.page-image'); "
        "return i.complete && i.naturalWidth > 0; }"
    )
    box: dict[str, float] = page.locator("img.page-image").bounding_box()
    return box


def overlaps(one: dict[str, float], other: dict[str, float]) -> bool:
    return (
        one["x"] < other["x"] + other["width"]
        and other["x"] < one["x"] + one["width"]
        and one["y"] < other["y"] + other["height"]
        and other["y"] < one["y"] + one["height"]
    )


def test_reviewer_fixes_the_plate_and_approves(
    browser: Any, console: Process, s3: Any, emulator_url: str, tmp_path: Path
) -> None:
    fill_queue(console.url, s3, emulator_url)
    page = browser.new_page(viewport={"width": 1440, "height": 900})

    # log in, land on the queue
    log_in(page, console.url, "/review/queue")
    assert page.locator("table.queue tbody tr").count() == 3
    page.screenshot(path=str(tmp_path / "review-queue.png"), full_page=True)
    keep_screenshot(tmp_path / "review-queue.png")

    # open the failing receipt: the page image with every field's box on its printed value
    page.click("a.doc-link:has-text('repsol-2026-11-04.pdf')")
    image = wait_for_page_image(page)
    assert page.locator(".overlay .box").count() == 4
    assert page.locator("svg.overlay").get_attribute("viewBox") == "0 0 1240.0 1754.0"  # as reported
    scale = image["width"] / EMULATOR_PAGE_PIXELS[0]
    plate = next(b for b in bad_plate_receipt(EMULATOR_PAGE_PIXELS)[1][0] if b["label"] == "matricula")
    drawn = page.locator(".overlay .box[data-field=matricula] rect").bounding_box()
    assert abs(drawn["x"] - (image["x"] + plate["xmin"] * scale)) < 3
    assert abs(drawn["y"] - (image["y"] + plate["ymin"] * scale)) < 3
    assert abs(drawn["width"] - (plate["xmax"] - plate["xmin"]) * scale) < 4

    # hovering the row lights its box (the JavaScript link between them)
    page.hover("tr.field-row[data-field=matricula] th")
    assert "active" in (page.locator(".overlay .box[data-field=matricula]").get_attribute("class") or "")
    # its label shows, over none of the boxes of the lines above and below it
    label = page.locator(".overlay .box[data-field=matricula] text").bounding_box()
    assert label["width"] > 0
    for neighbour in ("fecha", "litros", "total"):
        assert not overlaps(label, page.locator(f".overlay .box[data-field={neighbour}] rect").bounding_box())
    page.screenshot(path=str(tmp_path / "review-document.png"), full_page=False)
    keep_screenshot(tmp_path / "review-document.png")
    page.mouse.move(0, 0)

    # fix the plate, then approve
    row = page.locator("tr.field-row[data-field=matricula]")
    row.locator("input[name=value]").fill("4821-KLM")
    row.locator("button:has-text('Save')").click()
    page.wait_for_selector(".flash-ok:has-text('Saved matricula.')")
    assert "validation passed" in page.locator(".doc-status").inner_text()
    page.click("button:has-text('Approve')")
    page.wait_for_selector(".flash-ok:has-text('Approved.')")

    # the corrected output and its audit trail, in S3
    document = read_json(s3, PLATE_OUTPUT)
    assert document is not None
    plate_field = document["fields"]["matricula"]
    assert (plate_field["value"], plate_field["predicted"], plate_field["source"]) == (
        "4821-KLM",
        "4821 KLM",
        "console",
    )
    assert document["validation"]["status"] == "passed"
    assert document["review"] == "approved"
    file_id = document["nanonets"]["request_file_id"]
    audit_keys = list_keys(s3, OUTPUT_BUCKET, f"_state/review/audit/{file_id}/")
    audit = [read_json(s3, key) for key in audit_keys]
    assert [(a["action"], a["by"]) for a in audit if a] == [("edit", "ana"), ("approve", "ana")]
    edit = audit[0]
    assert edit is not None and (edit["field"], edit["before"], edit["after"]) == (
        "matricula",
        "4821 KLM",
        "4821-KLM",
    )
    assert page.locator("ol.history").inner_text().count("by ana") == 2

    # the fixed receipt left the queue; the other two wait
    page.click("a:has-text('← Queue')")
    assert page.locator("table.queue tbody tr").count() == 2


def printed_at(pdf: bytes, page_index: int, text: str) -> tuple[float, float, float, float]:
    """Where the document prints `text` on that page, measured by PDFium (not from any box): left, top,
    right, bottom as fractions of the page's width and height."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        found = textpage.search(text).get_next()
        assert found, f"{text!r} is not printed on page {page_index + 1}"
        start, count = found
        chars = [textpage.get_charbox(index) for index in range(start, start + count)]
    finally:
        document.close()
    return (
        min(c[0] for c in chars) / width,
        1 - max(c[3] for c in chars) / height,
        max(c[2] for c in chars) / width,
        1 - min(c[1] for c in chars) / height,
    )


def test_a_box_on_page_two_of_a_multi_page_export_frames_its_value(
    browser: Any, console: Process, s3: Any, emulator_url: str
) -> None:
    """The demo's two-page invoice, sent as live accounts send it by default: one export webhook whose one
    `size` (1240 x 1754 pixels) is for the whole file, so the output gives it to no page. The console draws
    page 2's boxes in those pixels, not in the PDF's points (half as many)."""
    EmulatorControl(emulator_url).config(
        webhook_url=f"{console.url}/webhooks/nanonets?token={TEST_SECRET}",
        processing_delay=0.05,
        webhook_shape="export",
    )
    pdf = (REPO / "samples" / "documents" / INVOICE_NAME).read_bytes()
    deliver(console.url, s3, f"incoming/office/{INVOICE_NAME}", pdf)
    assert EmulatorControl(emulator_url).flush()
    output = wait_for(lambda: read_json(s3, f"normalized/office/{INVOICE_NAME}.json"))
    assert output["pages"] == 2 and output["fields"]["total"]["page"] == 1
    assert all(info.get("width") is None for info in output["pages_info"])  # the premise: no page's size
    file_id = output["nanonets"]["request_file_id"]

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(page, console.url, f"/review/documents/{file_id}?page=1")
    image = wait_for_page_image(page)
    assert page.locator("svg.overlay").get_attribute("viewBox") == "0 0 1240.0 1754.0"
    drawn = page.locator(".overlay .box[data-field=total] rect").bounding_box()
    left, top, right, bottom = printed_at(pdf, 1, "1.452,00 EUR")
    on_screen = {
        "x": image["x"] + left * image["width"],
        "y": image["y"] + top * image["height"],
        "right": image["x"] + right * image["width"],
        "bottom": image["y"] + bottom * image["height"],
    }
    slack = 0.01 * image["width"]  # the box sits a little outside the glyphs, as a reader draws it
    assert on_screen["x"] - slack <= drawn["x"] <= on_screen["x"]
    assert on_screen["y"] - slack <= drawn["y"] <= on_screen["y"]
    assert on_screen["right"] <= drawn["x"] + drawn["width"] <= on_screen["right"] + slack
    assert on_screen["bottom"] <= drawn["y"] + drawn["height"] <= on_screen["bottom"] + slack
