"""A document written to its output key once, whoever else writes there: concurrent deliveries of the same
prediction, the review console, the output of another version of the same source.

A first completion tries If-None-Match (one request); otherwise the current output is read and replaced
only if unchanged since. The console's decisions are read again after that read: an edit saved before it
is in what we write, one saved after it rewrites the output itself (the console reads the output, then the
decisions), which makes our If-Match fail and the loop go round.

The source is not asked on every webhook whether it changed since (a HEAD each): only when the output holds
another version of it. An older version's output is replaced, its analytics partition handed on
(`OutputWrite.record`); a newer one's makes ours superseded. (Until a newer version's output is written, an
older version's result is written: the newer one replaces it when it comes.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.core.digest import document_digest
from service.errors import StorageUnavailable
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord
from service.ports import ReviewDecisions, StateStores

# Conditional output writes that lose to a concurrent writer re-read and try again this many times.
OUTPUT_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class OutputWrite:
    """What `OutputWriter.write_once` did: the document written or found, and the record to carry on with."""

    document: NormalizedDocument
    record: LedgerRecord
    wrote: bool
    superseded: bool = False


class OutputWriter:
    def __init__(self, stores: StateStores, decisions: ReviewDecisions) -> None:
        self._stores = stores
        self._decisions = decisions

    def write_once(self, record: LedgerRecord, document: NormalizedDocument) -> OutputWrite:
        """Write the output with a conditional PUT, unless it already holds this document, or the output of
        a newer version of the same source (see the module's docstring)."""
        outputs = self._stores.outputs
        expected: str | None = None  # None: "only if absent"
        for attempt in range(OUTPUT_WRITE_ATTEMPTS):
            if attempt > 0 or record.output_digest is not None:
                current = outputs.read(record.output_key)
                written = parse_output(current.body) if current else None
                if written is not None and written.source.token != record.source_token:
                    replacing = self._replacing(record, written)
                    if replacing is None:
                        return OutputWrite(document, record, wrote=False, superseded=True)
                    record = replacing
                document = self._decisions.apply(record, document)
                if written is not None and document_digest(written) == document_digest(document):
                    return OutputWrite(document, record, wrote=False)
                expected = current.etag if current else None
            if outputs.write(record.output_key, document.to_json_bytes(), if_match=expected):
                return OutputWrite(document, record, wrote=True)
            time.sleep(0.05 * attempt)
        raise StorageUnavailable(f"{record.output_key} kept changing under concurrent writers; retry later")

    def _replacing(self, record: LedgerRecord, written: NormalizedDocument) -> LedgerRecord | None:
        """`written` is the output of another version of the source: `record` to write over it, with the
        analytics partition of the document it replaces; None when ours is not the source's current
        version (superseded). The source is asked only here, when two versions meet in one output."""
        head = self._stores.sources.head(record.source.model_copy(update={"version_id": None}))
        # Deleted since (no head): ours is the last content seen, and its output is written.
        if head is not None and head.ref.token != record.source_token:
            return None
        other = self._stores.ledger.get(written.nanonets.request_file_id)
        # No record of ours names it (written by 1.0, or by hand): the 1.0 partition marker decides.
        return record.model_copy(update={"analytics_day": other.analytics_day if other else None})


def parse_output(body: bytes) -> NormalizedDocument | None:
    try:
        return NormalizedDocument.model_validate_json(body)
    except ValueError:
        return None  # not one of our documents (edited by hand?): it is replaced
