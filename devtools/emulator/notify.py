"""Webhooks: the body of a file in the configured shape, sent in the background as often as the faults say."""

from __future__ import annotations

import functools
from typing import Any

from devtools.emulator.bodies import prediction_pages, retrieval_body
from devtools.emulator.inputs import name_of
from devtools.emulator.state import EmulatorState, FileRecord
from devtools.emulator.webhooks import deliver


def send_webhook(
    state: EmulatorState, record: FileRecord, shape: str, *, moderated: bool = False, rejected: bool = False
) -> None:
    url = state.config.webhook_url
    if not url or not state.config.webhooks_enabled:
        return
    copies = state.faults.webhook_copies()
    if shape == "retrieval":
        body = retrieval_body([record], moderated=moderated)
        if rejected:
            body["status"] = "rejected"
    else:
        body = {
            "message": "Success",
            "result": prediction_pages(record, name_of(record.source)),
            "signed_urls": {},
        }
    for _ in range(copies):
        sent = _shuffled(state, body)
        record.webhooks_sent += 1
        state.background.submit(
            functools.partial(
                deliver,
                url,
                sent,
                retries=state.config.webhook_retries,
                retry_delay=state.config.webhook_retry_delay,
            )
        )


def _shuffled(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    for key in ("result", "moderated_images", "unmoderated_images"):
        if isinstance(body.get(key), list):
            body[key] = state.faults.shuffle(body[key])
    return body
