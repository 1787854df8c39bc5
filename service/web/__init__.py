"""Flask app factory: the webhook, the S3 event endpoint, health, metrics and the OpenAPI document, as
blueprints, and the review console at /review when REVIEW_ENABLED (service/review/views.py).

Verify first, parse second (Stripe's rule): the secret is checked before the body is read, the raw body is
archived before it is parsed. Errors are mapped to HTTP answers in `web.errors` and nowhere else.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from service.bootstrap import Service, build, configure_service_logging
from service.settings import Settings, load_settings
from service.web.context import SECRET_DIGEST, SERVICE, digest
from service.web.errors import error_response
from service.web.events import events
from service.web.health import health
from service.web.metrics import TOKEN_DIGEST, count_webhook_answer, metrics
from service.web.webhooks import webhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, service: Service | None = None) -> Flask:
    """WSGI factory (`service.web:create_app()` under gunicorn). Refuses to start half-configured."""
    settings = settings or (service.settings if service else load_settings())
    secret = settings.require_webhook_secret().get_secret_value()
    configure_service_logging(settings)
    # Under gunicorn the app builds its own service, scraped at /metrics; Lambda hands in one publishing EMF.
    service = service or build(settings, metrics="prometheus").build_parts()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[SERVICE] = service
    app.extensions[SECRET_DIGEST] = digest(secret)
    if settings.metrics_token is not None:
        app.extensions[TOKEN_DIGEST] = digest(settings.metrics_token.get_secret_value())
    for blueprint in (health, webhooks, events, metrics):
        app.register_blueprint(blueprint)
    if settings.review_enabled:  # the console at /review (service/review/); imported only when served
        from service.review.views import register_review

        register_review(app, service)
    app.register_error_handler(Exception, error_response)
    app.before_request(_start_timer)
    app.after_request(_log_request)
    app.after_request(count_webhook_answer)
    return app


def without_request_log(app: object) -> None:
    """Stop `app` writing its line per request, where the server writes one of its own (gunicorn's access
    line: service/gunicorn_conf.py). Anything but an app of `create_app` is left as it is."""
    if not isinstance(app, Flask):
        return
    before, after = app.before_request_funcs.get(None, []), app.after_request_funcs.get(None, [])
    if _log_request in after:
        after.remove(_log_request)
    if _start_timer in before:
        before.remove(_start_timer)  # it times the line, and nothing else


def _start_timer() -> None:
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    started: float = g.get("started", time.perf_counter())
    log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,  # never the query string: it carries the token
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response
