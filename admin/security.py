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
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, after_this_request, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from hesk_py import settings

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
MFA_PENDING = "hesk_mfa_pending"  # session key: password accepted, second factor not yet
MFA_PENDING_MAX_AGE = 600


# --- redirects ----------------------------------------------------------------------------------------

def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None. Refuses other sites in every disguise:
    ``//evil``, ``/\\evil``, ``https:evil``, tabs or newlines (browsers drop them), non-ASCII look-alikes."""
    if not target or len(target) > 2000:
        return None
    if any(ord(ch) < 33 or ord(ch) > 126 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


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
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("admin.auth.login", next=_current_path()))
        return redirect(url_for("admin.auth.login"))
    g.hesk_user_language = current_user.language
    if (request.endpoint not in ENROLMENT_ENDPOINTS and not current_user.mfa_method
            and bool(settings.get("require_mfa"))):
        flash(_("This help desk requires two-factor authentication. Set it up to continue."), "warning")
        return redirect(url_for("admin.mfa.index"))
    return None


def _login_from_cookie() -> None:
    from hesk_py.services import accounts

    user, new_value = accounts.use_remember_token(request.cookies.get(REMEMBER_COOKIE))
    if user is None:
        after_this_request(forget_remember_cookie)
        return
    session.clear()  # a new session for this login
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

_DURATION_RE = re.compile(r"^\s*(\d{1,6})\s*([MHD]?)\s*$", re.IGNORECASE)


def elevation_duration() -> timedelta:
    """``elevator_duration`` as a timedelta: HESK stores ``60M`` / ``2H`` / ``1D``; a bare number is minutes."""
    raw = settings.get("elevator_duration")
    match = _DURATION_RE.match(str(raw))
    if not match:
        return timedelta(minutes=60)
    amount, unit = int(match.group(1)), match.group(2).upper() or "M"
    return {"M": timedelta(minutes=amount), "H": timedelta(hours=amount), "D": timedelta(days=amount)}[unit]


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
            if request.method == "GET":
                target = _current_path()
            else:
                # a form sent after the time ran out: back to the page it came from, to send it again
                ref = urlsplit(request.referrer or "")
                same_site = not ref.netloc or ref.netloc == request.host
                target = ref.path + (f"?{ref.query}" if ref.query else "") if same_site and ref.path else None
            return redirect(url_for("admin.auth.elevator", next=safe_next(target)))
        return view(*args, **kwargs)

    return wrapped
