"""Operating the service without reading logs: the recorder behind the `Metrics` port (service/ports.py),
one catalogue of names, and a sink per deployment: Prometheus under gunicorn, CloudWatch embedded metric
format on Lambda, nothing for the CLI. Adapter layer: imports ports and itself, never a use case."""

from service.observability.metrics import MetricsRecorder, MetricsSink, NullSink

__all__ = ["MetricsRecorder", "MetricsSink", "NullSink"]
