"""Log context, state-change lines, the EMF encoder, Nanonets call labels, the multiprocess directory."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.logs import JsonLineFormatter, LogContextFilter, SecretRedactor, log_context, log_state_change
from service.observability import MetricsRecorder
from service.observability.catalog import CATALOG, DOCUMENTS_SUBMITTED, MetricSpec
from service.observability.emf import EmfSink
from service.observability.multiprocess import MULTIPROC_ENV, prepare_multiprocess_dir, remove_created_dir
from service.observability.nanonets_calls import endpoint_family, status_label


class Lines(logging.Handler):
    """The lines the JSON handler would write (context added, secrets redacted), decoded."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.addFilter(LogContextFilter())
        self.setFormatter(JsonLineFormatter(SecretRedactor(secrets)))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def last(self) -> dict[str, object]:
        return self.lines[-1]


def line_of(record: logging.LogRecord, secrets: list[str]) -> dict[str, object]:
    line: dict[str, object] = json.loads(JsonLineFormatter(SecretRedactor(secrets)).format(record))
    return line


@pytest.fixture()
def lines() -> Iterator[Lines]:
    handler = Lines(secrets=("super-secret-value",))
    logger = logging.getLogger("test.observability")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    state = logging.getLogger("service.state")
    state.addHandler(handler)
    state.setLevel(logging.INFO)
    yield handler
    state.removeHandler(handler)


log = logging.getLogger("test.observability")


def test_nested_contexts_merge_and_the_inner_value_wins(lines: Lines) -> None:
    with log_context(bucket="in", key="a.pdf", route=None):
        with log_context(request_file_id="f-1", key="b.pdf"):
            log.info("inner")
            inner = lines.last()
        log.info("outer")
        outer = lines.last()
    log.info("outside")
    assert (inner["bucket"], inner["key"], inner["request_file_id"]) == ("in", "b.pdf", "f-1")
    assert (outer["key"], "request_file_id" in outer) == ("a.pdf", False)
    assert "route" not in outer  # None values are left out
    assert "bucket" not in lines.last()


def test_a_value_given_by_the_call_wins_over_the_context(lines: Lines) -> None:
    with log_context(key="from-context"):
        log.info("explicit", extra={"key": "from-call"})
    assert lines.last()["key"] == "from-call"


def test_context_does_not_leak_into_another_thread(lines: Lines) -> None:
    seen: list[dict[str, object]] = []

    def other() -> None:
        log.info("other thread")
        seen.append(dict(lines.last()))

    with log_context(key="mine.pdf"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert "key" not in seen[0]


def test_secrets_in_context_values_are_redacted(lines: Lines) -> None:
    with log_context(key="incoming/super-secret-value.pdf"):
        log.info("line")
    assert lines.last()["key"] == "incoming/***.pdf"


def test_a_secret_is_redacted_whole_when_another_is_part_of_it_and_taken_literally() -> None:
    """The shorter secret is a prefix of the longer one: the longer is replaced whole, whatever order the
    secrets come in. A secret is text, not a pattern: its '.' and '+' match only themselves."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "key sk.live+12345678 and sk.live", None, None)
    record.token = "Bearer sk.live+12345678"
    record.lookalike = "skXlive+12345678"
    line = line_of(record, ["sk.live", "sk.live+12345678", "abc", ""])
    assert line["message"] == "key *** and ***"
    assert (line["token"], line["lookalike"]) == ("Bearer ***", "skXlive+12345678")


def test_overlapping_secrets_are_hidden_wherever_either_lies() -> None:
    """A pattern's match is the leftmost: a shorter secret starting first must not cut a longer one."""
    for secrets in (["cdabcdef", "abcd"], ["abcd", "cdabcdef"]):
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "x abcdabcdef y", None, None)
        record.partial = "abcdefgh"
        line = line_of(record, [*secrets, "bcdefgh"])
        assert (line["message"], line["partial"]) == ("x *** y", "***")


def test_a_secret_in_a_traceback_a_nested_value_or_a_key_is_redacted() -> None:
    """What a filter on the record's string attributes missed: the traceback is formatted after the
    filters, and an extra value may be a dict or a list."""
    try:
        raise RuntimeError("GET https://h/webhooks?token=tok-12345 failed")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.detail = {"url": "https://h/?token=tok-12345", "tok-12345": ["a", "tok-12345", 3], "n": 1.5}
    line = line_of(record, ["tok-12345"])
    assert "tok-12345" not in json.dumps(line)
    assert "token=***" in str(line["exc_info"])
    assert line["detail"] == {"url": "https://h/?token=***", "***": ["a", "***", 3], "n": 1.5}


def test_a_secret_json_escapes_in_the_line_is_found_there() -> None:
    """Quotes, backslashes and non-ASCII characters are escaped in the line: the secret is looked for in
    that form too, and hidden in the value it came from."""
    secret = 'sé"cr\\et-42'
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "key=%s", (secret,), None)
    record.header = f"Bearer {secret}"
    line = line_of(record, [secret])
    assert (line["message"], line["header"]) == ("key=***", "Bearer ***")


def test_a_line_without_a_secret_is_left_as_the_formatter_wrote_it() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "plain é", None, None)
    record.detail = {"a": [1, 2.5, None, True]}
    plain = JsonLineFormatter(SecretRedactor([])).format(record)
    assert JsonLineFormatter(SecretRedactor(["not-in-it"])).format(record) == plain
    assert SecretRedactor(["not-in-it"]).line(plain) is plain  # not decoded and encoded again


def test_a_secret_of_digits_logged_as_a_number_is_hidden() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "pin", None, None)
    record.pin, record.other = 12345678, 42
    line = line_of(record, ["12345678"])
    assert (line["pin"], line["other"]) == ("***", 42)


@pytest.mark.parametrize(
    ("message", "args", "extra"),
    [
        ("key %s then %d", ("tok-12345", "not a number"), {}),  # the message itself cannot be made
        ("calling with key %s", ("tok-12345",), {"d": {("a",): 1}}),  # an extra JSON cannot hold
    ],
)
def test_a_line_that_cannot_be_formatted_does_not_print_the_secret(
    capsys: pytest.CaptureFixture[str], message: str, args: tuple[object, ...], extra: dict[str, object]
) -> None:
    """logging reports a failed line on stderr with the record's message and arguments."""
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonLineFormatter(SecretRedactor(["tok-12345"])))
    logger = logging.getLogger("test.observability.unformattable")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.error(message, *args, extra=extra)
    reported = capsys.readouterr().err
    assert "--- Logging error ---" in reported and "tok-12345" not in reported
    assert "***" in reported


def test_state_change_line_has_elapsed_seconds_when_submission_is_known(lines: Lines) -> None:
    submitted = (datetime.now(UTC) - timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with log_context(request_file_id="f-1", submitted_at=submitted):
        log_state_change("output_written", validation="passed", review=None)
    line = lines.last()
    assert (line["event"], line["validation"], line["request_file_id"]) == ("output_written", "passed", "f-1")
    assert 89 <= float(str(line["elapsed_seconds"])) < 3600
    assert "review" not in line
    log_state_change("submitted")
    assert "elapsed_seconds" not in lines.last()


@pytest.mark.parametrize(
    ("url", "family"),
    [
        ("https://app.nanonets.com/api/v2/OCR/Model/m-1/LabelUrls/?async=true", "predict"),
        ("http://127.0.0.1:9/api/v2/OCR/Model/m-1/LabelFile/Async/", "predict"),
        ("http://h/api/v2/Inferences/Model/m-1/InferenceRequestFiles/GetPredictions/f-1", "inference"),
        ("http://h/api/v2/Inferences/Model/m-1/InferenceRequest/f-1", "inference"),
        ("http://h/api/v2/Inferences/Model/m-1/InferenceRequest/f-1/page/p-1", "inference"),
        ("http://h/api/v2/OCR/Model/m-1/getFile/f-1/", "inference"),
        ("http://h/api/v2/Inferences/Model/m-1/ImageLevelInferences/p-1", "inference"),
        ("http://h/api/v2/Inferences/Model/m-1/ImageLevelInferences?start_day_interval=1", "inference"),
        ("http://h/api/v2/Inferences/Model/m-1/ImageLevelInferences/Verify/f-1", "approve"),
        ("http://h/api/v2/Inferences/Model/m-1/ImageLevelInferences/UnVerify/f-1", "approve"),
        ("http://h/api/v2/OCR/Model/m-1/ApproveFile/f-1/", "approve"),
        ("http://h/api/v2/ObjectDetection/Model/m-1/RetryPrediction", "retry"),
        ("http://h/api/v2/OCR/Model/m-1/Train/", "train"),
        ("http://h/api/v2/somewhere/else", "other"),
    ],
)
def test_nanonets_urls_map_to_a_bounded_endpoint_family(url: str, family: str) -> None:
    assert endpoint_family(url) == family


def test_statuses_that_matter_alone_keep_their_number() -> None:
    labels = [status_label(code) for code in (200, 201, 402, 429, 404, 500, 503, None)]
    assert labels == ["2xx", "2xx", "402", "429", "4xx", "5xx", "5xx", "connection_error"]


def emf_lines(metrics: MetricsRecorder, stream: io.StringIO) -> list[dict[str, object]]:
    metrics.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_emf_sums_counters_keeps_the_last_gauge_and_splits_label_values() -> None:
    stream = io.StringIO()
    metrics = MetricsRecorder(EmfSink(stream=stream, clock=lambda: 1_700_000_000.5))
    metrics.document_submitted()
    metrics.document_submitted()
    metrics.pending(5, 10.0)
    metrics.pending(3, 7.5)
    metrics.webhook_received("processed")
    metrics.webhook_received("unauthorized")
    blobs = emf_lines(metrics, stream)

    by_route = next(b for b in blobs if "documents_submitted_total" in b)
    assert by_route["documents_submitted_total"] == 2
    assert (by_route["documents_pending"], by_route["oldest_pending_age_seconds"]) == (3, 7.5)
    assert by_route["_aws"] == {
        "Timestamp": 1_700_000_000_500,
        "CloudWatchMetrics": [
            {
                "Namespace": "NanonetsIngest",
                "Dimensions": [["route"], []],
                "Metrics": [
                    {"Name": "documents_submitted_total", "Unit": "Count"},
                    {"Name": "documents_pending", "Unit": "Count"},
                    {"Name": "oldest_pending_age_seconds", "Unit": "Seconds"},
                ],
            }
        ],
    }
    outcomes = sorted(str(b["outcome"]) for b in blobs if "webhooks_received_total" in b)
    assert outcomes == ["processed", "unauthorized"]
    assert emf_lines(metrics, io.StringIO()) == []  # a flush empties the buffer


def test_emf_splits_more_than_100_values_of_one_metric() -> None:
    stream = io.StringIO()
    metrics = MetricsRecorder(EmfSink(stream=stream))
    for seconds in range(250):
        metrics.submission_to_output_seconds(float(seconds))
    blobs = emf_lines(metrics, stream)
    sizes = [len(b["submission_to_output_seconds"]) for b in blobs]  # type: ignore[arg-type]
    assert sizes == [100, 100, 50]
    assert sum(sum(b["submission_to_output_seconds"]) for b in blobs) == sum(range(250))  # type: ignore[arg-type]


def test_nanonets_calls_are_also_published_by_status_alone() -> None:
    stream = io.StringIO()
    metrics = MetricsRecorder(EmfSink(stream=stream))
    metrics.nanonets_call("predict", "402")
    (blob,) = emf_lines(metrics, stream)
    directive = blob["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
    assert directive["Dimensions"] == [["endpoint", "route", "status"], [], ["status"]]
    assert (blob["status"], blob["nanonets_calls_total"]) == ("402", 1)


class Broken:
    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        raise OSError("disk full")

    def flush(self) -> None:
        raise OSError("disk full")

    def exposition(self) -> None:
        return None


def test_a_failing_sink_never_fails_the_caller() -> None:
    metrics = MetricsRecorder(Broken())
    metrics.document_submitted()
    metrics.flush()


def test_catalogue_names_are_unique_and_labelled_by_route() -> None:
    assert len({spec.name for spec in CATALOG}) == len(CATALOG)
    assert all(spec.labels[0] == "route" for spec in CATALOG)
    assert DOCUMENTS_SUBMITTED.name.endswith("_total")


def test_gunicorn_gets_a_fresh_directory_and_removes_only_its_own(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    made = prepare_multiprocess_dir(environ)
    assert environ[MULTIPROC_ENV] == str(made) and made.is_dir()
    remove_created_dir(environ)
    assert not made.exists()

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    (given / "keep.txt").write_text("not ours")
    environ = {MULTIPROC_ENV: str(given)}
    assert prepare_multiprocess_dir(environ) == given
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]
    remove_created_dir(environ)
    assert given.is_dir()  # the operator's directory stays
