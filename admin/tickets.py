"""The staff ticket list (the full list, filters and actions come with the staff panel issue)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Status, Ticket
from hesk_py.models.workflow import STATUS_CLOSED

bp = Blueprint("tickets", __name__)


def visible_tickets_query(user):
    """Tickets this staff member may see: their categories, and unassigned/others' tickets only with
    the permissions for them."""
    from sqlalchemy import or_

    stmt = select(Ticket)
    if not user.is_admin:
        stmt = stmt.where(Ticket.category_id.in_(user.category_ids or {0}))
        owner_rules = [Ticket.owner_id == user.id]
        if user.can("can_view_unassigned"):
            owner_rules.append(Ticket.owner_id.is_(None))
        if user.can("can_view_ass_others"):
            owner_rules.append(Ticket.owner_id.is_not(None))
        elif user.can("can_view_ass_by"):
            owner_rules.append(Ticket.assigned_by_id == user.id)
        stmt = stmt.where(or_(*owner_rules))
    return stmt


@bp.get("/")
def index():
    limit = int(settings.get("max_listings"))
    stmt = (
        visible_tickets_query(current_user)
        .join(Status, Status.id == Ticket.status_id)
        .where(Status.kind != STATUS_CLOSED)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    tickets = db.session.scalars(stmt).all()
    return render_template("admin/tickets/index.html", tickets=tickets)
