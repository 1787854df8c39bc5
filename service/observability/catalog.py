"""Every metric the service publishes, defined once, so both deployments publish the same names.

Prometheus exposes each under the `nanonets_ingest_` prefix (its namespace); CloudWatch publishes it under
the `NanonetsIngest` namespace. The labels are the CloudWatch dimensions.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

PROMETHEUS_NAMESPACE = "nanonets_ingest"
CLOUDWATCH_NAMESPACE = "NanonetsIngest"

MetricKind = Literal["counter", "histogram", "gauge"]
CloudWatchUnit = Literal["Count", "Seconds"]


class MetricSpec(NamedTuple):  # not a dataclass: defined on every cold start (ports.py)
    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    unit: CloudWatchUnit
    help: str
    buckets: tuple[float, ...] = ()


DOCUMENTS_SUBMITTED = MetricSpec(
    "documents_submitted_total", "counter", ("route",), "Count", "Source versions submitted to Nanonets"
)
DOCUMENTS_COMPLETED = MetricSpec(
    "documents_completed_total",
    "counter",
    ("route", "validation", "review"),
    "Count",
    "Submissions whose first output was written, by validation status and review",
)
DOCUMENTS_QUARANTINED = MetricSpec(
    "documents_quarantined_total",
    "counter",
    ("route", "reason"),
    "Count",
    "Inputs quarantined, by reason code",
)
DOCUMENTS_SUPERSEDED = MetricSpec(
    "documents_superseded_total",
    "counter",
    ("route",),
    "Count",
    "Results dropped because the source was overwritten by newer content",
)
WEBHOOKS_RECEIVED = MetricSpec(
    "webhooks_received_total", "counter", ("route", "outcome"), "Count", "Webhook requests, by outcome"
)
NANONETS_CALLS = MetricSpec(
    "nanonets_calls_total",
    "counter",
    ("route", "endpoint", "status"),
    "Count",
    "Nanonets API answers (retried attempts included), by endpoint family and status",
)
SUBMISSION_TO_OUTPUT = MetricSpec(
    "submission_to_output_seconds",
    "histogram",
    ("route",),
    "Seconds",
    "Time from submission to the first output written",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
DOCUMENTS_PENDING = MetricSpec(
    "documents_pending", "gauge", ("route",), "Count", "Submissions waiting for their result"
)
OLDEST_PENDING_AGE = MetricSpec(
    "oldest_pending_age_seconds", "gauge", ("route",), "Seconds", "Age of the oldest pending submission"
)
PACING_WAIT = MetricSpec(
    "pacing_wait_seconds",
    "histogram",
    ("route", "hold"),
    "Seconds",
    "Waits given to held-back documents: page budget (rate), 429 pause (cooldown), 402 stop (quota)",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
# The pacing figures `nanonets-ingest status` shows, under the same names (docs/OPERATING.md).
PACING_BACKLOG = MetricSpec(
    "pacing_backlog", "gauge", ("route",), "Count", "Documents told to come back later by the page budget"
)
PACING_COOLDOWN_LEFT = MetricSpec(
    "pacing_cooldown_seconds_left",
    "gauge",
    ("route",),
    "Seconds",
    "What is left of the pause after a Nanonets 429 (0: none)",
)
PACING_QUOTA_STOPPED = MetricSpec(
    "pacing_quota_stopped",
    "gauge",
    ("route",),
    "Count",
    "1 while submissions are stopped by a Nanonets 402 (credit used up), else 0",
)

CATALOG: tuple[MetricSpec, ...] = (
    DOCUMENTS_SUBMITTED,
    DOCUMENTS_COMPLETED,
    DOCUMENTS_QUARANTINED,
    DOCUMENTS_SUPERSEDED,
    WEBHOOKS_RECEIVED,
    NANONETS_CALLS,
    SUBMISSION_TO_OUTPUT,
    DOCUMENTS_PENDING,
    OLDEST_PENDING_AGE,
    PACING_WAIT,
    PACING_BACKLOG,
    PACING_COOLDOWN_LEFT,
    PACING_QUOTA_STOPPED,
)


def prometheus_name(spec: MetricSpec) -> str:
    """The family name in the exposition (counters' samples add `_total`, histograms' `_bucket` ...)."""
    base = spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name
    return f"{PROMETHEUS_NAMESPACE}_{base}"
