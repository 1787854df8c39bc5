"""Prometheus under gunicorn: every worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) and a scrape, whichever worker serves it, adds them all up.

prometheus-client picks its storage when it is first imported, from PROMETHEUS_MULTIPROC_DIR: the gunicorn
config (`service/gunicorn_conf.py`, with `service.observability.multiprocess`) sets that variable in the
master before any worker imports the app, and marks a worker dead when it exits. Without the variable
(one process: tests, a single worker) samples live in this sink's own registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.observability.catalog import CATALOG, PROMETHEUS_NAMESPACE, MetricSpec

# Gauges here are snapshots (pending count, oldest age) taken by whichever worker served the last scrape
# or reconcile: the newest value among live workers is the truth, not their sum or max.
GAUGE_MODE: Literal["livemostrecent"] = "livemostrecent"

_Metric = Counter | Histogram | Gauge


@dataclass(frozen=True)
class PrometheusExposition:
    body: bytes
    content_type: str = CONTENT_TYPE_LATEST


class PrometheusSink:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self._multiprocess_dir = multiprocess_dir
        self._registry = CollectorRegistry()
        self._metrics: dict[str, _Metric] = {spec.name: _build(spec, self._registry) for spec in CATALOG}

    def record(self, spec: MetricSpec, value: float, labels: Mapping[str, str]) -> None:
        metric = self._metrics[spec.name].labels(**labels)
        if isinstance(metric, Counter):
            metric.inc(value)
        elif isinstance(metric, Histogram):
            metric.observe(value)
        else:
            metric.set(value)

    def flush(self) -> None:
        return None

    def exposition(self) -> PrometheusExposition:
        if self._multiprocess_dir is None:
            return PrometheusExposition(generate_latest(self._registry))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return PrometheusExposition(generate_latest(registry))


def _build(spec: MetricSpec, registry: CollectorRegistry) -> _Metric:
    name, labels = f"{PROMETHEUS_NAMESPACE}_{spec.name}", spec.labels
    if spec.kind == "counter":
        return Counter(name, spec.help, labels, registry=registry)
    if spec.kind == "histogram":
        return Histogram(name, spec.help, labels, buckets=spec.buckets, registry=registry)
    return Gauge(name, spec.help, labels, multiprocess_mode=GAUGE_MODE, registry=registry)
