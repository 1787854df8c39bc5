"""The service's own app with its webhook view cut down to a repeat's two S3 calls: the body archived
(`RawArchive.archive`, a conditional PUT answered 412) and one ledger record read and validated, through
the service's adapters, with nothing parsed, normalized or completed. Everything else is the service's:
settings, the built service, logging, metrics, the after-request hooks, gunicorn's config.

Table 1b sets it between the floor and the service on repeats (bench/gap_bench.py): floor → cut-down
app is what the web layer and the adapters add; cut-down app → service is what the webhook's own work
adds. Run as `gunicorn 'bench.cutdown_app:create_app()'` with the service's environment and
CUTDOWN_FILE_ID (a request_file_id whose record exists); CUTDOWN_HOOKS=0 drops the app's before/after-
request hooks. Under gunicorn's config that is the webhook counter alone: the app's request line is
already taken out by its `post_worker_init` (gunicorn's access line is the request's line).
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify

from service.web import create_app as create_service_app
from service.web.context import SERVICE, authorized, read_body

WEBHOOK_VIEW = "webhooks.nanonets_webhook"


def create_app() -> Flask:
    app = create_service_app()
    service = app.extensions[SERVICE]
    file_id = os.environ["CUTDOWN_FILE_ID"]

    def repeat_calls_only() -> Response:
        if not authorized():
            return Response(status=401)
        archived = service.stores.raw.archive(read_body())
        record = service.stores.ledger.get(file_id)
        return jsonify({"raw_key": archived.raw_key, "found": record is not None})

    app.view_functions[WEBHOOK_VIEW] = repeat_calls_only
    if os.environ.get("CUTDOWN_HOOKS", "1") == "0":
        app.before_request_funcs.clear()
        app.after_request_funcs.clear()
    return app
