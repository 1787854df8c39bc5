"""The queue: which documents need a person, and an index that pages through them without reading outputs.

`attention_reasons` is pure. `AttentionIndex` keeps, per document that needs a person, one entry
(`index/attention-items/<id>.json`: what the queue row shows) and one empty marker per facet the queue can
filter on:

    index/attention/all/<since>--<id>
    index/attention/reason/<reason>/<since>--<id>
    index/attention/code/<issue code>/<since>--<id>
    index/attention/prefix/<sha256(folder)[:20]>/<since>--<id>     one per folder of the source key
    index/attention/route/<route>/<since>--<id>

`<since>` is when the document started needing a person (kept while it still does), so a listing is oldest
first, a page is one ListObjectsV2 call with StartAfter/MaxKeys, a date filter is a StartAfter, and other
filters are checked on the entries of that page. `mark` and `clear` cost one GET when nothing changed.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from service.adapters.s3.bucket import StateBucket
from service.core.rules import Rules
from service.errors import StorageUnavailable
from service.models.document import NormalizedDocument
from service.models.ledger import QuarantineRecord
from service.models.source import SourceRef
from service.ports import Clock, ListedObject
from service.review.models import ATTENTION_REASONS, AttentionEntry, AttentionReason, Overrides

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MARKER_NAME = re.compile(r"(\d{8}T\d{6}Z)--([A-Za-z0-9][A-Za-z0-9._-]{0,127})")
ROUTE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SINCE_FORMAT = "%Y%m%dT%H%M%SZ"
ENTRY_READERS = 16  # entries of one queue page are read in parallel
SCAN_LIMIT = 2000  # markers one queue request looks at before it answers with what it found (and a cursor)
REPAIR_AFTER = timedelta(minutes=2)  # a marker without its entry this old is debris of a crash: removed
COUNTS_TTL_SECONDS = 30.0
WRITE_ATTEMPTS = 5
PENDING_TOO_LONG_CODES = frozenset({"pending_too_long"})


def attention_reasons(
    document: NormalizedDocument | None,
    *,
    rules: Rules | None = None,
    min_confidence: float = 0.8,
    overrides: Overrides | None = None,
    quarantine: QuarantineRecord | None = None,
) -> list[AttentionReason]:
    """Why a document needs a person; empty when it does not.

    A decision made in the console settles it. An approval (in Nanonets or automatic) settles it too. A
    field is of low confidence below its rule's `min_confidence`, else below `min_confidence`.
    """
    if overrides is not None and overrides.decision is not None:
        return []
    reasons: list[AttentionReason] = []
    if quarantine is not None:
        reasons.append("pending_too_long" if quarantine.code in PENDING_TOO_LONG_CODES else "quarantined")
    if document is None:
        return reasons
    if document.review in ("approved", "auto_approved"):
        return reasons
    if document.review == "rejected":
        reasons.append("rejected")
    if document.validation.status == "failed":
        reasons.append("validation_failed")
    if _has_low_confidence(document, rules, min_confidence):
        reasons.append("low_confidence")
    return reasons


def _has_low_confidence(document: NormalizedDocument, rules: Rules | None, default_bar: float) -> bool:
    for label, value in document.fields.items():
        rule = rules.fields.get(label) if rules else None
        bar = rule.min_confidence if rule is not None and rule.min_confidence is not None else default_bar
        if value.value.strip() and value.confidence is not None and value.confidence < bar:
            return True
    return False


def folder_prefixes(key: str) -> list[str]:
    """'incoming/fleet/a.pdf' -> ['incoming/', 'incoming/fleet/']."""
    parts = key.split("/")[:-1]
    return ["/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]


def prefix_facet(prefix: str) -> str:
    folder = prefix if prefix.endswith("/") else prefix + "/"
    return "prefix/" + hashlib.sha256(folder.encode("utf-8")).hexdigest()[:20]


def facets_of(entry: AttentionEntry) -> list[str]:
    facets = ["all"]
    facets += [f"reason/{reason}" for reason in entry.reasons]
    facets += [f"code/{code}" for code in entry.codes]
    if entry.source is not None:
        facets += [prefix_facet(folder) for folder in folder_prefixes(entry.source.key)]
    if entry.route and ROUTE_NAME.fullmatch(entry.route):
        facets.append(f"route/{entry.route}")
    return facets


def since_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SINCE_FORMAT)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page asks for; every part optional."""

    reason: AttentionReason | None = None
    code: str | None = None
    prefix: str | None = None
    route: str | None = None
    since_from: date | None = None
    since_to: date | None = None

    def facet(self) -> str:
        """The most selective marker folder to list; the other parts are checked on the entries."""
        if self.code:
            return f"code/{self.code}"
        if self.reason:
            return f"reason/{self.reason}"
        if self.prefix:
            return prefix_facet(self.prefix)
        if self.route:
            return f"route/{self.route}"
        return "all"

    def checks_entries(self) -> bool:
        """True when more is asked than the listed facet says, so entries must be checked one by one."""
        return sum(1 for part in (self.reason, self.code, self.prefix, self.route) if part) > 1

    def accepts(self, entry: AttentionEntry) -> bool:
        if self.reason and self.reason not in entry.reasons:
            return False
        if self.code and self.code not in entry.codes:
            return False
        if self.prefix and (entry.source is None or not entry.source.key.startswith(self.prefix)):
            return False
        if self.route and entry.route != self.route:
            return False
        return not (self.since_to and entry.since[:8] > f"{self.since_to:%Y%m%d}")


@dataclass
class QueuePage:
    entries: list[AttentionEntry]
    next_cursor: str | None  # the last marker name looked at, when there may be more


@dataclass
class _Counts:
    at: float
    values: dict[str, int] = field(default_factory=dict)


class AttentionIndex:
    def __init__(self, state: StateBucket, clock: Clock) -> None:
        self.state = state
        self.root = state.folder("index", "attention")
        self.items = state.folder("index", "attention-items")
        self.owners = state.folder("index", "attention-outputs")
        self._clock = clock
        self._counts: _Counts | None = None

    # ---- writing ----

    def mark(
        self,
        request_file_id: str,
        reasons: Iterable[AttentionReason],
        *,
        codes: Iterable[str] = (),
        source: SourceRef | None = None,
        output_key: str | None = None,
        route: str | None = None,
        detail: str | None = None,
        now: datetime | None = None,
    ) -> AttentionEntry | None:
        """Put the document in the queue for these reasons (or take it out when there are none).

        Idempotent and cheap: one GET when the entry already says this. The time it entered the queue is
        kept while it stays there, so re-processing does not send it to the back."""
        wanted = sorted(set(reasons), key=ATTENTION_REASONS.index)
        if not wanted:
            self.clear(request_file_id)
            return None
        if not SAFE_ID.fullmatch(request_file_id):
            return None  # never ours: the ledger has no such id either
        item_key = self._item_key(request_file_id)
        for _ in range(WRITE_ATTEMPTS):
            found = self.state.get_model(item_key, AttentionEntry)
            current, etag = found if found else (None, None)
            entry = AttentionEntry(
                request_file_id=request_file_id,
                since=current.since if current else since_text(now or self._clock()),
                reasons=wanted,
                codes=sorted(set(codes)),
                source=source,
                output_key=output_key,
                route=route,
                detail=detail,
            )
            entry = entry.model_copy(update={"facets": facets_of(entry)})
            if current == entry:
                return entry
            # Markers first, then the entry, then stale markers out: a crash between leaves a marker the
            # listing recognises as stale (its facet is not in the entry) and removes.
            old_facets = set(current.facets) if current else set()
            for facet in entry.facets:
                if facet not in old_facets:
                    self.state.mark(self._marker_key(facet, entry))
            if not self.state.put_model(item_key, entry, if_match=etag, if_none_match=etag is None):
                continue  # another writer changed it since we read: read again
            if current is not None:
                self._delete_markers(current, keep=entry.facets)
            self._counts = None
            return entry
        raise StorageUnavailable(f"{item_key} kept changing under concurrent writers; retry later")

    def _delete_markers(self, entry: AttentionEntry, keep: Iterable[str] = ()) -> None:
        kept = set(keep)
        for facet in entry.facets:
            if facet not in kept:
                self.state.delete(self._marker_key(facet, entry))

    def clear(self, request_file_id: str) -> None:
        """Take the document out of the queue; one GET when it is not in it."""
        if not SAFE_ID.fullmatch(request_file_id):
            return
        found = self.state.get_model(self._item_key(request_file_id), AttentionEntry)
        if found is None:
            return
        self.state.delete(self._item_key(request_file_id))
        self._delete_markers(found[0])
        self._counts = None

    def take_output(self, request_file_id: str, output_key: str) -> None:
        """This submission's document is now the output at `output_key`: an older submission of the same
        source (overwritten with new content) that is still queued needs nobody any more. One GET when
        nothing changed."""
        key = f"{self.owners}{hashlib.sha256(output_key.encode('utf-8')).hexdigest()[:32]}"
        found = self.state.get(key)
        owner = found.body.decode("utf-8", "replace") if found else None
        if owner == request_file_id:
            return
        if owner:
            self.clear(owner)
        self.state.put(key, request_file_id.encode("utf-8"), content_type="text/plain")

    # ---- reading ----

    def entry(self, request_file_id: str) -> AttentionEntry | None:
        if not SAFE_ID.fullmatch(request_file_id):
            return None
        found = self.state.get_model(self._item_key(request_file_id), AttentionEntry)
        return found[0] if found else None

    def page(self, query: QueueFilter, *, after: str | None = None, limit: int = 50) -> QueuePage:
        """Oldest first: up to `limit` entries from just after the cursor `after` (a marker name).

        One list request when the filter is the facet listed; a filter checked on entries lists on, up to
        SCAN_LIMIT markers, and answers with what it found and a cursor to go on from."""
        facet = query.facet()
        prefix = f"{self.root}{facet}/"
        start = prefix + after if after else None
        if query.since_from and (start is None or start < prefix + f"{query.since_from:%Y%m%d}"):
            start = prefix + f"{query.since_from:%Y%m%d}"
        last_day = f"{query.since_to:%Y%m%d}" if query.since_to else None
        entries: list[AttentionEntry] = []
        unread: list[ListedObject] = []
        cursor = after
        # Not capped at `limit`: markers whose entry says otherwise are skipped, so the page lists on.
        listing = self.state.list(prefix, start_after=start)
        for scanned, listed in enumerate(listing, start=1):
            name = listed.key[len(prefix) :]
            if last_day and name[:8] > last_day:
                break
            if len(entries) >= limit or scanned > SCAN_LIMIT:
                return QueuePage(entries=entries, next_cursor=cursor)  # there is at least one more marker
            unread.append(listed)
            if len(unread) >= limit - len(entries) or scanned >= SCAN_LIMIT:
                entries += self._accepted(unread, facet, query)
                cursor, unread = name, []
        entries += self._accepted(unread, facet, query)
        return QueuePage(entries=entries, next_cursor=None)

    def _accepted(self, batch: list[ListedObject], facet: str, query: QueueFilter) -> list[AttentionEntry]:
        """The entries behind these markers that are current and pass the filter, in marker order."""
        if not batch:
            return []
        names = [listed.key.rsplit("/", 1)[-1] for listed in batch]
        ids = [match.group(2) if (match := MARKER_NAME.fullmatch(name)) else None for name in names]
        with ThreadPoolExecutor(max_workers=min(ENTRY_READERS, len(batch))) as pool:
            found = list(pool.map(lambda i: self.entry(i) if i else None, ids))
        accepted: list[AttentionEntry] = []
        for listed, name, entry in zip(batch, names, found, strict=True):
            if entry is None or facet not in entry.facets or not name.startswith(entry.since + "--"):
                self._repair(listed)
                continue
            if query.accepts(entry):
                accepted.append(entry)
        return accepted

    def _repair(self, listed: ListedObject) -> None:
        """A marker whose entry says otherwise: debris of a crash, or a mark() under way (then young)."""
        if self._clock() - listed.last_modified > REPAIR_AFTER:
            self.state.delete(listed.key)

    def counts(self) -> dict[str, int]:
        """Documents per reason, and in all; listed at most every COUNTS_TTL_SECONDS per process."""
        cached = self._counts
        if cached is not None and time.monotonic() - cached.at < COUNTS_TTL_SECONDS:
            return cached.values
        facets: dict[str, str] = {"all": "all"}
        facets.update({reason: f"reason/{reason}" for reason in ATTENTION_REASONS})
        with ThreadPoolExecutor(max_workers=len(facets)) as pool:  # each facet's listing is sequential
            values = dict(zip(facets, pool.map(self._count, facets.values()), strict=True))
        self._counts = _Counts(at=time.monotonic(), values=values)
        return values

    def _count(self, facet: str) -> int:
        return sum(1 for _ in self.state.list(f"{self.root}{facet}/"))

    # ---- keys ----

    def _item_key(self, request_file_id: str) -> str:
        return f"{self.items}{request_file_id}.json"

    def _marker_key(self, facet: str, entry: AttentionEntry) -> str:
        return f"{self.root}{facet}/{entry.since}--{entry.request_file_id}"
