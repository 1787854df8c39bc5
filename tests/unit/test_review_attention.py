"""service.review.attention.AttentionIndex on the in-memory S3 (tests/contract keeps it honest): the queue
pages through markers, never outputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from service.adapters.s3.bucket import StateBucket
from service.models.source import SourceRef
from service.review.attention import AttentionIndex, QueueFilter
from tests.fakes import InMemoryObjectStore

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BUCKET = "ingest-out"


@pytest.fixture()
def objects() -> InMemoryObjectStore:
    return InMemoryObjectStore(clock=lambda: START + timedelta(days=30))


@pytest.fixture()
def index(objects: InMemoryObjectStore) -> AttentionIndex:
    return AttentionIndex(StateBucket(objects, BUCKET, "_state/"), lambda: START + timedelta(days=30))


def list_keys(objects: InMemoryObjectStore, prefix: str) -> list[str]:
    return objects.keys(BUCKET, prefix)


def mark(index: AttentionIndex, n: int, reasons: list[Any], **kw: Any) -> None:
    folder = kw.pop("folder", "fleet")
    index.mark(
        f"file-{n:03d}",
        reasons,
        source=SourceRef(bucket="in", key=f"incoming/{folder}/doc-{n}.pdf"),
        output_key=f"normalized/{folder}/doc-{n}.pdf.json",
        now=START + timedelta(hours=n),
        **kw,
    )


def ids(entries: list[Any]) -> list[str]:
    return [entry.request_file_id for entry in entries]


def test_queue_pages_oldest_first_with_a_cursor(index: AttentionIndex) -> None:
    for n in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 12, 11):
        mark(index, n, ["validation_failed"])
    first = index.page(QueueFilter(), limit=5)
    assert ids(first.entries) == [f"file-{n:03d}" for n in (1, 2, 3, 4, 5)]
    second = index.page(QueueFilter(), after=first.next_cursor, limit=5)
    assert ids(second.entries) == [f"file-{n:03d}" for n in (6, 7, 8, 9, 10)]
    last = index.page(QueueFilter(), after=second.next_cursor, limit=5)
    assert ids(last.entries) == ["file-011", "file-012"]
    assert last.next_cursor is None


def test_filters_by_reason_code_folder_and_date(index: AttentionIndex) -> None:
    mark(index, 1, ["validation_failed"], codes=["pattern_mismatch"])
    mark(index, 2, ["low_confidence"], folder="office")
    mark(index, 30, ["validation_failed", "low_confidence"], codes=["missing"], folder="office")
    mark(index, 50, ["quarantined"], detail="Nanonets does not know this request_file_id")

    def found(**query: Any) -> list[str]:
        return ids(index.page(QueueFilter(**query)).entries)

    assert found(reason="low_confidence") == ["file-002", "file-030"]
    assert found(code="pattern_mismatch") == ["file-001"]
    assert found(prefix="incoming/office/") == ["file-002", "file-030"]
    assert found(prefix="incoming/office/", reason="validation_failed") == ["file-030"]
    assert found(since_from=date(2026, 3, 2)) == ["file-030", "file-050"]
    assert found(since_to=date(2026, 3, 1)) == ["file-001", "file-002"]
    assert found(reason="rejected") == []
    assert index.counts() == {
        "all": 4,
        "validation_failed": 2,
        "low_confidence": 2,
        "pending_too_long": 0,
        "quarantined": 1,
        "rejected": 0,
    }


def test_marking_again_writes_nothing_and_keeps_the_time_it_entered(
    index: AttentionIndex, objects: InMemoryObjectStore
) -> None:
    mark(index, 1, ["validation_failed"], codes=["pattern_mismatch"])
    keys = list_keys(objects, "_state/index/")
    writes = len(objects.puts)
    index.mark(
        "file-001",
        ["validation_failed"],
        codes=["pattern_mismatch"],
        source=SourceRef(bucket="in", key="incoming/fleet/doc-1.pdf"),
        output_key="normalized/fleet/doc-1.pdf.json",
        now=START + timedelta(days=3),  # processed again later: still the same entry, same place
    )
    assert len(objects.puts) == writes
    assert list_keys(objects, "_state/index/") == keys


def test_changed_reasons_move_the_markers_and_clear_removes_all(
    index: AttentionIndex, objects: InMemoryObjectStore
) -> None:
    mark(index, 1, ["validation_failed"], codes=["pattern_mismatch"])
    mark(index, 1, ["low_confidence"])
    assert index.page(QueueFilter(reason="validation_failed")).entries == []
    assert ids(index.page(QueueFilter(reason="low_confidence")).entries) == ["file-001"]
    assert not any("pattern_mismatch" in k for k in list_keys(objects, "_state/index/attention/"))
    index.clear("file-001")
    assert list_keys(objects, "_state/index/attention") == []
    index.clear("file-001")  # again: nothing there, nothing done


def test_marker_left_by_a_crash_is_skipped_and_removed_once_old(
    index: AttentionIndex, objects: InMemoryObjectStore
) -> None:
    mark(index, 1, ["validation_failed"])
    debris = "_state/index/attention/all/20260301T070000Z--file-999"
    objects.put(BUCKET, debris, b"")
    assert ids(index.page(QueueFilter()).entries) == ["file-001"]
    # Just written: it could be a mark() under way, whose entry comes next. Left alone.
    assert debris in list_keys(objects, "_state/index/attention/all/")
    later = AttentionIndex(
        StateBucket(objects, BUCKET, "_state/"), lambda: START + timedelta(days=30, minutes=5)
    )
    assert ids(later.page(QueueFilter()).entries) == ["file-001"]
    assert debris not in list_keys(objects, "_state/index/attention/all/")


def test_no_reasons_means_not_in_the_queue(index: AttentionIndex) -> None:
    mark(index, 1, ["validation_failed"])
    mark(index, 1, [])
    assert index.entry("file-001") is None
    assert index.page(QueueFilter()).entries == []
