"""Operating the service without reading logs: metrics (one port, one catalogue of names, a sink per
deployment: Prometheus under gunicorn, CloudWatch embedded metric format on Lambda, nothing for the CLI)."""

from service.observability.catalog import DEFAULT_ROUTE
from service.observability.metrics import Metrics, MetricsSink, NullSink

__all__ = ["DEFAULT_ROUTE", "Metrics", "MetricsSink", "NullSink"]
