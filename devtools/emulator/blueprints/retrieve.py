"""Predictions by file id, page id and time window, in three path families that accounts have met over
time, each of which `/_emulator/config` can switch off (its paths then answer 404 like unknown paths):
- `live_paths`: today's API, `Inferences/Model/{m}/InferenceRequestFiles/GetPredictions/{id}` and
  `Inferences/Model/{m}/ImageLevelInferences[/{page_id}]`;
- `new_retrieval_paths`: the OpenAPI seed's `Inferences/Model/{m}/InferenceRequest/...`;
- `guide_paths`: the guide's `OCR/Model/{m}/getFile`, `ImageLevelInferences`, `getModelImages`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devtools.emulator.answers import known_file, message, require_family
from devtools.emulator.blueprints import API
from devtools.emulator.bodies import file_id_of_page, page_id, prediction_entry, retrieval_body
from devtools.emulator.inputs import today
from devtools.emulator.state import current_state

retrieve_api = Blueprint("retrieve", __name__, url_prefix=API)


# ---- today's paths ----


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequestFiles/GetPredictions/<file_id>")
def get_predictions(model: str, file_id: str) -> Response:
    require_family("live_paths")
    return _file(model, file_id)


@retrieve_api.get("/Inferences/Model/<model>/ImageLevelInferences/<page>")
def live_page(model: str, page: str) -> Response:
    """The API reference answers a page in the prediction shape (`okPrediction`)."""
    require_family("live_paths")
    state = current_state()
    found = known_file(state, model, file_id_of_page(page))
    if isinstance(found, Response):
        return found
    indexes = [i for i in range(len(found.pages or [])) if page_id(found, i) == page]
    if found.pages is not None and not indexes:
        return message("Page not found", 404)
    result = [prediction_entry(found, i, state.config.score_scale) for i in indexes]
    return jsonify({"message": "Success", "result": result, "signed_urls": {}})


@retrieve_api.get("/Inferences/Model/<model>/ImageLevelInferences")
def live_window(model: str) -> Response:
    require_family("live_paths")
    return _window(model)


# ---- the OpenAPI seed's paths ----


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>")
@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>/")
def inference_file(model: str, file_id: str) -> Response:
    require_family("new_retrieval_paths")
    return _file(model, file_id)


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/<file_id>/page/<page>")
def inference_page(model: str, file_id: str, page: str) -> Response:
    require_family("new_retrieval_paths")
    return _page(model, page, file_id)


@retrieve_api.get("/Inferences/Model/<model>/InferenceRequest/")
def inference_window(model: str) -> Response:
    require_family("new_retrieval_paths")
    return _window(model)


# ---- the guide's paths ----


@retrieve_api.get("/OCR/Model/<model>/getFile/<file_id>/")
def get_file_old(model: str, file_id: str) -> Response:
    require_family("guide_paths")
    return _file(model, file_id)


@retrieve_api.get("/OCR/Model/<model>/ImageLevelInferences/<page>/")
def image_level(model: str, page: str) -> Response:
    require_family("guide_paths")
    return _page(model, page, None)


@retrieve_api.get("/OCR/Model/<model>/getModelImages/")
def model_images(model: str) -> Response:
    require_family("guide_paths")
    return _window(model)


def _file(model: str, file_id: str) -> Response:
    state = current_state()
    found = known_file(state, model, file_id)
    if isinstance(found, Response):
        return found
    return jsonify(retrieval_body([found], state.config.score_scale))


def _page(model: str, page: str, file_id: str | None) -> Response:
    state = current_state()
    found = known_file(state, model, file_id or file_id_of_page(page))
    if isinstance(found, Response):
        return found
    body = retrieval_body([found], state.config.score_scale, only_page=page)
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
    return jsonify(retrieval_body(records, state.config.score_scale))
