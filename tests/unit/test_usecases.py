"""The use cases on in-memory adapters: the exactly-once, race, adoption, supersede, replay, reconcile,
quarantine and pacing rules, without moto or the emulator."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from devtools.events import s3_event, sqs_batch
from service.core.pacing import WINDOW_MARGIN, WINDOW_SECONDS
from service.errors import NanonetsQuotaExceeded, NanonetsRateLimited, NanonetsUnavailable, PayloadRejected
from service.models.ledger import SubmissionClaim
from service.models.source import SourceRef
from service.usecases.submit import submission_metadata
from tests.unit.usecase_kit import INPUT, OUTPUT, START, Kit, box, make_kit, webhook

# ---- submit ----


def test_repeated_events_submit_one_version_once() -> None:
    kit = make_kit()
    source = kit.drop("incoming/a.pdf")
    first = kit.service.submit.submit(source)
    again = kit.service.submit.submit(source)
    assert (first.status, again.status) == ("submitted", "skipped")
    assert again.already_submitted and again.settled
    assert len(kit.ocr.submitted) == 1
    assert kit.state("index/pending/") == ["_state/index/pending/file-1"]
    assert kit.state("index/submitting/") == []


def test_a_submission_is_recorded_through_a_short_s3_outage_and_never_sent_twice() -> None:
    kit = make_kit(claim_stale_seconds=20)
    kit.objects.failures_left["_state/files/"] = 3  # S3 down just after Nanonets accepted the file
    outcome = kit.service.submit.submit(kit.drop("incoming/outage.pdf"))

    assert outcome.status == "submitted" and outcome.request_file_id
    assert kit.clock.slept == [0.5, 1.0, 2.0]
    record = kit.service.stores.ledger.get(outcome.request_file_id)
    assert record is not None and record.status == "pending"
    kit.clock.advance(60)  # long past stale: nothing left "submitting" for reconcile to take over
    kit.service.recovery.reconcile(older_than_seconds=3600, limit=10)
    assert len(kit.ocr.submitted) == 1


def test_concurrent_submits_of_one_version_reach_nanonets_once() -> None:
    kit = make_kit()
    source = kit.drop("incoming/race.pdf")
    barrier = threading.Barrier(6)
    statuses: list[str] = []

    def submit() -> None:
        barrier.wait()
        statuses.append(kit.service.submit.submit(source).status)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["skipped"] * 5 + ["submitted"]
    assert len(kit.ocr.submitted) == 1


def test_new_content_under_the_same_key_is_a_new_version() -> None:
    kit = make_kit()
    source = kit.drop("incoming/v.pdf", b"one")
    first = kit.service.submit.submit(source)
    kit.drop("incoming/v.pdf", b"two")
    second = kit.service.submit.submit(source)
    assert first.status == second.status == "submitted"
    assert first.request_file_id != second.request_file_id


def test_a_failed_submission_releases_its_claim_and_is_quarantined_until_a_retry_succeeds() -> None:
    kit = make_kit()
    source = kit.drop("incoming/down.pdf")
    kit.ocr.fail_next.append(NanonetsUnavailable("down", status=503))
    failed = kit.service.submit.submit(source)
    assert (failed.status, failed.retryable) == ("failed", True)
    assert kit.state("claims/") == []
    assert len(kit.state("quarantine/")) == 1
    assert kit.service.submit.submit(source).status == "submitted"
    assert kit.state("quarantine/") == []


def _died_while_submitting(kit: Kit, key: str) -> SourceRef:
    """A worker that claimed the source's version, then died before Nanonets answered it."""
    source = kit.drop(key)
    head = kit.service.stores.sources.head(source)
    assert head is not None
    kit.service.stores.claims.mark_submitting(head.ref)
    kit.service.stores.claims.create(SubmissionClaim(source=head.ref, claimed_at=kit.clock()))
    return source


def test_a_young_orphaned_claim_blocks_and_a_stale_one_is_taken_over_by_reconcile() -> None:
    kit = make_kit(claim_stale_seconds=60)
    source = _died_while_submitting(kit, "incoming/orphan.pdf")
    blocked = kit.service.submit.submit(source)
    assert (blocked.status, blocked.already_submitted) == ("skipped", False)
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).resubmitted == 0
    kit.clock.advance(61)
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).resubmitted == 1
    assert len(kit.ocr.submitted) == 1
    assert kit.state("index/submitting/") == []


def test_an_orphan_held_back_by_a_429_keeps_its_claim_until_a_later_sweep_submits_it() -> None:
    kit = make_kit(claim_stale_seconds=60)
    _died_while_submitting(kit, "incoming/orphan-429.pdf")
    kit.clock.advance(61)
    kit.ocr.fail_next.append(NanonetsRateLimited("429", status=429))

    held = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert held.resubmitted == 0 and kit.ocr.submitted == []
    assert len(kit.state("index/submitting/")) == 1  # nothing redelivers an orphan: the sweep comes back
    kit.clock.advance(61)
    assert kit.service.recovery.reconcile(older_than_seconds=0, limit=10).resubmitted == 1
    assert len(kit.ocr.submitted) == 1 and kit.state("index/submitting/") == []


# ---- complete ----


def test_a_webhook_writes_one_output_and_a_repeat_writes_nothing() -> None:
    kit = make_kit()
    outcome = kit.service.submit.submit(kit.drop("incoming/fleet/r 1.pdf"))
    file_id = outcome.request_file_id
    assert file_id is not None
    first = kit.service.complete.receive_webhook(webhook(file_id))
    writes = [p for p in kit.objects.puts if p[0] == OUTPUT and p[1].startswith("normalized/")]
    again = kit.service.complete.receive_webhook(webhook(file_id))
    assert [f.outcome for f in first.files] == ["written"]
    assert [f.outcome for f in again.files] == ["unchanged"]
    assert [p for p in kit.objects.puts if p[0] == OUTPUT and p[1].startswith("normalized/")] == writes
    document = kit.output("normalized/fleet/r 1.pdf.json")
    assert document["fields"]["total"]["normalized"] == 45.99
    assert kit.service.stores.ledger.get(file_id).status == "done"  # type: ignore[union-attr]
    assert kit.state("index/") == []  # out of the pending index; "done" is counted, not indexed


def _kinds(calls: list[tuple[str, str]]) -> list[str]:
    """("PUT", "_state/files/x.json") -> "PUT ledger": what each store call was for."""
    kinds = {
        "_state/raw/": "raw",
        "_state/files/": "ledger",
        "_state/index/": "index",
        "_state/meta/": "meta",
        "normalized/": "output",
        "analytics/rows/": "rows",
    }
    return [f"{m} {next((kind for p, kind in kinds.items() if key.startswith(p)), key)}" for m, key in calls]


def test_a_first_delivery_costs_six_store_calls_and_a_repeat_two() -> None:
    kit = make_kit()
    warm = kit.service.submit.submit(kit.drop("incoming/warm.pdf")).request_file_id
    file_id = kit.service.submit.submit(kit.drop("incoming/six.pdf")).request_file_id
    assert warm and file_id
    kit.service.complete.receive_webhook(webhook(warm))  # this process notes the time of its last webhook

    kit.objects.calls.clear()
    kit.service.complete.receive_webhook(webhook(file_id))
    first = _kinds(kit.objects.calls)
    kit.objects.calls.clear()
    kit.service.complete.receive_webhook(webhook(file_id))
    repeat = _kinds(kit.objects.calls)

    assert first == ["PUT raw", "GET ledger", "PUT output", "PUT rows", "PUT ledger", "DELETE index"]
    assert repeat == ["PUT raw", "GET ledger"]


def test_a_body_sent_again_after_its_output_is_written_is_not_normalized_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/again.pdf")).request_file_id
    assert file_id is not None
    first = kit.service.complete.receive_webhook(webhook(file_id)).files[0]

    def no_normalizing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a repeat of a completed body was normalized again")

    monkeypatch.setattr("service.usecases.complete.normalize_file", no_normalizing)
    again = kit.service.complete.receive_webhook(webhook(file_id)).files[0]

    assert again.outcome == "unchanged"
    assert again.model_dump(exclude={"outcome"}) == first.model_dump(exclude={"outcome"})


def test_a_body_archived_before_its_output_was_written_still_completes_when_sent_again() -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/crashed.pdf")).request_file_id
    assert file_id is not None
    body = webhook(file_id)
    kit.service.stores.raw.archive(body)  # a worker archived it, then died before writing the output

    outcome = kit.service.complete.receive_webhook(body).files[0]

    assert outcome.outcome == "written"
    assert kit.output("normalized/crashed.pdf.json")["fields"]["total"]["normalized"] == 45.99


def test_a_different_body_for_a_completed_file_is_still_compared_by_what_it_normalizes_to() -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/reviewed.pdf")).request_file_id
    assert file_id is not None
    kit.service.complete.receive_webhook(webhook(file_id, total="10,00"))

    changed = kit.service.complete.receive_webhook(webhook(file_id, total="12,00")).files[0]

    assert changed.outcome == "written"
    assert kit.output("normalized/reviewed.pdf.json")["fields"]["total"]["value"] == "12,00"


def test_an_older_versions_result_that_comes_first_is_replaced_in_its_analytics_partition() -> None:
    kit = make_kit()
    source = kit.drop("incoming/v.pdf", b"first scan")
    old_id = kit.service.submit.submit(source).request_file_id
    kit.clock.advance(3 * 86400)
    kit.drop("incoming/v.pdf", b"second scan")
    new_id = kit.service.submit.submit(source).request_file_id
    assert old_id and new_id

    old = kit.service.complete.receive_webhook(webhook(old_id, total="10,00"))
    new = kit.service.complete.receive_webhook(webhook(new_id, total="20,00"))

    assert [f.outcome for f in old.files + new.files] == ["written", "written"]
    assert kit.output("normalized/v.pdf.json")["fields"]["total"]["value"] == "20,00"
    rows = kit.objects.keys(OUTPUT, "analytics/rows/")
    first_day = START.date().isoformat()
    assert len(rows) == 1 and f"/dt={first_day}/" in rows[0]  # replaced in place: no stale rows elsewhere
    assert kit.service.stores.ledger.get(new_id).analytics_day.isoformat() == first_day  # type: ignore[union-attr]


def test_concurrent_deliveries_of_one_webhook_write_the_output_once() -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/c.pdf")).request_file_id
    assert file_id is not None
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        kit.service.complete.receive_webhook(webhook(file_id))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writes = [p for p in kit.objects.puts if p == (OUTPUT, "normalized/c.pdf.json")]
    assert len(writes) == 1


def test_a_late_webhook_for_an_older_version_is_superseded_and_never_overwrites() -> None:
    kit = make_kit()
    source = kit.drop("incoming/s.pdf", b"old")
    old_id = kit.service.submit.submit(source).request_file_id
    kit.drop("incoming/s.pdf", b"new")
    new_id = kit.service.submit.submit(source).request_file_id
    assert old_id and new_id
    kit.service.complete.receive_webhook(webhook(new_id, total="20,00"))
    late = kit.service.complete.receive_webhook(webhook(old_id, total="10,00"))
    assert [f.outcome for f in late.files] == ["superseded"]
    assert kit.output("normalized/s.pdf.json")["fields"]["total"]["value"] == "20,00"
    assert kit.service.stores.ledger.get(old_id).status == "superseded"  # type: ignore[union-attr]


def test_an_approval_is_kept_when_a_later_inference_webhook_arrives() -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/ap.pdf")).request_file_id
    assert file_id
    approved = {
        "moderated_images": [{"request_file_id": file_id, "page": 0, "predicted_boxes": [box("t", "1")]}]
    }
    kit.service.complete.receive_webhook(json.dumps(approved).encode())
    kit.service.complete.receive_webhook(webhook(file_id))
    assert kit.output("normalized/ap.pdf.json")["review"] == "approved"


def test_a_webhook_for_a_file_never_submitted_is_quarantined_not_written() -> None:
    kit = make_kit()
    result = kit.service.complete.receive_webhook(webhook("stranger"))
    assert [f.outcome for f in result.files] == ["quarantined"]
    assert kit.outputs() == []
    assert len(kit.state("quarantine/")) == 1
    assert len(kit.state("raw/")) == 1  # the body is kept for replay


def test_a_webhook_whose_worker_died_before_recording_is_adopted() -> None:
    kit = make_kit()
    source = kit.drop("incoming/adopt.pdf")
    head = kit.service.stores.sources.head(source)
    assert head is not None
    kit.service.stores.claims.create(SubmissionClaim(source=head.ref, claimed_at=kit.clock()))
    result = kit.service.complete.receive_webhook(webhook("file-adopted", submission_metadata(head.ref)))
    assert [f.outcome for f in result.files] == ["written"]
    assert kit.service.stores.ledger.get("file-adopted") is not None
    claim = kit.service.stores.claims.read(head.ref)
    assert claim is not None and claim[0].request_file_id == "file-adopted"


def _died_after_marking_its_claim(kit: Kit, key: str, file_id: str) -> SourceRef:
    """A worker that got `file_id` from Nanonets and marked its claim submitted, then died."""
    head = kit.service.stores.sources.head(kit.drop(key))
    assert head is not None
    kit.service.stores.claims.mark_submitting(head.ref)
    claim = SubmissionClaim(
        source=head.ref, claimed_at=kit.clock(), state="submitted", request_file_id=file_id
    )
    kit.service.stores.claims.create(claim)
    return head.ref


def test_a_webhook_for_a_claimed_file_its_worker_never_recorded_is_adopted() -> None:
    kit = make_kit()
    source = _died_after_marking_its_claim(kit, "incoming/claimed.pdf", "file-claimed")
    result = kit.service.complete.receive_webhook(webhook("file-claimed", submission_metadata(source)))
    assert [f.outcome for f in result.files] == ["written"]
    assert kit.ocr.submitted == []  # nothing submitted again


def test_reconcile_records_a_claimed_file_its_worker_never_recorded_and_fetches_it() -> None:
    kit = make_kit(claim_stale_seconds=60)
    _died_after_marking_its_claim(kit, "incoming/claimed.pdf", "file-claimed")
    kit.ocr.answers["file-claimed"] = json.loads(webhook("file-claimed"))
    kit.clock.advance(61)

    kit.service.recovery.reconcile(older_than_seconds=0, limit=10)  # records it; the next run fetches it
    kit.service.recovery.reconcile(older_than_seconds=0, limit=10)

    assert kit.ocr.submitted == [] and kit.state("index/submitting/") == []
    record = kit.service.stores.ledger.get("file-claimed")
    assert record is not None and record.status == "done"


def test_a_body_of_no_known_shape_is_archived_quarantined_and_rejected() -> None:
    kit = make_kit()
    with pytest.raises(PayloadRejected):
        kit.service.complete.receive_webhook(b'{"hello": "world"}')
    assert len(kit.state("raw/")) == 1
    assert len(kit.state("quarantine/")) == 1


# ---- recover ----


def test_reconcile_completes_a_lost_webhook_and_fails_what_nanonets_does_not_know() -> None:
    kit = make_kit()
    found = kit.service.submit.submit(kit.drop("incoming/found.pdf")).request_file_id
    lost = kit.service.submit.submit(kit.drop("incoming/lost.pdf")).request_file_id
    assert found and lost
    kit.ocr.answers[found] = json.loads(webhook(found))
    summary = kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    assert (summary.completed, summary.failed) == (1, 1)
    assert kit.outputs() == ["normalized/found.pdf.json"]
    assert kit.service.status().failed == 1


def test_replay_after_a_rules_change_rewrites_only_what_changed(tmp_path: object) -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/r.pdf")).request_file_id
    assert file_id
    kit.service.complete.receive_webhook(webhook(file_id))
    assert [r.outcome for r in kit.service.recovery.replay(request_file_id=file_id)] == ["unchanged"]


def test_an_invalid_queued_message_keeps_its_raw_body_and_quarantine_retry_reads_it() -> None:
    kit = make_kit()
    body = '{"not": "an S3 event"}'
    batch = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": "m-1", "body": body, "receiptHandle": "h"},
        ]
    }
    summary = kit.service.intake.handle(batch, confirm=lambda url: None)
    assert summary.failed and not summary.failed[0].retryable
    [quarantine_id] = kit.service.stores.quarantine.ids()
    record = kit.service.stores.quarantine.get(quarantine_id)
    assert record is not None and record.raw_key is not None
    assert kit.service.stores.raw.get(record.raw_key) == body.encode()
    result = kit.service.recovery.retry_quarantined(quarantine_id, confirm=lambda url: None)
    assert not result.resolved
    assert "still rejected" in result.detail  # it read the kept body and tried it again


def test_quarantine_retry_of_a_kept_event_submits_it_once_it_is_valid() -> None:
    kit = make_kit()
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": INPUT}, "object": {"key": "incoming/late.pdf"}},
            }
        ]
    }
    raw_key = kit.service.stores.raw.archive(json.dumps(event).encode()).raw_key
    kit.service.quarantine.put(
        kind="event", code="x", reason="S3 was down", raw_key=raw_key, quarantine_id="q1"
    )
    kit.drop("incoming/late.pdf")
    result = kit.service.recovery.retry_quarantined("q1", confirm=lambda url: None)
    assert (result.resolved, result.detail) == (True, "submitted=1 failed=0")
    assert len(kit.ocr.submitted) == 1
    assert kit.service.stores.quarantine.get("q1") is None


# ---- pacing ----


def test_documents_over_the_page_budget_wait_their_turn_and_are_never_quarantined() -> None:
    kit = make_kit(nanonets_pages_per_minute=2)
    sources = [kit.drop(f"incoming/p{i}.pdf") for i in range(3)]
    outcomes = [kit.service.submit.submit(s) for s in sources]
    assert [o.status for o in outcomes] == ["submitted", "submitted", "failed"]
    held = outcomes[2]
    assert held.retryable and held.retry_after == pytest.approx(61, abs=1)  # a window and its margin
    assert kit.state("quarantine/") == [] and kit.state("claims/") != []
    assert kit.service.submit.submit(sources[2]).status == "failed"  # too early: still its turn later
    kit.clock.advance(61)
    assert kit.service.submit.submit(sources[2]).status == "submitted"
    assert len(kit.ocr.submitted) == 3


def test_a_wait_under_a_second_is_slept_through_rather_than_sent_back_to_the_queue() -> None:
    kit = make_kit(nanonets_pages_per_minute=1)
    first, second = kit.drop("incoming/a.pdf"), kit.drop("incoming/b.pdf")
    assert kit.service.submit.submit(first).status == "submitted"
    kit.clock.advance(60.5)  # the next slot opens at 61 s: a window and its margin after the first
    assert kit.service.submit.submit(second).status == "submitted"
    assert kit.clock.slept == [pytest.approx(0.5)]


def test_a_document_back_late_for_its_slot_pushes_the_next_one_back_as_late() -> None:
    """SQS brings a held-back message back in whole seconds and a poller takes a moment: the page is counted
    when it is submitted, so the slot planned after it moves too, and Nanonets never sees two pages of a
    one-page budget inside one minute."""
    kit = make_kit(nanonets_pages_per_minute=1)
    sources = [kit.drop(f"incoming/p{i}.pdf") for i in range(3)]
    outcomes = [kit.service.submit.submit(s) for s in sources]
    assert [o.status for o in outcomes] == ["submitted", "failed", "failed"]
    kit.clock.advance(63)  # the second comes back 2 s after its slot (61 s)
    assert kit.service.submit.submit(sources[1]).status == "submitted"
    kit.clock.advance(59)  # the third, on time for its slot planned at 122 s: 59 s after the second's page
    held = kit.service.submit.submit(sources[2])
    assert held.status == "failed" and held.retry_after == pytest.approx(2, abs=0.1)
    kit.clock.advance(2)
    assert kit.service.submit.submit(sources[2]).status == "submitted"
    assert len(kit.ocr.submitted) == 3


def test_held_back_queue_messages_ask_to_come_back_at_their_slots_not_after_their_batch() -> None:
    """Times, not delays: a batch whose other documents take long to handle must not make one late."""
    kit = make_kit(nanonets_pages_per_minute=1)
    kit.service.submit.submit(kit.drop("incoming/a.pdf"))
    bodies = [
        (f"m-{name}", json.dumps(s3_event(INPUT, kit.drop(f"incoming/{name}.pdf").key))) for name in "bc"
    ]
    summary = kit.service.intake.handle(sqs_batch(bodies), confirm=lambda url: None)
    slot = WINDOW_SECONDS * (1 + WINDOW_MARGIN)
    assert summary.retry_messages == {
        "m-b": START + timedelta(seconds=slot),
        "m-c": START + timedelta(seconds=2 * slot),
    }


def test_a_429_pauses_every_submission_for_at_least_30_seconds_then_backs_off() -> None:
    kit = make_kit()
    a, b = kit.drop("incoming/a.pdf"), kit.drop("incoming/b.pdf")
    kit.ocr.fail_next.append(NanonetsRateLimited("slow down", status=429))
    first = kit.service.submit.submit(a)
    assert first.retryable and first.retry_after is not None and first.retry_after >= 30
    assert kit.service.submit.submit(b).retry_after is not None  # the pause holds every document
    assert kit.state("quarantine/") == []
    kit.clock.advance(31)
    kit.ocr.fail_next.append(NanonetsRateLimited("still", status=429))
    second = kit.service.submit.submit(a)
    assert second.retry_after is not None and second.retry_after >= 60  # doubled
    kit.clock.advance(61)
    assert kit.service.submit.submit(a).status == "submitted"
    assert kit.service.status().pacing[0].cooldown_seconds_left == 0


def test_a_402_stops_submitting_shows_in_status_and_resumes_when_nanonets_accepts() -> None:
    kit = make_kit(nanonets_402_probe_seconds=60)
    a, b = kit.drop("incoming/a.pdf"), kit.drop("incoming/b.pdf")
    kit.ocr.fail_next.append(NanonetsQuotaExceeded("pay up", status=402))
    stopped = kit.service.submit.submit(a)
    assert stopped.retryable and stopped.retry_after is not None
    assert kit.service.status().quota_stopped
    assert kit.service.submit.submit(b).status == "failed"  # no call to Nanonets while stopped
    assert kit.ocr.submitted == [] and kit.state("quarantine/") == []
    kit.clock.advance(61)
    assert kit.service.submit.submit(b).status == "submitted"  # the probe goes through
    assert not kit.service.status().quota_stopped
    assert kit.service.submit.submit(a).status == "submitted"
