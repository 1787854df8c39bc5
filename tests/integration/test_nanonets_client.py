"""NanonetsClient over real HTTP against the emulator process: every endpoint, error mapping, retries, and
the API key kept out of reprs, errors and logs."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest

from devtools.documents import document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.stack import EMULATOR_KEY, EMULATOR_MODEL, free_port
from service.adapters.nanonets import NanonetsClient
from service.errors import (
    NanonetsAuthError,
    NanonetsBadRequest,
    NanonetsError,
    NanonetsNotFound,
    NanonetsQuotaExceeded,
    NanonetsRateLimited,
    NanonetsUnavailable,
)
from service.settings import NanonetsSettings
from tests.support import presigned_document_url, receipt_boxes

MAX_RETRIES = 2
WRONG_KEY = "wrong-key-QQQ-5551234567"
MODEL = f"/api/v2/OCR/Model/{EMULATOR_MODEL}"
INFERENCES = f"/api/v2/Inferences/Model/{EMULATOR_MODEL}/InferenceRequest"


def make_client(
    base_url: str, *, key: str = EMULATOR_KEY, model: str = EMULATOR_MODEL, **overrides: Any
) -> NanonetsClient:
    values: dict[str, Any] = {
        "nanonets_api_key": key,
        "nanonets_model_id": model,
        "nanonets_base_url": base_url,
        "nanonets_connect_timeout": 2.0,
        "nanonets_read_timeout": 20.0,
        "nanonets_max_retries": MAX_RETRIES,
        "nanonets_backoff_factor": 0.01,
        "nanonets_backoff_max_seconds": 5.0,
        **overrides,
    }
    return NanonetsClient(NanonetsSettings(**values))


pytestmark = pytest.mark.usefixtures("seed_shapes")


@pytest.fixture()
def control(emulator_url: str) -> EmulatorControl:
    return EmulatorControl(emulator_url)


@pytest.fixture()
def api_url(emulator_url: str) -> str:
    return emulator_url + "/api/v2"


@pytest.fixture()
def client(api_url: str) -> NanonetsClient:
    return make_client(api_url)


@pytest.fixture()
def doc_url(s3: Any) -> str:
    """A presigned moto URL of a document carrying the emulator's RECEIPT_PAGES marker."""
    return presigned_document_url(s3, "incoming/recibo.pdf")


def two_page_pdf(tag: bytes = b"") -> bytes:
    return b"%PDF-1.4\n<< /Type /Page >>\n<< /Type /Page >>\n" + tag + b"\n%%EOF\n"


def api_calls(control: EmulatorControl) -> list[tuple[str, str, int]]:
    return [(c["method"], c["path"], c["status"]) for c in control.calls()]


def new_file(client: NanonetsClient, content: bytes | None = None, name: str = "doc.pdf") -> str:
    answer = client.predict_files([(name, content or document_bytes())])
    file_id: str = answer["result"][0]["request_file_id"]
    return file_id


# ---------------- predict ----------------


def test_predict_urls_sync_downloads_and_returns_the_prediction(
    client: NanonetsClient, doc_url: str, control: EmulatorControl
) -> None:
    answer = client.predict_urls([doc_url], request_metadata='{"driver": "1"}')

    [page] = answer["result"]
    assert page["prediction"] == receipt_boxes()
    assert page["input"] == "recibo.pdf"
    assert page["request_metadata"] == '{"driver": "1"}'
    assert api_calls(control) == [("POST", f"{MODEL}/LabelUrls/", 200)]
    assert control.files()[0]["state"] == "ready"


@pytest.mark.parametrize(("style", "path"), [("query", "/LabelUrls/"), ("path", "/LabelUrls/Async/")])
def test_predict_urls_async_both_styles(
    client: NanonetsClient, doc_url: str, control: EmulatorControl, style: str, path: str
) -> None:
    answer = client.predict_urls([doc_url], asynchronous=True, request_metadata="m", async_style=style)

    [accepted] = answer["result"]
    assert accepted["status"] == "processing"  # the query style is async only through ?async=true
    assert api_calls(control) == [("POST", MODEL + path, 200)]
    assert control.flush(timeout=10)
    body = client.get_file(accepted["request_file_id"])
    assert body["unmoderated_images"][0]["predicted_boxes"] == receipt_boxes()
    assert body["unmoderated_images"][0]["request_metadata"] == "m"


def test_predict_files_sync_with_paths_and_bytes(
    client: NanonetsClient, control: EmulatorControl, tmp_path: Path
) -> None:
    on_disk = tmp_path / "from-disk.pdf"
    on_disk.write_bytes(document_bytes())

    answer = client.predict_files(
        [on_disk, ("two.pdf", two_page_pdf())], request_metadata="batch-1", pages_to_process="1,2"
    )

    inputs = [(page["input"], page["page"]) for page in answer["result"]]
    assert inputs == [("from-disk.pdf", 0), ("two.pdf", 0), ("two.pdf", 1)]
    assert answer["result"][0]["prediction"] == receipt_boxes()
    assert {page["request_metadata"] for page in answer["result"]} == {"batch-1"}
    assert sorted(f["source"] for f in control.files()) == ["from-disk.pdf", "two.pdf"]
    assert api_calls(control) == [("POST", f"{MODEL}/LabelFile/", 200)]


@pytest.mark.parametrize(("style", "path"), [("query", "/LabelFile/"), ("path", "/LabelFile/Async/")])
def test_predict_files_async_both_styles(
    client: NanonetsClient, control: EmulatorControl, style: str, path: str
) -> None:
    answer = client.predict_files(
        [("a.pdf", document_bytes()), ("b.pdf", two_page_pdf())], asynchronous=True, async_style=style
    )

    ids = [item["request_file_id"] for item in answer["result"]]
    assert [item["status"] for item in answer["result"]] == ["processing", "processing"]
    assert len(set(ids)) == 2
    assert api_calls(control) == [("POST", MODEL + path, 200)]
    assert control.flush(timeout=10)
    assert client.get_file(ids[1])["unmoderated_images_count"] == 2


def test_submit_url_async_returns_the_file_id_and_sends_metadata_as_json(
    client: NanonetsClient, doc_url: str, control: EmulatorControl
) -> None:
    file_id = client.submit_url_async(doc_url, {"bucket": "b", "key": "k ñ", "n": 3})

    [record] = control.files()
    assert record["request_file_id"] == file_id
    assert json.loads(record["request_metadata"]) == {"bucket": "b", "key": "k ñ", "n": 3}
    assert record["source"] == doc_url


# ---------------- retrieve: today's paths first, the seeds' as fallbacks, learnt once ----------------

LIVE = f"/api/v2/Inferences/Model/{EMULATOR_MODEL}"
GET_PREDICTIONS = f"{LIVE}/InferenceRequestFiles/GetPredictions"
# The path families an account's server has, as the emulator's config switches them (docs/EMULATOR.md).
ONLY_LIVE = {"live_paths": True, "new_retrieval_paths": False, "guide_paths": False}
ONLY_SEED = {"live_paths": False, "new_retrieval_paths": True, "guide_paths": False}
ONLY_GUIDE = {"live_paths": False, "new_retrieval_paths": False, "guide_paths": True}


def calls_during(control: EmulatorControl, action: Callable[[], object]) -> list[tuple[str, str, int]]:
    """The API calls the emulator saw while `action` ran."""
    before = len(control.calls())
    action()
    return api_calls(control)[before:]


def test_fetch_file_asks_get_predictions_first(client: NanonetsClient, control: EmulatorControl) -> None:
    file_id = new_file(client)
    body = client.fetch_file(file_id)
    assert body == client.get_predictions(file_id)
    assert body["unmoderated_images"][0]["predicted_boxes"] == receipt_boxes()
    assert api_calls(control)[-2:] == [("GET", f"{GET_PREDICTIONS}/{file_id}", 200)] * 2


@pytest.mark.parametrize(
    ("account", "tried"),
    [
        (ONLY_LIVE, [GET_PREDICTIONS + "/{id}"]),
        (ONLY_SEED, [GET_PREDICTIONS + "/{id}", INFERENCES + "/{id}"]),
        (ONLY_GUIDE, [GET_PREDICTIONS + "/{id}", INFERENCES + "/{id}", MODEL + "/getFile/{id}/"]),
    ],
    ids=["only-get-predictions", "only-the-seeds-path", "only-the-guides-path"],
)
def test_fetch_file_learns_the_working_path_once_then_asks_it_alone(
    api_url: str, control: EmulatorControl, account: dict[str, bool], tried: list[str]
) -> None:
    first, second = new_file(make_client(api_url)), new_file(make_client(api_url))
    control.config(**account)
    client = make_client(api_url)  # a new process: nothing learnt yet

    first_calls = calls_during(control, lambda: client.fetch_file(first))
    second_calls = calls_during(control, lambda: client.fetch_file(second))

    expected_first = [("GET", path.format(id=first), 404) for path in tried]
    expected_first[-1] = (*expected_first[-1][:2], 200)
    assert first_calls == expected_first
    assert second_calls == [("GET", tried[-1].format(id=second), 200)]  # exactly one request
    assert client.fetch_file(second)["unmoderated_images"][0]["request_file_id"] == second


def test_once_learnt_a_404_is_about_the_file_and_costs_one_request(
    client: NanonetsClient, control: EmulatorControl
) -> None:
    control.config(**ONLY_SEED)
    client.fetch_file(new_file(client))

    with pytest.raises(NanonetsNotFound) as caught:
        client.fetch_file("no-such-file")

    assert api_calls(control)[-1] == ("GET", f"{INFERENCES}/no-such-file", 404)
    assert api_calls(control)[-2][2] == 200
    assert caught.value.message == "File not found"


def test_unknown_file_before_anything_is_learnt_tries_each_path_once(
    client: NanonetsClient, control: EmulatorControl
) -> None:
    def unknown_file() -> None:
        with pytest.raises(NanonetsNotFound):
            client.fetch_file("nope")

    assert [status for _, _, status in calls_during(control, unknown_file)] == [404, 404, 404]
    assert len(calls_during(control, unknown_file)) == 3  # nothing answered, so nothing was learnt


def test_path_learning_is_safe_when_workers_share_the_client(api_url: str, control: EmulatorControl) -> None:
    files = [new_file(make_client(api_url), document_bytes(filler=str(n).encode())) for n in range(8)]
    control.config(**ONLY_SEED)
    client = make_client(api_url)

    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(client.fetch_file, files))

    assert [b["unmoderated_images"][0]["request_file_id"] for b in bodies] == files
    assert calls_during(control, lambda: client.fetch_file(files[0])) == [
        ("GET", f"{INFERENCES}/{files[0]}", 200)
    ]


def test_get_page_asks_image_level_inferences_first_and_falls_back(
    client: NanonetsClient, control: EmulatorControl
) -> None:
    file_id = new_file(client, two_page_pdf(b"pages"), "two.pdf")
    page_ids = [p["id"] for p in client.get_file(file_id)["unmoderated_images"]]
    assert len(page_ids) == 2

    [entry] = client.get_page(None, page_ids[1])["result"]  # today's path answers the prediction shape
    assert (entry["id"], entry["page"]) == (page_ids[1], 1)
    assert api_calls(control)[-1] == ("GET", f"{LIVE}/ImageLevelInferences/{page_ids[1]}", 200)

    seed_account = make_client(client_base(control))
    control.config(**ONLY_SEED)
    [page] = seed_account.get_page(file_id, page_ids[0])["unmoderated_images"]
    assert page["id"] == page_ids[0]
    assert api_calls(control)[-1] == ("GET", f"{INFERENCES}/{file_id}/page/{page_ids[0]}", 200)

    guide_account = make_client(client_base(control))
    control.config(**ONLY_GUIDE)
    old = guide_account.get_page(None, page_ids[0])  # no file id: the seed's path is not even tried
    assert [p["id"] for p in old["unmoderated_images"]] == [page_ids[0]]
    assert [path for _, path, _ in api_calls(control)[-2:]] == [
        f"{LIVE}/ImageLevelInferences/{page_ids[0]}",
        f"{MODEL}/ImageLevelInferences/{page_ids[0]}/",
    ]
    with pytest.raises(NanonetsNotFound):
        guide_account.get_page(file_id, f"{file_id}-p9")


def test_list_files_asks_image_level_inferences_first_and_falls_back(
    client: NanonetsClient, control: EmulatorControl
) -> None:
    first, second = new_file(client, b"%PDF-1.4 one"), new_file(client, b"%PDF-1.4 two")
    client.delete(second)

    listed = client.list_files(start_day_interval=1, current_batch_day=0)
    assert {p["request_file_id"] for p in listed["unmoderated_images"]} == {first}
    assert api_calls(control)[-1] == ("GET", f"{LIVE}/ImageLevelInferences", 200)

    today = int(time.time() // 86400)
    assert client.list_files(1, today - 5)["unmoderated_images"] == []
    for account, path in ((ONLY_SEED, f"{INFERENCES}/"), (ONLY_GUIDE, f"{MODEL}/getModelImages/")):
        control.config(**account)
        assert (
            make_client(client_base(control)).list_files(start_day_interval=1, current_batch_day=0) == listed
        )
        assert api_calls(control)[-1] == ("GET", path, 200)


def client_base(control: EmulatorControl) -> str:
    return control.base_url + "/api/v2"


# ---------------- review ----------------


def test_approve_uses_verify_and_unverify_takes_it_back(
    client: NanonetsClient, control: EmulatorControl
) -> None:
    file_id = new_file(client)

    assert client.approve(file_id) == {"message": "Success"}
    assert api_calls(control)[-1] == ("POST", f"{LIVE}/ImageLevelInferences/Verify/{file_id}", 200)
    assert client.fetch_file(file_id)["moderated_images_count"] == 1

    assert client.unverify(file_id) == {"message": "Success"}
    assert control.files()[0]["approval_status"] == "pending"
    assert client.verify(file_id) == {"message": "Success"}
    assert control.files()[0]["approval_status"] == "approved"


def test_approve_falls_back_to_approve_file_on_old_accounts_once(
    api_url: str, control: EmulatorControl
) -> None:
    first, second = new_file(make_client(api_url)), new_file(make_client(api_url))
    control.config(live_paths=False)
    client = make_client(api_url)

    assert calls_during(control, lambda: client.approve(first)) == [
        ("POST", f"{LIVE}/ImageLevelInferences/Verify/{first}", 404),
        ("POST", f"{MODEL}/ApproveFile/{first}/", 200),
    ]
    assert calls_during(control, lambda: client.approve(second)) == [
        ("POST", f"{MODEL}/ApproveFile/{second}/", 200)
    ]
    assert {f["approval_status"] for f in control.files()} == {"approved"}
    with pytest.raises(NanonetsNotFound):
        client.verify(first)  # verify itself has no fallback


def test_approve_file_is_the_guides_call_alone(client: NanonetsClient, control: EmulatorControl) -> None:
    file_id = new_file(client)
    assert client.approve_file(file_id) == {"message": "Success"}
    assert api_calls(control)[-1] == ("POST", f"{MODEL}/ApproveFile/{file_id}/", 200)


def test_retry_prediction_sends_the_file_ids(client: NanonetsClient, control: EmulatorControl) -> None:
    file_id = new_file(client)
    answer = client.retry_prediction([file_id, "unknown"])
    assert (answer["retried"], answer["not_found"]) == ([file_id], ["unknown"])
    assert api_calls(control)[-1] == (
        "POST",
        f"/api/v2/ObjectDetection/Model/{EMULATOR_MODEL}/RetryPrediction",
        200,
    )
    assert control.flush(timeout=10)
    assert control.files()[0]["predictions"] == 2


# ---------------- train ----------------


def test_training_uploads_and_train(client: NanonetsClient, control: EmulatorControl, tmp_path: Path) -> None:
    urls = ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    by_url = client.upload_training_urls(urls, data='{"labels": []}')
    assert by_url["message"] == "Success"
    assert [item["url"] for item in by_url["result"]] == urls

    image = tmp_path / "train.jpg"
    image.write_bytes(b"\xff\xd8 not really a jpeg")
    by_file = client.upload_training_files([image, ("second.png", b"png")], data='{"labels": []}')
    assert [item["filename"] for item in by_file["result"]] == ["train.jpg", "second.png"]

    assert client.train() == {"message": "Training started", "model_id": EMULATOR_MODEL}
    assert api_calls(control) == [
        ("POST", f"{MODEL}/UploadUrls/", 200),
        ("POST", f"{MODEL}/UploadFile/", 200),
        ("POST", f"{MODEL}/Train/", 200),
    ]


# ---------------- files ----------------


def test_update_approve_export_delete(client: NanonetsClient, control: EmulatorControl) -> None:
    file_id = new_file(client)

    assert client.update_fields(file_id, {"total": "50,00 €", "fecha": "01/01/2026"})["message"] == "Success"
    boxes = client.get_file(file_id)["unmoderated_images"][0]["predicted_boxes"]
    texts = {box["label"]: box.get("ocr_text") for box in boxes}
    assert (texts["total"], texts["fecha"], texts["matricula"]) == ("50,00 €", "01/01/2026", "1234-ABC")

    assert client.approve(file_id) == {"message": "Success"}
    approved = client.get_file(file_id)
    assert approved["moderated_images_count"] == 1
    assert approved["moderated_images"][0]["is_moderated"] is True

    assert client.export(file_id) == {"message": "Success", "request_file_id": file_id}

    assert client.delete(file_id) == {"message": "Success"}
    assert control.files()[0]["state"] == "deleted"
    with pytest.raises(NanonetsNotFound):
        client.fetch_file(file_id)


# ---------------- errors ----------------


def test_bad_request_maps_to_nanonets_bad_request(client: NanonetsClient) -> None:
    dead = f"http://127.0.0.1:{free_port()}/x.pdf"
    with pytest.raises(NanonetsBadRequest) as caught:
        client.predict_urls([dead])
    error = caught.value
    assert error.status == 400
    assert "could not download" in error.message
    assert error.endpoint == f"/OCR/Model/{EMULATOR_MODEL}/LabelUrls/"
    assert "HTTP 400" in str(error)
    assert error.endpoint in str(error)

    with pytest.raises(NanonetsBadRequest):
        client.upload_training_files([("a.png", b"x")], data="")


def test_wrong_key_maps_to_auth_error_naming_the_variable(api_url: str) -> None:
    wrong = make_client(api_url, key=WRONG_KEY)
    with pytest.raises(NanonetsAuthError) as caught:
        wrong.train()
    error = caught.value
    assert error.status == 401
    assert "Invalid API key" in error.message
    assert "NANONETS_API_KEY" in str(error)
    assert error.endpoint == f"/OCR/Model/{EMULATOR_MODEL}/Train/"
    for text in (str(error), repr(error), error.message, error.endpoint):
        assert WRONG_KEY not in text
        assert EMULATOR_KEY not in text


def test_quota_used_up_maps_to_quota_exceeded(client: NanonetsClient, control: EmulatorControl) -> None:
    control.config(quota=1)
    new_file(client)
    with pytest.raises(NanonetsQuotaExceeded) as caught:
        new_file(client)
    assert caught.value.status == 402
    assert caught.value.message
    assert caught.value.endpoint == f"/OCR/Model/{EMULATOR_MODEL}/LabelFile/"
    assert len(control.files()) == 1


def test_unknown_model_maps_to_not_found(api_url: str) -> None:
    other = make_client(api_url, model="no-such-model")
    with pytest.raises(NanonetsNotFound) as caught:
        other.predict_files([("a.pdf", b"%PDF-1.4")])
    assert caught.value.status == 404
    assert "Model not found" in caught.value.message
    assert caught.value.endpoint == "/OCR/Model/no-such-model/LabelFile/"


@pytest.mark.parametrize(
    ("call", "endpoint"),
    [
        (
            lambda c: c.get_file("no-such-file"),
            f"/Inferences/Model/{EMULATOR_MODEL}/InferenceRequest/no-such-file",
        ),
        (lambda c: c.fetch_file("no-such-file"), f"/OCR/Model/{EMULATOR_MODEL}/getFile/no-such-file/"),
        (lambda c: c.approve("no-such-file"), f"/OCR/Model/{EMULATOR_MODEL}/ApproveFile/no-such-file/"),
        (lambda c: c.delete("no-such-file"), f"/OCR/Model/{EMULATOR_MODEL}/DeleteFile/no-such-file/"),
        (
            lambda c: c.update_fields("no-such-file", {"a": "b"}),
            f"/OCR/Model/{EMULATOR_MODEL}/UpdateFile/no-such-file/",
        ),
        (lambda c: c.export("no-such-file"), f"/OCR/Model/{EMULATOR_MODEL}/ExportFile/no-such-file/"),
    ],
    ids=["get_file", "fetch_file", "approve", "delete", "update_fields", "export"],
)
def test_unknown_file_id_maps_to_not_found(client: NanonetsClient, call: Any, endpoint: str) -> None:
    with pytest.raises(NanonetsNotFound) as caught:
        call(client)
    assert caught.value.status == 404
    assert caught.value.message == "File not found"
    assert caught.value.endpoint == endpoint


def test_429_past_the_retry_bound_is_rate_limited(client: NanonetsClient, control: EmulatorControl) -> None:
    control.faults(rate_429=1.0, retry_after=0)
    with pytest.raises(NanonetsRateLimited) as caught:
        client.train()
    assert caught.value.status == 429
    assert caught.value.message
    assert caught.value.endpoint == f"/OCR/Model/{EMULATOR_MODEL}/Train/"
    assert [c[2] for c in api_calls(control)] == [429] * (MAX_RETRIES + 1)


def test_5xx_past_the_retry_bound_is_unavailable(client: NanonetsClient, control: EmulatorControl) -> None:
    control.faults(rate_5xx=1.0)
    with pytest.raises(NanonetsUnavailable) as caught:
        client.get_file("whatever")
    assert caught.value.status in (500, 502, 503)
    assert caught.value.message
    assert caught.value.endpoint == f"/Inferences/Model/{EMULATOR_MODEL}/InferenceRequest/whatever"
    statuses = [c[2] for c in api_calls(control)]
    assert len(statuses) == MAX_RETRIES + 1
    assert set(statuses) <= {500, 502, 503}


def test_connection_refused_is_unavailable() -> None:
    closed = make_client(f"http://127.0.0.1:{free_port()}/api/v2")
    with pytest.raises(NanonetsUnavailable) as caught:
        closed.predict_urls(["https://example.com/a.pdf"])
    error = caught.value
    assert error.status is None  # no answer at all
    assert "cannot reach Nanonets" in error.message
    assert error.endpoint == f"/OCR/Model/{EMULATOR_MODEL}/LabelUrls/"
    assert EMULATOR_KEY not in str(error)


def test_read_timeout_on_a_post_is_not_retried(api_url: str, control: EmulatorControl) -> None:
    slow = make_client(api_url, nanonets_read_timeout=0.3)
    control.faults(rate_slow=1.0, slow_seconds=1.0)
    with pytest.raises(NanonetsUnavailable):
        slow.train()
    deadline = time.monotonic() + 10
    while not control.calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a resent request would have been sent 0.3 s after the first and logged within ~1.4 s
    assert [c[2] for c in api_calls(control)] == [200]


# ---------------- predict calls: 429 at once (the pacer waits), 402, 202 ----------------


def test_a_pages_per_minute_429_on_submission_is_raised_at_once_with_no_retry_after(
    client: NanonetsClient, doc_url: str, control: EmulatorControl
) -> None:
    control.config(pages_per_minute=1, time_scale=10)  # a ten-minute "minute": nothing expires in the test
    client.submit_url_async(doc_url, {"n": 1})

    with pytest.raises(NanonetsRateLimited) as caught:
        client.submit_url_async(doc_url, {"n": 2})

    assert caught.value.status == 429
    assert caught.value.retry_after is None  # live Nanonets sends none: the pacer waits 30 s, then backs off
    assert [status for _, _, status in api_calls(control)] == [200, 429]  # not retried


@pytest.mark.parametrize("call", ["urls", "files"])
def test_a_429_on_a_predict_call_carries_its_retry_after_and_is_not_retried(
    client: NanonetsClient, doc_url: str, control: EmulatorControl, call: str
) -> None:
    control.faults(fail_next=[429], retry_after=7)
    with pytest.raises(NanonetsRateLimited) as caught:
        if call == "urls":
            client.predict_urls([doc_url], asynchronous=True)
        else:
            client.predict_files([("a.pdf", document_bytes())], asynchronous=True)
    assert caught.value.retry_after == 7.0
    assert len(api_calls(control)) == 1
    assert control.files() == []


def test_reads_still_retry_a_429(client: NanonetsClient, control: EmulatorControl) -> None:
    file_id = new_file(client)
    control.faults(fail_next=[429], retry_after=0)
    assert client.fetch_file(file_id)["unmoderated_images"]
    assert [status for _, _, status in api_calls(control)[-2:]] == [429, 200]


def test_page_credit_used_up_is_quota_exceeded(
    client: NanonetsClient, doc_url: str, control: EmulatorControl
) -> None:
    control.config(credit_pages=0)
    with pytest.raises(NanonetsQuotaExceeded) as caught:
        client.submit_url_async(doc_url, {})
    assert caught.value.status == 402
    control.config(credit_pages=1)
    assert client.submit_url_async(doc_url, {})


def test_a_202_partial_success_is_success(
    client: NanonetsClient, doc_url: str, control: EmulatorControl
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/gone.pdf"
    answer = client.predict_urls([doc_url, dead], asynchronous=True)
    [accepted] = answer["result"]
    assert accepted["request_file_id"] == control.files()[0]["request_file_id"]
    assert api_calls(control) == [("POST", f"{MODEL}/LabelUrls/", 202)]


def send_json(handler: http.server.BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
    """The headers and body of a JSON answer whose status line `handler` already sent."""
    data = json.dumps(body).encode()
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _Accepted202(http.server.BaseHTTPRequestHandler):
    """LabelUrls answering 202 (partial success) with a request_file_id."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        send_json(self, {"message": "Partial", "result": [{"request_file_id": "f-202"}]})

    def log_message(self, *args: Any) -> None:
        pass


def test_submit_url_async_takes_the_file_id_of_a_202() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Accepted202)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = make_client(f"http://127.0.0.1:{server.server_address[1]}/api/v2")
        assert client.submit_url_async("https://example.com/a.pdf", {}) == "f-202"
    finally:
        server.shutdown()
        server.server_close()


# ---------------- retries ----------------


def test_one_429_then_success(client: NanonetsClient, control: EmulatorControl) -> None:
    control.faults(fail_next=[429], retry_after=0)
    assert client.train()["message"] == "Training started"
    assert [c[2] for c in api_calls(control)] == [429, 200]


def test_one_503_then_success_on_a_post(client: NanonetsClient, control: EmulatorControl) -> None:
    control.faults(fail_next=[503])
    answer = client.predict_files([("a.pdf", document_bytes())])
    assert answer["result"][0]["prediction"] == receipt_boxes()
    assert [c[2] for c in api_calls(control)] == [503, 200]
    assert len(control.files()) == 1


def test_retry_after_is_honoured(client: NanonetsClient, control: EmulatorControl) -> None:
    control.faults(fail_next=[429], retry_after=1)
    client.train()
    first, second = control.calls()
    assert (first["status"], second["status"]) == (429, 200)
    # backoff alone would wait ~0.01 s; the emulator's own clock shows the Retry-After gap was kept
    assert second["time"] - first["time"] >= 0.95


def test_retry_after_is_capped_by_backoff_max(api_url: str, control: EmulatorControl) -> None:
    capped = make_client(api_url, nanonets_backoff_max_seconds=0.2)
    control.faults(fail_next=[429], retry_after=60)
    capped.train()
    first, second = control.calls()
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] < 30


@pytest.mark.parametrize(("failures", "succeeds"), [(MAX_RETRIES, True), (MAX_RETRIES + 1, False)])
def test_retry_bound_is_exact(
    client: NanonetsClient, control: EmulatorControl, failures: int, succeeds: bool
) -> None:
    control.faults(fail_next=[429] * failures, retry_after=0)
    if succeeds:
        client.train()
    else:
        with pytest.raises(NanonetsRateLimited):
            client.train()
    expected = [429] * failures + ([200] if succeeds else [])
    assert [c[2] for c in api_calls(control)] == expected


class _OddRetryAfter(http.server.BaseHTTPRequestHandler):
    """Answers 429 with a Retry-After the RFC does not allow, then 200: real servers do send these."""

    values: ClassVar[list[str]] = []
    calls: ClassVar[int] = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        if self.values:
            self.send_response(429)
            self.send_header("Retry-After", self.values.pop(0))
            send_json(self, {"message": "slow down"})
        else:
            self.send_response(200)
            send_json(self, {"message": "Training started"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("header", ["0.5", "soon", "nan", "-3"])
def test_an_odd_retry_after_is_waited_out_or_ignored_never_a_crash(header: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddRetryAfter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _OddRetryAfter.values, _OddRetryAfter.calls = [header], 0
    try:
        settings = NanonetsSettings(
            nanonets_api_key=EMULATOR_KEY,
            nanonets_model_id=EMULATOR_MODEL,
            nanonets_base_url=f"http://127.0.0.1:{server.server_address[1]}/api/v2",
            nanonets_backoff_factor=0.01,
            nanonets_max_retries=2,
        )
        assert NanonetsClient(settings).train() == {"message": "Training started"}
        assert _OddRetryAfter.calls == 2
    finally:
        server.shutdown()
        server.server_close()


# ---------------- the key stays secret ----------------


def test_key_not_in_repr(client: NanonetsClient, api_url: str) -> None:
    for text in (repr(client), str(client)):
        assert EMULATOR_KEY not in text
        assert api_url in text
        assert EMULATOR_MODEL in text


def test_key_never_logged(
    client: NanonetsClient, api_url: str, control: EmulatorControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    file_id = new_file(client)
    control.faults(fail_next=[429, 503], retry_after=0)  # reads retry 429 (predict calls do not)
    client.fetch_file(file_id)
    errors: list[NanonetsError] = []
    calls: list[Callable[[], object]] = [
        lambda: client.get_file("nope"),
        lambda: make_client(api_url, key=WRONG_KEY).train(),
        lambda: make_client(f"http://127.0.0.1:{free_port()}/api/v2", key=WRONG_KEY).train(),
    ]
    for call in calls:
        with pytest.raises(NanonetsError) as caught:
            call()
        errors.append(caught.value)

    assert any(r.name.startswith("urllib3") for r in caplog.records)  # DEBUG transport logs were captured
    assert any(r.name == "service.adapters.nanonets" for r in caplog.records)
    dumped = caplog.text + "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    for key in (EMULATOR_KEY, WRONG_KEY):
        assert key not in dumped
        assert base64.b64encode(f"{key}:".encode()).decode() not in dumped  # nor the Authorization header
        assert all(key not in str(e) and key not in repr(e) for e in errors)
