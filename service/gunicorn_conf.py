"""gunicorn settings for `nanonets-ingest serve` and the container (`--config python:service.gunicorn_conf`).

Every value can be overridden by gunicorn's own GUNICORN_CMD_ARGS or command-line flags.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 60
graceful_timeout = 30
keepalive = 5
# Behind a load balancer or API gateway; trust X-Forwarded-* from the addresses given (default: local only).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# The query string carries the webhook token: access lines hold the path (%(U)s) only, never %(q)s or %(r)s.
access_log_format = (
    '{"time":"%(t)s","remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,'
    '"bytes":%(B)s,"duration_ms":%(M)s,"agent":"%(a)s"}'
)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# gunicorn's own lines (start, worker boot, timeouts) as JSON too, so one log pipeline parses everything;
# the access line above is already JSON and is passed through as is.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{asctime}{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "raw": {"format": "%(message)s"},
    },
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "raw", "stream": "ext://sys.stdout"},
    },
    # The app adds its own JSON handler to the root logger (service/logs.py); none here, or lines double.
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def post_worker_init(worker: object) -> None:
    """The app is loaded. The access line above is this server's line per request, so the app's own
    request line would only repeat it: it is taken out while the access log is on (Lambda has no access
    line, and keeps the app's).

    Then what start-up built (Flask, botocore's service models, pydantic's validators) lives as long as the
    worker: freeze it out of the garbage collector's way, so the full collections a large webhook's
    allocations trigger stop walking it (make bench: -22 % worker CPU on 100-page webhooks)."""
    web = sys.modules.get("service.web")  # imported by the service's app; absent under any other app
    if web is not None and getattr(getattr(worker, "cfg", None), "accesslog", None):
        web.without_request_log(getattr(worker, "wsgi", None))
    gc.freeze()


def on_starting(server: object) -> None:
    """Before any worker exists: one directory for every worker's metric samples (docs/OPERATING.md).
    Not with preload_app: the app, and prometheus-client with it, would be imported before this runs."""
    from service.observability.multiprocess import start_multiprocess_mode

    start_multiprocess_mode(os.environ)


def child_exit(server: object, worker: Any) -> None:
    from service.observability.multiprocess import mark_worker_dead

    mark_worker_dead(worker.pid, os.environ)


def on_exit(server: object) -> None:
    from service.observability.multiprocess import remove_created_dir

    remove_created_dir(os.environ)
