"""The analytics dataset in moto S3 (S3AnalyticsDataset) and `nanonets-ingest export` reading it back as CSV,
JSON Lines and Parquet, through the real CLI entry point."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.stack import AWS_TEST_ENV, REPO
from scripts.make_samples import SAMPLE_DOCUMENTS, webhook_bodies
from service.adapters.s3.analytics import S3AnalyticsDataset
from service.adapters.s3.bucket import StateBucket
from service.adapters.s3.objects import S3ObjectStore
from service.cli import main
from service.core.analytics import COLUMNS
from service.core.normalize import normalize_file
from service.core.payloads import parse_payload
from service.core.routes import load_routes
from service.models.document import NormalizedDocument, SourceRef
from service.settings import Settings, load_settings
from tests.conftest import INPUT_BUCKET, OUTPUT_BUCKET


@pytest.fixture()
def env(s3_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.chdir(tmp_path)
    values = {
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": s3_url,
        "NANONETS_API_KEY": "k",
        "NANONETS_MODEL_ID": "emulator-model",
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "ROUTES_FILE": str(REPO / "samples" / "routes.yaml"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def sample_documents(settings: Settings, processed_at: str) -> list[tuple[NormalizedDocument, str]]:
    """Every sample, normalized under its route's rules, as the service would write it."""
    routes = load_routes(settings)
    documents = []
    for sample in SAMPLE_DOCUMENTS:
        key = f"incoming/{sample.route}/{sample.name}"
        route = routes.route_for(key)
        assert route is not None
        [prediction] = parse_payload(webhook_bodies(sample)["prediction-result.json"])
        document = normalize_file(
            prediction,
            source=SourceRef(bucket=INPUT_BUCKET, key=key),
            model_id=route.model_id,
            rules=route.rules,
            review="pending",
            processed_at=datetime.fromisoformat(processed_at.replace("Z", "+00:00")).astimezone(UTC),
        )
        documents.append((document, route.name))
    return documents


def analytics_keys(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="analytics/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def export(*args: str) -> int:
    return main(["export", *args])


def dataset_in(settings: Settings, s3: Any) -> S3AnalyticsDataset:
    objects = S3ObjectStore(s3)
    return S3AnalyticsDataset(
        objects,
        output_bucket=settings.output_bucket,
        analytics_prefix=settings.analytics_prefix,
        state=StateBucket(objects, settings.state_bucket_name, settings.state_prefix),
    )


# ---------------------------------------------------------------- the writer


def test_rewritten_document_replaces_its_rows_in_its_first_days_partition(env: Settings, s3: Any) -> None:
    writer = dataset_in(env, s3)
    document, route = sample_documents(env, "2026-11-24T09:00:00Z")[0]
    first_key = writer.write(document, route)
    approved = document.model_copy(update={"review": "approved", "processed_at": "2026-11-27T10:00:00Z"})

    second_key = writer.write(approved, route)

    assert first_key == second_key and "/dt=2026-11-24/" in first_key
    assert analytics_keys(s3) == [first_key]  # no stale copy in a 2026-11-27 partition
    body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=first_key)["Body"].read().decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert {row["review"] for row in rows} == {"approved"}
    assert len(rows) == len(document.fields) + sum(len(t.rows) for t in document.tables)


def test_first_day_is_agreed_through_a_conditional_marker(env: Settings, s3: Any) -> None:
    writer = dataset_in(env, s3)
    assert writer.first_day(INPUT_BUCKET, "incoming/x.pdf", date(2026, 1, 2)) == date(2026, 1, 2)
    assert writer.first_day(INPUT_BUCKET, "incoming/x.pdf", date(2026, 3, 4)) == date(2026, 1, 2)
    assert writer.first_day(INPUT_BUCKET, "incoming/y.pdf", date(2026, 3, 4)) == date(2026, 3, 4)
    markers = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="_state/analytics/")["KeyCount"]
    assert markers == 2


def test_unreadable_marker_is_replaced(env: Settings, s3: Any) -> None:
    writer = dataset_in(env, s3)
    writer.first_day(INPUT_BUCKET, "incoming/x.pdf", date(2026, 1, 2))
    [marker] = [
        i["Key"] for i in s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="_state/analytics/")["Contents"]
    ]
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=marker, Body=b"garbage")
    assert writer.first_day(INPUT_BUCKET, "incoming/x.pdf", date(2026, 5, 6)) == date(2026, 5, 6)
    assert writer.first_day(INPUT_BUCKET, "incoming/x.pdf", date(2026, 7, 8)) == date(2026, 5, 6)


# ---------------------------------------------------------------- export


@pytest.fixture()
def dataset(env: Settings, s3: Any) -> list[tuple[NormalizedDocument, str]]:
    """The samples written on two days: receipts on 2026-11-20, invoices on 2026-11-24."""
    writer = dataset_in(env, s3)
    written = []
    for document, route in sample_documents(env, "2026-11-20T08:00:00Z"):
        if route == "invoices":
            document = document.model_copy(update={"processed_at": "2026-11-24T08:00:00Z"})
        writer.write(document, route)
        written.append((document, route))
    return written


def expected_rows(dataset: list[tuple[NormalizedDocument, str]], route: str | None = None) -> int:
    return sum(
        len(doc.fields) + sum(len(t.rows) for t in doc.tables)
        for doc, name in dataset
        if route is None or name == route
    )


def test_csv_export_opens_as_a_spreadsheet_with_one_row_per_field(
    dataset: list[tuple[NormalizedDocument, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.csv"
    assert export("--format", "csv", "-o", str(out)) == 0

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read it as UTF-8
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == expected_rows(dataset)
    fields = [(r["document_key"], r["field"]) for r in rows if r["record_type"] == "field"]
    assert len(fields) == len(set(fields)) == sum(len(doc.fields) for doc, _ in dataset)
    ebro = next(r for r in rows if "ferreteria-ebro" in r["document_key"] and r["field"] == "total")
    assert (ebro["route"], ebro["normalized_number"], ebro["issues"]) == (
        "invoices",
        "158.9",
        "low_confidence",
    )
    assert "€" in raw.decode("utf-8-sig")
    assert f"exported {len(rows)} rows of {len(dataset)} documents (2 days)" in capsys.readouterr().err


def test_since_selects_partitions_and_route_selects_rows(
    dataset: list[tuple[NormalizedDocument, str]], tmp_path: Path
) -> None:
    out = tmp_path / "rows.jsonl"
    assert export("--format", "jsonl", "--since", "2026-11-21", "-o", str(out)) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == expected_rows(dataset, "invoices") and {r["route"] for r in rows} == {"invoices"}
    assert all(tuple(r) == COLUMNS for r in rows)

    assert export("--format", "jsonl", "--route", "receipts", "-o", str(out)) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == expected_rows(dataset, "receipts") and {r["route"] for r in rows} == {"receipts"}

    assert export("--format", "jsonl", "--since", "2026-12-01", "-o", str(out)) == 0
    assert out.read_text() == ""


def test_parquet_export_has_typed_columns(
    dataset: list[tuple[NormalizedDocument, str]], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "rows.parquet"
    assert export("--format", "parquet", "-o", str(out)) == 0
    table = pq.read_table(out)
    assert table.num_rows == expected_rows(dataset) and tuple(table.column_names) == COLUMNS
    assert str(table.schema.field("normalized_number").type) == "double"
    assert str(table.schema.field("row_index").type) == "int32"
    totals = [
        row["normalized_number"]
        for row in table.to_pylist()
        if row["field"] == "total" and "suministros-levante" in row["document_key"]
    ]
    assert totals == [330.81]


def test_parquet_without_pyarrow_is_a_usage_error_naming_the_extra(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    out = tmp_path / "rows.parquet"
    assert export("--format", "parquet", "-o", str(out)) == 2
    error = capsys.readouterr().err
    assert "nanonets-ingest[parquet]" in error and error[-1] == "\n" and error.count("\n") == 1
    assert not out.exists()


def test_failed_export_names_the_bad_object_and_leaves_no_file(
    env: Settings, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(
        Bucket=OUTPUT_BUCKET, Key="analytics/rows/dt=2026-11-24/broken.jsonl", Body=b'{"route": "a"}\n{oops\n'
    )
    out = tmp_path / "rows.csv"
    assert export("--format", "csv", "-o", str(out)) == 1
    assert "dt=2026-11-24/broken.jsonl: line 2 is not JSON" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_since_date_is_a_usage_error(env: Settings, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        export("--format", "csv", "--since", "24/11/2026", "-o", str(tmp_path / "x.csv"))
    assert caught.value.code == 2


def test_export_to_standard_output(
    dataset: list[tuple[NormalizedDocument, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert export("--format", "csv", "--route", "invoices", "-o", "-") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 1 + expected_rows(dataset, "invoices")
