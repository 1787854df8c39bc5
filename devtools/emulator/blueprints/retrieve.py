"""Predictions by file id, page id and time window, on the OpenAPI seed's `/Inferences/` paths and the
guide's older `/OCR/` paths. `new_retrieval_paths: false` makes the `/Inferences/` ones answer 404."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import known_file, message
from devtools.emulator.blueprints import API
from devtools.emulator.bodies import file_id_of_page, retrieval_body
from devtools.emulator.inputs import today
from devtools.emulator.state import current_state

retrieve_api = Blueprint("retrieve", __name__, url_prefix=API)


def _new_paths_off() -> Response | None:
    return None if current_state().config.new_retrieval_paths else message("Not Found", 404)


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>")
@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>/")
def inference_file(model: str, file_id: str) -> Response:
    return _new_paths_off() or _file(model, file_id)


@retrieve_api.get("/OCR/Model/<model>/getFile/<file_id>/")
def get_file_old(model: str, file_id: str) -> Response:
    return _file(model, file_id)


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>/page/<page_id>")
def inference_page(model: str, file_id: str, page_id: str) -> Response:
    return _new_paths_off() or _page(model, page_id, file_id)


@retrieve_api.get("/OCR/Model/<model>/ImageLevelInferences/<page_id>/")
def image_level(model: str, page_id: str) -> Response:
    return _page(model, page_id, None)


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/")
def inference_window(model: str) -> Response:
    return _new_paths_off() or _window(model)


@retrieve_api.get("/OCR/Model/<model>/getModelImages/")
def model_images(model: str) -> Response:
    return _window(model)


def _file(model: str, file_id: str) -> Response:
    found = known_file(current_state(), model, file_id)
    if isinstance(found, Response):
        return found
    body = retrieval_body([found])
    if found.rejected:
        body["status"] = "rejected"
    return jsonify(body)


def _page(model: str, page_id: str, file_id: str | None) -> Response:
    found = known_file(current_state(), model, file_id or file_id_of_page(page_id))
    if isinstance(found, Response):
        return found
    body = retrieval_body([found], only_page=page_id)
    if not body["moderated_images"] and not body["unmoderated_images"] and found.pages is not None:
        return message("Page not found", 404)
    return jsonify(body)


def _window(model: str) -> Response:
    state = current_state()
    if model not in state.config.model_ids:
        return message("Model not found", 404)
    try:
        interval = int(request.args["start_day_interval"])
        batch_day = int(request.args.get("current_batch_day", today()))
    except (KeyError, ValueError):
        return message("start_day_interval and current_batch_day are required integers", 400)
    if batch_day == 0:
        batch_day = today()  # the guide's "0 = today"
    with state.lock:
        records = [
            r
            for r in state.files.values()
            if r.model_id == model
            and r.state != "deleted"
            and batch_day - interval <= r.created_day <= batch_day
        ]
    return jsonify(retrieval_body(records))
