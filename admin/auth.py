"""Staff login and logout."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from admin.forms import LoginForm, LogoutForm
from hesk_py.services import accounts, attempts

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    ip = request.remote_addr or ""
    if form.validate_on_submit():
        blocked = attempts.minutes_left(ip)
        if blocked:
            error = _("Too many failed attempts. Try again in %(n)s minutes.", n=blocked)
            return render_template("admin/auth/login.html", form=form, error=error), 429
        user = accounts.authenticate(form.username.data, form.password.data)
        if user is not None:
            attempts.clear(ip)
            session.clear()  # a fresh session at login (no fixation)
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.tickets.index"))
        attempts.record_failure(ip)
        error = _("Wrong username or password.")
    elif request.method == "POST" and not form.errors.get("csrf_token"):
        error = _("Enter your username and password.")
    return render_template("admin/auth/login.html", form=form, error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash(_("You have been logged out."), "success")
    return redirect(url_for("admin.auth.login"))
