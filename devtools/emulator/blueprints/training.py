"""Training: upload files or URLs with annotations, then train."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import message, unknown_model
from devtools.emulator.blueprints import API
from devtools.emulator.inputs import urls_and_metadata
from devtools.emulator.state import current_state

training_api = Blueprint("training", __name__, url_prefix=API + "/OCR/Model/<model>")


@training_api.post("/UploadFile/")
def upload_file(model: str) -> Response:
    refused = unknown_model(current_state(), model)
    if refused:
        return refused
    uploads = request.files.getlist("file")
    if not uploads or not request.form.get("data"):
        return message("file and data are required", 400)
    return jsonify(
        {"message": "Success", "result": [{"filename": u.filename, "status": "uploaded"} for u in uploads]}
    )


@training_api.post("/UploadUrls/")
def upload_urls(model: str) -> Response:
    refused = unknown_model(current_state(), model)
    if refused:
        return refused
    urls, _ = urls_and_metadata()
    if not urls:
        return message("urls is required", 400)
    return jsonify({"message": "Success", "result": [{"url": u, "status": "uploaded"} for u in urls]})


@training_api.post("/Train/")
def train(model: str) -> Response:
    return unknown_model(current_state(), model) or jsonify(
        {"message": "Training started", "model_id": model}
    )
