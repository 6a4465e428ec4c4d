"""Staff sign-in: login (password, then the second factor), logout, forgotten password, and the
re-authentication page before secure areas (HESK's elevator)."""
from __future__ import annotations

import time

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from admin import security
from admin.forms import (
    ActionForm,
    ElevatorForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    MfaCodeForm,
    ResetPasswordForm,
)
from admin.security import MFA_PENDING, safe_next
from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import User
from hesk_py.services import accounts, attempts, mfa
from hesk_py.web_security import CUSTOMER_LOGIN_KEYS, restart_session

bp = Blueprint("auth", __name__)


def _ip() -> str:
    return request.remote_addr or ""


def _home() -> str:
    return url_for("admin.tickets.index")


def _blocked_minutes(*keys: str) -> int:
    return max(attempts.minutes_left(k) for k in keys)


def _record_failure(*keys: str) -> None:
    for key in keys:
        attempts.record_failure(key)


def _clear(*keys: str) -> None:
    for key in keys:
        attempts.clear(key)


def _too_many(minutes: int) -> str:
    return ngettext("Too many failed attempts. Try again in %(n)s minute.",
                    "Too many failed attempts. Try again in %(n)s minutes.", minutes, n=minutes)


# --- login: the password ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or _home())
    form = LoginForm()
    autologin = bool(settings.get("autologin"))
    error = None
    status = 200
    if form.validate_on_submit():
        ip = _ip()
        account_key = accounts.throttle_key("login", form.username.data)
        blocked = _blocked_minutes(ip, account_key)
        if blocked:
            error, status = _too_many(blocked), 429
        else:
            user = accounts.authenticate(form.username.data, form.password.data)
            if user is not None:
                _clear(ip, account_key)
                return _password_accepted(user, remember=autologin and form.remember.data, next_url=next_url)
            _record_failure(ip, account_key)
            # the same words whether the username exists, the password is wrong or the account is off
            error, status = _("Wrong username or password."), 401
    elif request.method == "POST":
        error, status = _("Enter your username and password."), 400
    return render_template("admin/auth/login.html", form=form, error=error, autologin=autologin,
                           remember_days=accounts.REMEMBER_DAYS, reset_pass=bool(settings.get("reset_pass")),
                           usernames=_usernames() if settings.get("list_users") else None), status


def _usernames() -> list[str]:
    """HESK's "List usernames": the active staff's usernames for a drop-down on the login page."""
    from sqlalchemy import select

    return list(db.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)))


def _password_accepted(user: User, *, remember: bool, next_url: str | None):
    if not user.mfa_method:
        return _finish_login(user, remember=remember, next_url=next_url)
    # half logged in: this session knows who typed the right password, and grants nothing else (a customer
    # login in this browser stays)
    restart_session(keep=CUSTOMER_LOGIN_KEYS)
    session[MFA_PENDING] = {"uid": user.id, "sv": user.session_version, "at": int(time.time()),
                            "remember": bool(remember), "next": next_url}
    if user.mfa_method == mfa.METHOD_EMAIL:
        mfa.send_email_code(user)
    return redirect(url_for(".verify"))


def _finish_login(user: User, *, remember: bool, next_url: str | None):
    restart_session(keep=CUSTOMER_LOGIN_KEYS)  # a new session at login (no fixation); a customer login stays
    login_user(user, remember=False, fresh=True)
    security.mark_recent_auth()
    response = redirect(next_url or _home())
    if remember:
        security.set_remember_cookie(response, accounts.issue_remember_token(user))
    return response


# --- login: the second factor -------------------------------------------------------------------------

def _pending_user() -> User | None:
    pending = session.get(MFA_PENDING)
    if not isinstance(pending, dict):
        return None
    if not isinstance(pending.get("at"), int) or time.time() - pending["at"] > security.MFA_PENDING_MAX_AGE:
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or user.session_version != pending.get("sv") or not user.mfa_method:
        return None
    return user


def _restart_login(message: str):
    session.pop(MFA_PENDING, None)
    flash(message, "error")
    return redirect(url_for(".login"))


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    if current_user.is_authenticated:
        return redirect(_home())
    user = _pending_user()
    if user is None:
        return _restart_login(_("Your sign-in has expired. Log in again."))
    form = MfaCodeForm()
    status = 200
    if form.validate_on_submit():
        ip = _ip()
        account_key = f"mfa:{user.id}"
        blocked = _blocked_minutes(ip, account_key)
        if blocked:
            return _restart_login(_too_many(blocked))
        if mfa.verify(user, form.code.data):
            _clear(ip, account_key)
            pending = session.get(MFA_PENDING) or {}
            return _finish_login(user, remember=bool(pending.get("remember")),
                                 next_url=safe_next(pending.get("next")))
        _record_failure(ip, account_key)
        form.code.errors.append(_("This code is not valid. Check it and try again."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("admin/auth/verify.html", form=form, method=user.mfa_method,
                           resend_form=ActionForm()), status


@bp.post("/login/verify/resend")
def resend_code():
    user = _pending_user()
    if user is None:
        return _restart_login(_("Your sign-in has expired. Log in again."))
    if ActionForm().validate_on_submit() and user.mfa_method == mfa.METHOD_EMAIL:
        if mfa.send_email_code(user):
            flash(_("We sent you a new code."), "success")
        else:
            flash(_("A code was sent moments ago. Wait a little before asking for another."), "warning")
    return redirect(url_for(".verify"))


# --- logout ---------------------------------------------------------------------------------------------

@bp.post("/logout")
def logout():
    form = LogoutForm()
    response = redirect(url_for(".login"))
    if form.validate_on_submit():
        accounts.revoke_remember_token(request.cookies.get(security.REMEMBER_COOKIE))
        if current_user.is_authenticated:
            security.mark_offline(current_user)
        logout_user()
        restart_session(keep=CUSTOMER_LOGIN_KEYS)  # a customer login in this browser stays
        security.forget_remember_cookie(response)
        flash(_("You have been logged out."), "success")
    return response


@bp.get("/keepalive")
def keepalive():
    """The ping of an open staff page while "Extend staff sessions" is on (static/js/admin-keepalive.js):
    the login guard counts it as activity, so the idle time-out does not end the session. 204, no body."""
    if not settings.get("extend_admin"):
        abort(404)
    response = make_response("", 204)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- forgotten password -------------------------------------------------------------------------------

def _require_reset_enabled() -> None:
    if not settings.get("reset_pass"):
        abort(404)


@bp.route("/forgot_password", methods=["GET", "POST"])
def forgot_password():
    _require_reset_enabled()
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        key = f"reset:{_ip()}"
        blocked = attempts.minutes_left(key)
        if blocked:
            return render_template("admin/auth/forgot_password.html", form=form, sent=False,
                                   error=ngettext("Too many requests. Try again in %(n)s minute.",
                                            "Too many requests. Try again in %(n)s minutes.", blocked, n=blocked)), 429
        # every request counts, so one address cannot send a flood of reset emails
        attempts.record_failure(key)
        accounts.request_password_reset(form.username.data, _ip())
        # the same page whether or not the account exists
        return render_template("admin/auth/forgot_password.html", form=form, sent=True, error=None)
    return render_template("admin/auth/forgot_password.html", form=form, sent=False, error=None), (
        400 if request.method == "POST" else 200)


@bp.route("/reset_password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    _require_reset_enabled()
    if accounts.find_reset(token) is None:
        return render_template("admin/auth/reset_password.html", form=None, invalid=True), 404
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, new=form.password.data, confirm=form.confirm.data)
        except accounts.AccountError as exc:
            if "token" in exc.errors:
                return render_template("admin/auth/reset_password.html", form=None, invalid=True), 404
            form.password.errors = [exc.errors["password"]] if "password" in exc.errors else []
            form.confirm.errors = [exc.errors["confirm"]] if "confirm" in exc.errors else []
            status = 400
        else:
            # a reset is not a login: sign in with the new password (and the second factor)
            logout_user()
            restart_session(keep=CUSTOMER_LOGIN_KEYS)
            flash(_("Your password has been changed. Log in with the new password."), "success")
            return redirect(url_for(".login"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/auth/reset_password.html", form=form, invalid=False), status


# --- re-authentication before secure areas ------------------------------------------------------------

@bp.route("/elevator", methods=["GET", "POST"])
def elevator():
    next_url = safe_next(request.args.get("next")) or _home()
    form = ElevatorForm()
    status = 200
    if form.validate_on_submit():
        ip = _ip()
        account_key = f"elev:{current_user.id}"
        if _blocked_minutes(ip, account_key):
            # HESK logs out a user who keeps typing wrong passwords
            blocked = _blocked_minutes(ip, account_key)
            accounts.revoke_remember_token(request.cookies.get(security.REMEMBER_COOKIE))
            logout_user()
            restart_session(keep=CUSTOMER_LOGIN_KEYS)
            flash(_too_many(blocked), "error")
            return security.forget_remember_cookie(redirect(url_for(".login")))
        if accounts.check_password(current_user, form.password.data):
            _clear(account_key)
            security.mark_recent_auth()
            return redirect(next_url)
        _record_failure(ip, account_key)
        form.password.errors.append(_("Wrong password."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("admin/auth/elevator.html", form=form), status
