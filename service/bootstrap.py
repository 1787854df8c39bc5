"""The one place that builds the service: settings, logging, adapters, use cases.

The Flask factory, the Lambda handlers and the CLI all call `build()`. Tests call it with in-memory
adapters (`objects=`, `ocr=`) or let it build the real ones pointed at local servers. Each entry point names
where its metrics go (`metrics=`): Prometheus under gunicorn, CloudWatch EMF on Lambda, nowhere for the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from service.adapters.s3 import build_state_stores
from service.adapters.s3.analytics import S3AnalyticsDataset
from service.adapters.s3.bucket import StateBucket
from service.adapters.s3.pacing import SharedPacer
from service.core.keys import KeyPolicy
from service.core.routes import Routes, load_routes
from service.logs import configure_logging
from service.observability import MetricsRecorder, MetricsSink
from service.ports import AnalyticsDataset, Clock, ObjectStore, Ocr, Outbox, Pacer, StateStores
from service.review.hooks import ReviewHooks
from service.settings import Settings, load_settings
from service.usecases.complete import CompleteConfig, CompleteFile
from service.usecases.downstream import Downstream
from service.usecases.intake import Intake
from service.usecases.quarantine import Quarantiner
from service.usecases.recover import Recovery, RecoveryConfig
from service.usecases.status import PendingFigures, StatusReport, publish_gauges, status_report
from service.usecases.submit import SubmitConfig, SubmitDocument

# Where metrics go: "prometheus" (gunicorn: GET /metrics), "emf" (Lambda: CloudWatch embedded metric format
# on stdout, flushed per invocation), "none" (CLI); or a sink of the caller's (tests).
MetricsChoice = Literal["none", "prometheus", "emf"] | MetricsSink


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Service:
    """Everything an entry point needs, built once (no module-level state)."""

    settings: Settings
    stores: StateStores
    objects: ObjectStore
    ocr: Ocr
    pacer: Pacer
    routes: Routes
    policy: KeyPolicy
    outbox: Outbox | None  # None: no EVENTS_TARGET, no events
    analytics: AnalyticsDataset
    downstream: Downstream
    quarantine: Quarantiner
    submit: SubmitDocument
    complete: CompleteFile
    intake: Intake
    recovery: Recovery
    # The review console's side of completion, quarantine and reconcile (service/review/hooks.py); its
    # pages are served by `service.review.views.register_review` when REVIEW_ENABLED.
    review: ReviewHooks
    metrics: MetricsRecorder
    clock: Clock = field(default=utc_now)

    def status(self) -> StatusReport:
        """The report `nanonets-ingest status` prints (pacing of every model of every route); its gauges are
        published on the way."""
        models = self.routes.model_ids()
        routes_of = {model_id: self.routes.names_of_model(model_id) for model_id in models}
        return status_report(self.stores, self.pacer, models, self.clock, self.metrics, routes_of)

    def publish_gauges(self) -> PendingFigures:
        """Refresh the pending and pacing gauges (what `status` shows of them) before a scrape."""
        return publish_gauges(
            self.stores.ledger, self.pacer, self.routes.model_ids(), self.clock, self.metrics
        )


def configure_service_logging(settings: Settings, level: str | None = None) -> None:
    """JSON logs with every secret the settings hold redacted (one list, whichever entry point)."""
    configure_logging(level or settings.log_level, secrets=settings.secret_values())


def build(
    settings: Settings | None = None,
    *,
    objects: ObjectStore | None = None,
    ocr: Ocr | None = None,
    routes: Routes | None = None,
    outbox: Outbox | None = None,
    clock: Clock = utc_now,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    record_wait_seconds: float | None = None,
    metrics: MetricsChoice = "none",
) -> Service:
    """The service. `routes` default to ROUTES_FILE's (or the one default route); a routes or rules file
    that cannot be used raises RoutesError (a SettingsError: one line). `outbox` defaults to EVENTS_TARGET's
    (none when unset)."""
    settings = settings or load_settings()
    recorder = metrics_recorder(metrics, settings)
    routes = routes or load_routes(settings)
    if objects is None:
        from service.adapters.s3.objects import S3ObjectStore, build_s3_client

        objects = S3ObjectStore(build_s3_client(settings.aws_endpoint_url, settings.aws_default_region))
    if ocr is None:
        from service.adapters.nanonets import NanonetsClient
        from service.observability.nanonets_calls import call_counter

        client = NanonetsClient.from_settings(settings)
        client.add_response_hook(call_counter(recorder))
        ocr = client
    stores = build_state_stores(
        objects,
        state_bucket=settings.state_bucket_name,
        state_prefix=settings.state_prefix,
        output_bucket=settings.output_bucket,
    )
    state = StateBucket(objects, settings.state_bucket_name, settings.state_prefix)
    default_budget = settings.nanonets_pages_per_minute
    pacer = SharedPacer(
        state,
        budget_of=lambda model_id: routes.pages_per_minute(model_id) or default_budget,
        pause_seconds=settings.nanonets_429_pause_seconds,
        probe_seconds=settings.nanonets_402_probe_seconds,
        window_seconds=settings.nanonets_pacing_window_seconds,
        clock=wall_clock,
        sleep=sleep,
    )
    policy = KeyPolicy.from_settings(settings, routes.route_keys())
    if outbox is None:
        from service.adapters.events import build_outbox

        outbox = build_outbox(settings, state, clock)
    analytics = S3AnalyticsDataset(
        objects, output_bucket=settings.output_bucket, analytics_prefix=settings.analytics_prefix, state=state
    )
    downstream = Downstream(outbox, analytics, stores, routes, settings.output_bucket)
    # Built whether or not the console is served: its edits are laid over every output either way, and
    # validated again by the rules of the document's route.
    review = ReviewHooks.build(settings, objects, stores, ocr, routes, clock, downstream.output_written)
    quarantine = Quarantiner(stores.quarantine, clock, review, recorder, downstream)
    submit = SubmitDocument(
        stores,
        ocr,
        pacer,
        policy,
        routes,
        SubmitConfig(
            presign_ttl_seconds=settings.presign_ttl_seconds,
            claim_stale_seconds=settings.claim_stale_seconds,
        ),
        quarantine,
        clock,
        recorder,
        sleep=sleep,
    )
    complete_config = CompleteConfig(
        verify_by_fetch=settings.verify_by_fetch,
        auto_approve=settings.auto_approve,
        auto_approve_min_confidence=settings.auto_approve_min_confidence,
    )
    if record_wait_seconds is not None:
        complete_config = CompleteConfig(
            **{**vars(complete_config), "record_wait_seconds": record_wait_seconds}
        )
    complete = CompleteFile(
        stores,
        ocr,
        submit,
        routes,
        complete_config,
        quarantine,
        downstream,
        clock,
        decisions=review,
        attention=review,
        metrics=recorder,
    )
    intake = Intake(submit, quarantine, stores.raw, settings.sns_extra_subscribe_hosts)
    recovery = Recovery(
        stores,
        submit,
        complete,
        intake,
        quarantine,
        downstream,
        policy,
        pacer,
        RecoveryConfig(
            max_pending_seconds=settings.max_pending_seconds,
            claim_stale_seconds=settings.claim_stale_seconds,
            model_ids=tuple(routes.model_ids()),
        ),
        clock,
        review,
        recorder,
    )
    return Service(
        settings=settings,
        stores=stores,
        objects=objects,
        ocr=ocr,
        pacer=pacer,
        routes=routes,
        policy=policy,
        outbox=outbox,
        analytics=analytics,
        downstream=downstream,
        quarantine=quarantine,
        submit=submit,
        complete=complete,
        intake=intake,
        recovery=recovery,
        review=review,
        metrics=recorder,
        clock=clock,
    )


def metrics_recorder(choice: MetricsChoice, settings: Settings) -> MetricsRecorder:
    """Sinks are imported only where they are used: prometheus-client costs Lambda ~40 ms of cold start."""
    if not isinstance(choice, str):
        return MetricsRecorder(choice)
    if choice == "prometheus":
        from service.observability.prometheus import PrometheusSink

        return MetricsRecorder(PrometheusSink(settings.prometheus_multiproc_dir))
    if choice == "emf":
        from service.observability.emf import EmfSink

        return MetricsRecorder(EmfSink())
    return MetricsRecorder()
