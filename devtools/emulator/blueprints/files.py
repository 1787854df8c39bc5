"""What a file can have done to it after prediction: approve, delete, update its fields, export."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import known_file, message, ready_file
from devtools.emulator.blueprints import API
from devtools.emulator.notify import send_webhook
from devtools.emulator.state import current_state

files_api = Blueprint("files", __name__, url_prefix=API + "/OCR/Model/<model>")


@files_api.post("/ApproveFile/<file_id>/")
def approve(model: str, file_id: str) -> Response:
    state = current_state()
    found = ready_file(state, model, file_id)
    if isinstance(found, Response):
        return found
    found.approved, found.rejected = True, False
    send_webhook(state, found, "retrieval", moderated=True)
    return jsonify({"message": "Success"})


@files_api.delete("/DeleteFile/<file_id>/")
def delete(model: str, file_id: str) -> Response:
    found = known_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    found.state = "deleted"
    return jsonify({"message": "Success"})


@files_api.patch("/UpdateFile/<file_id>/")
def update(model: str, file_id: str) -> Response:
    found = ready_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    body = request.get_json(silent=True)
    changes = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(changes, list) or not all(isinstance(c, dict) and "label" in c for c in changes):
        return message('expected {"fields": [{"label": ..., "ocr_text": ...}]}', 400)
    texts = {str(c["label"]): str(c.get("ocr_text", "")) for c in changes}
    for page in found.pages or []:
        for box in page:
            if box.get("label") in texts:
                box["ocr_text"] = texts[box["label"]]
    return jsonify({"message": "Success"})


@files_api.post("/ExportFile/<file_id>/")
def export(model: str, file_id: str) -> Response:
    found = ready_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    return jsonify({"message": "Success", "request_file_id": file_id})
