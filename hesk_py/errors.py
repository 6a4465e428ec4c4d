"""Error pages: 400, 403, 404, 405, 413 (request too large), 500 and 503 (database unreachable), rendered
from templates.

Debug mode (the ``debug_mode`` setting, HESK's "show detailed errors"): on a 500 page an administrator also
sees the exception's type, message and traceback, with secrets removed (hesk_py/logs.py's redaction plus the
configured passwords and keys themselves). Customers and other staff always get the plain page.
"""
from __future__ import annotations

import logging
import traceback

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _page(code: int, template: str, **ctx):
    if _wants_json():
        return jsonify({"error": code}), code
    try:
        return render_template(template, code=code, **ctx), code
    except Exception:  # the error page itself must not fail (e.g. the database is down)
        log.exception("rendering the %s page failed", code)
        return render_template("errors/minimal.html", code=code), code


def _known_secrets() -> list[str]:
    """The passwords and keys this help desk is configured with, as they could appear in an error."""
    from urllib.parse import quote, quote_plus

    from flask import current_app
    from sqlalchemy.engine import make_url

    from hesk_py import settings

    found = [str(current_app.config.get("SECRET_KEY") or "")]
    try:
        password = make_url(str(current_app.config.get("SQLALCHEMY_DATABASE_URI") or "")).password
    except Exception:  # noqa: BLE001  (an unparsable URL has no password to hide)
        password = None
    if password:
        found += [str(password), quote(str(password), safe=""), quote_plus(str(password))]
    for key in ("smtp_password", "imap_password", "pop3_password"):
        try:
            found.append(str(settings.get(key) or ""))
        except Exception:  # noqa: BLE001  (the database may be what failed)
            _rollback()
    return found


def _rollback() -> None:
    from hesk_py.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        pass


def debug_report(exc: BaseException | None) -> dict | None:
    """What an administrator sees of an error in debug mode (type, message, traceback; secrets removed),
    or None: debug mode off, no exception, or the viewer is not an administrator."""
    if exc is None:
        return None
    try:
        from flask_login import current_user

        from hesk_py import settings

        if not (current_user.is_authenticated and getattr(current_user, "is_admin", False)):
            return None
        if not settings.get("debug_mode"):
            return None
    except Exception:  # noqa: BLE001  (no database, no session: no report, the plain page)
        _rollback()
        return None
    from hesk_py.logs import redact

    known = _known_secrets()
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        "message": redact(str(exc), known),
        "traceback": redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), known),
    }


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _page(400, "errors/400.html", reason="csrf")

    @app.errorhandler(400)
    def bad_request(exc):
        return _page(400, "errors/400.html")

    @app.errorhandler(403)
    def forbidden(exc):
        return _page(403, "errors/403.html")

    @app.errorhandler(404)
    def not_found(exc):
        return _page(404, "errors/404.html")

    @app.errorhandler(405)
    def not_allowed(exc):
        return _page(405, "errors/405.html")

    @app.errorhandler(413)
    def too_large(exc):
        # the body was not read, so the form cannot come back filled in; say how much is allowed and that
        # going back in the browser usually keeps what was typed
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return _page(413, "errors/413.html", limit_mb=max(1, round(limit / 1024 / 1024)) if limit else None)

    @app.errorhandler(OperationalError)
    def db_down(exc):
        from hesk_py.extensions import db

        db.session.rollback()
        log.error("database unreachable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return _page(503, "errors/503.html")

    @app.errorhandler(DBAPIError)
    def db_error(exc):
        from hesk_py.extensions import db

        db.session.rollback()
        if exc.connection_invalidated:
            return _page(503, "errors/503.html")
        log.exception("database error")
        return _page(500, "errors/500.html", debug=debug_report(exc))

    @app.errorhandler(500)
    def server_error(exc):
        return _page(500, "errors/500.html", debug=debug_report(getattr(exc, "original_exception", None)))

    @app.errorhandler(HTTPException)
    def other_http(exc):
        return _page(exc.code or 500, "errors/generic.html", description=exc.description)
