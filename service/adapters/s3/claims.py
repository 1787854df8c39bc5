"""Submission claims: one per source version, created with If-None-Match so one worker submits it; and
the `index/submitting/` markers that let reconcile find claims whose worker died."""

from __future__ import annotations

from collections.abc import Iterator

from service.adapters.s3.bucket import StateBucket, last_segment, token_hash
from service.models.ledger import SubmissionClaim
from service.models.source import SourceRef
from service.ports import ClaimMarker


class S3Claims:
    def __init__(self, state: StateBucket) -> None:
        self._state = state

    def _key(self, digest: str, hashed_token: str) -> str:
        return self._state.key("claims", digest, hashed_token + ".json")

    def _claim_key(self, source: SourceRef) -> str:
        return self._key(source.digest, token_hash(source.token))

    def _marker_key(self, source: SourceRef) -> str:
        return self._state.key("index", "submitting", f"{source.digest}--{token_hash(source.token)}")

    def create(self, claim: SubmissionClaim) -> bool:
        """True when this caller now owns the submission of that source version."""
        return self._state.put_model(self._claim_key(claim.source), claim, if_none_match=True)

    def read(self, source: SourceRef) -> tuple[SubmissionClaim, str] | None:
        return self._state.get_model(self._claim_key(source), SubmissionClaim)

    def replace(self, claim: SubmissionClaim, *, if_match: str | None = None) -> bool:
        """Overwrite a claim; with `if_match`, only if nobody changed it since it was read."""
        return self._state.put_model(self._claim_key(claim.source), claim, if_match=if_match)

    def delete(self, source: SourceRef) -> None:
        self._state.delete(self._claim_key(source))

    def mark_submitting(self, source: SourceRef) -> None:
        self._state.mark(self._marker_key(source))

    def clear_submitting(self, source: SourceRef) -> None:
        self._state.delete(self._marker_key(source))

    def unfinished(self, limit: int | None = None) -> Iterator[ClaimMarker]:
        for listed in self._state.list(self._state.folder("index", "submitting"), limit=limit):
            digest, _, hashed_token = last_segment(listed.key).partition("--")
            found = self._state.get_model(self._key(digest, hashed_token), SubmissionClaim)
            yield ClaimMarker(name=listed.key, claim=found[0] if found else None)

    def drop_marker(self, marker: ClaimMarker) -> None:
        self._state.delete(marker.name)
