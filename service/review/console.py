"""The review console's parts, built once per app from the settings and the pipeline's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from service.adapters.storage import build_s3_client
from service.pipeline import Services
from service.review.actions import PushSummary, ReviewActions
from service.review.attention import AttentionIndex
from service.review.auth import LoginThrottle
from service.review.pages import PageImages
from service.review.store import ObjectStore, ReviewRecords
from service.review.users import Reviewers


def review_actions(services: Services, state: ObjectStore) -> ReviewActions:
    settings = services.settings
    return ReviewActions(
        storage=services.storage,
        records=ReviewRecords(state, settings.state_prefix),
        attention=AttentionIndex(state, settings.state_prefix, clock=services.clock),
        nanonets=services.nanonets,
        rules=services.rules,
        clock=services.clock,
        push_to_nanonets=settings.review_push_to_nanonets,
        min_confidence=settings.auto_approve_min_confidence,
    )


@dataclass
class ReviewConsole:
    services: Services
    reviewers: Reviewers
    throttle: LoginThrottle
    pages: PageImages
    actions: ReviewActions

    @property
    def attention(self) -> AttentionIndex:
        return self.actions.attention

    @property
    def records(self) -> ReviewRecords:
        return self.actions.records

    @classmethod
    def from_services(cls, services: Services) -> ReviewConsole:
        settings = services.settings
        users_file, _ = settings.require_review_console()
        s3 = build_s3_client(settings)
        state = ObjectStore(s3, settings.state_bucket_name)
        sources: Callable[[str], ObjectStore] = cache(lambda bucket: ObjectStore(s3, bucket))
        return cls(
            services=services,
            reviewers=Reviewers(users_file),
            throttle=LoginThrottle(state, settings.state_prefix, services.clock),
            pages=PageImages(state, settings.state_prefix, sources, settings.max_document_bytes),
            actions=review_actions(services, state),
        )


def retry_pending_pushes(services: Services, limit: int = 100) -> PushSummary:
    """For reconcile: send again the console's corrections and approvals that Nanonets did not take."""
    if not services.settings.review_push_to_nanonets:
        return PushSummary()
    state = ObjectStore(build_s3_client(services.settings), services.settings.state_bucket_name)
    return review_actions(services, state).retry_pending_pushes(limit)
