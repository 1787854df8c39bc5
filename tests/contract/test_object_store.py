"""One contract, two object stores: the in-memory fake of the unit tests and S3 (moto over HTTP).

Every conditional-write rule the use cases rely on is checked on both, so the fake cannot drift from S3.
The state repositories are checked on both too, since the unit tests run them on the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from service.adapters.s3 import build_state_stores
from service.adapters.s3.objects import S3ObjectStore, build_s3_client
from service.models.ledger import LedgerRecord, SubmissionClaim
from service.models.source import SourceRef
from service.ports import ObjectStore
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET
from tests.fakes import InMemoryObjectStore


@pytest.fixture(params=["memory", "moto"])
def objects(request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    if request.param == "memory":
        store = InMemoryObjectStore()
        store.create_bucket(INPUT_BUCKET)
        store.create_bucket(OUTPUT_BUCKET)
        yield store
    else:
        s3_url: str = request.getfixturevalue("s3_url")
        yield S3ObjectStore(build_s3_client(s3_url, "us-east-1"))


def test_put_then_get_returns_the_bytes_and_the_etag(objects: ObjectStore) -> None:
    etag = objects.put(OUTPUT_BUCKET, "a/b.json", b'{"x": 1}')
    found = objects.get(OUTPUT_BUCKET, "a/b.json")
    assert found is not None and found.body == b'{"x": 1}' and found.etag == etag


def test_get_and_head_of_a_missing_key_are_none(objects: ObjectStore) -> None:
    assert objects.get(OUTPUT_BUCKET, "missing") is None
    assert objects.head(OUTPUT_BUCKET, "missing") is None


def test_if_none_match_lets_exactly_one_writer_create(objects: ObjectStore) -> None:
    assert objects.put(OUTPUT_BUCKET, "claim", b"first", if_none_match=True) is not None
    assert objects.put(OUTPUT_BUCKET, "claim", b"second", if_none_match=True) is None
    found = objects.get(OUTPUT_BUCKET, "claim")
    assert found is not None and found.body == b"first"


def test_if_match_replaces_only_what_was_read(objects: ObjectStore) -> None:
    old = objects.put(OUTPUT_BUCKET, "doc", b"v1")
    assert old is not None
    new = objects.put(OUTPUT_BUCKET, "doc", b"v2", if_match=old)
    assert new is not None and new != old
    assert objects.put(OUTPUT_BUCKET, "doc", b"v3", if_match=old) is None  # stale: someone wrote since
    found = objects.get(OUTPUT_BUCKET, "doc")
    assert found is not None and found.body == b"v2"


def test_if_match_on_a_missing_key_fails(objects: ObjectStore) -> None:
    assert objects.put(OUTPUT_BUCKET, "nothing-here", b"x", if_match='"0123456789abcdef"') is None


def test_delete_removes_and_is_quiet_when_absent(objects: ObjectStore) -> None:
    objects.put(OUTPUT_BUCKET, "gone", b"x")
    objects.delete(OUTPUT_BUCKET, "gone")
    objects.delete(OUTPUT_BUCKET, "gone")
    assert objects.get(OUTPUT_BUCKET, "gone") is None


def test_list_is_ordered_by_key_under_a_prefix_with_start_after_and_limit(objects: ObjectStore) -> None:
    for key in ["p/c", "p/a", "p/b", "q/a"]:
        objects.put(OUTPUT_BUCKET, key, key.encode())
    assert [o.key for o in objects.list(OUTPUT_BUCKET, "p/")] == ["p/a", "p/b", "p/c"]
    assert [o.key for o in objects.list(OUTPUT_BUCKET, "p/", start_after="p/a")] == ["p/b", "p/c"]
    assert [o.key for o in objects.list(OUTPUT_BUCKET, "p/", limit=2)] == ["p/a", "p/b"]
    listed = next(iter(objects.list(OUTPUT_BUCKET, "q/")))
    assert listed.size == 3 and listed.last_modified.tzinfo is not None


def test_head_names_the_version_by_its_unquoted_etag_size_and_time(objects: ObjectStore) -> None:
    etag = objects.put(INPUT_BUCKET, "incoming/a.pdf", b"%PDF")
    head = objects.head(INPUT_BUCKET, "incoming/a.pdf")
    assert head is not None and head.size == 4
    assert head.ref.etag == (etag or "").strip('"') and head.ref.version_id is None
    assert head.last_modified is not None and head.last_modified.tzinfo is not None


def test_content_type_and_metadata_come_back_with_the_object(objects: ObjectStore) -> None:
    """The review console caches rendered pages as images with their size in the metadata."""
    objects.put(OUTPUT_BUCKET, "page", b"\x89PNG", content_type="image/png", metadata={"Width": "595.0"})
    found = objects.get(OUTPUT_BUCKET, "page")
    assert found is not None
    assert (found.content_type, dict(found.metadata)) == ("image/png", {"width": "595.0"})
    objects.put(OUTPUT_BUCKET, "state.json", b"{}")
    plain = objects.get(OUTPUT_BUCKET, "state.json")
    assert plain is not None and (plain.content_type, dict(plain.metadata)) == ("application/json", {})


def test_state_repositories_behave_alike(objects: ObjectStore) -> None:
    stores = build_state_stores(
        objects, state_bucket=OUTPUT_BUCKET, state_prefix="_s/", output_bucket=OUTPUT_BUCKET
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    source = SourceRef(bucket=INPUT_BUCKET, key="incoming/a b.pdf", etag="abc")
    claim = SubmissionClaim(source=source, claimed_at=now)
    assert stores.claims.create(claim) and not stores.claims.create(claim)
    read = stores.claims.read(source)
    assert read is not None and read[0] == claim
    assert stores.claims.replace(claim.model_copy(update={"state": "submitted"}), if_match=read[1])
    assert not stores.claims.replace(claim, if_match=read[1])  # stale ETag

    record = LedgerRecord(
        request_file_id="f/1", model_id="m", source=source, submitted_at=now, updated_at=now, output_key="o"
    )
    stores.ledger.put(record)
    stores.ledger.put(record.model_copy(update={"status": "done"}), previous_status="pending")
    assert [e.request_file_id for e in stores.ledger.entries("pending")] == []
    assert stores.ledger.records() == 1
    stores.ledger.put(record.model_copy(update={"request_file_id": "f2", "status": "failed"}))
    assert [e.request_file_id for e in stores.ledger.entries("failed")] == ["f2"]
    assert stores.ledger.records() == 2
    assert stores.ledger.get("f/1") == record.model_copy(update={"status": "done"})

    first, again = stores.raw.archive(b"other body"), stores.raw.archive(b"other body")  # content-addressed
    assert (first.seen_before, again.seen_before) == (False, True) and first.raw_key == again.raw_key
    assert stores.outputs.write("out.json", b"1") and not stores.outputs.write("out.json", b"2")


def test_the_s3_store_talks_to_the_server_the_tests_read(s3: Any) -> None:
    """What S3ObjectStore writes, plain boto3 reads back: the moto fixture really is one server."""
    objects = S3ObjectStore(build_s3_client(s3.meta.endpoint_url, "us-east-1"))
    objects.put(OUTPUT_BUCKET, "seen-by-boto3", b"x")
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key="seen-by-boto3")["Body"].read() == b"x"


def test_many_workers_reserve_pages_on_the_shared_pacer_without_giving_up(objects: ObjectStore) -> None:
    """Eight threads submitting at once contend for one pacing object; every reservation lands, none is
    lost to a race (each loser re-reads and tries again)."""
    from concurrent.futures import ThreadPoolExecutor

    from service.adapters.s3.bucket import StateBucket
    from service.adapters.s3.pacing import SharedPacer

    pacer = SharedPacer(StateBucket(objects, OUTPUT_BUCKET, "_state/"), budget_of=lambda model_id: 1_000_000)

    def reserve(n: int) -> bool:
        return pacer.acquire("model-1", ticket=f"doc-{n}").granted

    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(reserve, range(64)))
    assert granted == [True] * 64
    assert pacer.snapshot("model-1").backlog == 0
