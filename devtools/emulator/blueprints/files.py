"""What can be done to a file after prediction: approve (today's Verify/UnVerify, the guide's ApproveFile),
retry its prediction, delete it, update its fields, export it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator import lifecycle
from devtools.emulator.answers import known_file, message, ready_file, require_family, unknown_model
from devtools.emulator.blueprints import API
from devtools.emulator.state import FileRecord, current_state

files_api = Blueprint("files", __name__, url_prefix=API)


@files_api.post("/Inferences/Model/<model>/ImageLevelInferences/Verify/<file_id>")
def verify(model: str, file_id: str) -> Response:
    require_family("live_paths")
    return _approve(model, file_id)


@files_api.post("/Inferences/Model/<model>/ImageLevelInferences/UnVerify/<file_id>")
def unverify(model: str, file_id: str) -> Response:
    require_family("live_paths")
    found = ready_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    lifecycle.unverify(found)
    return jsonify({"message": "Success"})


@files_api.post("/OCR/Model/<model>/ApproveFile/<file_id>/")
def approve_file(model: str, file_id: str) -> Response:
    require_family("guide_paths")
    return _approve(model, file_id)


def _approve(model: str, file_id: str) -> Response:
    state = current_state()
    found = ready_file(state, model, file_id)
    if isinstance(found, Response):
        return found
    lifecycle.approve(state, found)
    return jsonify({"message": "Success"})


@files_api.post("/ObjectDetection/Model/<model>/RetryPrediction")
def retry_prediction(model: str) -> Response:
    require_family("live_paths")
    state = current_state()
    refused = unknown_model(state, model)
    if refused:
        return refused
    body = request.get_json(silent=True)
    file_ids = body.get("file_ids") if isinstance(body, dict) else None
    if not isinstance(file_ids, list) or not file_ids or not all(isinstance(i, str) for i in file_ids):
        return message('expected {"file_ids": ["...", ...]}', 400)
    found = [known_file(state, model, file_id) for file_id in file_ids]
    records = [f for f in found if isinstance(f, FileRecord)]
    for record in records:
        lifecycle.predict_later(state, record)
    retried = {r.request_file_id for r in records}
    return jsonify(
        {"message": "Success", "retried": sorted(retried), "not_found": sorted(set(file_ids) - retried)}
    )


@files_api.delete("/OCR/Model/<model>/DeleteFile/<file_id>/")
def delete(model: str, file_id: str) -> Response:
    found = known_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    found.state = "deleted"
    return jsonify({"message": "Success"})


@files_api.patch("/OCR/Model/<model>/UpdateFile/<file_id>/")
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


@files_api.post("/OCR/Model/<model>/ExportFile/<file_id>/")
def export(model: str, file_id: str) -> Response:
    found = ready_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    return jsonify({"message": "Success", "request_file_id": file_id})
