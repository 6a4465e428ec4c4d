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

from sqlalchemy import bindparam, false, or_, select, true
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
    "mute_email": "can_mute_emails",
    "ban_ip": "can_ban_ips",
}


def visible_clause(user: User) -> ColumnElement[bool]:
    """The SQL condition on ``Ticket`` for the tickets ``user`` may see."""
    return _visible(user, Ticket.category_id, Ticket.owner_id, Ticket.owner_id.is_(None),
                    Ticket.assigned_by_id)


def visible_counts_clause(user: User, counts) -> ColumnElement[bool] | None:
    """The same rule on the ticket counts table (``TicketCount``: unassigned is owner 0). None when it cannot
    be said there: ``can_view_ass_by`` looks at who assigned a ticket, which the counts do not keep."""
    return _visible(user, counts.category_id, counts.owner_id, counts.owner_id == 0, None)


def visible_bound(user: User, counts=None) -> tuple[ColumnElement[bool] | None, tuple, dict]:
    """The same rule with the user's id and categories as the bind parameters ``vis_user`` and ``vis_cats``
    (on ``Ticket``, or with ``counts`` on the ticket counts): (clause, shape, params). ``shape`` names the
    branches of the rule the user's permissions took; users with the same shape get the same clause but for
    those parameters, so a statement built around it can be kept and run for any of them with their
    ``params``. The parameters have no value of their own: a statement run without them fails, it never
    falls back to another user's."""
    shape: list = []
    if counts is None:
        clause = _visible(user, Ticket.category_id, Ticket.owner_id, Ticket.owner_id.is_(None),
                          Ticket.assigned_by_id, shape=shape)
    else:
        clause = _visible(user, counts.category_id, counts.owner_id, counts.owner_id == 0, None, shape=shape)
    params = {"vis_user": user.id, "vis_cats": sorted(user.category_ids)} if "cats" in shape else {}
    return clause, tuple(shape), params


def _visible(user, category, owner, unassigned, assigned_by, *, shape: list | None = None):
    """The rule, on the given columns. ``shape``: a list that notes the branches taken, and then the user's id
    and categories go in as bind parameters without values (``visible_bound``)."""
    def took(branch):
        if shape is not None:
            shape.append(branch)

    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        took("nobody")
        return false()
    if user.is_admin:
        took("admin")
        return true()
    if not user.can("can_view_tickets"):
        took("no tickets")
        return false()
    me = bindparam("vis_user") if shape is not None else user.id
    owner_rules = [owner == me]
    if user.can("can_view_unassigned"):
        took("unassigned")
        owner_rules.append(unassigned)
    if user.can("can_view_ass_others"):
        took("others")
        owner_rules.append(~unassigned)
    elif user.can("can_view_ass_by"):
        took("assigned by")
        if assigned_by is None:
            return None
        owner_rules.append(assigned_by == me)
    categories = sorted(user.category_ids)
    if not categories:
        took("no categories")
        return false()
    took("cats")
    cats = bindparam("vis_cats", expanding=True) if shape is not None else categories
    return category.in_(cats) & or_(*owner_rules)


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


_FOUND: dict = {}


def find_visible(user: User, trackid: str, *, options: Iterable = (), keep: str | None = None) -> Ticket:
    """The ticket with this tracking ID (or the tracking ID of a ticket merged into it) if ``user``
    may see it; otherwise TicketNotFound, the same answer as for a ticket that does not exist, so a
    staff member cannot learn which tracking IDs exist outside their categories.

    ``keep``: a name the caller gives its ``options`` (always the same ones for that name): the statement is
    then built once per permission shape and kept (``visible_bound``), as the ticket pages do."""
    from hesk_py.services.tickets import TRACKID_RE, normalize_trackid

    trackid = normalize_trackid(trackid)
    if not TRACKID_RE.match(trackid):
        raise TicketNotFound(trackid)
    # Two indexed look-ups rather than one OR (which MariaDB may answer with a scan).
    if keep is not None:
        visible, shape, params = visible_bound(user)
        stmt = _FOUND.get((keep, shape))
        if stmt is None:
            stmt = _FOUND[keep, shape] = (select(Ticket).where(visible, Ticket.trackid == bindparam("trackid"))
                                          .options(*options))
        ticket = db.session.scalar(stmt, dict(params, trackid=trackid))
    else:
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
