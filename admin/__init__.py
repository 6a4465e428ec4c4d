"""The staff panel: blueprint ``admin`` at /admin, one child blueprint per area, one login guard."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import DBAPIError

from admin import auth, mfa, profile, security, tickets, upgrade, welcome
from admin import display, knowledgebase, service_messages
from admin import canned, ticket_templates
from admin import email_templates
from admin import categories, priorities, statuses
from admin import team
from admin import customers
from admin import bans, custom_fields
from admin import outbox, quarantine
from admin import settings as settings_pages

bp = Blueprint("admin", __name__)

# Endpoints reachable without logging in (admin/security.py keeps the list and the guard).
PUBLIC_ENDPOINTS = security.PUBLIC_ENDPOINTS


@bp.before_request
def _require_login():
    return security.guard()


bp.after_request(security.record_online)  # the users-online time, once the page is built
bp.context_processor(lambda: {"keepalive_seconds": security.keepalive_seconds,  # "Extend staff sessions"
                               "users_online": security.users_online})  # the staff home page's list


# While schema migrations are pending: a banner on every page, and a page saying how to upgrade when one
# fails for want of them (admin/upgrade.py).
bp.context_processor(upgrade.template_context)
bp.register_error_handler(DBAPIError, upgrade.database_error)


bp.register_blueprint(auth.bp)
bp.register_blueprint(profile.bp, url_prefix="/profile")
bp.register_blueprint(mfa.bp, url_prefix="/mfa")
bp.register_blueprint(tickets.bp)
bp.register_blueprint(settings_pages.bp)
bp.register_blueprint(upgrade.bp, url_prefix="/upgrade")
bp.register_blueprint(welcome.bp, url_prefix="/welcome")
bp.register_blueprint(knowledgebase.bp)
bp.register_blueprint(canned.bp)
bp.register_blueprint(ticket_templates.bp)
bp.register_blueprint(email_templates.bp)
bp.register_blueprint(service_messages.bp)
bp.register_blueprint(display.bp)
bp.register_blueprint(categories.bp)
bp.register_blueprint(statuses.bp)
bp.register_blueprint(priorities.bp)
bp.register_blueprint(team.bp)
bp.register_blueprint(customers.bp)
bp.register_blueprint(bans.bp)
bp.register_blueprint(custom_fields.bp)
bp.register_blueprint(outbox.bp)
bp.register_blueprint(quarantine.bp)
