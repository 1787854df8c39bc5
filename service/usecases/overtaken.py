"""A webhook that overtook its own submission: its ledger record is not written yet, or never will be.

Nanonets can answer faster than the submitting worker writes the record (the webhook waits briefly for
it), and a worker can die after Nanonets accepted the file but before recording it (the webhook carries
the claim's own metadata, which proves the file is ours: it is recorded now rather than quarantined). Only
metadata we wrote, naming a claim of ours, is waited for or adopted; anything else has no record.
"""

from __future__ import annotations

import logging
import time

from service.logs import log_state_change
from service.models.ledger import LedgerRecord, SubmissionClaim
from service.models.nanonets import FilePrediction
from service.models.source import SourceRef
from service.ports import StateStores
from service.usecases.correlation import record_context
from service.usecases.submit import SubmitDocument

# How long a webhook that overtook its own submission record waits for that record.
RECORD_WAIT_SECONDS = 2.0


class OvertakenWebhooks:
    def __init__(self, stores: StateStores, submit: SubmitDocument, wait_seconds: float) -> None:
        self._stores = stores
        self._submit = submit
        self._wait_seconds = wait_seconds

    def record_for(self, prediction: FilePrediction) -> LedgerRecord | None:
        """The file's record, once its worker has written it (waiting up to `wait_seconds`) or once it is
        adopted; None when the metadata names no claim of ours that is still being submitted."""
        claim = self._claim_named_by(prediction)
        if claim is None or claim.request_file_id not in (None, prediction.request_file_id):
            return None
        deadline = time.monotonic() + self._wait_seconds
        while time.monotonic() < deadline:
            time.sleep(0.1)
            record = self._stores.ledger.get(prediction.request_file_id)
            if record is not None:
                return record
        return self._adopt(prediction)

    def _claim_named_by(self, prediction: FilePrediction) -> SubmissionClaim | None:
        metadata = prediction.request_metadata or {}
        bucket, key = metadata.get("bucket"), metadata.get("key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            return None
        etag, version_id = metadata.get("etag"), metadata.get("version_id")
        source = SourceRef(
            bucket=bucket,
            key=key,
            etag=etag if isinstance(etag, str) else None,
            version_id=version_id if isinstance(version_id, str) else None,
        )
        if metadata.get("token") not in (None, source.token):
            return None  # not metadata we wrote
        found = self._stores.claims.read(source)
        return found[0] if found else None

    def _adopt(self, prediction: FilePrediction) -> LedgerRecord | None:
        """Nanonets accepted the submission but its worker died before recording it: record it now."""
        claim = self._claim_named_by(prediction)
        file_id = prediction.request_file_id
        route = self._submit.route_for(claim.source.key) if claim else None
        if claim is None or claim.request_file_id not in (None, file_id) or route is None:
            return self._stores.ledger.get(file_id)
        if claim.request_file_id == file_id and (recorded := self._stores.ledger.get(file_id)) is not None:
            return recorded  # its worker recorded it after all, a moment ago
        record = self._submit.record_submission(claim, file_id, route)
        with record_context(record):
            log_state_change("adopted", level=logging.WARNING, why="its worker died before recording it")
        return record
