"""The console's pages at /review: login, logout, queue, document, page image and the three actions.

Server-rendered (Jinja) and usable with JavaScript off; review.js only links boxes and table rows. Every
page answers with a strict Content-Security-Policy (no inline script or style), no-store caching and
frame-ancestors 'none'. Identifiers from the URL are checked against a strict pattern and only ever used
to look up the ledger: bucket names and keys come from our own records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from service.errors import StorageUnavailable
from service.models.document import NormalizedDocument
from service.models.ledger import LedgerRecord, utc_iso
from service.review.actions import ActionRefused, ActionResult, NotReviewable, ReviewActions
from service.review.attention import MARKER_NAME, ROUTE_NAME, SAFE_ID, QueueFilter
from service.review.auth import (
    CSRF_FIELD,
    LoginThrottle,
    configure_sessions,
    csrf_token,
    csrf_valid,
    end_session,
    session_user,
    start_session,
)
from service.review.console import ReviewConsole
from service.review.display import (
    ISSUE_CODES,
    REASON_LABELS,
    entry_age,
    field_rows,
    history,
    page_boxes,
    reported_page_size,
    since_display,
    when,
)
from service.review.labels import label_font, place_labels
from service.review.models import ATTENTION_REASONS
from service.review.render import PageOutOfRange, RenderError
from service.review.scale import Size, box_space, file_level_size

if TYPE_CHECKING:
    from service.bootstrap import Service

log = logging.getLogger(__name__)

CONSOLE = "nanonets_ingest.review"
PAGE_SIZE = 50
OPEN_ENDPOINTS = {"review.login", "review.static"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

review = Blueprint(
    "review",
    __name__,
    url_prefix="/review",
    template_folder="templates",
    static_folder="static",
)


def register_review(app: Flask, service: Service) -> None:
    """Serve the console on this app (REVIEW_ENABLED). Refuses to start without its settings."""
    users_file, session_secret = service.settings.require_review_console()
    console = ReviewConsole.from_service(service)
    if console.reviewers.count() == 0:
        log.warning(
            "the review console has no reviewers yet: nanonets-ingest review add-user NAME",
            extra={"users_file": users_file},
        )
    configure_sessions(app, session_secret.get_secret_value())
    app.extensions[CONSOLE] = console
    app.register_blueprint(review)


def _console() -> ReviewConsole:
    console: ReviewConsole = current_app.extensions[CONSOLE]
    return console


# ---- the gate: CSRF on every POST, a reviewer on every page but login ----


@review.before_request
def _gate() -> BaseResponse | None:
    if request.method == "POST" and not csrf_valid(request.form.get(CSRF_FIELD)):
        log.warning("review form refused: missing or wrong CSRF token", extra={"path": request.path})
        return _page("error.html", 400, title="Form refused", message=FORM_REFUSED)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user = session_user(_console().reviewers.fingerprint)
    if user is None:
        end_session()
        return redirect(url_for("review.login", next=request.full_path.rstrip("?")), code=303)
    g.reviewer = user
    return None


FORM_REFUSED = (
    "The form was refused: it was not sent from this console's own page, or your session changed since. "
    "Go back, reload the page and try again."
)


@review.after_request
def _headers(response: BaseResponse) -> BaseResponse:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages hold documents' data: never kept by a browser or proxy. Static files revalidate by ETag.
    response.headers.setdefault(
        "Cache-Control", "no-cache" if request.endpoint == "review.static" else "no-store"
    )
    response.vary.add("Cookie")
    return response


@review.app_template_global()
def csrf_input() -> str:
    return csrf_token()


review.add_app_template_filter(when, "when")


@review.errorhandler(StorageUnavailable)
def _storage_down(error: StorageUnavailable) -> BaseResponse:
    log.error("review console: storage unavailable", extra={"error": str(error)})
    response = _page("error.html", 503, title="Storage unreachable", message="S3 did not answer. Try again.")
    response.headers["Retry-After"] = "5"
    return response


@review.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> BaseResponse:
    return _page("error.html", error.code or 500, title=error.name, message=error.description or "")


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    return response


# ---- login / logout ----


@review.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        csrf_token()  # the login form posts one too: no one can log a browser in from another site
        return _page("login.html", next_url=next_url)
    console = _console()
    name = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    limits = LoginThrottle.limits(name, request.remote_addr)
    wait = console.throttle.retry_after(limits)
    if wait is not None:
        log.warning("review login refused: too many failures", extra={"user": name})
        response = _page(
            "login.html",
            429,
            next_url=next_url,
            error=f"Too many failed logins. Try again in {wait // 60 + 1} min.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not name or not console.reviewers.verify(name, password):
        console.throttle.record_failure(limits)
        log.warning("review login failed", extra={"user": name})
        return _page("login.html", 401, next_url=next_url, error="Wrong name or password.", username=name)
    fingerprint = console.reviewers.fingerprint(name)
    assert fingerprint is not None  # verify() just found the reviewer
    console.throttle.record_success(name)
    start_session(name, fingerprint)
    log.info("review login", extra={"user": name})
    return redirect(next_url, code=303)


def _safe_next(value: str | None) -> str:
    """Only a path of this console: never another site (no open redirect)."""
    default = url_for("review.queue")
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/review/") or "\\" in value:
        return default
    if ".." in parts.path.split("/"):
        return default
    return value


@review.post("/logout")
def logout() -> BaseResponse:
    log.info("review logout", extra={"user": g.reviewer})
    end_session()
    return redirect(url_for("review.login"), code=303)


# ---- queue ----


@review.get("/")
def index() -> BaseResponse:
    return redirect(url_for("review.queue"), code=303)


@review.get("/queue")
def queue() -> BaseResponse:
    console = _console()
    query = _queue_filter()
    after = request.args.get("after") or None
    if after is not None and not _valid_cursor(after):
        abort(400, "bad page cursor")
    page = console.attention.page(query, after=after, limit=PAGE_SIZE)
    now = console.service.clock()
    rows = [
        {"entry": entry, "age": entry_age(entry, now), "since": since_display(entry)}
        for entry in page.entries
    ]
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after" and v}
    return _page(
        "queue.html",
        rows=rows,
        counts=console.attention.counts(),
        query=query,
        args=args,
        next_url=url_for("review.queue", **args, after=page.next_cursor) if page.next_cursor else None,
        first_url=url_for("review.queue", **args) if after else None,
        reasons=ATTENTION_REASONS,
        reason_labels=REASON_LABELS,
        issue_codes=ISSUE_CODES,
    )


def _queue_filter() -> QueueFilter:
    args = request.args
    reason = args.get("reason") or None
    code = args.get("code") or None
    prefix = (args.get("prefix") or "").strip().lstrip("/") or None
    route = args.get("route") or None
    if reason is not None and reason not in ATTENTION_REASONS:
        abort(400, "unknown reason")
    if code is not None and code not in ISSUE_CODES:
        abort(400, "unknown issue code")
    if route is not None and not ROUTE_NAME.fullmatch(route):
        abort(400, "bad route name")
    if prefix is not None and not prefix.endswith("/"):
        prefix += "/"  # the index knows folders
    return QueueFilter(
        reason=reason,
        code=code,
        prefix=prefix,
        route=route,
        since_from=_day(args.get("from")),
        since_to=_day(args.get("to")),
    )


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, "dates are YYYY-MM-DD")


def _valid_cursor(cursor: str) -> bool:
    return bool(MARKER_NAME.fullmatch(cursor))


# ---- document ----


def _record_and_output(request_file_id: str) -> tuple[LedgerRecord, NormalizedDocument | None]:
    """The ledger record named by the URL (only ever looked up, never used as a key) and its output."""
    stores = _console().service.stores
    record = stores.ledger.get(request_file_id) if SAFE_ID.fullmatch(request_file_id) else None
    if record is None:
        abort(404, "no such document")
    found = stores.outputs.read(record.output_key)
    document = NormalizedDocument.model_validate_json(found.body) if found else None
    if document is not None and document.nanonets.request_file_id != record.request_file_id:
        document = None  # newer content of the same source wrote this key: not this submission's output
    return record, document


@review.get("/documents/<request_file_id>")
def document(request_file_id: str) -> BaseResponse:
    console = _console()
    record, doc = _record_and_output(request_file_id)
    file_id = record.request_file_id
    page = request.args.get("page", default=0, type=int) or 0
    page_count = max(doc.pages if doc else 1, 1)
    if not 0 <= page < page_count:
        abort(404, "no such page")
    overrides, _ = console.records.read_overrides(file_id)
    route = console.service.routes.recorded(record.route, record.source.key)
    rules, bar = (route.rules if route else None), console.service.settings.auto_approve_min_confidence
    rows = field_rows(doc, rules, bar) if doc else []
    size, render_error = _page_size(console, record, doc, page)
    raw_times = [(_raw_time(console, key), key) for key in record.raw_keys]
    return _page(
        "document.html",
        record=record,
        doc=doc,
        rows=rows,
        boxes=place_labels(page_boxes(doc, rows, page), size) if doc and size else [],
        font=label_font(size) if size else None,
        page=page,
        page_count=page_count,
        size=size,
        render_error=render_error,
        overrides=overrides,
        entry=console.attention.entry(file_id),
        events=history(record, raw_times, console.records.audit_trail(file_id)),
        reason_labels=REASON_LABELS,
        push_enabled=console.service.settings.review_push_to_nanonets,
    )


def _page_size(
    console: ReviewConsole, record: LedgerRecord, doc: NormalizedDocument | None, page: int
) -> tuple[Size | None, str | None]:
    """The space the page's boxes are measured in (service.review.scale), or why the page cannot be shown."""
    reported = reported_page_size(doc, page) if doc else None
    try:
        info = console.pages.info(record, page)
    except RenderError as error:
        return reported, str(error)
    return box_space((info.width, info.height), reported, _archived_file_sizes(console, record)), None


def _archived_file_sizes(console: ReviewConsole, record: LedgerRecord) -> Iterator[Size]:
    """File-level sizes in the raw bodies kept for this file, newest first, each read only when asked
    for: a page whose size the output gives costs no read."""
    for raw_key in reversed(record.raw_keys):
        body = console.service.stores.raw.get(raw_key)
        size = file_level_size(body, record.request_file_id) if body is not None else None
        if size is not None:
            yield size


def _raw_time(console: ReviewConsole, raw_key: str) -> str:
    state = console.records.state
    found = state.objects.head(state.bucket, raw_key)
    if found is None or found.last_modified is None:
        return ""
    return utc_iso(found.last_modified)


@review.get("/documents/<request_file_id>/pages/<int:page>")
def page_image(request_file_id: str, page: int) -> BaseResponse:
    record, doc = _record_and_output(request_file_id)
    if page >= max(doc.pages if doc else 1, 1):
        abort(404, "no such page")  # checked before any download or render
    try:
        body, info = _console().pages.image(record, page)
    except PageOutOfRange:
        abort(404, "no such page")
    except RenderError as error:
        abort(422, str(error))
    response = Response(body, mimetype=info.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    return response


# ---- actions ----


@review.post("/documents/<request_file_id>/edit")
def edit(request_file_id: str) -> BaseResponse:
    label = request.form.get("field", "")
    value = request.form.get("value", "")
    return _act(request_file_id, lambda a, i: a.edit_field(i, label, value, by=g.reviewer), f"Saved {label}.")


@review.post("/documents/<request_file_id>/approve")
def approve(request_file_id: str) -> BaseResponse:
    return _act(request_file_id, lambda a, i: a.approve(i, by=g.reviewer), "Approved.")


@review.post("/documents/<request_file_id>/reject")
def reject(request_file_id: str) -> BaseResponse:
    reason = request.form.get("reason", "")
    return _act(request_file_id, lambda a, i: a.reject(i, reason, by=g.reviewer), "Rejected.")


Action = Callable[[ReviewActions, str], ActionResult]


def _act(request_file_id: str, action: Action, done: str) -> BaseResponse:
    if not SAFE_ID.fullmatch(request_file_id):
        abort(404, "no such document")
    file_id = request_file_id
    page = request.form.get("page", default=0, type=int) or 0
    try:
        result: ActionResult = action(_console().actions, file_id)
    except NotReviewable as error:
        flash(str(error), "error")
    except ActionRefused as error:
        flash(str(error), "error")
    else:
        flash(done if result.wrote_output else f"{done} (the output already said so)", "ok")
        if result.push_error:
            flash(f"Nanonets did not take it yet ({result.push_error}); it will be sent again.", "warn")
    return redirect(url_for("review.document", request_file_id=file_id, page=page), code=303)
