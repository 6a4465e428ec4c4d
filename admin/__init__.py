"""The staff panel: blueprint ``admin`` at /admin, one child blueprint per area, one login guard."""
from __future__ import annotations

from flask import Blueprint, g, request
from flask_login import current_user

from admin import auth, tickets

bp = Blueprint("admin", __name__)

# Endpoints reachable without logging in.
PUBLIC_ENDPOINTS = {"admin.auth.login"}


@bp.before_request
def _require_login():
    from hesk_py.extensions import login_manager

    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    g.hesk_user_language = current_user.language
    return None


bp.register_blueprint(auth.bp)
bp.register_blueprint(tickets.bp)
