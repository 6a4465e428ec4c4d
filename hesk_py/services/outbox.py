"""Queueing email: a row in the outbox, added to the caller's transaction (never committed here).

Delivery lives in ``hesk_py/services/mailer.py``.
"""
from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Ticket, User


def queue(template: str, recipient: str, *, ticket: Ticket | None = None, language: str | None = None,
          context: dict[str, Any] | None = None, cc: list[str] | None = None) -> OutboxMessage | None:
    """Add one email to the outbox in the current transaction. Returns None for an empty address and for
    a muted one (Tools -> Bans and mutes: its tickets are accepted, nothing is ever mailed to it); muted
    ``cc`` addresses are left out too."""
    from hesk_py.services.bans import is_email_muted

    recipient = (recipient or "").strip()
    if not recipient or is_email_muted(recipient):
        return None
    cc = [c.strip() for c in cc or () if c and c.strip() and not is_email_muted(c)]
    msg = OutboxMessage(template=template, recipient=recipient, language=language, context=context or {},
                        cc=cc or None)
    if ticket is not None:
        msg.ticket_id = ticket.id
    db.session.add(msg)
    if has_app_context():
        g._hesk_outbox_pending = True  # the app sends it right after the response
    return msg


def wants(user: User, flag: str) -> bool:
    """A staff member's notify_* preference (HESK's defaults: on)."""
    prefs = user.preferences or {}
    return bool(prefs.get(flag, True))


def staff_for_category(category_id: int) -> list[User]:
    """Active staff who may see tickets of this category: every administrator, and staff with access."""
    from hesk_py.services.accounts import has_category_clause  # own access or a permission group's

    stmt = (
        select(User)
        .where(User.active.is_(True))
        .where((User.is_admin.is_(True)) | has_category_clause(category_id))
    )
    return list(db.session.scalars(stmt).unique())
