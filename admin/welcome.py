"""The first login after the web installer: the Finish page's "Log in as ..." button posts here.

The installer (install/, running in the not-yet-installed app) leaves a one-time grant beside the
config file and the matching token in the browser's session (hesk_py/services/first_login.py); this
installed app honours it once, within an hour, and never again. Without a valid grant it only points to
the login form. The POST is CSRF-checked like every form (the installer's key became this app's key).
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from hesk_py.extensions import db
from hesk_py.models import User
from hesk_py.services import first_login
from hesk_py.web_security import CUSTOMER_LOGIN_KEYS, restart_session

bp = Blueprint("welcome", __name__)

# The session key the installer put the token under (install/views.py).
TOKEN_KEY = "hesk_first_login"


@bp.post("/login")
def login():
    token = session.pop(TOKEN_KEY, None)
    user_id = first_login.consume(current_app.config["HESK_CONFIG_FILE"], token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active or not user.is_admin or user.mfa_method:
        flash(_("This one-time login was already used or has expired. Log in with your username and "
                "password."), "error")
        return redirect(url_for("admin.auth.login"))
    restart_session(keep=CUSTOMER_LOGIN_KEYS)  # a new session at login (no fixation)
    login_user(user, remember=False, fresh=True)
    flash(_("Welcome to your new help desk. Next: set up email in Settings, and add the cron job."), "success")
    return redirect(url_for("admin.tickets.index"))
