"""`python -m service.cli api ...` as a real subprocess against the emulator process: every subcommand,
and the exit codes of cli.exit_code_for (2 usage/settings, 3 auth/quota, 4 not found, 5 unavailable)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.stack import EMULATOR_KEY, EMULATOR_MODEL, free_port
from tests.support import presigned_document_url, receipt_boxes

WRONG_KEY = "wrong-cli-key-ZZZ-0099887766"
MODEL = f"/api/v2/OCR/Model/{EMULATOR_MODEL}"

Run = Callable[..., subprocess.CompletedProcess[str]]


pytestmark = pytest.mark.usefixtures("seed_shapes")


@pytest.fixture()
def control(emulator_url: str) -> EmulatorControl:
    return EmulatorControl(emulator_url)


@pytest.fixture()
def run(emulator_url: str, tmp_path: Path) -> Run:
    """Run the CLI with NANONETS_* pointing at the emulator; `env` overrides them, `None` drops one."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("NANONETS_")}
    base.update(
        {
            "NANONETS_API_KEY": EMULATOR_KEY,
            "NANONETS_MODEL_ID": EMULATOR_MODEL,
            "NANONETS_BASE_URL": emulator_url + "/api/v2",
            "NANONETS_MAX_RETRIES": "1",
            "NANONETS_BACKOFF_FACTOR": "0.01",
            "NANONETS_BACKOFF_MAX_SECONDS": "0.2",
            "NANONETS_CONNECT_TIMEOUT": "2",
        }
    )

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        full = dict(base)
        for name, value in (env or {}).items():
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        return subprocess.run(
            [sys.executable, "-m", "service.cli", "api", *args],
            env=full,
            cwd=tmp_path,  # no .env from the developer's tree
            capture_output=True,
            text=True,
            timeout=60,
        )

    return invoke


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture()
def doc_url(s3: Any) -> str:
    return presigned_document_url(s3, "incoming/cli recibo.pdf")


def labelled_file(run: Run, tmp_path: Path, pages: list[Any] | None = None) -> str:
    """`label-file` (sync) on a document with known pages; the request_file_id it printed."""
    document = tmp_path / "doc.pdf"
    document.write_bytes(document_bytes(pages=pages))
    file_id: str = ok(run("label-file", str(document)))["result"][0]["request_file_id"]
    return file_id


def paths(control: EmulatorControl) -> list[tuple[str, str, int]]:
    return [(c["method"], c["path"], c["status"]) for c in control.calls()]


# ---------------- predictions ----------------


def test_label_urls_async_prints_a_request_file_id(run: Run, doc_url: str, control: EmulatorControl) -> None:
    answer = ok(run("label-urls", "--async", "--metadata", '{"driver": "7"}', doc_url))

    [accepted] = answer["result"]
    [record] = control.files()
    assert accepted["request_file_id"] == record["request_file_id"]
    assert accepted["status"] == "processing"
    assert json.loads(record["request_metadata"]) == {"driver": "7"}
    assert record["source"] == doc_url
    assert paths(control) == [("POST", f"{MODEL}/LabelUrls/", 200)]


def test_label_urls_async_path_and_sync(run: Run, doc_url: str, control: EmulatorControl) -> None:
    accepted = ok(run("label-urls", "--async", "--async-path", doc_url))
    assert accepted["result"][0]["status"] == "processing"
    synchronous = ok(run("label-urls", doc_url))
    assert synchronous["result"][0]["prediction"] == receipt_boxes()
    assert [p for _, p, _ in paths(control)] == [f"{MODEL}/LabelUrls/Async/", f"{MODEL}/LabelUrls/"]


def test_label_file_sync_and_async(run: Run, control: EmulatorControl, tmp_path: Path) -> None:
    document = tmp_path / "local recibo.pdf"
    document.write_bytes(document_bytes())

    answer = ok(run("label-file", str(document), "--pages", "1", "--metadata", '{"a": 1}'))
    assert answer["result"][0]["prediction"] == receipt_boxes()
    assert answer["result"][0]["input"] == "local recibo.pdf"
    assert answer["result"][0]["request_metadata"] == '{"a": 1}'

    accepted = ok(run("label-file", "--async", str(document)))
    assert accepted["result"][0]["status"] == "processing"
    assert len(control.files()) == 2

    missing = run("label-file", str(tmp_path / "nope.pdf"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert len(control.calls()) == 2


# ---------------- retrieval, file operations, training ----------------


def test_file_subcommands(run: Run, control: EmulatorControl, tmp_path: Path, emulator_url: str) -> None:
    file_id = labelled_file(run, tmp_path, [RECEIPT_PAGES[0], RECEIPT_PAGES[0][:1]])

    fetched = ok(run("get-file", file_id))
    assert fetched["unmoderated_images_count"] == 2
    page_id = fetched["unmoderated_images"][1]["id"]

    [page] = ok(run("get-page", file_id, page_id))["result"]  # today's path: the prediction shape
    assert page["id"] == page_id

    listed = ok(run("list-files", "--days", "1"))
    assert {p["request_file_id"] for p in listed["unmoderated_images"]} == {file_id}

    assert ok(run("update", file_id, "--field", "total=12,00 €", "--field", "fecha=02/02/2026")) == {
        "message": "Success"
    }
    boxes = ok(run("get-file", file_id))["unmoderated_images"][0]["predicted_boxes"]
    texts = {box["label"]: box.get("ocr_text") for box in boxes}
    assert (texts["total"], texts["fecha"]) == ("12,00 €", "02/02/2026")

    assert ok(run("approve", file_id)) == {"message": "Success"}
    assert control.files()[0]["approved"] is True
    assert ok(run("export", file_id)) == {"message": "Success", "request_file_id": file_id}
    assert ok(run("delete", file_id)) == {"message": "Success"}
    assert control.files()[0]["state"] == "deleted"
    assert run("get-file", file_id).returncode == 4


def test_get_file_falls_back_to_the_old_path(run: Run, control: EmulatorControl, tmp_path: Path) -> None:
    file_id = labelled_file(run, tmp_path)
    control.config(live_paths=False, new_retrieval_paths=False)  # an account on the guide's paths only

    fetched = ok(run("get-file", file_id))

    assert fetched["unmoderated_images"][0]["predicted_boxes"] == receipt_boxes()
    assert paths(control)[-1] == ("GET", f"{MODEL}/getFile/{file_id}/", 200)


def test_subcommands_of_todays_api(run: Run, control: EmulatorControl, tmp_path: Path) -> None:
    file_id = labelled_file(run, tmp_path, [RECEIPT_PAGES[0], RECEIPT_PAGES[0][:1]])

    predictions = ok(run("get-predictions", file_id))
    assert predictions["unmoderated_images_count"] == 2
    page_id = predictions["unmoderated_images"][1]["id"]
    [page] = ok(run("page", page_id))["result"]
    assert (page["id"], page["page"]) == (page_id, 1)
    listed = ok(run("window", "--days", "1"))
    assert {p["request_file_id"] for p in listed["unmoderated_images"]} == {file_id}

    assert ok(run("verify", file_id)) == {"message": "Success"}
    assert control.files()[0]["approval_status"] == "approved"
    assert ok(run("unverify", file_id)) == {"message": "Success"}
    assert control.files()[0]["approval_status"] == "pending"
    assert ok(run("approve-file", file_id)) == {"message": "Success"}
    assert control.files()[0]["approval_status"] == "approved"
    retried = ok(run("retry-prediction", file_id, "other-id"))
    assert (retried["retried"], retried["not_found"]) == ([file_id], ["other-id"])

    live = f"/api/v2/Inferences/Model/{EMULATOR_MODEL}"
    assert [(method, path) for method, path, _ in paths(control)[1:]] == [
        ("GET", f"{live}/InferenceRequestFiles/GetPredictions/{file_id}"),
        ("GET", f"{live}/ImageLevelInferences/{page_id}"),
        ("GET", f"{live}/ImageLevelInferences"),
        ("POST", f"{live}/ImageLevelInferences/Verify/{file_id}"),
        ("POST", f"{live}/ImageLevelInferences/UnVerify/{file_id}"),
        ("POST", f"{MODEL}/ApproveFile/{file_id}/"),
        ("POST", f"/api/v2/ObjectDetection/Model/{EMULATOR_MODEL}/RetryPrediction"),
    ]


def test_todays_subcommands_on_an_old_account_exit_4(
    run: Run, control: EmulatorControl, tmp_path: Path
) -> None:
    file_id = labelled_file(run, tmp_path)
    control.config(live_paths=False)
    for args in (("get-predictions", file_id), ("verify", file_id), ("window", "--days", "1")):
        result = run(*args)
        assert result.returncode == 4, (args, result.stderr)
        assert result.stdout == ""
    assert ok(run("approve", file_id)) == {"message": "Success"}  # Verify 404, then ApproveFile


def test_training_subcommands(run: Run, control: EmulatorControl, tmp_path: Path) -> None:
    image = tmp_path / "sample.jpg"
    image.write_bytes(b"\xff\xd8 jpeg-ish")

    by_url = ok(run("upload-training-urls", "https://example.com/a.jpg", "--data", '{"labels": []}'))
    assert by_url["result"] == [{"url": "https://example.com/a.jpg", "status": "uploaded"}]
    by_file = ok(run("upload-training-file", str(image), "--data", '{"labels": []}'))
    assert by_file["result"] == [{"filename": "sample.jpg", "status": "uploaded"}]
    assert ok(run("train")) == {"message": "Training started", "model_id": EMULATOR_MODEL}
    assert [p for _, p, _ in paths(control)] == [
        f"{MODEL}/UploadUrls/",
        f"{MODEL}/UploadFile/",
        f"{MODEL}/Train/",
    ]


# ---------------- exit codes ----------------


def test_wrong_key_exits_3_naming_the_variable_not_the_key(run: Run) -> None:
    result = run("train", env={"NANONETS_API_KEY": WRONG_KEY})
    assert result.returncode == 3
    assert "NANONETS_API_KEY" in result.stderr
    assert WRONG_KEY not in result.stderr + result.stdout
    assert EMULATOR_KEY not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_key_exits_2_naming_the_variable(run: Run, control: EmulatorControl) -> None:
    result = run("train", env={"NANONETS_API_KEY": None})
    assert result.returncode == 2
    assert "NANONETS_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert control.calls() == []


def test_quota_used_up_exits_3(run: Run, control: EmulatorControl, tmp_path: Path) -> None:
    control.config(quota=0)
    document = tmp_path / "q.pdf"
    document.write_bytes(b"%PDF-1.4 q")
    result = run("label-file", str(document))
    assert result.returncode == 3
    assert "402" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("get-file", "no-such-file"),
        ("approve", "no-such-file"),
        ("get-page", "no-such-file", "no-such-file-p0"),
        ("get-predictions", "no-such-file"),
        ("page", "no-such-file-p0"),
        ("verify", "no-such-file"),
        ("unverify", "no-such-file"),
    ],
    ids=["get-file", "approve", "get-page", "get-predictions", "page", "verify", "unverify"],
)
def test_unknown_file_id_exits_4(run: Run, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 4, result.stderr
    assert "File not found" in result.stderr
    assert result.stdout == ""


def test_bad_metadata_json_exits_2_without_calling_nanonets(
    run: Run, doc_url: str, control: EmulatorControl
) -> None:
    result = run("label-urls", "--metadata", "{not json", doc_url)
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    assert control.calls() == []


def test_bad_field_and_bad_data_exit_2(run: Run, control: EmulatorControl) -> None:
    no_equals = run("update", "some-id", "--field", "total")
    assert no_equals.returncode == 2
    assert "LABEL=TEXT" in no_equals.stderr
    bad_data = run("upload-training-urls", "https://example.com/a.jpg", "--data", "[oops")
    assert bad_data.returncode == 2
    assert control.calls() == []


def test_undownloadable_url_exits_2(run: Run) -> None:
    result = run("label-urls", f"http://127.0.0.1:{free_port()}/gone.pdf")
    assert result.returncode == 2
    assert "could not download" in result.stderr


def test_rate_limited_past_retries_exits_5(run: Run, control: EmulatorControl) -> None:
    control.faults(rate_429=1.0, retry_after=1)  # NANONETS_BACKOFF_MAX_SECONDS=0.2 caps the wait
    result = run("train")
    assert result.returncode == 5
    assert "429" in result.stderr
    assert [c[2] for c in paths(control)] == [429, 429]  # NANONETS_MAX_RETRIES=1


def test_pages_per_minute_429_on_label_urls_exits_5_at_once(
    run: Run, doc_url: str, control: EmulatorControl
) -> None:
    control.config(pages_per_minute=1, time_scale=10)
    ok(run("label-urls", "--async", doc_url))
    result = run("label-urls", "--async", doc_url)
    assert result.returncode == 5
    assert "429" in result.stderr
    assert [c[2] for c in paths(control)] == [200, 429]  # predict calls leave the waiting to the pacer


def test_page_credit_used_up_exits_3(run: Run, doc_url: str, control: EmulatorControl) -> None:
    control.config(credit_pages=0)
    result = run("label-urls", "--async", doc_url)
    assert result.returncode == 3
    assert "402" in result.stderr


def test_unreachable_nanonets_exits_5(run: Run) -> None:
    result = run("train", env={"NANONETS_BASE_URL": f"http://127.0.0.1:{free_port()}/api/v2"})
    assert result.returncode == 5
    assert "cannot reach Nanonets" in result.stderr


def test_upload_training_file_missing_path_exits_2(run: Run, tmp_path: Path) -> None:
    result = run("upload-training-file", str(tmp_path / "nope.jpg"), "--data", "{}")
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_model_id_option_calls_another_model(run: Run, doc_url: str, control: EmulatorControl) -> None:
    ok(run("--model-id", "emulator-invoices", "label-urls", "--async", doc_url))
    assert paths(control) == [("POST", "/api/v2/OCR/Model/emulator-invoices/LabelUrls/", 200)]
