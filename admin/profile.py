"""A staff member's own profile: name, email, nickname, signature, language, password, preferences and
notifications, and "log out my other sessions"."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from admin import security
from admin.forms import ActionForm, PasswordForm, PreferencesForm, ProfileForm
from hesk_py.services import accounts, mfa

bp = Blueprint("profile", __name__)


def _forms(**submitted):
    """Every form of the page: the one just submitted (with what was typed) and the others from the
    database."""
    user = current_user._get_current_object()
    forms = {
        "profile_form": submitted.get("profile_form") or ProfileForm(formdata=None, data={
            "name": user.name, "email": user.email, "nickname": user.nickname or "",
            "signature": user.signature or "", "language": user.language or ""}),
        "password_form": submitted.get("password_form") or PasswordForm(formdata=None),
        "preferences_form": submitted.get("preferences_form") or PreferencesForm(
            formdata=None, data=accounts.preferences(user)),
        "sessions_form": ActionForm(formdata=None),
    }
    return forms


def _page(status: int = 200, **submitted):
    user = current_user._get_current_object()
    return render_template("admin/profile/index.html", notify_flags=list(accounts.NOTIFY_FLAGS),
                           mfa_method=user.mfa_method, backup_codes_left=mfa.backup_codes_left(user)
                           if user.mfa_method else 0, **_forms(**submitted)), status


def _keep_logged_in() -> None:
    """After the session version moved on (other sessions ended), log this browser in again."""
    auth_at = session.get(security.AUTH_AT)
    login_user(current_user._get_current_object(), remember=False, fresh=True)
    session[security.AUTH_AT] = auth_at


def _field_errors(form, errors: dict[str, str], mapping: dict[str, str] | None = None) -> None:
    for key, message in errors.items():
        name = (mapping or {}).get(key, key)
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]


@bp.get("")
def index():
    return _page()


@bp.post("")
def update():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            accounts.update_profile(current_user, name=form.name.data, email=form.email.data,
                                    nickname=form.nickname.data, signature=form.signature.data,
                                    language=form.language.data, current_password=form.current_password.data)
        except accounts.AccountError as exc:
            _field_errors(form, exc.errors)
        else:
            flash(_("Your profile has been saved."), "success")
            return redirect(url_for(".index"))
    return _page(400, profile_form=form)


@bp.post("/password")
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, current=form.old_password.data, new=form.new_password.data,
                                     confirm=form.confirm_password.data)
        except accounts.AccountError as exc:
            _field_errors(form, exc.errors, {"current": "old_password", "new": "new_password",
                                             "confirm": "confirm_password"})
        else:
            _keep_logged_in()
            security.mark_recent_auth()
            flash(_("Your password has been changed. Your other sessions have been logged out."), "success")
            return security.forget_remember_cookie(redirect(url_for(".index")))
    return _page(400, password_form=form)


@bp.post("/preferences")
def preferences():
    form = PreferencesForm()
    if form.validate_on_submit():
        values = {key: form[key].data for key in accounts.PREFERENCE_DEFAULTS if key in form}
        try:
            accounts.save_preferences(current_user, values)
        except accounts.AccountError as exc:
            _field_errors(form, exc.errors)
        else:
            flash(_("Your preferences have been saved."), "success")
            return redirect(url_for(".index"))
    return _page(400, preferences_form=form)


@bp.post("/sessions")
def sessions():
    if ActionForm().validate_on_submit():
        accounts.end_sessions(current_user)
        _keep_logged_in()
        flash(_("Your other sessions have been logged out."), "success")
    return security.forget_remember_cookie(redirect(url_for(".index")))
