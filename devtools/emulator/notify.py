"""Webhooks: a file's body in the account's shape, sent in the background as often as the faults say."""

from __future__ import annotations

import functools
from typing import Any

from devtools.emulator.bodies import webhook_body
from devtools.emulator.state import EmulatorState, FileRecord
from devtools.emulator.webhooks import deliver

# The prediction shapes carry no review state, so a review webhook (approval, rejection) in an account set to
# one of them is sent in the retrieval shape, as the seeds' approval webhooks are.
NO_REVIEW_STATE = ("prediction", "prediction_nested")


def send_webhook(state: EmulatorState, record: FileRecord, *, review: bool = False) -> None:
    url = state.config.webhook_url
    if not url or not state.config.webhooks_enabled:
        return
    shape = state.next_shape()
    if review and shape in NO_REVIEW_STATE:
        shape = "retrieval"
    body = webhook_body(record, shape, state.config.score_scale)
    for _ in range(state.faults.webhook_copies()):
        record.webhooks_sent += 1
        state.background.submit(
            functools.partial(
                deliver,
                url,
                _shuffled(state, body),
                retries=state.config.webhook_retries,
                retry_delay=state.config.webhook_retry_delay,
            )
        )


def _shuffled(state: EmulatorState, body: Any) -> Any:
    if isinstance(body, list):
        return state.faults.shuffle(body)
    body = dict(body)
    for key in ("result", "moderated_images", "unmoderated_images"):
        if isinstance(body.get(key), list):
            body[key] = state.faults.shuffle(body[key])
    return body
