"""What happens to a file after submission: prediction (now or later), approval, un-approval, rejection,
and a person's review with corrected values (`moderated_boxes`)."""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Mapping

from devtools.emulator.notify import send_webhook
from devtools.emulator.predictions import Pages, predict
from devtools.emulator.state import EmulatorState, FileRecord


def predict_now(record: FileRecord) -> None:
    record.pages = predict(record.content, record.name)
    record.state = "ready"
    record.predictions += 1
    record.updated_at = time.time()


def predict_later(state: EmulatorState, record: FileRecord) -> None:
    """After `processing_delay`, predict and send the On-Inference webhook."""
    record.pages, record.state = None, "processing"
    state.background.submit(functools.partial(_finish, state, record), state.config.processing_delay)


def _finish(state: EmulatorState, record: FileRecord) -> None:
    predict_now(record)
    send_webhook(state, record)


def approve(state: EmulatorState, record: FileRecord) -> None:
    """Verify / ApproveFile: approved; the boxes as they stand become the moderated ones."""
    if record.moderated is None:
        record.moderated = copy.deepcopy(record.pages)
    _set_status(record, "approved")
    send_webhook(state, record, review=True)


def unverify(record: FileRecord) -> None:
    _set_status(record, "pending")


def reject(state: EmulatorState, record: FileRecord) -> None:
    _set_status(record, "rejected")
    send_webhook(state, record, review=True)


def review(
    state: EmulatorState, record: FileRecord, corrections: Mapping[str, str], *, approve: bool
) -> None:
    """A person corrects values in Nanonets: `moderated_boxes` become copies of the predicted boxes with the
    corrected `ocr_text` (a label the model missed is added on the first page), `predicted_boxes` keep the
    model's guess. With `approve`, the file is approved and the On-Approval webhook goes out."""
    record.moderated = corrected(record.pages or [], corrections)
    if approve:
        _set_status(record, "approved")
        send_webhook(state, record, review=True)
    else:
        record.updated_at = time.time()


def corrected(pages: Pages, corrections: Mapping[str, str]) -> Pages:
    moderated = copy.deepcopy(pages) or [[]]
    found: set[str] = set()
    for page in moderated:
        for box in page:
            label = str(box.get("label", ""))
            if label in corrections and box.get("type", "field") == "field":
                box["ocr_text"] = corrections[label]
                box["status"] = "moderated"
                found.add(label)
    for label, text in corrections.items():
        if label not in found:
            moderated[0].append({"label": label, "ocr_text": text, "type": "field", "score": 1.0, "page": 0})
    return moderated


def _set_status(record: FileRecord, status: str) -> None:
    record.approval_status = status
    record.updated_at = time.time()
