"""The floor of the webhook benchmark: the same Flask + gunicorn setup, reading the body and making the same
number of S3 calls as the real webhook, with none of the service's own logic. The ratio service/floor says
how much of the time is ours rather than the framework's and S3's.

Run as `gunicorn 'bench.floor_app:create_app()'` with AWS_ENDPOINT_URL and FLOOR_BUCKET set.
"""

from __future__ import annotations

import hashlib
import os

import boto3
from botocore.config import Config
from flask import Flask, Response, jsonify, request

# What one first-delivery webhook costs in S3 calls (see service/pipeline.py receive_webhook):
# put raw, put last-webhook, get record, head source, put output, put record, put index, delete index.
PUTS = 5
GETS = 2  # get record, head source
DELETES = 1


def create_app() -> Flask:
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
    )
    bucket = os.environ["FLOOR_BUCKET"]
    s3.put_object(Bucket=bucket, Key="floor/record.json", Body=b"{}")
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/webhooks/nanonets")
    def webhook() -> Response:
        body = request.get_data()
        digest = hashlib.sha256(body).hexdigest()
        for index in range(PUTS):
            s3.put_object(Bucket=bucket, Key=f"floor/{digest}/{index}", Body=body if index == 0 else b"{}")
        s3.get_object(Bucket=bucket, Key="floor/record.json")["Body"].read()
        s3.head_object(Bucket=bucket, Key="floor/record.json")
        s3.delete_object(Bucket=bucket, Key=f"floor/{digest}/4")
        return jsonify({"ok": True})

    return app
