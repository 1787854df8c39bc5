"""Webhook and retrieval bodies → the file-level view (`FilePrediction`). Pure.

One parser for every body shape Nanonets sends (docs/OUTPUT.md, "Input shapes"), alone or mixed in one body:
- the prediction response: `result[]` of pages with `prediction[]` (the seeds), also nested one level
  deeper, `result[0].result[...]` (older accounts; the API reference's async example);
- the per-document export: `result` is one object; the boxes of every page sit in one list
  (`predicted_boxes` or `prediction`), each box naming its `page`; a person's corrections in
  `moderated_boxes`; the file id in `request_file_id`, else in the export's `id`;
- the page-level / retrieval shape: `moderated_images[]` / `unmoderated_images[]` of page objects;
- a bare JSON array of page objects; a bare page or export object.
Unknown keys are normal. Pages are grouped by file and sorted by index; a page delivered twice is kept
once (the fuller copy). A page that names no file refuses the body (`no_request_file_id`): guessing could
mix files, and reconcile recovers the files it did name by their id. Any other refusal is a typed
`PayloadRejected` (`unknown_shape`, `invalid_payload`), never an unhandled exception.

Pages and boxes are read into the lean view of `service.models.nanonets_lean` (the same acceptance as the
full models, without their per-box cost). A webhook body is decoded once and validated once, an entry
at a time (`parse_payload_bytes`); what that refuses is parsed again entry by entry with the full models,
so a refusal names the value exactly as they do.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from service.core.collector import collector_paused
from service.errors import PayloadRejected
from service.models.document import trusted
from service.models.nanonets import (
    AnyBox,
    BodyEnvelope,
    FilePrediction,
    PageEntry,
    PagePrediction,
    parse_request_metadata,
)
from service.models.nanonets_lean import (
    LEAN_BODY,
    LEAN_LISTED,
    LEAN_PAGE,
    BoxView,
    LeanBody,
    LeanBox,
    LeanListed,
    LeanPage,
    page_named_by,
)

ReviewHint = Literal["pending", "approved", "rejected"]
RETRIEVAL_KEYS = ("moderated_images", "unmoderated_images")
BOX_KEYS = ("prediction", "predicted_boxes", "moderated_boxes")
ENVELOPE_KEYS = ("message", "signed_urls", "moderated_images_count", "unmoderated_images_count")
# Where a body may say which export trigger sent it or what became of the file.
TRIGGER_KEYS = ("status", "trigger", "event", "event_type", "action", "approval_status")
APPROVED = frozenset({"approved", "approve", "approval", "on approval", "verified"})
REJECTED = frozenset({"rejected", "reject", "rejection", "on rejection"})
MAX_NESTING = 4  # result[0].result[...] is one level; deeper bodies are not Nanonets'
_SEPARATORS = re.compile(r"[\s_-]+")


@dataclass(slots=True)
class _Entry:
    """A page or export object found in the body, validated, with where it was and which list held it."""

    page: LeanPage
    where: str
    listed_moderated: bool | None = None  # True: moderated_images; False: unmoderated_images


@dataclass(slots=True)
class _PageParts:
    boxes: list[AnyBox] = field(default_factory=list)
    moderated: list[AnyBox] | None = None
    width: float | None = None
    height: float | None = None


@dataclass
class _Body:
    entries: list[_Entry]
    file_id: str | None
    hint: ReviewHint | None


# Reads one page or export object of the body, `where` naming it in a refusal.
_EntryReader = Callable[[object, str], LeanPage]


def parse_payload(data: object) -> list[FilePrediction]:
    """Every file a webhook body speaks of. Raises PayloadRejected for an unknown or invalid shape."""
    return _parse(data, default_file_id=None)


def parse_payload_bytes(body: bytes) -> list[FilePrediction]:
    """`parse_payload(decode_json(body))`, validating the decoded body once into the lean view, an entry at a
    time in place (`_validated_in_place`).

    Raises PayloadRejected as that does: `not_json` for a body that is not JSON, the same code and message
    for any other refusal (a body the lean validation refuses is parsed again the way that names it)."""
    with collector_paused():  # a body is a large, cycle-free tree: see service.core.collector
        decoded = _decoded(body)
        try:
            data = _validated_in_place(decoded)
        except (ValidationError, RecursionError):
            return parse_payload(decoded)
        return _collect(_read_body(data, _validated), default_file_id=None)


def _decoded(body: bytes) -> object:
    """The body's JSON tree, read by pydantic-core's parser (jiter): it takes half the time of `json.loads`
    and, sharing equal short strings (labels, keys, statuses), half its memory (docs/BENCHMARKS.md, table
    2). The few bodies it refuses that `json.loads` reads (a BOM, UTF-16, a lone surrogate) or refuses in
    words of its own go to `decode_json`, so what is accepted, and how a refusal reads, stays as it was."""
    try:
        return from_json(body)
    except ValueError:
        return decode_json(body)


def _validated_in_place(decoded: object) -> LeanBody | list[LeanListed]:
    """`LEAN_BODY.validate_python(decoded)`, one entry at a time where the body is a list of entries (a
    `result` list, a bare array): each decoded entry is replaced by its validated copy, so it is freed as
    soon as that exists and the two trees are never whole at once (peak memory: the decoded body and one
    entry, not twice the body).

    The same values: `LEAN_BODY` validates such a list entry by entry as `LeanListed` too. If an entry is
    refused, the entries before it are their validated copies, which the fallback reads as it would
    their originals (validating a validated entry gives it back; the keys it dropped are read by no one)."""
    entries: list[Any] | None = decoded if isinstance(decoded, list) else None
    if isinstance(decoded, dict) and isinstance(decoded.get("result"), list):
        entries = decoded["result"]
    if entries is None:
        return LEAN_BODY.validate_python(decoded)
    for position, entry in enumerate(entries):
        entries[position] = LEAN_LISTED.validate_python(entry)
    if isinstance(decoded, list):
        return cast(list[LeanListed], entries)
    body = cast(LeanBody, LEAN_BODY.validate_python({**cast(dict[str, Any], decoded), "result": []}))
    body["result"] = entries
    return body


def decode_json(body: bytes) -> object:
    """JSON or PayloadRejected('not_json'); deep nesting is rejected rather than crashing the parser."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadRejected("not_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise PayloadRejected("not_json", "the body is JSON nested too deeply to parse") from None


def parse_retrieval(data: object, request_file_id: str) -> FilePrediction:
    """The answer of "get prediction by file id": `ready=False` while it has no page yet."""
    for prediction in _parse(data, default_file_id=request_file_id):
        if prediction.request_file_id == request_file_id:
            return prediction
    return FilePrediction(request_file_id=request_file_id, ready=False)


def _parse(data: object, *, default_file_id: str | None) -> list[FilePrediction]:
    return _collect(_read_body(data, _checked), default_file_id=default_file_id)


def _collect(body: _Body, *, default_file_id: str | None) -> list[FilePrediction]:
    by_file: dict[str, list[_Entry]] = {}
    for entry in body.entries:
        file_id = _file_id(entry, body.file_id, default_file_id)
        if file_id is None:
            raise PayloadRejected(
                "no_request_file_id",
                f"{entry.where or 'the body'} names no file: no request_file_id, no export id, "
                "none in request_metadata",
            )
        same_file = by_file.get(file_id)
        if same_file is None:
            by_file[file_id] = [entry]
        else:
            same_file.append(entry)
    return [_file_prediction(file_id, entries, body.hint) for file_id, entries in by_file.items()]


# ---------------------------------------------------------------------------------- finding the pages


def _read_body(data: object, read: _EntryReader) -> _Body:
    """The entries of a body: as decoded (`read` validates each) or as `LEAN_BODY` validated it."""
    if isinstance(data, list):
        if not any(_is_page(item) or _has_nested(item) for item in data):
            raise PayloadRejected("unknown_shape", "a JSON array, but not of Nanonets page objects")
        return _Body(list(_list_entries(data, "", read, depth=0)), None, None)
    if not isinstance(data, dict):
        raise PayloadRejected("unknown_shape", f"expected a JSON object or array, got {_kind(data)}")
    entries = list(_dict_entries(data, read))
    if not entries and not _names_a_shape(data):
        raise PayloadRejected(
            "unknown_shape",
            "not a Nanonets body: no result (list or export object), moderated_images/unmoderated_images, "
            "or boxes",
        )
    if read is _checked:
        _validate(BodyEnvelope, {key: data[key] for key in ENVELOPE_KEYS if key in data}, "")
    top_file_id = data.get("request_file_id")
    return _Body(entries, top_file_id if isinstance(top_file_id, str) else None, _body_hint(data))


def _names_a_shape(data: Mapping[str, Any]) -> bool:
    """A body that is one of the shapes but holds no page yet (an empty list, async "accepted" entries)."""
    result = data.get("result")
    return isinstance(result, list) or _is_entry_object(result) or any(key in data for key in RETRIEVAL_KEYS)


def _dict_entries(data: Mapping[str, Any], read: _EntryReader) -> Iterator[_Entry]:
    result = data.get("result")
    if isinstance(result, list):
        yield from _list_entries(result, "result", read, depth=0)
    elif isinstance(result, dict):
        if _has_nested(result):
            yield from _list_entries(result["result"], "result.result", read, depth=1)
        if _is_page(result):
            yield _Entry(read(result, "result"), "result")
    for moderated, key in ((True, "moderated_images"), (False, "unmoderated_images")):
        if key in data:
            yield from _retrieval_entries(data[key], key, moderated, read)
    if _is_page(data):
        yield _Entry(read(data, ""), "")  # a bare page or export object


def _list_entries(items: Sequence[Any], where: str, read: _EntryReader, *, depth: int) -> Iterator[_Entry]:
    if depth > MAX_NESTING:
        raise PayloadRejected("invalid_payload", f"{where}: result lists nested too deeply")
    for position, item in enumerate(items):
        here = f"{where}.{position}" if where else str(position)
        if not isinstance(item, dict):
            read(item, here)  # raises, naming where
            continue
        if _has_nested(item):
            yield from _list_entries(item["result"], f"{here}.result", read, depth=depth + 1)
        if _is_page(item):
            yield _Entry(read(item, here), here)
        # else: an "accepted" entry of an async submission: no prediction yet


def _retrieval_entries(items: object, key: str, moderated: bool, read: _EntryReader) -> Iterator[_Entry]:
    if not isinstance(items, list):
        raise PayloadRejected("invalid_payload", f"{key}: expected a list of pages, got {_kind(items)}")
    for position, item in enumerate(items):
        where = f"{key}.{position}"
        yield _Entry(read(item, where), where, listed_moderated=moderated)


def _is_page(item: object) -> bool:
    # BOX_KEYS spelled out: this runs for every entry of every body
    return isinstance(item, dict) and (
        "prediction" in item or "predicted_boxes" in item or "moderated_boxes" in item
    )


def _has_nested(item: object) -> bool:
    return isinstance(item, dict) and isinstance(item.get("result"), list)


def _is_entry_object(item: object) -> bool:
    return isinstance(item, dict) and (
        _is_page(item) or _has_nested(item) or isinstance(item.get("request_file_id"), str)
    )


def _checked(item: object, where: str) -> LeanPage:
    """A decoded entry, validated into the lean view; refused with the full model's words."""
    try:
        return LEAN_PAGE.validate_python(item)
    except ValidationError:
        pass
    except RecursionError:
        raise PayloadRejected("invalid_payload", "the body is nested too deeply") from None
    _validate(PageEntry, item, where)  # the same acceptance: this raises, naming the value
    raise PayloadRejected("invalid_payload", f"{where or 'body'}: not a Nanonets page object")


def _validated(item: object, where: str) -> LeanPage:
    """An entry of a body `LEAN_BODY` validated: nothing left to check."""
    return cast(LeanPage, item)


def _validate(model: type[BaseModel], data: object, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        path = ".".join(part for part in (where, *(str(p) for p in first["loc"])) if part) or "body"
        raise PayloadRejected("invalid_payload", f"{path}: {first['msg']}") from None
    except RecursionError:
        raise PayloadRejected("invalid_payload", "the body is nested too deeply") from None


# ------------------------------------------------------------------------------------ naming the file


def _file_id(entry: _Entry, top_file_id: str | None, default_file_id: str | None) -> str | None:
    page = entry.page
    # A page object's `id` is the page's; only an export object (no page index) uses `id` for the file.
    export_id = page.get("id") if page.get("page") is None and entry.listed_moderated is None else None
    for candidate in (page.get("request_file_id"), top_file_id, default_file_id, export_id):
        if isinstance(candidate, str) and candidate:
            return candidate
    metadata = parse_request_metadata(page.get("request_metadata")) or {}  # last: it costs a json.loads
    candidate = metadata.get("request_file_id")
    return candidate if isinstance(candidate, str) and candidate else None


# ----------------------------------------------------------------------------------- review state


def _phrase(value: object) -> str:
    """`On_Approval`, `on-approval` and ` On Approval ` alike; whole phrases only, so `not_approved` or
    `unapproved` never read as approved."""
    return " ".join(_SEPARATORS.split(value.strip().lower())) if isinstance(value, str) else ""


def _hint(values: Sequence[object], rejected_flag: object = None) -> ReviewHint | None:
    phrases = {_phrase(value) for value in values if value is not None}
    if phrases & REJECTED or rejected_flag is True:
        return "rejected"
    return "approved" if phrases & APPROVED else None


def _body_hint(data: Mapping[str, Any]) -> ReviewHint | None:
    """The trigger or status a body carries: On Approval, On Rejection, `approval_status`, `is_rejected`."""
    return _hint([data.get(key) for key in TRIGGER_KEYS], data.get("is_rejected"))


def _entry_hint(entry: _Entry) -> ReviewHint | None:
    page = entry.page
    approval, status, rejected = page.get("approval_status"), page.get("status"), page.get("is_rejected")
    if approval is None and status is None and rejected is None:
        return None  # most pages say nothing: no phrases to read
    return _hint([approval, status], rejected)


def _is_moderated(entry: _Entry) -> bool:
    return entry.listed_moderated is True or entry.page.get("is_moderated") is True


def _review(entries: Sequence[_Entry], body_hint: ReviewHint | None) -> ReviewHint:
    hints = {body_hint, *(_entry_hint(entry) for entry in entries)}
    if "rejected" in hints:
        return "rejected"
    # "Moderated" means approved in Nanonets; approval is per file, so every page must say so.
    if "approved" in hints or (entries and all(_is_moderated(entry) for entry in entries)):
        return "approved"
    return "pending"


# ------------------------------------------------------------------------------------------- pages


def _file_prediction(file_id: str, entries: list[_Entry], body_hint: ReviewHint | None) -> FilePrediction:
    merged: dict[int, _PageParts] = {}
    for position, entry in enumerate(entries):
        for index, parts in _entry_pages(entry.page, position).items():
            if index in merged:
                _merge(merged[index], parts)
            else:
                merged[index] = parts
    metadata = next((m for e in entries if (m := e.page.get("request_metadata")) not in (None, "")), None)
    # Not validated again (`trusted`): every value here comes from entries the lean view validated, typed
    # as the models declare (str ids, int page indexes >= 0, float sizes, boxes in their views).
    return trusted(
        FilePrediction,
        {
            "request_file_id": file_id,
            "pages": tuple([_page_prediction(index, merged[index]) for index in sorted(merged)]),
            "request_metadata": parse_request_metadata(metadata),
            "review": _review(entries, body_hint),
            "ready": bool(merged),
            "model_id": next((m for e in entries if (m := e.page.get("model_id"))), None),
            "file_size": _file_size(entries),
        },
    )


def _file_size(entries: Sequence[_Entry]) -> tuple[float, float] | None:
    """The size an export object (no page of its own) gives for its whole file: see `FilePrediction`."""
    for entry in entries:
        page = entry.page
        if page.get("page") is None and (size := page.get("size")) is not None:
            width, height = _positive(size.get("width")), _positive(size.get("height"))
            if width is not None and height is not None and math.isfinite(width) and math.isfinite(height):
                return (width, height)
    return None


def _entry_pages(page: LeanPage, position: int) -> dict[int, _PageParts]:
    """The pages one entry speaks of: a page object's own page, or, for an export object, every page its
    boxes name. A box's own `page` wins over its entry's (live boxes carry it); the legacy `page_no` does
    not (the seeds' page index came first)."""
    listed = page.get("page")
    own = listed if listed is not None and listed >= 0 else None
    predicted = page.get("predicted_boxes") or page.get("prediction") or ()
    moderated = page.get("moderated_boxes") or ()  # empty or null: nobody reviewed (as integrations assume)
    parts: dict[int, _PageParts] = {}
    for box in predicted:
        index = box.get("page")  # _box_page's first two answers, inline: this runs for every box
        if index is None or index < 0:
            index = own if own is not None else _box_page(box, own, position)
        part = parts.get(index)
        if part is None:
            part = parts[index] = _PageParts()
        part.boxes.append(BoxView(box))
    for box in moderated:
        index = _box_page(box, own, position)
        part = parts.get(index) or parts.setdefault(index, _PageParts())
        if part.moderated is None:
            part.moderated = []
        part.moderated.append(BoxView(box))
    if own is not None or not parts:
        whole = position if own is None else own
        if whole not in parts:
            parts[whole] = _PageParts()
    elif any(page_named_by(box) is not None for box in (*predicted, *moderated)):
        for index in range(max(parts)):  # an export covers its whole document: pages without boxes too
            parts.setdefault(index, _PageParts())
    sized = own if own is not None else (next(iter(parts)) if len(parts) == 1 else None)
    size = page.get("size")
    if sized is not None and size is not None:
        parts[sized].width, parts[sized].height = _positive(size.get("width")), _positive(size.get("height"))
    return parts


def _box_page(box: LeanBox, own: int | None, fallback: int) -> int:
    page = box.get("page")
    if page is not None and page >= 0:
        return page
    if own is not None:
        return own
    index = page_named_by(box)
    return fallback if index is None else index


def _merge(into: _PageParts, other: _PageParts) -> None:
    """The same page delivered twice: keep the fuller copy of each list, not both."""
    if len(other.boxes) > len(into.boxes):
        into.boxes = other.boxes
    if other.moderated is not None and len(other.moderated) > len(into.moderated or []):
        into.moderated = other.moderated
    if into.width is None and into.height is None:
        into.width, into.height = other.width, other.height


def _page_prediction(index: int, parts: _PageParts) -> PagePrediction:
    return trusted(
        PagePrediction,
        {
            "page": index,
            "boxes": tuple(parts.boxes),
            "moderated_boxes": None if parts.moderated is None else tuple(parts.moderated),
            "width": parts.width,
            "height": parts.height,
        },
    )


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
