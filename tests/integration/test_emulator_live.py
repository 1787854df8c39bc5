"""The emulator speaks live Nanonets (NANONETS_LIVE.md) over real HTTP: every webhook shape, a person's
review with corrections, mixed score scales, page geometry, today's paths (GetPredictions,
ImageLevelInferences, Verify/UnVerify, RetryPrediction), path families that can be switched off, the
pages-per-minute limit (429 without Retry-After) and the page credit (402 until topped up).

The session's emulator starts in the seeds' shapes for the service (devtools.stack.SERVICE_COMPAT), so each
test here sets the live config it checks; one test starts an emulator without it to see the defaults.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from PIL import Image

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.emulator.predictions import embed_prediction_marker
from devtools.stack import EMULATOR_MODEL, start_emulator
from tests.integration.emulator_api import AUTH, LocalHost, api, label_file, label_urls
from tests.support import wait_for

INFERENCES = f"/Inferences/Model/{EMULATOR_MODEL}"
SECOND_PAGE = [
    {"label": "observaciones", "ocr_text": "pagina dos", "score": 0.7, "type": "field", "xmin": 5, "ymin": 6}
]
TWO_PAGES = [RECEIPT_PAGES[0], SECOND_PAGE]


@pytest.fixture()
def control(emulator_url: str) -> EmulatorControl:
    control = EmulatorControl(emulator_url)
    control.config(webhook_shape="export", score_scale="live")
    return control


def call(emulator_url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to a path under /api/v2 (the `api` helper is for /OCR/Model/{m} paths)."""
    kwargs.setdefault("auth", AUTH)
    return requests.request(method, f"{emulator_url}/api/v2{path}", timeout=20, **kwargs)


def submit(emulator_url: str, control: EmulatorControl, pages: list[Any] | None = None) -> str:
    """An async LabelFile of a document with known pages, processed; its request_file_id."""
    answer = label_file(
        emulator_url, "recibo.pdf", document_bytes(pages), asynchronous=True, request_metadata="m"
    )
    assert answer.status_code == 200, answer.text
    assert control.flush(timeout=10)
    file_id: str = answer.json()["result"][0]["request_file_id"]
    return file_id


def get_predictions(emulator_url: str, file_id: str) -> dict[str, Any]:
    answer = call(emulator_url, "GET", f"{INFERENCES}/InferenceRequestFiles/GetPredictions/{file_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def texts(boxes: list[dict[str, Any]]) -> dict[str, str]:
    return {box["label"]: box["ocr_text"] for box in boxes if box.get("type", "field") == "field"}


# ---------------- defaults ----------------


def test_an_emulator_started_without_options_speaks_live_nanonets(tmp_path: Any) -> None:
    server = start_emulator(log_dir=tmp_path, compat={})
    try:
        config = EmulatorControl(server.url).config()
    finally:
        server.stop()
    assert (config["webhook_shape"], config["score_scale"]) == ("export", "live")
    assert config["live_paths"] and config["new_retrieval_paths"] and config["guide_paths"]
    assert (config["pages_per_minute"], config["credit_pages"]) == (None, None)


def test_unknown_shape_or_scale_is_refused(emulator_url: str) -> None:
    for change in ({"webhook_shape": "xml"}, {"score_scale": "percent"}, {"time_scale": 0}):
        answer = requests.post(emulator_url + "/_emulator/config", json=change, timeout=5)
        assert answer.status_code == 400, change
        assert answer.json()["message"]


# ---------------- webhook shapes ----------------


def test_export_webhook_is_one_object_with_the_boxes_of_every_page(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control, TWO_PAGES)
    [body] = wait_for(webhooks.received, timeout=10)

    result = body["result"]
    assert isinstance(result, dict)
    assert result["id"] == result["request_file_id"] == file_id
    assert result["model_id"] == EMULATOR_MODEL
    assert result["input"] == result["original_file_name"] == "recibo.pdf"
    assert result["approval_status"] == "pending"
    assert result["is_moderated"] is False
    assert result["request_metadata"] == "m"
    assert result["moderated_boxes"] is None
    assert result["size"] == {"width": 1240, "height": 1754}
    assert [(box["label"], box["page"]) for box in result["predicted_boxes"]] == [
        ("fecha", 0),
        ("total", 0),
        ("matricula", 0),
        ("lineas_detalle", 0),
        ("observaciones", 1),
    ]


@pytest.mark.parametrize("shape", ["prediction", "prediction_nested", "retrieval", "bare_array"])
def test_the_older_webhook_shapes_stay_selectable(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl, shape: str
) -> None:
    control.config(webhook_shape=shape)
    file_id = submit(emulator_url, control, TWO_PAGES)
    [body] = wait_for(webhooks.received, timeout=10)

    if shape == "prediction":
        pages = body["result"]
        boxes_key = "prediction"
    elif shape == "prediction_nested":
        [inner] = body["result"]
        assert inner["request_file_id"] == file_id
        pages, boxes_key = inner["result"], "prediction"
    elif shape == "retrieval":
        pages, boxes_key = body["unmoderated_images"], "predicted_boxes"
        assert body["unmoderated_images_count"] == 2
    else:
        pages, boxes_key = body, "predicted_boxes"
    assert [page["page"] for page in pages] == [0, 1]
    assert {page["request_file_id"] for page in pages} == {file_id}
    assert texts(pages[1][boxes_key]) == {"observaciones": "pagina dos"}


def test_mixed_sends_each_shape_in_turn(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.config(webhook_shape="mixed")
    for _ in range(5):
        submit(emulator_url, control)
    received = wait_for(lambda: webhooks.received() if len(webhooks.received()) == 5 else None, timeout=10)

    def kind(body: Any) -> str:
        if isinstance(body, list):
            return "bare_array"
        if "moderated_images" in body:
            return "retrieval"
        if isinstance(body["result"], dict):
            return "export"
        return "prediction_nested" if "result" in body["result"][0] else "prediction"

    assert sorted(kind(body) for body in received) == sorted(
        ["export", "prediction", "prediction_nested", "retrieval", "bare_array"]
    )


# ---------------- review ----------------


def test_review_with_corrections_fills_moderated_boxes_and_sends_the_approval(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control)
    wait_for(webhooks.received, timeout=10)

    summary = control.review(file_id, {"total": "54,99 €", "conductor": "Ana"}, approve=True)

    assert (summary["approval_status"], summary["approved"], summary["moderated"]) == ("approved", True, True)
    approval = wait_for(lambda: webhooks.received()[1:], timeout=10)[0]["result"]
    assert approval["approval_status"] == "approved"
    assert approval["is_moderated"] is True
    assert texts(approval["predicted_boxes"])["total"] == "45,99 €"  # the model's guess stays
    corrected = texts(approval["moderated_boxes"])
    assert corrected["total"] == "54,99 €"
    assert corrected["fecha"] == "23/12/2025"  # untouched values are copied
    assert corrected["conductor"] == "Ana"  # a value the model missed
    [page] = get_predictions(emulator_url, file_id)["moderated_images"]
    assert page["is_moderated"] is True
    assert texts(page["moderated_boxes"])["total"] == "54,99 €"


def test_review_without_approval_keeps_the_file_pending_and_sends_nothing(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control)
    wait_for(webhooks.received, timeout=10)

    summary = control.review(file_id, {"total": "1,00 €"}, approve=False)

    assert control.flush(timeout=10)
    assert (summary["approval_status"], summary["moderated"]) == ("pending", True)
    assert len(webhooks.received()) == 1
    [page] = get_predictions(emulator_url, file_id)["unmoderated_images"]
    assert texts(page["moderated_boxes"])["total"] == "1,00 €"


def test_approval_webhook_of_a_prediction_shape_account_comes_in_the_retrieval_shape(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.config(webhook_shape="prediction")
    file_id = submit(emulator_url, control)
    control.review(file_id, {"total": "2,00 €"})
    approval = wait_for(lambda: webhooks.received()[1:], timeout=10)[0]
    [page] = approval["moderated_images"]  # the prediction shape cannot say "approved"
    assert texts(page["moderated_boxes"])["total"] == "2,00 €"


def test_review_of_an_unknown_file_or_a_bad_body_is_refused(
    emulator_url: str, control: EmulatorControl
) -> None:
    assert requests.post(f"{emulator_url}/_emulator/files/nope/review", json={}, timeout=5).status_code == 404
    file_id = submit(emulator_url, control)
    bad = requests.post(f"{emulator_url}/_emulator/files/{file_id}/review", json={"fields": ["x"]}, timeout=5)
    assert bad.status_code == 400


# ---------------- scores and geometry ----------------


def test_live_scores_fields_on_0_1_cells_on_0_100_and_tables_at_0(
    emulator_url: str, control: EmulatorControl
) -> None:
    [page] = label_file(emulator_url, "r.pdf", document_bytes()).json()["result"]
    by_label = {box["label"]: box for box in page["prediction"]}
    assert by_label["fecha"]["score"] == 0.95
    assert by_label["lineas_detalle"]["score"] == 0  # "not scored"
    assert [cell["score"] for cell in by_label["lineas_detalle"]["cells"]] == [91.0, 88.0]

    control.config(score_scale="unit")
    [page] = label_file(emulator_url, "r.pdf", document_bytes()).json()["result"]
    table = next(box for box in page["prediction"] if box["type"] == "table")
    assert (table["score"], [cell["score"] for cell in table["cells"]]) == (0.89, [0.91, 0.88])


def test_page_objects_carry_their_size_and_boxes_their_page(
    emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control, TWO_PAGES)
    pages = get_predictions(emulator_url, file_id)["unmoderated_images"]
    assert [page["page"] for page in pages] == [0, 1]
    for page in pages:
        assert page["size"] == {"width": 1240, "height": 1754}
        assert page["approval_status"] == "pending"
        assert page["moderated_boxes"] is None
        assert {box["page"] for box in page["predicted_boxes"]} == {page["page"]}


def test_an_image_is_measured_in_its_own_pixels(emulator_url: str, control: EmulatorControl) -> None:
    photo = io.BytesIO()
    Image.new("L", (480, 640), color=250).save(photo, "JPEG", comment=embed_prediction_marker(RECEIPT_PAGES))
    answer = label_file(emulator_url, "recibo.jpg", photo.getvalue(), asynchronous=True)
    assert answer.status_code == 200, answer.text
    assert control.flush(timeout=10)
    [page] = get_predictions(emulator_url, answer.json()["result"][0]["request_file_id"])[
        "unmoderated_images"
    ]
    assert page["size"] == {"width": 480, "height": 640}
    assert texts(page["predicted_boxes"]) == texts(RECEIPT_PAGES[0])


# ---------------- today's paths ----------------


def test_get_predictions_page_and_window(emulator_url: str, control: EmulatorControl) -> None:
    file_id = submit(emulator_url, control, TWO_PAGES)
    files = get_predictions(emulator_url, file_id)
    assert files["unmoderated_images_count"] == 2
    second_page = files["unmoderated_images"][1]["id"]

    page = call(emulator_url, "GET", f"{INFERENCES}/ImageLevelInferences/{second_page}")
    assert page.status_code == 200, page.text
    [entry] = page.json()["result"]
    assert (entry["id"], entry["page"], entry["request_file_id"]) == (second_page, 1, file_id)
    assert texts(entry["prediction"]) == {"observaciones": "pagina dos"}
    assert call(emulator_url, "GET", f"{INFERENCES}/ImageLevelInferences/{file_id}-p9").status_code == 404

    day = files["unmoderated_images"][0]["day_since_epoch"]
    window = call(
        emulator_url,
        "GET",
        f"{INFERENCES}/ImageLevelInferences",
        params={"start_day_interval": 1, "current_batch_day": day},
    )
    assert window.status_code == 200
    assert {p["request_file_id"] for p in window.json()["unmoderated_images"]} == {file_id}


def test_unknown_file_on_get_predictions_is_a_404_naming_the_file(emulator_url: str) -> None:
    answer = call(emulator_url, "GET", f"{INFERENCES}/InferenceRequestFiles/GetPredictions/nope")
    assert (answer.status_code, answer.json()["message"]) == (404, "File not found")


def test_verify_approves_and_unverify_takes_it_back(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control)
    wait_for(webhooks.received, timeout=10)

    assert (
        call(emulator_url, "POST", f"{INFERENCES}/ImageLevelInferences/Verify/{file_id}").status_code == 200
    )
    approval = wait_for(lambda: webhooks.received()[1:], timeout=10)[0]["result"]
    assert approval["approval_status"] == "approved"
    assert texts(approval["moderated_boxes"]) == texts(approval["predicted_boxes"])  # approved unchanged
    assert get_predictions(emulator_url, file_id)["moderated_images_count"] == 1

    assert (
        call(emulator_url, "POST", f"{INFERENCES}/ImageLevelInferences/UnVerify/{file_id}").status_code == 200
    )
    assert get_predictions(emulator_url, file_id)["moderated_images_count"] == 0
    assert control.files()[0]["approval_status"] == "pending"
    assert call(emulator_url, "POST", f"{INFERENCES}/ImageLevelInferences/Verify/nope").status_code == 404


def test_retry_prediction_predicts_again_and_names_unknown_files(
    webhooks: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    file_id = submit(emulator_url, control)
    retry = f"/ObjectDetection/Model/{EMULATOR_MODEL}/RetryPrediction"

    answer = call(emulator_url, "POST", retry, json={"file_ids": [file_id, "nope"]})

    assert answer.status_code == 200, answer.text
    assert (answer.json()["retried"], answer.json()["not_found"]) == ([file_id], ["nope"])
    assert control.flush(timeout=10)
    assert control.files()[0]["predictions"] == 2
    assert len(webhooks.received()) == 2
    assert call(emulator_url, "POST", retry, json={"file_ids": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("family", "off", "on"),
    [
        ("live_paths", "/InferenceRequestFiles/GetPredictions/{id}", "/InferenceRequest/{id}"),
        ("new_retrieval_paths", "/InferenceRequest/{id}", "/InferenceRequestFiles/GetPredictions/{id}"),
        ("guide_paths", "getFile/{id}/", "/InferenceRequest/{id}"),
    ],
)
def test_a_path_family_switched_off_answers_like_an_unknown_path(
    emulator_url: str, control: EmulatorControl, family: str, off: str, on: str
) -> None:
    file_id = submit(emulator_url, control)
    control.config(**{family: False})

    def path(template: str) -> str:
        tail = template.format(id=file_id)
        return f"/OCR/Model/{EMULATOR_MODEL}/{tail}" if tail.startswith("getFile") else INFERENCES + tail

    switched_off = call(emulator_url, "GET", path(off))
    unknown = call(emulator_url, "GET", f"{INFERENCES}/NoSuchThing/{file_id}")
    assert (switched_off.status_code, switched_off.json()) == (unknown.status_code, unknown.json())
    assert unknown.status_code == 404
    assert call(emulator_url, "GET", path(on)).status_code == 200


def test_old_accounts_approve_with_approve_file_only(emulator_url: str, control: EmulatorControl) -> None:
    file_id = submit(emulator_url, control)
    control.config(live_paths=False)
    assert (
        call(emulator_url, "POST", f"{INFERENCES}/ImageLevelInferences/Verify/{file_id}").status_code == 404
    )
    assert api(emulator_url, "POST", f"/ApproveFile/{file_id}/").status_code == 200
    assert control.files()[0]["approval_status"] == "approved"
    control.config(live_paths=True, guide_paths=False)
    assert api(emulator_url, "POST", f"/ApproveFile/{file_id}/").status_code == 404


# ---------------- limits ----------------


def test_pages_per_minute_answers_429_without_retry_after_then_lets_pages_in_again(
    emulator_url: str, control: EmulatorControl
) -> None:
    control.config(pages_per_minute=3, time_scale=0.02)  # a 1.2 s "minute"
    two_pages = document_bytes(TWO_PAGES)
    assert label_file(emulator_url, "a.pdf", two_pages).status_code == 200
    assert label_file(emulator_url, "b.pdf", document_bytes()).status_code == 200  # 3 pages: the budget

    refused = label_file(emulator_url, "c.pdf", document_bytes())

    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers
    assert refused.json()["message"]
    assert len(control.files()) == 2  # nothing was accepted
    assert api(emulator_url, "POST", "/Train/").status_code == 200  # only predict endpoints are limited
    wait_for(lambda: label_file(emulator_url, "c.pdf", document_bytes()).status_code == 200, timeout=10)


def test_a_document_over_the_remaining_budget_waits_while_a_smaller_one_fits(
    emulator_url: str, control: EmulatorControl
) -> None:
    control.config(pages_per_minute=3, time_scale=10)  # a ten-minute "minute": nothing expires in the test
    assert label_file(emulator_url, "a.pdf", document_bytes()).status_code == 200
    assert label_file(emulator_url, "b.pdf", document_bytes([*TWO_PAGES, SECOND_PAGE])).status_code == 429
    assert label_file(emulator_url, "c.pdf", document_bytes(TWO_PAGES)).status_code == 200


def test_credit_in_pages_runs_out_with_402_until_topped_up(
    host: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    control.config(credit_pages=3)
    host.documents["/a.pdf"] = document_bytes(TWO_PAGES)
    assert label_urls(emulator_url, [host.url + "/a.pdf"], asynchronous=True).status_code == 200
    assert control.config()["credit_pages"] == 1

    over = label_urls(emulator_url, [host.url + "/a.pdf"], asynchronous=True)

    assert over.status_code == 402
    assert over.json()["message"]
    assert label_file(emulator_url, "one.pdf", document_bytes()).status_code == 200  # one page still fits
    assert label_file(emulator_url, "one.pdf", document_bytes()).status_code == 402
    control.config(credit_pages=10)
    assert label_urls(emulator_url, [host.url + "/a.pdf"], asynchronous=True).status_code == 200
    assert control.config()["credit_pages"] == 8


def test_label_urls_with_some_undownloadable_urls_is_a_202_partial_success(
    host: LocalHost, emulator_url: str, control: EmulatorControl
) -> None:
    host.documents["/ok.pdf"] = document_bytes()
    answer = label_urls(emulator_url, [host.url + "/ok.pdf", host.url + "/missing.pdf"], asynchronous=True)
    assert answer.status_code == 202, answer.text
    [accepted] = answer.json()["result"]
    assert accepted["request_file_id"] == control.files()[0]["request_file_id"]
