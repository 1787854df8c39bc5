"""The one place that builds the service: settings, logging, adapters, use cases.

The Flask factory, the Lambda handlers and the CLI all call `build()`. Tests call it with in-memory
adapters (`objects=`, `ocr=`) or let it build the real ones pointed at local servers. Each entry point names
where its metrics go (`metrics=`): Prometheus under gunicorn, CloudWatch EMF on Lambda, nowhere for the CLI.

`build()` checks everything that can be wrong with the configuration at once (settings, the routes and
rules files), then each part of the service is built, and its modules imported, the first time something
asks for it: a Lambda container pays for what its events need (docs/ARCHITECTURE.md, "Cold start").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from service.core.routes import Routes, load_routes
from service.logs import configure_logging
from service.observability import MetricsRecorder, MetricsSink
from service.ports import AnalyticsDataset, Clock, ObjectStore, Ocr, Outbox, Pacer, StateStores
from service.settings import Settings, load_settings

if TYPE_CHECKING:
    from service.adapters.s3.bucket import StateBucket
    from service.core.keys import KeyPolicy
    from service.models.document import NormalizedDocument
    from service.models.ledger import LedgerRecord, QuarantineRecord
    from service.review.hooks import ReviewHooks
    from service.usecases.complete import CompleteConfig, CompleteFile
    from service.usecases.downstream import Downstream
    from service.usecases.intake import Intake
    from service.usecases.quarantine import Quarantiner
    from service.usecases.recover import Recovery
    from service.usecases.status import PendingFigures, StatusReport
    from service.usecases.submit import SubmitDocument

# Where metrics go: "prometheus" (gunicorn: GET /metrics), "emf" (Lambda: CloudWatch embedded metric format
# on stdout, flushed per invocation), "none" (CLI); or a sink of the caller's (tests).
MetricsChoice = Literal["none", "prometheus", "emf"] | MetricsSink


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """Everything an entry point needs, built once (no module-level state). Each part is built on first use
    and kept: `GET /healthz` builds none of them, an S3 event builds intake and what it calls (one S3 client,
    the Nanonets session), never completion, recovery or the review console."""

    def __init__(
        self,
        settings: Settings,
        routes: Routes,
        metrics: MetricsRecorder,
        *,
        objects: ObjectStore | None = None,
        ocr: Ocr | None = None,
        outbox: Outbox | None = None,
        clock: Clock = utc_now,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        record_wait_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.routes = routes
        self.metrics = metrics
        self.clock = clock
        self._given_objects = objects
        self._given_ocr = ocr
        self._given_outbox = outbox
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._record_wait_seconds = record_wait_seconds

    # ---- adapters ----

    @cached_property
    def objects(self) -> ObjectStore:
        if self._given_objects is not None:
            return self._given_objects
        from service.adapters.s3.objects import S3ObjectStore, build_s3_client

        settings = self.settings
        return S3ObjectStore(build_s3_client(settings.aws_endpoint_url, settings.aws_default_region))

    @cached_property
    def ocr(self) -> Ocr:
        if self._given_ocr is not None:
            return self._given_ocr
        from service.adapters.nanonets import NanonetsClient
        from service.observability.nanonets_calls import call_counter

        client = NanonetsClient.from_settings(self.settings)
        client.add_response_hook(call_counter(self.metrics))
        return client

    @cached_property
    def stores(self) -> StateStores:
        from service.adapters.s3 import build_state_stores

        settings = self.settings
        return build_state_stores(
            self.objects,
            state_bucket=settings.state_bucket_name,
            state_prefix=settings.state_prefix,
            output_bucket=settings.output_bucket,
        )

    @cached_property
    def state(self) -> StateBucket:
        from service.adapters.s3.bucket import StateBucket

        return StateBucket(self.objects, self.settings.state_bucket_name, self.settings.state_prefix)

    @cached_property
    def pacer(self) -> Pacer:
        from service.adapters.s3.pacing import SharedPacer

        settings, routes = self.settings, self.routes
        default_budget = settings.nanonets_pages_per_minute
        return SharedPacer(
            self.state,
            budget_of=lambda model_id: routes.pages_per_minute(model_id) or default_budget,
            pause_seconds=settings.nanonets_429_pause_seconds,
            probe_seconds=settings.nanonets_402_probe_seconds,
            window_seconds=settings.nanonets_pacing_window_seconds,
            clock=self._wall_clock,
            sleep=self._sleep,
        )

    @cached_property
    def policy(self) -> KeyPolicy:
        from service.core.keys import KeyPolicy

        return KeyPolicy.from_settings(self.settings, self.routes.route_keys())

    @cached_property
    def outbox(self) -> Outbox | None:
        """None: no EVENTS_TARGET, no events."""
        if self._given_outbox is not None:
            return self._given_outbox
        from service.adapters.events import build_outbox

        return build_outbox(self.settings, self.state, self.clock)

    @cached_property
    def analytics(self) -> AnalyticsDataset:
        from service.adapters.s3.analytics import S3AnalyticsDataset

        settings = self.settings
        return S3AnalyticsDataset(
            self.objects,
            output_bucket=settings.output_bucket,
            analytics_prefix=settings.analytics_prefix,
            state=self.state,
        )

    # ---- the review console's side of completion, quarantine and reconcile (service/review/hooks.py) ----

    @cached_property
    def review(self) -> ReviewHooks:
        """Built whether or not the console is served: its edits are laid over every output either way, and
        validated again by the rules of the document's route. Its pages are served by
        `service.review.views.register_review` when REVIEW_ENABLED."""
        from service.review.hooks import ReviewHooks

        return ReviewHooks.build(
            self.settings,
            self.objects,
            self.stores,
            self.ocr,
            self.routes,
            self.clock,
            # An output the console rewrites goes downstream too (built then, not with the console).
            lambda record, document, digest: self.downstream.output_written(record, document, digest),
        )

    # ---- use cases ----

    @cached_property
    def downstream(self) -> Downstream:
        from service.usecases.downstream import Downstream

        return Downstream(self.outbox, self.analytics, self.stores, self.routes, self.settings.output_bucket)

    @cached_property
    def quarantine(self) -> Quarantiner:
        from service.usecases.quarantine import Quarantiner

        return Quarantiner(
            self.stores.quarantine, self.clock, _ReviewOnDemand(self), self.metrics, _DownstreamOnDemand(self)
        )

    @cached_property
    def submit(self) -> SubmitDocument:
        from service.usecases.submit import SubmitConfig, SubmitDocument

        settings = self.settings
        return SubmitDocument(
            self.stores,
            self.ocr,
            self.pacer,
            self.policy,
            self.routes,
            SubmitConfig(
                presign_ttl_seconds=settings.presign_ttl_seconds,
                claim_stale_seconds=settings.claim_stale_seconds,
            ),
            self.quarantine,
            self.clock,
            self.metrics,
            sleep=self._sleep,
        )

    @cached_property
    def complete(self) -> CompleteFile:
        from service.usecases.complete import CompleteFile

        review = self.review
        return CompleteFile(
            self.stores,
            self.ocr,
            self.submit,
            self.routes,
            self._complete_config(),
            self.quarantine,
            self.downstream,
            self.clock,
            decisions=review,
            attention=review,
            metrics=self.metrics,
        )

    def _complete_config(self) -> CompleteConfig:
        from service.usecases.complete import CompleteConfig

        settings, wait = self.settings, self._record_wait_seconds
        waits = {} if wait is None else {"record_wait_seconds": wait}
        return CompleteConfig(
            verify_by_fetch=settings.verify_by_fetch,
            auto_approve=settings.auto_approve,
            auto_approve_min_confidence=settings.auto_approve_min_confidence,
            **waits,
        )

    @cached_property
    def intake(self) -> Intake:
        from service.usecases.intake import Intake

        return Intake(self.submit, self.quarantine, self.stores.raw, self.settings.sns_extra_subscribe_hosts)

    @cached_property
    def recovery(self) -> Recovery:
        from service.usecases.recover import Recovery, RecoveryConfig

        settings = self.settings
        return Recovery(
            self.stores,
            self.submit,
            self.complete,
            self.intake,
            self.quarantine,
            self.downstream,
            self.policy,
            self.pacer,
            RecoveryConfig(
                max_pending_seconds=settings.max_pending_seconds,
                claim_stale_seconds=settings.claim_stale_seconds,
                model_ids=tuple(self.routes.model_ids()),
            ),
            self.clock,
            self.review,
            self.metrics,
        )

    def build_parts(self) -> Service:
        """Build every part now: a long-running server does it at start, as one thread, so its requests never
        race to build a part (and a part that cannot be built stops the start)."""
        _ = (self.complete, self.recovery, self.intake, self.downstream)  # and what each of them uses
        return self

    def status(self) -> StatusReport:
        """The report `nanonets-ingest status` prints (pacing of every model of every route); its gauges are
        published on the way."""
        from service.usecases.status import status_report

        models = self.routes.model_ids()
        routes_of = {model_id: self.routes.names_of_model(model_id) for model_id in models}
        return status_report(self.stores, self.pacer, models, self.clock, self.metrics, routes_of)

    def publish_gauges(self) -> PendingFigures:
        """Refresh the pending and pacing gauges (what `status` shows of them) before a scrape."""
        from service.usecases.status import publish_gauges

        return publish_gauges(
            self.stores.ledger, self.pacer, self.routes.model_ids(), self.clock, self.metrics
        )


class _ReviewOnDemand:
    """The quarantine's `AttentionQueue`: the review hooks, built when a quarantine first tells them, so an
    event that quarantines nothing never imports the console (nor completion, which it shares code with)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def document_written(self, record: LedgerRecord, document: NormalizedDocument) -> None:
        self._service.review.document_written(record, document)

    def superseded(self, record: LedgerRecord) -> None:
        self._service.review.superseded(record)

    def quarantined(self, quarantined: QuarantineRecord) -> None:
        self._service.review.quarantined(quarantined)


class _DownstreamOnDemand:
    """The quarantine's downstream (the document.quarantined event): built, with the outbox and the analytics
    dataset, when a quarantine first happens."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def quarantined(self, record: QuarantineRecord) -> None:
        self._service.downstream.quarantined(record)


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
    that cannot be used raises RoutesError (a SettingsError: one line) here, before any part is built.
    `outbox` defaults to EVENTS_TARGET's (none when unset)."""
    settings = settings or load_settings()
    recorder = metrics_recorder(metrics, settings)
    return Service(
        settings,
        routes or load_routes(settings),
        recorder,
        objects=objects,
        ocr=ocr,
        outbox=outbox,
        clock=clock,
        wall_clock=wall_clock,
        sleep=sleep,
        record_wait_seconds=record_wait_seconds,
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
