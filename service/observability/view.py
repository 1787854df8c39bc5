"""Read a `/metrics` scrape back into figures: for a `status` that asks a running service, and for tests.

Names are the catalogue's (`documents_submitted_total`); sample suffixes (`_count`, `_sum`, `_bucket`)
follow Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from service.observability.catalog import PROMETHEUS_NAMESPACE


@dataclass(frozen=True)
class MetricsView:
    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, text: str) -> MetricsView:
        families = text_string_to_metric_families(text)
        return cls(tuple(sample for family in families for sample in family.samples))

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
        full = f"{PROMETHEUS_NAMESPACE}_{name}"
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == full and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def by_label(self, name: str, label: str) -> dict[str, float]:
        """`name` summed per value of one label, e.g. quarantines per reason."""
        full = f"{PROMETHEUS_NAMESPACE}_{name}"
        sums: dict[str, float] = {}
        for sample in self.samples:
            if sample.name == full and label in sample.labels:
                sums[sample.labels[label]] = sums.get(sample.labels[label], 0.0) + sample.value
        return sums
