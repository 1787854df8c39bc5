"""A worker killed mid-submission loses nothing: the two windows where it can die, over moto + emulator.

1. After claiming the source version, before Nanonets accepted it: the claim blocks every later event, so
   reconcile takes over claims older than CLAIM_STALE_SECONDS.
2. After Nanonets accepted it, before the ledger record was written: the webhook carries the claim's own
   metadata, so the service adopts the file instead of quarantining it as unknown.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from devtools.documents import RECEIPT_PAGES, document_bytes
from devtools.emulator.control import EmulatorControl
from service.bootstrap import Service, build, utc_now
from service.models.ledger import SubmissionClaim
from service.models.source import SourceRef
from service.usecases.submit import submission_metadata
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.support import list_keys


def orphan_claim(service: Service, s3: Any, key: str, age_seconds: float) -> SourceRef:
    """What a worker leaves when it dies right after claiming: a marker and a "submitting" claim."""
    etag = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=document_bytes())["ETag"].strip('"')
    source = SourceRef(bucket=INPUT_BUCKET, key=key, etag=etag)
    claimed_at = utc_now() - timedelta(seconds=age_seconds)
    service.stores.claims.mark_submitting(source)
    assert service.stores.claims.create(SubmissionClaim(source=source, claimed_at=claimed_at))
    return source


def test_a_fresh_orphaned_claim_blocks_events_and_a_stale_one_is_taken_over(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    service = build(make_settings(claim_stale_seconds=60))
    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    orphan_claim(service, s3, "incoming/young.pdf", age_seconds=5)
    orphan_claim(service, s3, "incoming/dead.pdf", age_seconds=120)

    # A redelivered event while the claim is young: "in progress", skipped, never submitted twice.
    again = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/young.pdf"))
    assert (again.status, again.reason) == ("skipped", "submission already in progress")

    first = service.recovery.reconcile(older_than_seconds=0, limit=100)
    assert first.resubmitted == 1  # only the stale one; the young claimant may still be alive
    assert EmulatorControl(emulator_url).flush()
    second = service.recovery.reconcile(older_than_seconds=0, limit=100)
    assert second.completed == 1
    assert list_keys(s3, OUTPUT_BUCKET, "normalized/") == ["normalized/dead.pdf.json"]
    assert len(list_keys(s3, OUTPUT_BUCKET, "_state/index/submitting/")) == 1  # the young one's marker


def test_an_orphaned_claim_for_content_since_replaced_is_released(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    service = build(make_settings(claim_stale_seconds=60))
    source = orphan_claim(service, s3, "incoming/replaced.pdf", age_seconds=120)
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/replaced.pdf", Body=document_bytes(filler=b"v2"))

    summary = service.recovery.reconcile(older_than_seconds=0, limit=100)

    assert summary.resubmitted == 0
    assert service.stores.claims.read(source) is None
    assert list_keys(s3, OUTPUT_BUCKET, "_state/index/submitting/") == []
    assert EmulatorControl(emulator_url).calls() == []  # the old content is not sent to Nanonets


def test_markers_of_finished_submissions_are_cleaned_up(service: Service, s3: Any, emulator_url: str) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/ok.pdf", Body=document_bytes())
    assert service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/ok.pdf")).status == "submitted"
    assert list_keys(s3, OUTPUT_BUCKET, "_state/index/submitting/") == []
    # A duplicate event finds the claim submitted and leaves no marker behind.
    service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/ok.pdf"))
    assert list_keys(s3, OUTPUT_BUCKET, "_state/index/submitting/") == []
    # A worker that died after recording the submission but before clearing its marker leaves one:
    # reconcile sees the claim is submitted and drops it.
    head = service.stores.sources.head(SourceRef(bucket=INPUT_BUCKET, key="incoming/ok.pdf"))
    assert head is not None
    service.stores.claims.mark_submitting(head.ref)
    assert service.recovery.reconcile(older_than_seconds=3600, limit=100).resubmitted == 0
    assert list_keys(s3, OUTPUT_BUCKET, "_state/index/submitting/") == []


def test_a_webhook_for_a_submission_never_recorded_is_adopted_not_quarantined(
    service: Service, s3: Any, emulator_url: str
) -> None:
    source = orphan_claim(service, s3, "incoming/accepted.pdf", age_seconds=1)
    # The dead worker got as far as Nanonets accepting the file, with the metadata the service sends.
    metadata = submission_metadata(source)
    url = service.stores.sources.presign(source, 600)
    file_id = service.ocr.submit_url_async(url, metadata)
    webhook = {
        "message": "Success",
        "result": [
            {
                "request_file_id": file_id,
                "page": 0,
                "prediction": RECEIPT_PAGES[0],
                "request_metadata": json.dumps(metadata),
            }
        ],
    }

    outcome = service.complete.receive_webhook(json.dumps(webhook).encode())

    assert [o.outcome for o in outcome.files] == ["written"]
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key="normalized/accepted.pdf.json")["Body"].read()
    output = json.loads(body)
    assert output["nanonets"]["request_file_id"] == file_id
    report = service.status()
    assert (report.done, report.quarantined) == (1, 0)
    claim = service.stores.claims.read(source)
    assert claim is not None and claim[0].request_file_id == file_id
