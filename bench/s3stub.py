"""A fast in-memory stand-in for S3, for the bench sections where S3 is scenery rather than the subject,
and the second S3 backend of table 1 (webhook throughput), where moto's own cost would hide the service's.

moto costs ~5.5 ms of CPU per call on these machines (its server resolves the backend by scanning its
package folder on every request); a webhook makes 4 to 8 calls, so 10,000 webhooks on moto would take half
of the bench's budget. This speaks just the calls the service makes, path-style: PUT (with If-None-Match
and If-Match), GET, HEAD, DELETE on objects, PUT on a bucket; presigned GETs are served like plain GETs
(no signature check, as moto).

`GET /_stub/calls` answers every call served so far, counted by method, condition (If-None-Match or
If-Match), status and kind of key (`key_kind`: raw archive, ledger record, index marker, output, analytics
rows, source...), with the bytes sent (PUT) or answered (GET): how the bench counts the S3 calls of one
webhook, and what the floor of table 1 (bench/floor_app.py) replays.

`python -m bench.s3stub --port P` prints `S3STUB_READY http://127.0.0.1:P` once listening.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
)


# The kinds of key the service writes and reads, by prefix, in its default layout (service/settings.py's
# STATE_PREFIX, OUTPUT_PREFIX and ANALYTICS_PREFIX; service/adapters/s3/bucket.py lists the state keys).
# The first prefix a key starts with names its kind; a key under none is a source document.
KEY_KINDS: tuple[tuple[str, str], ...] = (
    ("_state/raw/", "raw archive"),
    ("_state/files/", "ledger record"),
    ("_state/index/", "index marker"),
    ("_state/meta/", "meta"),
    ("_state/claims/", "claim"),
    ("_state/analytics/", "analytics marker"),
    ("_state/analytics-behind/", "analytics behind"),
    ("_state/review/", "review"),
    ("_state/quarantine/", "quarantine"),
    ("_state/pacing/", "pacing"),
    ("_state/", "other state"),
    ("analytics/", "analytics rows"),
    ("normalized/", "output"),
)
SOURCE = "source"
CONDITIONS = ("If-None-Match", "If-Match")


def key_kind(key: str) -> str:
    if not key:
        return "bucket"
    return next((kind for prefix, kind in KEY_KINDS if key.startswith(prefix)), SOURCE)


def prefix_of(kind: str) -> str:
    """A prefix whose keys are of `kind` (the inverse of `key_kind`, for the floor's keys)."""
    return next((prefix for prefix, named in KEY_KINDS if named == kind), "incoming/")


# method, condition ("" or a CONDITIONS header), status, kind of key
Call = tuple[str, str, int, str]


@dataclass(frozen=True)
class S3Call:
    """One kind of S3 call of a webhook, as counted here: how many per webhook, and their body's size."""

    method: str
    condition: str  # "", "If-None-Match" or "If-Match"
    status: int
    kind: str  # key_kind
    per_webhook: float
    bytes: int  # mean body bytes sent (PUT) or answered (GET)

    @property
    def label(self) -> str:
        """ "PUT If-None-Match → 412" """
        text = " ".join(part for part in (self.method, self.condition) if part)
        return text if self.status < 300 else f"{text} → {self.status}"

    @classmethod
    def between(
        cls, before: list[dict[str, Any]], after: list[dict[str, Any]], webhooks: int
    ) -> list[S3Call]:
        """The calls counted between two answers of `/_stub/calls`, per webhook of `webhooks`."""
        old = {_call(entry): entry for entry in before}
        found = []
        for entry in after:
            previous = old.get(_call(entry), {"count": 0, "bytes": 0})
            count = entry["count"] - previous["count"]
            if count:
                moved = entry["bytes"] - previous["bytes"]
                found.append(cls(*_call(entry), count / webhooks, round(moved / count)))
        return found


def _call(entry: dict[str, Any]) -> Call:
    return entry["method"], entry["condition"], entry["status"], entry["kind"]


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # answers are sent (and counted) while holding it
        self.buckets: set[str] = set()
        self.objects: dict[tuple[str, str], tuple[bytes, str, str, str]] = {}  # body, etag, type, modified
        self.calls: Counter[Call] = Counter()  # GET /_stub/calls
        self.bytes: Counter[Call] = Counter()  # body bytes sent (PUT) or answered (GET), by call

    def counted(self) -> list[dict[str, object]]:
        with self.lock:
            return [
                {
                    "method": method,
                    "condition": condition,
                    "status": status,
                    "kind": kind,
                    "count": count,
                    "bytes": self.bytes[(method, condition, status, kind)],
                }
                for (method, condition, status, kind), count in sorted(self.calls.items())
            ]


STORE = Store()


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(handler.rfile.read(size))
        handler.rfile.readline()


def _decode_aws_chunked(raw: bytes) -> bytes:
    """aws-chunked: `<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n` ... `0\\r\\n` + trailers."""
    out: list[bytes] = []
    position = 0
    while True:
        end = raw.index(b"\r\n", position)
        size = int(raw[position:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(raw[end + 2 : end + 2 + size])
        position = end + 2 + size + 2


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3stub"
    # One write per answer (headers and body together) and no Nagle: a header write followed by a body
    # write would otherwise wait out the client's delayed ACK (40 ms) on every call.
    wbufsize = 256 * 1024
    disable_nagle_algorithm = True

    def handle_expect_100(self) -> bool:
        self.send_response_only(100)
        self.end_headers()
        self.wfile.flush()
        return True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def parse_request(self) -> bool:
        self.moved = 0  # body bytes of this request (PUT) or its answer (GET), for the count
        return super().parse_request()

    def _target(self) -> tuple[str, str]:
        path = urlsplit(self.path).path
        bucket, _, key = path.lstrip("/").partition("/")
        return unquote(bucket), unquote(key)

    def send_response(self, code: int, message: str | None = None) -> None:
        if code >= 200 and not self.path.startswith("/_stub/"):
            condition = next((name for name in CONDITIONS if name in self.headers), "")
            call = (self.command, condition, code, key_kind(self._target()[1]))
            with STORE.lock:
                STORE.calls[call] += 1
                STORE.bytes[call] += self.moved
        super().send_response(code, message)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        if self.command == "GET" and status < 300:
            self.moved = len(body)
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("x-amz-request-id", "S3STUB")
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = ERROR.format(code=code, message=message).encode()
        self._send(status, body if self.command != "HEAD" else b"", {"Content-Type": "application/xml"})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = _read_chunked(self)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "aws-chunked" in self.headers.get("Content-Encoding", "") or self.headers.get(
            "x-amz-content-sha256", ""
        ).startswith("STREAMING-"):
            return _decode_aws_chunked(raw)
        return raw

    def do_PUT(self) -> None:
        bucket, key = self._target()
        body = self._body()
        self.moved = len(body)
        if not key:
            with STORE.lock:
                STORE.buckets.add(bucket)
            self._send(200, headers={"Location": f"/{bucket}"})
            return
        etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
        with STORE.lock:
            if bucket not in STORE.buckets:
                self._error(404, "NoSuchBucket", "The specified bucket does not exist")
                return
            existing = STORE.objects.get((bucket, key))
            if self.headers.get("If-None-Match") == "*" and existing is not None:
                self._error(
                    412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
                )
                return
            if_match = self.headers.get("If-Match")
            if if_match is not None and (existing is None or existing[1] != if_match):
                self._error(
                    412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
                )
                return
            content_type = self.headers.get("Content-Type", "binary/octet-stream")
            STORE.objects[(bucket, key)] = (body, etag, content_type, formatdate(usegmt=True))
        self._send(200, headers={"ETag": etag})

    def _object(self) -> tuple[bytes, str, str, str] | None:
        bucket, key = self._target()
        with STORE.lock:
            found = STORE.objects.get((bucket, key))
        if found is None:
            self._error(404, "NoSuchKey", "The specified key does not exist.")
        return found

    def do_GET(self) -> None:
        if self.path == "/_stub/calls":
            self._send(
                200, json.dumps({"calls": STORE.counted()}).encode(), {"Content-Type": "application/json"}
            )
            return
        found = self._object()
        if found is not None:
            body, etag, content_type, modified = found
            self._send(200, body, {"ETag": etag, "Content-Type": content_type, "Last-Modified": modified})

    def do_HEAD(self) -> None:
        found = self._object()
        if found is not None:
            body, etag, content_type, modified = found
            self.send_response(200)
            for name, value in (
                ("ETag", etag),
                ("Content-Type", content_type),
                ("Last-Modified", modified),
                ("Content-Length", str(len(body))),
            ):
                self.send_header(name, value)
            self.end_headers()

    def do_DELETE(self) -> None:
        bucket, key = self._target()
        with STORE.lock:
            STORE.objects.pop((bucket, key), None)
        self._send(204)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3stub")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = Server((args.host, args.port), Handler)
    print(f"S3STUB_READY http://{args.host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
