"""CloudWatch embedded metric format (EMF) for Lambda: metrics as JSON lines on stdout, which CloudWatch
Logs turns into metrics. No CloudWatch API call on the hot path.

Records are kept in memory and flushed once per invocation (`flushes_metrics`). One EMF blob holds the
metrics of one set of label values (EMF dimension values are members of the blob's root, so two values of
one label cannot share a blob). Each metric is published with its full labels and also without any, the
deployment-wide total the alarms use; Nanonets calls also by status alone (the 402 alarm), webhooks by
outcome alone (the no-webhook alarm).

Written by hand rather than with aws-embedded-metrics: that library flushes through asyncio and carries
one set of dimension values per logger, which is most of what this module does anyway.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, ParamSpec, TypeVar

from service.observability.catalog import (
    CATALOG,
    CLOUDWATCH_NAMESPACE,
    NANONETS_CALLS,
    WEBHOOKS_RECEIVED,
    MetricSpec,
)
from service.observability.metrics import Exposition, MetricsRecorder

# The EMF limits: values of one metric in one blob, metric definitions in one directive.
MAX_VALUES = 100
MAX_METRICS = 100

# Published besides the full labels and none, for alarms that cannot SEARCH: credit gone (status 402),
# webhooks processed at all (outcome).
EXTRA_DIMENSION_SETS: dict[str, tuple[tuple[str, ...], ...]] = {
    NANONETS_CALLS.name: (("status",),),
    WEBHOOKS_RECEIVED.name: (("outcome",),),
}

_SPECS = {spec.name: spec for spec in CATALOG}
LabelKey = tuple[tuple[str, str], ...]


class EmfSink:
    def __init__(
        self,
        namespace: str = CLOUDWATCH_NAMESPACE,
        *,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._namespace = namespace
        self._stream = stream
        self._clock = clock
        self._pending: dict[LabelKey, dict[str, list[float]]] = {}

    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        values = self._pending.setdefault(tuple(sorted(labels.items())), {}).setdefault(spec.name, [])
        if spec.kind == "counter" and values:
            values[0] += value
        elif spec.kind == "gauge":
            values[:] = [value]
        else:
            values.append(value)

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        timestamp = int(self._clock() * 1000)
        # Resolved now, not at construction: the Lambda runtime (and pytest) may swap stdout in between.
        stream = self._stream or sys.stdout
        for labels, metrics in pending.items():
            for blob in emf_blobs(self._namespace, timestamp, dict(labels), metrics):
                stream.write(json.dumps(blob, separators=(",", ":")) + "\n")
        stream.flush()

    def exposition(self) -> Exposition | None:
        return None


def emf_blobs(
    namespace: str, timestamp: int, labels: dict[str, str], metrics: Mapping[str, list[float]]
) -> list[dict[str, Any]]:
    """The EMF documents for metrics sharing one set of label values (several when over EMF's limits)."""
    chunks: list[dict[str, list[float]]] = [{}]
    for name, values in metrics.items():
        for start in range(0, len(values), MAX_VALUES):
            chunk = next((c for c in chunks if name not in c and len(c) < MAX_METRICS), None)
            if chunk is None:
                chunk = {}
                chunks.append(chunk)
            chunk[name] = values[start : start + MAX_VALUES]
    return [_blob(namespace, timestamp, labels, chunk) for chunk in chunks if chunk]


def _blob(
    namespace: str, timestamp: int, labels: dict[str, str], metrics: dict[str, list[float]]
) -> dict[str, Any]:
    directives = []
    for dimension_sets, names in _group_by_dimension_sets(tuple(labels), metrics).items():
        directives.append(
            {
                "Namespace": namespace,
                "Dimensions": [list(dimensions) for dimensions in dimension_sets],
                "Metrics": [{"Name": name, "Unit": _SPECS[name].unit} for name in names],
            }
        )
    values: dict[str, Any] = {name: v[0] if len(v) == 1 else v for name, v in metrics.items()}
    return {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": directives}, **labels, **values}


def _group_by_dimension_sets(
    label_names: tuple[str, ...], metrics: Mapping[str, list[float]]
) -> dict[tuple[tuple[str, ...], ...], list[str]]:
    groups: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for name in metrics:
        extra = tuple(d for d in EXTRA_DIMENSION_SETS.get(name, ()) if set(d) <= set(label_names))
        groups.setdefault((label_names, (), *extra), []).append(name)
    return groups


P = ParamSpec("P")
R = TypeVar("R")


def flushes_metrics(metrics_of: Callable[[], MetricsRecorder]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a Lambda handler: what it recorded is printed when it returns or raises."""

    def decorate(handler: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(handler)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            metrics = metrics_of()  # first: if building it fails, the handler would fail the same way
            try:
                return handler(*args, **kwargs)
            finally:
                metrics.flush()

        return wrapper

    return decorate
