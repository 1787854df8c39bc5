"""Talking to the emulator's API directly, and `LocalHost`: a tiny HTTP server (http.server in a thread)
that serves documents to the emulator and receives its webhooks."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from devtools.documents import RECEIPT_PAGES
from devtools.stack import EMULATOR_KEY, EMULATOR_MODEL

AUTH = (EMULATOR_KEY, "")
MODEL_PATH = f"/api/v2/OCR/Model/{EMULATOR_MODEL}"


class LocalHost:
    """Serves `documents` (GET path -> bytes, `redirects` path -> location) and records POSTed JSON bodies.

    `fail_posts` answers that many POSTs with 500 before accepting them (to see the emulator retry).
    """

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.posts: list[Any] = []
        self.attempts = 0
        self.fail_posts = 0
        self.lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in host.redirects:
                    self.send_response(302)
                    self.send_header("Location", host.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = host.documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with host.lock:
                    host.attempts += 1
                    failing = host.fail_posts > 0
                    if failing:
                        host.fail_posts -= 1
                    else:
                        host.posts.append(json.loads(raw))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[Any]:
        with self.lock:
            return list(self.posts)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def api(emulator_url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    return requests.request(method, emulator_url + MODEL_PATH + path, timeout=20, **kwargs)


def label_urls(emulator_url: str, urls: list[str], *, asynchronous: bool = False, **form: str) -> Any:
    path = "/LabelUrls/?async=true" if asynchronous else "/LabelUrls/"
    return api(emulator_url, "POST", path, data={"urls": urls, **form})


def label_file(
    emulator_url: str, name: str, content: bytes, *, asynchronous: bool = False, **form: str
) -> Any:
    path = "/LabelFile/?async=true" if asynchronous else "/LabelFile/"
    return api(emulator_url, "POST", path, data=form, files=[("file", (name, content))])


def boxes(answer: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The prediction of every page, without ids that change per request."""
    return [page["prediction"] for page in sorted(answer["result"], key=lambda p: p["page"])]


def expected_receipt() -> list[list[dict[str, Any]]]:
    return [[dict(box, page=index) for box in page] for index, page in enumerate(RECEIPT_PAGES)]


def retrieval(emulator_url: str, file_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{emulator_url}/api/v2/Inferences/Model/{EMULATOR_MODEL}/InferenceRequest/{file_id}",
        auth=AUTH,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
