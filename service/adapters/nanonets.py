"""The whole Nanonets API over `requests`: Basic auth, timeouts, retries (nanonets_http), typed errors, and
the paths of today's API with the seeds' older ones as fallbacks, learnt once per client (nanonets_paths).

The key is the Basic-auth user; it never appears in a log line, an error or a repr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from service.adapters.nanonets_http import Files, error_for, json_body, multipart, retry_policy
from service.adapters.nanonets_paths import PathChoice
from service.errors import NanonetsError, NanonetsUnavailable
from service.settings import NanonetsSettings

# The generations of paths, newest first: today's API reference, the OpenAPI seed, the guide.
FILE_PATHS = (
    ("live", "/Inferences/Model/{model}/InferenceRequestFiles/GetPredictions/{file_id}"),
    ("seed", "/Inferences/Model/{model}/InferenceRequest/{file_id}"),
    ("guide", "/OCR/Model/{model}/getFile/{file_id}/"),
)
PAGE_PATHS = (
    ("live", "/Inferences/Model/{model}/ImageLevelInferences/{page_id}"),
    ("seed", "/Inferences/Model/{model}/InferenceRequest/{file_id}/page/{page_id}"),
    ("guide", "/OCR/Model/{model}/ImageLevelInferences/{page_id}/"),
)
WINDOW_PATHS = (
    ("live", "/Inferences/Model/{model}/ImageLevelInferences"),
    ("seed", "/Inferences/Model/{model}/InferenceRequest/"),
    ("guide", "/OCR/Model/{model}/getModelImages/"),
)
VERIFY_PATH = "/Inferences/Model/{model}/ImageLevelInferences/Verify/{file_id}"
UNVERIFY_PATH = "/Inferences/Model/{model}/ImageLevelInferences/UnVerify/{file_id}"
APPROVE_FILE_PATH = "/OCR/Model/{model}/ApproveFile/{file_id}/"
APPROVE_PATHS = (("live", VERIFY_PATH), ("guide", APPROVE_FILE_PATH))


class NanonetsClient:
    def __init__(self, settings: NanonetsSettings, session: requests.Session | None = None) -> None:
        self._model_id = settings.nanonets_model_id
        self._base_url = settings.nanonets_base_url
        self._timeout = (settings.nanonets_connect_timeout, settings.nanonets_read_timeout)
        self._session = _session(settings, session or requests.Session(), for_submission=False)
        self._submit_session = _session(settings, requests.Session(), for_submission=True)
        self._file_paths = PathChoice("file")
        self._page_paths = PathChoice("page")
        self._window_paths = PathChoice("window")
        self._approve_paths = PathChoice("approve")

    @classmethod
    def from_settings(cls, settings: NanonetsSettings) -> NanonetsClient:
        return cls(settings)

    def __repr__(self) -> str:
        return f"NanonetsClient(base_url={self._base_url!r}, model_id={self._model_id!r})"

    def add_response_hook(self, hook: Callable[..., None]) -> None:
        """Call `hook(response)` on every answer of every session (requests' "response" hook), e.g. to
        count calls by status; the retried attempts are in `response.raw.retries.history`."""
        for session in (self._session, self._submit_session):
            session.hooks["response"].append(hook)

    # ---- transport ----

    def _path(self, template: str, model_id: str | None = None, **parts: str) -> str:
        """`template` with the model (`model_id`, else the configured one) and the parts filled in."""
        model = model_id or self._model_id
        return template.format(model=model, **{k: quote(v, safe="") for k, v in parts.items()})

    def _paths(
        self, family: Sequence[tuple[str, str]], model_id: str | None = None, **parts: str | None
    ) -> list[tuple[str, str]]:
        """The family's paths that can be built from `parts` (a None part rules its paths out)."""
        given = {k: v for k, v in parts.items() if v is not None}
        return [
            (name, self._path(template, model_id, **given))
            for name, template in family
            if all("{" + k + "}" not in template for k, v in parts.items() if v is None)
        ]

    def _request(self, method: str, path: str, *, submission: bool = False, **kwargs: Any) -> dict[str, Any]:
        session = self._submit_session if submission else self._session
        try:
            response = session.request(method, self._base_url + path, timeout=self._timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise NanonetsUnavailable(
                f"cannot reach Nanonets: {type(error).__name__}", endpoint=path
            ) from None
        except requests.RequestException as error:
            # Anything else requests/urllib3 raise (a malformed header, a bad redirect) is still "Nanonets
            # misbehaved", never a traceback; the text names the type only, as a URL could carry the key.
            raise NanonetsUnavailable(
                f"unusable answer from Nanonets: {type(error).__name__}", endpoint=path
            ) from None
        if response.status_code >= 400:
            raise error_for(response, path)
        return json_body(response, path)  # 202 (LabelUrls, some URLs not downloaded) is success too

    def _get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._request("GET", path, **kwargs)

    # ---- predict (429 raised at once: the pacer above owns waiting) ----

    def predict_urls(
        self,
        urls: Sequence[str],
        *,
        asynchronous: bool = False,
        request_metadata: str | None = None,
        async_style: str = "query",
        model_id: str | None = None,
    ) -> dict[str, Any]:
        """LabelUrls, form-encoded as the OpenAPI seed says. `async_style`: "query" (`?async=true`, the guide)
        or "path" (`/LabelUrls/Async/`, the OpenAPI seed)."""
        form: dict[str, Any] = {"urls": list(urls)}
        if request_metadata is not None:
            form["request_metadata"] = request_metadata
        path, params = self._predict_target("LabelUrls", asynchronous, async_style, model_id)
        if asynchronous and async_style == "path":
            form["async"] = "true"
        return self._request("POST", path, submission=True, params=params, data=form)

    def predict_files(
        self,
        files: Files,
        *,
        asynchronous: bool = False,
        request_metadata: str | None = None,
        pages_to_process: str | None = None,
        async_style: str = "query",
    ) -> dict[str, Any]:
        form: dict[str, str] = {}
        if request_metadata is not None:
            form["request_metadata"] = request_metadata
        if pages_to_process is not None:
            form["pages_to_process"] = pages_to_process
        path, params = self._predict_target("LabelFile", asynchronous, async_style)
        if asynchronous and async_style == "path":
            form["async"] = "true"
        return self._request("POST", path, submission=True, params=params, data=form, files=multipart(files))

    def _predict_target(
        self, endpoint: str, asynchronous: bool, style: str, model_id: str | None = None
    ) -> tuple[str, dict[str, str]]:
        base = self._path("/OCR/Model/{model}/" + endpoint + "/", model_id)
        if not asynchronous:
            return base, {}
        if style == "path":
            return base + "Async/", {}
        return base, {"async": "true"}

    def submit_url_async(
        self, url: str, request_metadata: Mapping[str, Any], model_id: str | None = None
    ) -> str:
        """Submit one URL for async prediction to `model_id` (a route's; None: NANONETS_MODEL_ID); the
        request_file_id Nanonets gave it. A 429 raises `NanonetsRateLimited` (with `retry_after`, None when
        Nanonets sends none) without retrying."""
        answer = self.predict_urls(
            [url],
            asynchronous=True,
            request_metadata=json.dumps(dict(request_metadata)),
            model_id=model_id,
        )
        for item in answer.get("result") or []:
            if (
                isinstance(item, dict)
                and isinstance(item.get("request_file_id"), str)
                and item["request_file_id"]
            ):
                return str(item["request_file_id"])
        raise NanonetsError("the async answer carries no request_file_id", endpoint="LabelUrls")

    # ---- retrieve ----

    def get_predictions(self, request_file_id: str) -> dict[str, Any]:
        """Today's path for a file's predictions (GetPredictions), no fallback."""
        return self._get(self._path(FILE_PATHS[0][1], file_id=request_file_id))

    def get_file(self, request_file_id: str) -> dict[str, Any]:
        """The OpenAPI seed's path for a file's predictions (InferenceRequest), no fallback."""
        return self._get(self._path(FILE_PATHS[1][1], file_id=request_file_id))

    def fetch_file(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]:
        """A file's predictions (of `model_id`, else NANONETS_MODEL_ID) on whichever path this server has:
        GetPredictions, else the seed's InferenceRequest, else the guide's getFile (learnt once, then one
        request per call; the generation learnt holds for every model)."""
        candidates = self._paths(FILE_PATHS, model_id, file_id=request_file_id)
        return self._file_paths.call(candidates, self._get)

    def image_level_inference(self, page_id: str) -> dict[str, Any]:
        """Today's path for one page (ImageLevelInferences/{page_id}), no fallback."""
        return self._get(self._path(PAGE_PATHS[0][1], page_id=page_id))

    def image_level_inferences(self, start_day_interval: int, current_batch_day: int) -> dict[str, Any]:
        """Today's path for a window of days (ImageLevelInferences), no fallback."""
        return self._get(
            self._path(WINDOW_PATHS[0][1]), params=_window(start_day_interval, current_batch_day)
        )

    def get_page(self, request_file_id: str | None, page_id: str) -> dict[str, Any]:
        """One page: today's ImageLevelInferences/{page_id}, else the seed's path (it needs the file id),
        else the guide's."""
        candidates = self._paths(PAGE_PATHS, file_id=request_file_id, page_id=page_id)
        return self._page_paths.call(candidates, self._get)

    def list_files(self, start_day_interval: int, current_batch_day: int) -> dict[str, Any]:
        """Every file of a window of days since the epoch (no pagination is documented: answers are big)."""
        params = _window(start_day_interval, current_batch_day)
        return self._window_paths.call(self._paths(WINDOW_PATHS), lambda path: self._get(path, params=params))

    # ---- review ----

    def approve(self, request_file_id: str, model_id: str | None = None) -> dict[str, Any]:
        """Approve a file (of `model_id`, else NANONETS_MODEL_ID): today's Verify, else the guide's
        ApproveFile (learnt once); AUTO_APPROVE's call."""
        candidates = self._paths(APPROVE_PATHS, model_id, file_id=request_file_id)
        return self._approve_paths.call(candidates, lambda path: self._request("POST", path))

    def approve_file(self, request_file_id: str) -> dict[str, Any]:
        """The guide's ApproveFile, no fallback."""
        return self._request("POST", self._path(APPROVE_FILE_PATH, file_id=request_file_id))

    def verify(self, request_file_id: str) -> dict[str, Any]:
        return self._request("POST", self._path(VERIFY_PATH, file_id=request_file_id))

    def unverify(self, request_file_id: str) -> dict[str, Any]:
        return self._request("POST", self._path(UNVERIFY_PATH, file_id=request_file_id))

    def retry_prediction(self, request_file_ids: Sequence[str]) -> dict[str, Any]:
        """Predict failed files again (a page whose `message` is "failure" was already retried 3 times)."""
        path = self._path("/ObjectDetection/Model/{model}/RetryPrediction")
        return self._request("POST", path, json={"file_ids": list(request_file_ids)})

    # ---- train ----

    def upload_training_urls(self, urls: Sequence[str], data: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"urls": list(urls)}
        if data is not None:
            body["data"] = data
        return self._request("POST", self._path("/OCR/Model/{model}/UploadUrls/"), json=body)

    def upload_training_files(self, files: Files, data: str) -> dict[str, Any]:
        return self._request(
            "POST", self._path("/OCR/Model/{model}/UploadFile/"), data={"data": data}, files=multipart(files)
        )

    def train(self) -> dict[str, Any]:
        return self._request("POST", self._path("/OCR/Model/{model}/Train/"))

    # ---- files ----

    def delete(self, request_file_id: str) -> dict[str, Any]:
        return self._request(
            "DELETE", self._path("/OCR/Model/{model}/DeleteFile/{file_id}/", file_id=request_file_id)
        )

    def update_fields(self, request_file_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
        body = {"fields": [{"label": label, "ocr_text": text} for label, text in fields.items()]}
        path = self._path("/OCR/Model/{model}/UpdateFile/{file_id}/", file_id=request_file_id)
        return self._request("PATCH", path, json=body)

    def export(self, request_file_id: str) -> dict[str, Any]:
        return self._request(
            "POST", self._path("/OCR/Model/{model}/ExportFile/{file_id}/", file_id=request_file_id)
        )


def _session(
    settings: NanonetsSettings, session: requests.Session, *, for_submission: bool
) -> requests.Session:
    session.auth = (settings.nanonets_api_key.get_secret_value(), "")
    adapter = HTTPAdapter(max_retries=retry_policy(settings, for_submission=for_submission), pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _window(start_day_interval: int, current_batch_day: int) -> dict[str, str]:
    return {"start_day_interval": str(start_day_interval), "current_batch_day": str(current_batch_day)}
