"""Nothing lost: reconcile, replay, backfill, quarantine and status over moto server and the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from itertools import islice
from typing import Any

import pytest

from devtools.documents import document_bytes
from devtools.emulator.control import EmulatorControl
from devtools.stack import REPO
from service.adapters.sns import confirm_subscription
from service.bootstrap import Service, build, utc_now
from service.models.source import SourceRef
from service.usecases.recover import summarize_backfill
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.support import list_keys


def drop(s3: Any, service: Service, key: str, body: bytes | None = None) -> str:
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=document_bytes() if body is None else body)
    outcome = service.submit.submit(SourceRef(bucket=INPUT_BUCKET, key=key))
    assert outcome.status == "submitted", outcome
    return str(outcome.request_file_id)


def read_output(s3: Any, key: str) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()))


def test_dropped_webhook_is_completed_by_reconcile(service: Service, s3: Any, emulator_url: str) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    for name in ("a", "b", "c"):
        drop(s3, service, f"incoming/{name}.pdf")
    assert EmulatorControl(emulator_url).flush()

    summary = service.recovery.reconcile(older_than_seconds=0, limit=100)

    assert (summary.checked, summary.completed, summary.still_pending) == (3, 3, 0)
    assert sorted(list_keys(s3, OUTPUT_BUCKET, "normalized/")) == [
        "normalized/a.pdf.json",
        "normalized/b.pdf.json",
        "normalized/c.pdf.json",
    ]
    assert service.status().pending == 0
    assert service.status().done == 3
    again = service.recovery.reconcile(older_than_seconds=0, limit=100)
    assert again.checked == 0  # done records are not even listed


def test_reconcile_before_the_prediction_is_ready_leaves_it_pending(
    service: Service, s3: Any, emulator_url: str
) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False, processing_delay=60)
    drop(s3, service, "incoming/slow.pdf")
    summary = service.recovery.reconcile(older_than_seconds=0, limit=100)
    assert (summary.still_pending, summary.completed, summary.failed) == (1, 0, 0)
    assert list_keys(s3, OUTPUT_BUCKET, "normalized/") == []
    young = service.recovery.reconcile(older_than_seconds=3600, limit=100)
    assert young.too_young == 1


def test_pending_too_long_is_failed_and_quarantined(settings: Any, s3: Any, emulator_url: str) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False, processing_delay=60)
    service = build(settings)
    file_id = drop(s3, service, "incoming/never.pdf")
    later = build(settings, clock=lambda: utc_now() + timedelta(seconds=settings.max_pending_seconds + 60))
    summary = later.recovery.reconcile(older_than_seconds=0, limit=100)
    assert summary.failed == 1
    report = service.status()
    assert (report.pending, report.failed, report.quarantined) == (0, 1, 1)
    quarantined = service.stores.quarantine.get(f"failed-{file_id}")
    assert quarantined is not None
    assert quarantined.code == "pending_too_long"


def test_replay_after_rules_change_updates_output(
    make_settings: Any, s3: Any, emulator_url: str, tmp_path: Any
) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    plain = build(make_settings())
    file_id = drop(s3, plain, "incoming/r.pdf")
    EmulatorControl(emulator_url).flush()
    plain.recovery.reconcile(older_than_seconds=0, limit=10)
    assert read_output(s3, "normalized/r.pdf.json")["validation"]["status"] == "passed"

    rules = tmp_path / "strict.yaml"
    rules.write_text("fields:\n  iban: {type: text, required: true}\n")
    strict = build(make_settings(validation_rules=str(rules)))
    results = strict.recovery.replay(request_file_id=file_id)
    assert [r.outcome for r in results] == ["written"]
    document = read_output(s3, "normalized/r.pdf.json")
    assert document["validation"]["status"] == "failed"
    assert document["validation"]["issues"][0]["code"] == "missing"
    assert [r.outcome for r in strict.recovery.replay(request_file_id=None)] == ["unchanged"]


@pytest.mark.timeout(300)  # 340 submissions through moto and the emulator: slow on a busy 2-core machine
def test_backfill_submits_each_once_across_interrupted_runs(
    service: Service, s3: Any, emulator_url: str
) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False, processing_delay=60)
    for index in range(200):
        s3.put_object(
            Bucket=INPUT_BUCKET, Key=f"incoming/old/{index:03}.pdf", Body=document_bytes(filler=b"%d" % index)
        )
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/old/readme.txt", Body=b"not a document")

    interrupted = list(
        islice(service.recovery.backfill(INPUT_BUCKET, "incoming/old/", rate_per_second=1000), 60)
    )
    assert sum(item.status == "submitted" for item in interrupted) == 60
    second = summarize_backfill(
        service.recovery.backfill(INPUT_BUCKET, "incoming/old/", rate_per_second=1000), lambda i: None
    )
    assert (second.submitted, second.already_submitted, second.skipped) == (140, 60, 1)
    third = summarize_backfill(
        service.recovery.backfill(INPUT_BUCKET, "incoming/old/", rate_per_second=1000), lambda i: None
    )
    assert (third.submitted, third.already_submitted) == (0, 200)
    posted = [
        c for c in EmulatorControl(emulator_url).calls() if "LabelUrls" in c["path"] and c["status"] == 200
    ]
    assert len(posted) == 200


def test_backfill_is_paced_by_the_rate(service: Service, s3: Any, emulator_url: str) -> None:
    for index in range(5):
        s3.put_object(
            Bucket=INPUT_BUCKET, Key=f"incoming/p/{index}.pdf", Body=document_bytes(filler=b"%d" % index)
        )
    slept: list[float] = []
    now = [0.0]
    items = service.recovery.backfill(
        INPUT_BUCKET, "incoming/p/", rate_per_second=1.0, sleep=slept.append, clock=lambda: now[0]
    )
    assert [i.status for i in items] == ["submitted"] * 5
    assert slept == [1.0, 2.0, 3.0, 4.0]  # a frozen clock: each submission waits one more token


def test_backfill_dry_run_submits_nothing(service: Service, s3: Any, emulator_url: str) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/d.pdf", Body=document_bytes())
    items = list(service.recovery.backfill(INPUT_BUCKET, "incoming/", dry_run=True))
    assert [i.status for i in items] == ["would_submit"]
    assert EmulatorControl(emulator_url).files() == []


def test_quarantine_retry_succeeds_once_the_cause_is_fixed(
    make_settings: Any, s3: Any, emulator_url: str
) -> None:
    broken = build(make_settings(nanonets_api_key="a-key-nanonets-refuses"))
    s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/q.pdf", Body=document_bytes())
    assert broken.submit.submit(SourceRef(bucket=INPUT_BUCKET, key="incoming/q.pdf")).status == "failed"
    [quarantine_id] = list(broken.stores.quarantine.ids())

    still = broken.recovery.retry_quarantined(quarantine_id, confirm=confirm_subscription)
    assert not still.resolved  # the key is still wrong
    fixed = build(make_settings())
    result = fixed.recovery.retry_quarantined(quarantine_id, confirm=confirm_subscription)
    assert result.resolved, result.detail
    assert list(fixed.stores.quarantine.ids()) == []
    assert len(EmulatorControl(emulator_url).files()) == 1


def test_cli_reconcile_then_status_shows_zero_pending(
    base_env: dict[str, str], s3: Any, emulator_url: str, tmp_path: Any
) -> None:
    EmulatorControl(emulator_url).config(webhooks_enabled=False)
    env = {**os.environ, **base_env}
    for name in ("x", "y"):
        s3.put_object(
            Bucket=INPUT_BUCKET, Key=f"incoming/{name}.pdf", Body=document_bytes(filler=name.encode())
        )
    cli = [sys.executable, "-m", "service.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    submit = run("submit", f"s3://{INPUT_BUCKET}/incoming/x.pdf")
    assert submit.returncode == 0, submit.stderr
    assert json.loads(submit.stdout)["status"] == "submitted"
    filled = run("backfill", f"s3://{INPUT_BUCKET}/incoming/", "--rate", "100", "--no-progress")
    assert filled.returncode == 0, filled.stderr
    assert "submitted=1 already_submitted=1" in filled.stdout
    EmulatorControl(emulator_url).flush()
    reconciled = run("reconcile", "--older-than", "0")
    assert reconciled.returncode == 0, reconciled.stderr
    assert "completed=2" in reconciled.stdout
    report = json.loads(run("status", "--json").stdout)
    assert (report["pending"], report["done"]) == (0, 2)
    bad = run("submit", "not-an-s3-url")
    assert bad.returncode == 2
    assert "s3://" in bad.stderr
    assert REPO.exists()
