"""App-wide hooks in front of the Nanonets API: injected faults, Basic auth, the call log, JSON errors.

App-wide (not per blueprint) so an unknown path under /api/v2 is logged and answered like a real one: a
client's fallback from a path this server does not have is visible in `/_emulator/calls`.
"""

from __future__ import annotations

import base64
import binascii
import time

from flask import Blueprint, Response, request

from devtools.emulator.answers import message, seconds
from devtools.emulator.blueprints import API
from devtools.emulator.state import EmulatorState, current_state

gate = Blueprint("gate", __name__)


def _is_api_call() -> bool:
    return request.path.startswith(API + "/")


@gate.before_app_request
def faults_then_auth() -> Response | None:
    if not _is_api_call():
        return None
    state = current_state()
    decision = state.faults.decide()
    if decision.delay:
        time.sleep(decision.delay)
    if decision.status is not None:
        headers = {"Retry-After": seconds(decision.retry_after)} if decision.retry_after is not None else {}
        return message("injected fault", decision.status, **headers)
    if not _authorized(state):
        return message("Invalid API key", 401)
    return None


@gate.after_app_request
def record_call(response: Response) -> Response:
    if _is_api_call():
        state = current_state()
        with state.lock:
            state.calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "time": time.time(),
                }
            )
    return response


@gate.app_errorhandler(404)
def not_found(_: Exception) -> Response:
    return message("Not Found", 404)


@gate.app_errorhandler(405)
def not_allowed(_: Exception) -> Response:
    return message("Method Not Allowed", 405)


@gate.app_errorhandler(Exception)
def broken(error: Exception) -> Response:
    return message(f"bad request: {type(error).__name__}", 400)


def _authorized(state: EmulatorState) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, _ = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user in state.config.api_keys
