"""Who may see and change which ticket: the one permission rule of the staff panel.

``visible_clause(user)`` is the rule for which tickets a staff member sees (HESK §3.2): their categories,
tickets assigned to them, unassigned tickets only with ``can_view_unassigned``, others' tickets only with
``can_view_ass_others`` (or ``can_view_ass_by`` for tickets they assigned), and nothing without
``can_view_tickets``. The ticket list, search, the ticket view, bulk actions, export, print and attachment
downloads all filter with it in SQL, so a ticket outside it is never loaded at all.

``may(user, action, ticket)`` adds the feature a given action needs on a ticket the user can see.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from hesk_py.extensions import db
from hesk_py.models import Ticket, TicketAlias, User
from hesk_py.services.errors import PermissionDenied, TicketNotFound

# The feature each staff action needs, on top of seeing the ticket (None: seeing it is enough).
# HESK's admin pages check these same keys (reference/HESK.md §3.3, §3.6).
ACTION_FEATURES: dict[str, str | None] = {
    "view": None,
    "print": None,
    "bookmark": None,
    "note": None,
    "reply": "can_reply_tickets",
    "status": "can_reply_tickets",
    "priority": "can_reply_tickets",
    "time_worked": "can_reply_tickets",
    "resend": "can_reply_tickets",
    "draft": "can_reply_tickets",
    "resolve": "can_resolve",
    "lock": "can_resolve",  # locking also resolves the ticket
    "assign_self": "can_assign_self",
    "assign_others": "can_assign_others",
    "due_date": "can_due_date",
    "tag": "can_add_archive",
    "link": "can_link_tickets",
    "merge": "can_merge_tickets",
    "edit": "can_edit_tickets",
    "delete_reply": "can_del_tickets",
    "delete": "can_del_tickets",
    "delete_any_note": "can_del_notes",
    "export": "can_export",
    "ban_email": "can_ban_emails",
    "ban_ip": "can_ban_ips",
}


def visible_clause(user: User) -> ColumnElement[bool]:
    """The SQL condition on ``Ticket`` for the tickets ``user`` may see."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return false()
    if user.is_admin:
        return true()
    if not user.can("can_view_tickets"):
        return false()
    owner_rules = [Ticket.owner_id == user.id]
    if user.can("can_view_unassigned"):
        owner_rules.append(Ticket.owner_id.is_(None))
    if user.can("can_view_ass_others"):
        owner_rules.append(Ticket.owner_id.is_not(None))
    elif user.can("can_view_ass_by"):
        owner_rules.append(Ticket.assigned_by_id == user.id)
    categories = sorted(user.category_ids)
    if not categories:
        return false()
    return Ticket.category_id.in_(categories) & or_(*owner_rules)


def visible_tickets_query(user: User):
    """``select(Ticket)`` limited to the tickets ``user`` may see."""
    return select(Ticket).where(visible_clause(user))


def may(user: User, action: str, ticket: Ticket | None = None) -> bool:
    """May ``user`` do ``action`` (a key of ACTION_FEATURES)? The ticket must already be one they see
    (loaded through ``find_visible`` or ``visible_tickets_query``); ticket-specific rules live here."""
    feature = ACTION_FEATURES[action]
    if feature is not None and not user.can(feature):
        return False
    return True


def may_assign(user: User, ticket: Ticket, owner_id: int | None) -> bool:
    """HESK's assign rules: to yourself with ``can_assign_self``, to anyone else with
    ``can_assign_others``; unassigning your own ticket is always allowed, someone else's needs
    ``can_assign_others``."""
    if owner_id is None:
        return ticket.owner_id == user.id or user.can("can_assign_others")
    if owner_id == user.id:
        return user.can("can_assign_self")
    return user.can("can_assign_others")


def may_move_to(user: User, category_id: int) -> bool:
    """``can_change_cat`` moves to any category; ``can_change_own_cat`` only to the user's own ones."""
    if user.can("can_change_cat"):
        return True
    return user.can("can_change_own_cat") and user.can_access_category(category_id)


def require(user: User, action: str, ticket: Ticket | None = None) -> None:
    if not may(user, action, ticket):
        raise PermissionDenied(action)


def find_visible(user: User, trackid: str, *, options: Iterable = ()) -> Ticket:
    """The ticket with this tracking ID (or the tracking ID of a ticket merged into it) if ``user``
    may see it; otherwise TicketNotFound, the same answer as for a ticket that does not exist, so a
    staff member cannot learn which tracking IDs exist outside their categories."""
    from hesk_py.services.tickets import TRACKID_RE, normalize_trackid

    trackid = normalize_trackid(trackid)
    if not TRACKID_RE.match(trackid):
        raise TicketNotFound(trackid)
    # Two indexed look-ups rather than one OR (which MariaDB may answer with a scan).
    ticket = db.session.scalar(visible_tickets_query(user).where(Ticket.trackid == trackid).options(*options))
    if ticket is None:
        merged_into = db.session.scalar(select(TicketAlias.ticket_id).where(TicketAlias.trackid == trackid))
        if merged_into is not None:
            ticket = db.session.scalar(
                visible_tickets_query(user).where(Ticket.id == merged_into).options(*options)
            )
    if ticket is None:
        raise TicketNotFound(trackid)
    return ticket


def visible_by_ids(user: User, ids: Iterable[int]) -> list[Ticket]:
    """The tickets among ``ids`` that ``user`` may see (the others are silently left out)."""
    clean = sorted({int(i) for i in ids})
    if not clean:
        return []
    stmt = visible_tickets_query(user).where(Ticket.id.in_(clean)).order_by(Ticket.id)
    return list(db.session.scalars(stmt).unique())
