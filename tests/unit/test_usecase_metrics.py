"""What the use cases report through the Metrics port, and the log lines that follow one document, on
in-memory adapters: counts per outcome, the pacing waits the pacer gave, gauges that agree with `status`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from service.errors import NanonetsQuotaExceeded, NanonetsRateLimited, NanonetsUnavailable
from service.logs import LogContextFilter
from tests.unit.usecase_kit import INPUT, OUTPUT, box, make_kit, webhook


def test_a_submission_and_its_first_output_are_counted_once_with_the_time_between() -> None:
    kit = make_kit()
    file_id = kit.service.submit.submit(kit.drop("incoming/a.pdf")).request_file_id
    assert file_id
    kit.service.submit.submit(kit.drop("incoming/a.pdf"))  # the same version again: not submitted
    kit.clock.advance(42)
    kit.service.complete.receive_webhook(webhook(file_id))
    kit.service.complete.receive_webhook(webhook(file_id))  # a repeat writes nothing
    approved = {
        "moderated_images": [{"request_file_id": file_id, "page": 0, "predicted_boxes": [box("total", "1")]}]
    }
    kit.service.complete.receive_webhook(json.dumps(approved).encode())  # a review writes again

    metrics = kit.metrics
    assert metrics.total("documents_submitted_total") == 1
    assert metrics.by_label("documents_completed_total", "validation") == {"passed": 1}
    assert metrics.by_label("documents_completed_total", "review") == {"pending": 1}
    assert metrics.values("submission_to_output_seconds") == [42]


def test_superseded_results_and_unknown_files_are_counted_by_outcome_and_reason() -> None:
    kit = make_kit()
    source = kit.drop("incoming/v.pdf", b"old")
    old_id = kit.service.submit.submit(source).request_file_id
    kit.drop("incoming/v.pdf", b"new")
    new_id = kit.service.submit.submit(source).request_file_id
    assert new_id and old_id
    kit.service.complete.receive_webhook(webhook(new_id))
    kit.service.complete.receive_webhook(webhook(old_id))  # meets the newer version's output
    kit.service.complete.receive_webhook(webhook(old_id))  # already superseded: counted once
    kit.service.complete.receive_webhook(webhook("never-ours"))

    assert kit.metrics.total("documents_superseded_total") == 1
    assert kit.metrics.total("documents_completed_total") == 1  # the newer version's
    assert kit.metrics.by_label("documents_quarantined_total", "reason") == {"unknown_request_file_id": 1}


def test_a_refused_submission_and_a_result_nanonets_does_not_know_are_quarantined_by_reason() -> None:
    kit = make_kit()
    kit.ocr.fail_next.append(NanonetsUnavailable("down", status=503))
    assert kit.service.submit.submit(kit.drop("incoming/refused.pdf")).status == "failed"
    assert kit.service.submit.submit(kit.drop("incoming/lost.pdf")).status == "submitted"
    kit.service.recovery.reconcile(older_than_seconds=0, limit=10)
    reasons = kit.metrics.by_label("documents_quarantined_total", "reason")
    assert reasons == {"submission_failed": 1, "nanonets_not_found": 1}


def test_documents_held_back_by_the_page_budget_report_the_wait_the_pacer_gave() -> None:
    kit = make_kit(nanonets_pages_per_minute=1)
    assert kit.service.submit.submit(kit.drop("incoming/p1.pdf")).status == "submitted"
    held = kit.service.submit.submit(kit.drop("incoming/p2.pdf"))
    assert held.retry_after is not None
    waits = kit.metrics.values("pacing_wait_seconds", hold="rate")
    assert len(waits) == 1 and waits[0] == pytest.approx(held.retry_after, abs=1)
    assert kit.metrics.total("documents_submitted_total") == 1
    assert kit.metrics.total("documents_quarantined_total") == 0  # never quarantined for pacing


def test_a_429_pause_is_reported_as_a_cooldown_wait() -> None:
    kit = make_kit()
    kit.ocr.fail_next.append(NanonetsRateLimited("slow down", status=429))
    held = kit.service.submit.submit(kit.drop("incoming/a.pdf"))
    assert held.retry_after is not None
    assert kit.metrics.values("pacing_wait_seconds", hold="cooldown") == [
        pytest.approx(held.retry_after, abs=1)
    ]
    assert kit.service.status().pacing[0].cooldown_seconds_left > 0
    assert (
        kit.metrics.gauge("pacing_cooldown_seconds_left")
        == kit.service.status().pacing[0].cooldown_seconds_left
    )


def test_a_402_stop_sets_the_stopped_gauge_until_nanonets_accepts_again() -> None:
    kit = make_kit(nanonets_402_probe_seconds=60)
    a, b = kit.drop("incoming/a.pdf"), kit.drop("incoming/b.pdf")
    kit.ocr.fail_next.append(NanonetsQuotaExceeded("pay up", status=402))
    kit.service.submit.submit(a)
    assert kit.metrics.gauge("pacing_quota_stopped") == 1
    kit.service.submit.submit(b)  # held back without calling Nanonets: still stopped
    assert kit.metrics.gauge("pacing_quota_stopped") == 1
    assert len(kit.metrics.values("pacing_wait_seconds", hold="quota")) == 2
    assert kit.service.status().quota_stopped
    kit.clock.advance(61)
    assert kit.service.submit.submit(b).status == "submitted"  # the probe goes through
    assert kit.metrics.gauge("pacing_quota_stopped") == 0
    assert not kit.service.status().quota_stopped
    assert kit.metrics.gauge("pacing_quota_stopped") == 0


def test_reconcile_and_status_report_the_pending_figures_status_shows() -> None:
    kit = make_kit(nanonets_pages_per_minute=100)
    first = kit.service.submit.submit(kit.drop("incoming/a.pdf")).request_file_id
    kit.clock.advance(30)
    kit.service.submit.submit(kit.drop("incoming/b.pdf"))
    kit.clock.advance(10)
    kit.service.recovery.reconcile(older_than_seconds=3600, limit=10)  # too young: all stay pending
    assert (kit.metrics.gauge("documents_pending"), kit.metrics.gauge("oldest_pending_age_seconds")) == (
        2,
        40,
    )

    kit.clock.advance(5)
    report = kit.service.status()
    assert (report.pending, report.oldest_pending_age_seconds) == (2, 45)
    assert kit.metrics.gauge("documents_pending") == report.pending
    assert kit.metrics.gauge("oldest_pending_age_seconds") == report.oldest_pending_age_seconds
    assert kit.metrics.gauge("pacing_backlog") == report.pacing[0].backlog
    assert kit.metrics.gauge("pacing_quota_stopped") == 0

    assert first
    kit.service.complete.receive_webhook(webhook(first))
    figures = kit.service.publish_gauges()  # what a scrape refreshes
    assert (figures.count, kit.metrics.gauge("documents_pending")) == (1, 1)


def test_nothing_pending_reports_zero_age_where_status_says_none() -> None:
    kit = make_kit()
    assert kit.service.status().oldest_pending_age_seconds is None
    assert kit.metrics.gauge("oldest_pending_age_seconds") == 0  # an alarm threshold needs a number


# ---- correlated logs ----


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(LogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def state_changes(self) -> list[dict[str, object]]:
        return [r.__dict__ for r in self.records if r.name == "service.state"]


@pytest.fixture()
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_state_change_is_one_line_with_the_documents_ids_and_elapsed_time(captured: Captured) -> None:
    kit = make_kit()
    source = kit.drop("incoming/fleet/log.pdf")
    file_id = kit.service.submit.submit(source).request_file_id
    assert file_id
    kit.clock.advance(12.5)
    kit.service.complete.receive_webhook(webhook(file_id))

    changes = captured.state_changes()
    assert [c["event"] for c in changes] == ["submitted", "output_written"]
    version = kit.service.stores.ledger.get(file_id).source_token  # type: ignore[union-attr]
    for change in changes:
        assert (change["bucket"], change["key"]) == (INPUT, "incoming/fleet/log.pdf")
        assert (change["request_file_id"], change["version_token"], change["route"]) == (
            file_id,
            version,
            "default",
        )
    assert changes[0]["elapsed_seconds"] == 0
    assert changes[1]["elapsed_seconds"] == 12.5
    assert changes[1]["validation"] == "passed"
    # The analytics rows are named on the same line: a completion is one INFO line, not two.
    assert [changes[1]["rows_key"]] == list(kit.objects.keys(OUTPUT, "analytics/rows/"))
    assert [r.getMessage() for r in captured.records if r.levelno >= logging.INFO] == [
        "submitted",
        "output_written",
    ]
    logging.getLogger("after").info("unrelated")  # outside the use case nothing is left in the context
    assert "key" not in captured.records[-1].__dict__


def test_held_back_and_quarantined_lines_name_their_document(captured: Captured) -> None:
    kit = make_kit(nanonets_pages_per_minute=1)
    kit.service.submit.submit(kit.drop("incoming/one.pdf"))
    kit.service.submit.submit(kit.drop("incoming/two.pdf"))
    kit.service.complete.receive_webhook(webhook("stranger"))

    changes = {str(c["event"]): c for c in captured.state_changes()}
    assert changes["held_back"]["key"] == "incoming/two.pdf" and changes["held_back"]["hold"] == "rate"
    quarantined = changes["quarantined"]
    assert (quarantined["request_file_id"], quarantined["code"]) == ("stranger", "unknown_request_file_id")
    assert "key" not in quarantined  # a file we never submitted has no source to name
