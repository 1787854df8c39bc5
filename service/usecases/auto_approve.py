"""AUTO_APPROVE: a document that passed validation with every field confident enough is approved in
Nanonets by the service itself (review `auto_approved`); if Nanonets refuses, it stays pending."""

from __future__ import annotations

import logging

from service.core.rules import Rules
from service.errors import NanonetsError
from service.models.document import NormalizedDocument
from service.ports import Ocr

log = logging.getLogger(__name__)


class AutoApproval:
    def __init__(self, ocr: Ocr, *, enabled: bool, min_confidence: float) -> None:
        self._ocr = ocr
        self._enabled = enabled
        self._min_confidence = min_confidence  # a field's rule may set its own bar (`min_confidence`)

    def apply(self, document: NormalizedDocument, rules: Rules | None, model_id: str) -> NormalizedDocument:
        """The document approved in Nanonets when it qualifies; else as it was."""
        if not self._qualifies(document, rules):
            return document
        file_id = document.nanonets.request_file_id
        try:
            self._ocr.approve(file_id, model_id)
        except NanonetsError as error:
            log.warning(
                "auto-approve failed; left pending", extra={"request_file_id": file_id, "error": str(error)}
            )
            return document
        return document.model_copy(update={"review": "auto_approved"})

    def _qualifies(self, document: NormalizedDocument, rules: Rules | None) -> bool:
        if not self._enabled or document.review != "pending":
            return False
        if document.validation.status != "passed" or not document.fields:
            return False
        for label, value in document.fields.items():
            rule = rules.fields.get(label) if rules else None
            bar = rule.min_confidence if rule and rule.min_confidence is not None else None
            bar = self._min_confidence if bar is None else bar
            if value.confidence is None or value.confidence < bar:
                return False
        return True
