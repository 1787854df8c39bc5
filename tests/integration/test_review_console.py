"""The review console in-process (Flask test client) against moto server and the emulator process:
queue, document, page images, edit / approve / reject with audit, and who may enter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devtools.emulator.control import EmulatorControl
from devtools.stack import EMULATOR_KEY, TEST_SECRET
from service.bootstrap import Service
from service.models.source import SourceRef
from service.review.users import add_user
from service.settings import Settings, SettingsError
from service.web import create_app
from service.web.context import SERVICE
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.e2e.conftest import RULES
from tests.support import EMULATOR_PAGE_PIXELS, bad_plate_receipt, list_keys

PASSWORD = "a long reviewer password"
SESSION_SECRET = "session-secret-for-tests-0123456789abcdef"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = "incoming/fleet/bad-plate.pdf"
OUTPUT = "normalized/fleet/bad-plate.pdf.json"


@pytest.fixture(scope="module")
def hashed_users(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One reviewer, hashed once: scrypt takes half a second here, on purpose."""
    path = tmp_path_factory.mktemp("users") / "reviewers.yaml"
    add_user(path, "ana", PASSWORD)
    return path.read_text()


@pytest.fixture()
def users_file(tmp_path: Path, hashed_users: str) -> Path:
    path = tmp_path / "reviewers.yaml"
    path.write_text(hashed_users)
    return path


@pytest.fixture()
def console_settings(make_settings: Any, users_file: Path) -> Settings:
    settings: Settings = make_settings(
        review_enabled=True,
        review_users_file=str(users_file),
        session_secret=SESSION_SECRET,
        validation_rules=RULES,
    )
    return settings


@pytest.fixture()
def app(console_settings: Settings, emulator_url: str) -> Flask:
    EmulatorControl(emulator_url).config(webhooks_enabled=False)  # results come in through reconcile
    return create_app(console_settings)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def service_of(app: Flask) -> Service:
    service: Service = app.extensions[SERVICE]
    return service


def process(app: Flask, s3: Any, key: str = KEY, body: bytes | None = None) -> str:
    """Drop a document and complete it as reconcile would; its request_file_id."""
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body or bad_plate_receipt(EMULATOR_PAGE_PIXELS)[0])
    service = service_of(app)
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key=key))
    assert outcome.status == "submitted", outcome
    # The emulator predicts a moment after the submission: on a busy machine, reconcile could ask first.
    assert EmulatorControl(service.settings.nanonets_base_url.removesuffix("/api/v2")).flush()
    service.recovery.reconcile(older_than_seconds=0, limit=100)
    return str(outcome.request_file_id)


def csrf_of(client: FlaskClient, path: str = "/review/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return found.group(1)


def log_in(client: FlaskClient, user: str = "ana", password: str = PASSWORD) -> Any:
    return client.post(
        "/review/login", data={"username": user, "password": password, "csrf_token": csrf_of(client)}
    )


def output(s3: Any, key: str = OUTPUT) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()))


def audit(s3: Any, file_id: str) -> list[dict[str, Any]]:
    keys = list_keys(s3, OUTPUT_BUCKET, f"_state/review/audit/{file_id}/")
    return [json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=k)["Body"].read()) for k in keys]


def act(client: FlaskClient, file_id: str, action: str, **form: str) -> Any:
    token = csrf_of(client, f"/review/documents/{file_id}")
    return client.post(f"/review/documents/{file_id}/{action}", data={"csrf_token": token, **form})


# ---- the work ----


def test_failed_document_is_queued_and_shown_with_its_boxes(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    assert log_in(client).status_code == 303
    queue = client.get("/review/queue").get_data(as_text=True)
    assert f"/review/documents/{file_id}" in queue
    assert "bad-plate.pdf" in queue and "Validation failed" in queue and "pattern_mismatch" in queue

    page = client.get(f"/review/documents/{file_id}").get_data(as_text=True)
    assert 'viewBox="0 0 1240.0 1754.0"' in page  # the page size Nanonets reported: the boxes' units
    plate = next(box for box in bad_plate_receipt(EMULATOR_PAGE_PIXELS)[1][0] if box["label"] == "matricula")
    at = f'x="{plate["xmin"]}.0" y="{plate["ymin"]}.0"'
    drawn = rf'data-field="matricula">\s*<title>matricula</title>\s*<rect {at}'
    assert re.search(drawn, page)
    assert page.count('class="box ') == 4
    assert "does not match" in page

    image = client.get(f"/review/documents/{file_id}/pages/0")
    assert (image.status_code, image.mimetype) == (200, "image/png")
    assert image.data.startswith(b"\x89PNG")
    assert list_keys(s3, OUTPUT_BUCKET, f"_state/review/pages/{file_id}/") == [
        f"_state/review/pages/{file_id}/0"
    ]


def test_fixing_the_plate_writes_a_corrected_output_with_its_audit(
    client: FlaskClient, app: Flask, s3: Any
) -> None:
    file_id = process(app, s3)
    log_in(client)
    before = s3.head_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT)["ETag"]

    answer = act(client, file_id, "edit", field="matricula", value="4821-KLM")

    assert answer.status_code == 303
    document = output(s3)
    plate = document["fields"]["matricula"]
    assert (plate["value"], plate["predicted"], plate["source"]) == ("4821-KLM", "4821 KLM", "console")
    assert document["validation"] == {"status": "passed", "issues": []}
    assert s3.head_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT)["ETag"] != before
    [record] = audit(s3, file_id)
    assert (record["action"], record["by"], record["field"]) == ("edit", "ana", "matricula")
    assert (record["before"], record["after"]) == ("4821 KLM", "4821-KLM")
    ledger = service_of(app).stores.ledger.get(file_id)
    assert ledger is not None and ledger.validation_status == "passed"
    assert f"/review/documents/{file_id}" not in client.get("/review/queue").get_data(as_text=True)


def test_approve_writes_once_and_a_repeat_changes_nothing(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    log_in(client)
    act(client, file_id, "approve")
    etag = s3.head_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT)["ETag"]
    assert output(s3)["review"] == "approved"

    act(client, file_id, "approve")

    assert s3.head_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT)["ETag"] == etag
    assert [r["action"] for r in audit(s3, file_id)] == ["approve", "approve"]
    ledger = service_of(app).stores.ledger.get(file_id)
    assert ledger is not None and ledger.review == "approved"


def test_reject_needs_a_reason_and_records_it(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    log_in(client)
    refused = act(client, file_id, "reject", reason="   ")
    assert "a rejection needs a reason" in client.get(refused.location).get_data(as_text=True)
    assert output(s3)["review"] == "pending"

    act(client, file_id, "reject", reason="ticket is from another vehicle")

    assert output(s3)["review"] == "rejected"
    [record] = audit(s3, file_id)
    assert (record["action"], record["reason"], record["before"], record["after"]) == (
        "reject",
        "ticket is from another vehicle",
        "pending",
        "rejected",
    )


def test_late_webhooks_never_undo_a_console_edit(
    client: FlaskClient, app: Flask, s3: Any, emulator_url: str
) -> None:
    file_id = process(app, s3)
    log_in(client)
    act(client, file_id, "edit", field="matricula", value="4821-KLM")
    edited = output(s3)

    service = service_of(app)
    replayed = service.recovery.replay(request_file_id=file_id)  # the same result again: nothing to write
    assert {result.outcome for result in replayed} == {"unchanged"}
    assert output(s3) == edited

    EmulatorControl(emulator_url).reject(file_id)  # a person rejects it in Nanonets afterwards
    prediction, raw_key = service.complete.fetch(file_id)
    service.complete.complete(prediction, raw_key, fetched=True)

    after = output(s3)
    assert after["review"] == "rejected"
    assert after["fields"]["matricula"]["value"] == "4821-KLM"
    assert after["fields"]["matricula"]["source"] == "console"
    assert "Rejected in Nanonets" in client.get("/review/queue?reason=rejected").get_data(as_text=True)


def test_push_failure_is_shown_kept_and_retried(
    make_settings: Any, users_file: Path, s3: Any, emulator_url: str
) -> None:
    settings = make_settings(
        review_enabled=True,
        review_users_file=str(users_file),
        session_secret=SESSION_SECRET,
        validation_rules=RULES,
        review_push_to_nanonets=True,
        nanonets_max_retries=0,
    )
    emulator = EmulatorControl(emulator_url)
    emulator.config(webhooks_enabled=False)
    app = create_app(settings)
    client = app.test_client()
    file_id = process(app, s3)
    log_in(client)
    emulator.faults(rate_5xx=1.0)

    answer = act(client, file_id, "edit", field="matricula", value="4821-KLM")

    page = client.get(answer.location).get_data(as_text=True)
    assert "Nanonets did not take it yet" in page and "Waiting to reach Nanonets" in page
    assert output(s3)["fields"]["matricula"]["value"] == "4821-KLM"  # the edit is not lost
    assert [r["action"] for r in audit(s3, file_id)] == ["edit", "push_failed"]

    emulator.faults(rate_5xx=0.0)
    recovery = service_of(app).recovery

    summary = recovery.reconcile(older_than_seconds=0, limit=100)  # the scheduled reconcile sends it

    assert (summary.review_pushes_sent, summary.review_pushes_failed) == (1, 0)
    assert [r["action"] for r in audit(s3, file_id)] == ["edit", "push_failed", "push"]
    updates = [c for c in emulator.calls() if "/UpdateFile/" in c["path"] and c["status"] == 200]
    assert len(updates) == 1
    assert "Waiting to reach Nanonets" not in client.get(answer.location).get_data(as_text=True)
    assert recovery.reconcile(older_than_seconds=0, limit=100).review_pushes_sent == 0


def test_newer_content_of_the_source_replaces_the_older_one_in_the_queue(
    client: FlaskClient, app: Flask, s3: Any
) -> None:
    older = process(app, s3)
    newer_body = bad_plate_receipt()[0].replace(b"%%EOF", b"% rescanned\n%%EOF")
    newer = process(app, s3, body=newer_body)
    assert newer != older
    log_in(client)
    queue = client.get("/review/queue").get_data(as_text=True)
    assert f"/review/documents/{newer}" in queue
    assert f"/review/documents/{older}" not in queue
    page = client.get(f"/review/documents/{older}").get_data(as_text=True)
    assert "newer content of the same source replaced it" in page
    assert act(client, newer, "approve").status_code == 303  # the newer one can be acted on ...
    assert output(s3)["review"] == "approved"
    token = csrf_of(client, f"/review/documents/{older}")
    answer = client.post(f"/review/documents/{older}/reject", data={"csrf_token": token, "reason": "x"})
    assert "newer content of the same source replaced this document" in client.get(answer.location).get_data(
        as_text=True
    )  # ... the older one cannot touch the newer output
    assert output(s3)["review"] == "approved"


# ---- who may enter ----


def test_pages_need_a_reviewer(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    for path in ("/review/queue", f"/review/documents/{file_id}", f"/review/documents/{file_id}/pages/0"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.location.startswith("/review/login?next=")


def test_wrong_password_and_unknown_user_are_refused(client: FlaskClient) -> None:
    for user, password in (("ana", "not the password"), ("mallory", PASSWORD)):
        answer = log_in(client, user, password)
        assert answer.status_code == 401
        assert "Wrong name or password" in answer.get_data(as_text=True)
        assert client.get("/review/queue").status_code == 303


def test_webhook_secret_is_not_a_reviewer_password(client: FlaskClient) -> None:
    assert log_in(client, "ana", TEST_SECRET).status_code == 401
    for answer in (
        client.get(f"/review/queue?token={TEST_SECRET}"),
        client.get("/review/queue", headers={"X-Webhook-Token": TEST_SECRET}),
    ):
        assert answer.status_code == 303 and answer.location.startswith("/review/login")


def test_forged_or_absent_csrf_is_refused(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    log_in(client)
    before = output(s3)
    for form in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        answer = client.post(
            f"/review/documents/{file_id}/edit", data={"field": "matricula", "value": "0000-XXX", **form}
        )
        assert answer.status_code == 400
        assert "The form was refused" in answer.get_data(as_text=True)
    assert client.post(f"/review/documents/{file_id}/approve", data={"csrf_token": "x"}).status_code == 400
    assert output(s3) == before
    assert audit(s3, file_id) == []


def test_login_form_needs_its_csrf_token(client: FlaskClient) -> None:
    client.get("/review/login")
    answer = client.post("/review/login", data={"username": "ana", "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/review/queue").status_code == 303


def test_logout_ends_the_session(client: FlaskClient) -> None:
    log_in(client)
    assert client.get("/review/queue").status_code == 200
    token = csrf_of(client, "/review/queue")
    assert client.post("/review/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/review/queue").status_code == 303


def test_removed_reviewer_is_logged_out_at_the_next_request(client: FlaskClient, users_file: Path) -> None:
    log_in(client)
    assert client.get("/review/queue").status_code == 200
    users_file.write_text("{}\n")
    assert client.get("/review/queue").status_code == 303


def test_session_cookie_is_secure_httponly_samesite_and_host_only(client: FlaskClient) -> None:
    answer = log_in(client)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-review-session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain=" not in cookie


def test_login_rate_limit_holds_across_workers(console_settings: Settings, emulator_url: str) -> None:
    worker_a, worker_b = (
        create_app(console_settings).test_client(),
        create_app(console_settings).test_client(),
    )
    for _ in range(5):
        assert log_in(worker_a, "ana", "wrong password").status_code == 401
    refused = log_in(worker_b, "ana", PASSWORD)  # another worker, the right password: still refused
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert log_in(worker_b, "luis", "some other password").status_code == 401  # other names go on


@pytest.mark.parametrize(
    "path",
    [
        "/review/documents/..%2F..%2Fetc%2Fpasswd/pages/0",
        "/review/documents/../../_state/files/x/pages/0",
        "/review/documents/%2E%2E/pages/0",
        "/review/documents/{id}/pages/..%2F..%2Fx",
        "/review/documents/{id}/pages/-1",
        "/review/documents/{id}/pages/7",
        "/review/documents/{id}%00/pages/0",
        "/review/documents/s3:%2F%2Fingest-in%2Fincoming%2Ffleet%2Fbad-plate.pdf/pages/0",
    ],
)
def test_page_images_refuse_path_traversal(client: FlaskClient, app: Flask, s3: Any, path: str) -> None:
    file_id = process(app, s3)
    log_in(client)
    answer = client.get(path.replace("{id}", file_id))
    assert answer.status_code in (404, 308)
    assert not answer.data.startswith((b"\x89PNG", b"%PDF"))


def test_login_never_redirects_to_another_site(client: FlaskClient) -> None:
    token = csrf_of(client)
    for target in ("https://evil.example/", "//evil.example/review/", "/webhooks/nanonets", "/review\\..\\x"):
        answer = client.post(
            "/review/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert answer.location == "/review/queue", target
        token = csrf_of(client)


def test_no_secret_and_no_bucket_url_in_any_page(client: FlaskClient, app: Flask, s3: Any) -> None:
    file_id = process(app, s3)
    pages = [client.get("/review/login").get_data(as_text=True)]
    log_in(client)
    for path in ("/review/queue", f"/review/documents/{file_id}"):
        pages.append(client.get(path).get_data(as_text=True))
    for page in pages:
        for secret in (TEST_SECRET, EMULATOR_KEY, SESSION_SECRET, "X-Amz-", "AWSAccessKeyId"):
            assert secret not in page


def test_console_pages_forbid_framing_and_inline_script(client: FlaskClient) -> None:
    answer = client.get("/review/login")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>" not in answer.get_data(as_text=True)


def test_console_refuses_to_start_half_configured(make_settings: Any, users_file: Path) -> None:
    with pytest.raises(SettingsError, match="SESSION_SECRET"):
        create_app(make_settings(review_enabled=True, review_users_file=str(users_file)))
    with pytest.raises(SettingsError, match="REVIEW_USERS_FILE"):
        create_app(make_settings(review_enabled=True, session_secret=SESSION_SECRET))
    with pytest.raises(SettingsError, match="must not be the WEBHOOK_SECRET"):
        create_app(
            make_settings(
                review_enabled=True,
                review_users_file=str(users_file),
                session_secret=TEST_SECRET + "-padding-to-32-chars",
                webhook_secret=TEST_SECRET + "-padding-to-32-chars",
            )
        )


def test_console_is_off_by_default(make_settings: Any) -> None:
    assert create_app(make_settings()).test_client().get("/review/login").status_code == 404
