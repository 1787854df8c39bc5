"""The identity of a normalized document's content, without the time it was processed. Pure.

Kept in the ledger (`output_digest`, `normalized_digest`), so a repeated webhook writes nothing, and in the
id of a completion event, so a consumer sees one event per content. Its definition is therefore part of the
stored state: changing it would make every stored digest differ once from what the same content gives.
"""

from __future__ import annotations

import hashlib
import json

from service.models.document import NormalizedDocument


def document_digest(document: NormalizedDocument) -> str:
    payload = document.model_dump(mode="json", exclude={"processed_at"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
