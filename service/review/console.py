"""The review console's parts, built once per app from the built service (`bootstrap.Service`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.adapters.s3.bucket import StateBucket
from service.review.actions import ReviewActions
from service.review.attention import AttentionIndex
from service.review.auth import LoginThrottle
from service.review.pages import PageImages
from service.review.store import ReviewRecords
from service.review.users import Reviewers

if TYPE_CHECKING:
    from service.bootstrap import Service


@dataclass
class ReviewConsole:
    service: Service
    reviewers: Reviewers
    throttle: LoginThrottle
    pages: PageImages

    @property
    def actions(self) -> ReviewActions:
        return self.service.review.actions  # the same records and queue completion keeps

    @property
    def attention(self) -> AttentionIndex:
        return self.actions.attention

    @property
    def records(self) -> ReviewRecords:
        return self.actions.records

    @classmethod
    def from_service(cls, service: Service) -> ReviewConsole:
        settings = service.settings
        users_file, _ = settings.require_review_console()
        state = StateBucket(service.objects, settings.state_bucket_name, settings.state_prefix)
        return cls(
            service=service,
            reviewers=Reviewers(users_file),
            throttle=LoginThrottle(state, service.clock),
            pages=PageImages(state, service.objects, settings.max_document_bytes),
        )
