"""The floor of the webhook benchmark: a bare Flask endpoint in the same gunicorn setup as the service,
reading the body and making the same S3 calls as the service's webhook, with none of the service's logic
(no JSON parsing, validation, normalization or logging). service/floor says how much of the time is ours
rather than the framework's and S3's.

S3 calls per request, counted in service/usecases/complete.py (`receive_webhook`, `complete`,
`_write_output`) and the S3 repositories of service/adapters/s3/:

first delivery (a pending file becomes done): 8 calls, 5 of them puts
    put raw body (If-None-Match: *)      S3RawArchive.put
    put meta/last-webhook.json           S3RawArchive.note_webhook
    get files/<id>.json                  S3Ledger.get
    head the source object               CompleteFile._is_superseded
    put the output document              S3Outputs.write
    put files/<id>.json                  S3Ledger.put
    put index/done/<id>                  S3Ledger.put (marker moves)
    delete index/pending/<id>            S3Ledger.put

repeat delivery (same body again, file already done, digest unchanged): 4 calls, 2 of them puts
    put raw body (If-None-Match: *) → 412, put meta/last-webhook.json, get files/<id>.json, head source

`POST /webhooks/nanonets` does the first-delivery calls; `?floor=repeat` the repeat ones.
Run as `gunicorn 'bench.floor_app:create_app()'` with AWS_ENDPOINT_URL and FLOOR_BUCKET set.
"""

from __future__ import annotations

import hashlib
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from flask import Flask, Response, jsonify, request

FIRST_DELIVERY_CALLS = {"put": 5, "get": 1, "head": 1, "delete": 1}
REPEAT_CALLS = {"put": 2, "get": 1, "head": 1, "delete": 0}
RECORD = b'{"request_file_id":"' + b"0" * 36 + b'","status":"pending",' + b'"x":"' + b"y" * 600 + b'"}'


def create_app() -> Flask:
    # The service's S3 client settings (service/adapters/s3/objects.py build_s3_client).
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=15,
            max_pool_connections=32,
        ),
    )
    bucket = os.environ["FLOOR_BUCKET"]
    s3.put_object(Bucket=bucket, Key="files/record.json", Body=RECORD, ContentType="application/json")
    s3.put_object(
        Bucket=bucket, Key="source.pdf", Body=b"%PDF-1.4\n" + b"0" * 2000, ContentType="application/pdf"
    )
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/webhooks/nanonets")
    def webhook() -> Response:
        body = request.get_data(cache=False)
        digest = hashlib.sha256(body).hexdigest()
        try:
            s3.put_object(
                Bucket=bucket,
                Key=f"raw/{digest}.json",
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                raise
        s3.put_object(Bucket=bucket, Key="meta/last-webhook.json", Body=b'{"at":"now"}')
        s3.get_object(Bucket=bucket, Key="files/record.json")["Body"].read()
        s3.head_object(Bucket=bucket, Key="source.pdf")
        if request.args.get("floor") == "repeat":
            return jsonify({"ok": True})
        s3.put_object(Bucket=bucket, Key=f"out/{digest}.json", Body=body, ContentType="application/json")
        s3.put_object(Bucket=bucket, Key=f"files/{digest}.json", Body=RECORD, ContentType="application/json")
        s3.put_object(Bucket=bucket, Key=f"index/done/{digest}", Body=b"", ContentType="application/json")
        s3.delete_object(Bucket=bucket, Key=f"index/pending/{digest}")
        return jsonify({"ok": True})

    return app
