"""Two-factor authentication pages (HESK's manage_mfa.php): set up an authenticator app or codes by email,
new backup codes, turn it off; an administrator's reset of another staff member's second factor.

Every page is a secure area: the password is asked again after ``elevator_duration``.
"""
from __future__ import annotations

import time

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from admin import security
from admin.forms import ActionForm, MfaCodeForm
from admin.security import require_feature, require_recent_auth
from hesk_py.extensions import db
from hesk_py.models import User
from hesk_py.services import mfa

bp = Blueprint("mfa", __name__)

SETUP = "hesk_mfa_setup"  # session key: the method being set up (and the app secret until confirmed)
SETUP_MAX_AGE = 1800


def _user() -> User:
    return current_user._get_current_object()


def _keep_logged_in() -> None:
    """Turning a second factor on or off ends the other sessions; this browser stays logged in."""
    auth_at = session.get(security.AUTH_AT)
    login_user(_user(), remember=False, fresh=True)
    session[security.AUTH_AT] = auth_at


def _setup(method: str) -> dict | None:
    data = session.get(SETUP)
    if not isinstance(data, dict) or data.get("method") != method or data.get("uid") != current_user.id:
        return None
    if not isinstance(data.get("at"), int) or time.time() - data["at"] > SETUP_MAX_AGE:
        return None
    return data


@bp.get("")
@require_recent_auth
def index():
    user = _user()
    return render_template("admin/mfa/index.html", method=user.mfa_method, required=mfa.is_required(),
                           backup_codes_left=mfa.backup_codes_left(user) if user.mfa_method else 0,
                           form=ActionForm())


# --- the authenticator app -----------------------------------------------------------------------------

@bp.post("/app/start")
@require_recent_auth
def app_start():
    if ActionForm().validate_on_submit():
        session[SETUP] = {"method": mfa.METHOD_TOTP, "uid": current_user.id, "secret": mfa.new_totp_secret(),
                          "at": int(time.time())}
    return redirect(url_for(".app"))


@bp.route("/app", methods=["GET", "POST"])
@require_recent_auth
def app():
    setup = _setup(mfa.METHOD_TOTP)
    if setup is None:
        return redirect(url_for(".index"))
    form = MfaCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.enable_totp(_user(), setup["secret"], form.code.data)
        except mfa.MfaError:
            form.code.errors.append(_("This code is not valid. Check the time on your phone and try again."))
            status = 400
        else:
            session.pop(SETUP, None)  # the secret is never shown again
            _keep_logged_in()
            return _backup_codes_page(codes, _("Your authenticator app is set up."))
    secret = setup["secret"]
    uri = mfa.provisioning_uri(_user(), secret)
    return render_template("admin/mfa/app.html", form=form, secret=mfa.format_secret(secret),
                           qr_code=mfa.qr_code_svg(uri, _("QR code for your authenticator app"))), status


# --- codes by email ------------------------------------------------------------------------------------

@bp.post("/email/start")
@require_recent_auth
def email_start():
    if ActionForm().validate_on_submit():
        session[SETUP] = {"method": mfa.METHOD_EMAIL, "uid": current_user.id, "at": int(time.time())}
        if not mfa.send_email_code(_user()):
            flash(_("A code was sent moments ago. Wait a little before asking for another."), "warning")
    return redirect(url_for(".email"))


@bp.route("/email", methods=["GET", "POST"])
@require_recent_auth
def email():
    if _setup(mfa.METHOD_EMAIL) is None:
        return redirect(url_for(".index"))
    form = MfaCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.enable_email(_user(), form.code.data)
        except mfa.MfaError:
            form.code.errors.append(_("This code is not valid or has expired."))
            status = 400
        else:
            session.pop(SETUP, None)
            _keep_logged_in()
            return _backup_codes_page(codes, _("Codes by email are set up."))
    return render_template("admin/mfa/email.html", form=form, email=current_user.email,
                           resend_form=ActionForm()), status


# --- backup codes, turning it off ----------------------------------------------------------------------

def _backup_codes_page(codes: list[str], message: str):
    # shown in the answer to the POST itself: the codes are never stored in clear, not even in the session
    return render_template("admin/mfa/backup_codes.html", codes=codes, message=message)


@bp.post("/backup_codes")
@require_recent_auth
def backup_codes():
    if not current_user.mfa_method:
        return redirect(url_for(".index"))
    if not ActionForm().validate_on_submit():
        return redirect(url_for(".index"))
    codes = mfa.regenerate_backup_codes(_user())
    return _backup_codes_page(codes, _("New backup codes: the old ones no longer work."))


@bp.post("/disable")
@require_recent_auth
def disable():
    if ActionForm().validate_on_submit() and current_user.mfa_method:
        if mfa.is_required():
            flash(_("This help desk requires two-factor authentication: it cannot be turned off."), "error")
        else:
            mfa.disable(_user())
            _keep_logged_in()
            flash(_("Two-factor authentication is off."), "success")
    return redirect(url_for(".index"))


# --- an administrator resets another staff member's second factor --------------------------------------

def _resettable(user_id: int) -> User:
    target = db.session.get(User, user_id)
    if target is None:
        abort(404)
    if target.is_admin and not current_user.is_admin:
        abort(403)  # staff who manage users cannot weaken an administrator's account
    return target


@bp.get("/users/<int:user_id>")
@require_feature("can_man_users")
@require_recent_auth
def user(user_id: int):
    target = _resettable(user_id)
    return render_template("admin/mfa/user.html", target=target, form=ActionForm(),
                           is_self=target.id == current_user.id)


@bp.post("/users/<int:user_id>/reset")
@require_feature("can_man_users")
@require_recent_auth
def reset_user(user_id: int):
    target = _resettable(user_id)
    if target.id == current_user.id:
        return redirect(url_for(".index"))
    if ActionForm().validate_on_submit() and target.mfa_method:
        mfa.disable(target)
        flash(_("Two-factor authentication of %(name)s has been reset; their sessions have ended.",
                name=target.name), "success")
    return redirect(url_for(".user", user_id=target.id))
