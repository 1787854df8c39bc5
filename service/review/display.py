"""What the pages show, computed from the records: pure functions, so templates stay simple and testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from service.core.rules import Rules
from service.models.document import DocumentField, NormalizedDocument
from service.models.ledger import LedgerRecord, utc_iso
from service.review.models import AttentionEntry, AttentionReason, AuditRecord
from service.review.overrides import editable_labels

REASON_LABELS: dict[AttentionReason, str] = {
    "validation_failed": "Validation failed",
    "low_confidence": "Low confidence",
    "pending_too_long": "Pending too long",
    "quarantined": "Quarantined",
    "rejected": "Rejected in Nanonets",
}
ISSUE_CODES = ("missing", "low_confidence", "bad_format", "pattern_mismatch")


@dataclass(frozen=True)
class Box:
    label: str
    x: float
    y: float
    width: float
    height: float
    status: str  # ok | low | bad
    candidate: bool = False  # another reading of the label, kept in `others`


@dataclass
class FieldRow:
    label: str
    value: str
    normalized: str
    type: str
    confidence: float | None
    source: str
    predicted: str | None
    page: int | None
    issues: list[str] = field(default_factory=list)
    status: str = "ok"
    missing: bool = False

    @property
    def confidence_percent(self) -> str:
        return "—" if self.confidence is None else f"{self.confidence * 100:.0f}%"


@dataclass(frozen=True)
class HistoryEvent:
    at: str
    title: str
    detail: str = ""
    by: str | None = None


def field_rows(document: NormalizedDocument, rules: Rules | None, min_confidence: float) -> list[FieldRow]:
    issues: dict[str, list[str]] = {}
    for issue in document.validation.issues:
        issues.setdefault(issue.field, []).append(issue.message)
    rows = []
    for label in editable_labels(document, rules):
        found = document.fields.get(label)
        rows.append(_row(label, found, issues.get(label, []), _bar(label, rules, min_confidence)))
    return rows


def _bar(label: str, rules: Rules | None, default: float) -> float:
    rule = rules.fields.get(label) if rules else None
    return rule.min_confidence if rule is not None and rule.min_confidence is not None else default


def _row(label: str, found: DocumentField | None, issues: list[str], bar: float) -> FieldRow:
    if found is None:
        return FieldRow(label, "", "", "text", None, "—", None, None, issues, "bad" if issues else "ok", True)
    low = found.confidence is not None and found.confidence < bar
    return FieldRow(
        label=label,
        value=found.value,
        normalized="" if found.normalized is None else str(found.normalized),
        type=found.type,
        confidence=found.confidence,
        source=found.source,
        predicted=found.predicted,
        page=found.page,
        issues=issues,
        status="bad" if issues else "low" if low else "ok",
    )


def page_boxes(document: NormalizedDocument, rows: list[FieldRow], page: int) -> list[Box]:
    """Every field's box on this page, and its other readings, in the coordinates Nanonets gave."""
    status = {row.label: row.status for row in rows}
    boxes: list[Box] = []
    for label, found in document.fields.items():
        if found.page == page and found.bbox:
            boxes.append(_box(label, found.bbox, status.get(label, "ok")))
        for other in found.others:
            if other.page == page and other.bbox:
                boxes.append(_box(label, other.bbox, "ok", candidate=True))
    return boxes


def _box(label: str, bbox: list[float], status: str, *, candidate: bool = False) -> Box:
    xmin, ymin, xmax, ymax = bbox
    return Box(label, xmin, ymin, max(xmax - xmin, 1.0), max(ymax - ymin, 1.0), status, candidate)


def reported_page_size(document: NormalizedDocument, page: int) -> tuple[float, float] | None:
    """The page size Nanonets measured the boxes in, when the document says it (output 1.1 `pages_info`)."""
    for info in document.pages_info:
        if info.page == page and info.width and info.height:
            return info.width, info.height
    return None


def history(
    record: LedgerRecord, raw_times: list[tuple[str, str]], audit: list[AuditRecord]
) -> list[HistoryEvent]:
    """Submitted, each result received (webhook, fetch or replay), quarantine, and every console action."""
    events = [HistoryEvent(utc_iso(record.submitted_at), "Submitted to Nanonets", record.source.key)]
    for at, raw_key in raw_times:
        name = raw_key.rsplit("/", 1)[-1]
        events.append(
            HistoryEvent(at, "Result from Nanonets", f"webhook, fetch or replay · raw body {name[:12]}…")
        )
    if record.status in ("failed", "superseded") and record.reason:
        events.append(HistoryEvent(utc_iso(record.updated_at), f"Marked {record.status}", record.reason))
    events += [_audit_event(item) for item in audit]
    return sorted(events, key=lambda event: event.at)


def _audit_event(item: AuditRecord) -> HistoryEvent:
    if item.action == "edit":
        return HistoryEvent(item.at, f"Edited {item.field}", f"{item.before!s} → {item.after!s}", item.by)
    titles = {
        "approve": "Approved",
        "reject": "Rejected",
        "push": "Sent to Nanonets",
        "push_failed": "Sending to Nanonets failed",
    }
    return HistoryEvent(item.at, titles[item.action], item.reason or "", item.by)


def when(iso_time: str) -> str:
    """'2026-11-25T23:12:24Z' -> '2026-11-25 23:12:24 UTC' (unchanged when it is not such a time)."""
    try:
        moment = datetime.fromisoformat(iso_time.replace("Z", "+00:00"))
    except ValueError:
        return iso_time
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def entry_age(entry: AttentionEntry, now: datetime) -> str:
    since = datetime.strptime(entry.since, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def since_display(entry: AttentionEntry) -> str:
    since = datetime.strptime(entry.since, "%Y%m%dT%H%M%SZ")
    return since.strftime("%Y-%m-%d %H:%M UTC")
