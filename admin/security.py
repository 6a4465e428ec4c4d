"""Who may use the staff panel: the login guard of the ``admin`` blueprint, permission decorators, and
re-authentication before secure areas (HESK's "elevator").

Use on a view, permission first (so staff without the right get 403, not a password prompt)::

    @bp.route("/settings/<tab>", methods=["GET", "POST"])
    @require_feature("can_man_settings")
    @require_recent_auth
    def tab(tab): ...
"""
from __future__ import annotations

import functools
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, after_this_request, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from hesk_py import settings
from hesk_py.web_security import CUSTOMER_LOGIN_KEYS, restart_session
from hesk_py.web_security import safe_next  # noqa: F401  (admin modules import it from here)
from hesk_py.models.types import utcnow
from hesk_py.services.accounts import elevation_duration  # one rule for staff and customers

log = logging.getLogger(__name__)

# Endpoints reachable without logging in (login, its second step, password reset).
PUBLIC_ENDPOINTS = {
    "admin.auth.login",
    "admin.auth.verify",
    "admin.auth.resend_code",
    "admin.auth.forgot_password",
    "admin.auth.reset_password",
    "admin.welcome.login",  # the installer's one-time "Log in as ..." (admin/welcome.py checks its grant)
}
# What a logged-in user may still open while require_mfa makes them set up a second factor.
ENROLMENT_ENDPOINTS = {
    "admin.mfa.index",
    "admin.mfa.app_start",
    "admin.mfa.app",
    "admin.mfa.email_start",
    "admin.mfa.email",
    "admin.auth.logout",
    "admin.auth.elevator",
}

REMEMBER_COOKIE = "hesk_remember"
AUTH_AT = "hesk_auth_at"  # session key: when the password was last typed (epoch seconds)
SEEN_AT = "hesk_seen_at"  # session key: this login's last request (epoch seconds), for the idle time-out
SEEN_STEP = 15  # seconds: the session cookie is rewritten at most this often for SEEN_AT
ONLINE_STEP = timedelta(minutes=1)  # the users-online time is written at most once a minute per user
# Requests a page's scripts make on their own (polling): they neither count as activity nor keep a session
# alive. The keep-alive ping (extend_admin) does, on purpose.
PASSIVE_ENDPOINTS = {"admin.tickets.viewers"}
KEEPALIVE_ENDPOINT = "admin.auth.keepalive"
# Forms whose typed reply is kept as a draft when the session has timed out (HESK's lost-reply problem)
_REPLY_ENDPOINTS = {"admin.tickets.reply", "admin.tickets.draft"}
MFA_PENDING = "hesk_mfa_pending"  # session key: password accepted, second factor not yet
MFA_PENDING_MAX_AGE = 600


# --- redirects ----------------------------------------------------------------------------------------

# safe_next (a local path, else None) is shared with the customer side: hesk_py/web_security.py


def _current_path() -> str:
    # with the prefix the help desk is mounted at (/helpdesk), so a redirect to it stays inside
    path = request.script_root + request.full_path
    return path[:-1] if path.endswith("?") else path


# --- the login guard -----------------------------------------------------------------------------------

def guard():
    """``before_request`` of the admin blueprint: log in from a remember-me cookie, send strangers to the
    login page, make staff set up a second factor when the help desk requires one."""
    if not current_user.is_authenticated and request.cookies.get(REMEMBER_COOKIE):
        _login_from_cookie()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated and idle_expired():
        expired = _end_idle_session()
        if expired is not None:
            return expired
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("admin.auth.login", next=_current_path()))
        return redirect(url_for("admin.auth.login"))
    if _is_activity():
        mark_seen()
    g.hesk_user_language = current_user.language
    if (request.endpoint not in ENROLMENT_ENDPOINTS and not current_user.mfa_method
            and bool(settings.get("require_mfa"))):
        flash(_("This help desk requires two-factor authentication. Set it up to continue."), "warning")
        return redirect(url_for("admin.mfa.index"))
    return None


# --- the idle time-out and the users-online time ------------------------------------------------------

def idle_limit() -> int:
    """Seconds without a request after which a staff session ends (bootstrap ``[security]
    session_idle_minutes``, like PHP's session lifetime that HESK relies on); 0 never."""
    return max(0, int(current_app.config.get("HESK_SESSION_IDLE_MINUTES") or 0)) * 60


def keepalive_seconds() -> int | None:
    """How often an open staff page pings (HESK: every 5 minutes), when "Extend staff sessions" is on and
    sessions do time out; else None (no ping)."""
    limit = idle_limit()
    if not limit or not current_user.is_authenticated or not settings.get("extend_admin"):
        return None
    return min(300, max(20, limit // 3))


def idle_expired() -> bool:
    limit = idle_limit()
    seen = session.get(SEEN_AT)
    # a session from before this check existed has no time yet: it starts counting now
    return bool(limit) and isinstance(seen, int) and time.time() - seen > limit


def _is_activity() -> bool:
    if request.endpoint in PASSIVE_ENDPOINTS:
        return False
    # the keep-alive ping counts only while "Extend staff sessions" is on
    return request.endpoint != KEEPALIVE_ENDPOINT or bool(settings.get("extend_admin"))


def mark_seen() -> None:
    """This request is activity: push the idle time-out back, and note it for the users-online list."""
    now = int(time.time())
    seen = session.get(SEEN_AT)
    if not isinstance(seen, int) or now - seen >= SEEN_STEP:
        session[SEEN_AT] = now
    # Only once the schema is known to be current: the column comes with revision 0018, and an admin must
    # reach /admin/upgrade/ on an older database (the login loader then reads it with the user row).
    if settings.get("online") and _schema_current():
        last = current_user.last_seen_at  # read with the user row the login loader loaded anyway
        if last is None or utcnow() - last >= ONLINE_STEP:
            g.hesk_record_online = current_user.id  # written after the response is built (record_online)


def _schema_current() -> bool:
    """No migration pending (asked once per process: after that a flag answers, see admin/upgrade.py)."""
    from admin.upgrade import schema_behind

    return not schema_behind()


def record_online(response):
    """``after_request``: store the users-online time (one UPDATE, at most once a minute per user)."""
    uid = g.pop("hesk_record_online", None)
    if uid is not None and response.status_code < 500:
        from sqlalchemy import update

        from hesk_py.extensions import db
        from hesk_py.models import User

        try:
            db.session.execute(update(User).where(User.id == uid).values(last_seen_at=utcnow()))
            db.session.commit()
        except Exception:  # noqa: BLE001  (the list is a courtesy: never fail a page for it)
            db.session.rollback()
            log.warning("could not record the users-online time of user %s", uid, exc_info=True)
    return response


def users_online() -> list[tuple[int, str]]:
    """For the staff home page: who was online lately, when the list is on and the viewer may see it."""
    if not current_user.is_authenticated or not settings.get("online") or not current_user.can("can_view_online"):
        return []
    from hesk_py.services.accounts import users_online as online

    return online(int(settings.get("online_min")), including=current_user._get_current_object())


def mark_offline(user) -> None:
    """Logged out: off the users-online list at once (HESK deletes its row in ``online``)."""
    if not (settings.get("online") and _schema_current()) or user.last_seen_at is None:
        return
    user_id = user.id
    from sqlalchemy import update

    from hesk_py.extensions import db
    from hesk_py.models import User

    db.session.execute(update(User).where(User.id == user_id).values(last_seen_at=None))
    db.session.commit()


def _keep_typed_reply(user) -> bool:
    """A reply (or its auto-saved draft) sent after the session timed out: keep what was typed as the
    user's draft of that ticket, so it is in the reply form after they log in again. The CSRF token was
    already checked (the app's CSRF guard runs first), so the text comes from this user's own page."""
    if request.method != "POST" or request.endpoint not in _REPLY_ENDPOINTS:
        return False
    message = request.form.get("message") or ""
    trackid = (request.view_args or {}).get("trackid") or ""
    if not message.strip() or not trackid:
        return False
    from hesk_py.services import ticket_access, ticket_work
    from hesk_py.services.errors import InvalidTicketData, TicketNotFound

    try:
        ticket = ticket_access.find_visible(user, trackid)
        if not ticket_access.may(user, "draft", ticket):
            return False
        return ticket_work.save_draft(ticket, user, message) is not None
    except (TicketNotFound, InvalidTicketData):
        return False


def _end_idle_session():
    """The session timed out: log out (a "remember me" cookie logs the user in again, as in HESK) and
    send the next step to the login page, with the typed reply kept as a draft. None: carry on, logged
    in again from the cookie."""
    user = current_user._get_current_object()
    kept = _keep_typed_reply(user)
    trackid = (request.view_args or {}).get("trackid") if kept else None
    logout_user()
    restart_session(keep=CUSTOMER_LOGIN_KEYS)  # a customer login in this browser stays
    if request.cookies.get(REMEMBER_COOKIE):
        _login_from_cookie()
    if current_user.is_authenticated:
        if request.method == "GET":
            return None
        if kept:
            flash(_("Your reply was kept as a draft: check it and send it again."), "warning")
            return redirect(url_for("admin.tickets.view", trackid=trackid, _anchor="reply"))
        # the form's token belonged to the ended session: back to the page, to send it again
        return redirect(_referring_page() or url_for("admin.tickets.index"))
    minutes = max(1, idle_limit() // 60)
    flash(ngettext("Your session ended after %(num)s minute without activity. Log in again.",
                   "Your session ended after %(num)s minutes without activity. Log in again.", minutes), "warning")
    if kept:
        flash(_("Your reply was kept as a draft: it is in the reply form when you are back."), "success")
        target = url_for("admin.tickets.view", trackid=trackid)
    elif request.method == "GET" and request.endpoint not in PASSIVE_ENDPOINTS | {KEEPALIVE_ENDPOINT}:
        target = _current_path()
    else:
        target = _referring_page()
    return redirect(url_for("admin.auth.login", next=safe_next(target)))


def _referring_page() -> str | None:
    """The page a form was sent from, when it is on this site."""
    ref = urlsplit(request.referrer or "")
    same_site = not ref.netloc or ref.netloc == request.host
    target = ref.path + (f"?{ref.query}" if ref.query else "") if same_site and ref.path else None
    return safe_next(target)


def _login_from_cookie() -> None:
    from hesk_py.services import accounts

    user, new_value = accounts.use_remember_token(request.cookies.get(REMEMBER_COOKIE))
    if user is None:
        after_this_request(forget_remember_cookie)
        return
    restart_session(keep=CUSTOMER_LOGIN_KEYS)  # a new session for this login (a customer login stays)
    login_user(user, remember=False)
    session[AUTH_AT] = 0  # a cookie login is no password entry: secure areas still ask for it
    if new_value:
        after_this_request(lambda response: set_remember_cookie(response, new_value))


def _cookie_path() -> str:
    return url_for("admin.auth.login").rsplit("/", 1)[0] + "/"


def set_remember_cookie(response, value: str):
    from flask import current_app

    from hesk_py.services.accounts import REMEMBER_DAYS

    response.set_cookie(REMEMBER_COOKIE, value, max_age=int(timedelta(days=REMEMBER_DAYS).total_seconds()),
                        path=_cookie_path(), secure=bool(current_app.config.get("HESK_SECURE_COOKIES")),
                        httponly=True, samesite="Lax")
    return response


def forget_remember_cookie(response):
    response.delete_cookie(REMEMBER_COOKIE, path=_cookie_path())
    return response


# --- permissions ---------------------------------------------------------------------------------------

def require_feature(*features: str):
    """403 unless the user is an administrator or has every one of these permission keys."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(403)
            if not all(current_user.can(f) for f in features):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_admin(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


# --- re-authentication for secure areas ----------------------------------------------------------------

def mark_recent_auth() -> None:
    """The user just typed their password."""
    session[AUTH_AT] = int(time.time())


def is_recently_authenticated() -> bool:
    at = session.get(AUTH_AT)
    if not isinstance(at, int) or at <= 0:
        return False
    return time.time() - at < elevation_duration().total_seconds()


def require_recent_auth(view):
    """Ask for the password again when it was typed longer ago than ``elevator_duration`` (or the login
    came from a remember-me cookie). After it, the user comes back to this page (a GET of it)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_recently_authenticated():
            # a form sent after the time ran out: back to the page it came from, to send it again
            target = _current_path() if request.method == "GET" else _referring_page()
            return redirect(url_for("admin.auth.elevator", next=safe_next(target)))
        return view(*args, **kwargs)

    return wrapped
