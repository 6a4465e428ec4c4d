"""A staff member's own working state on tickets: bookmarks, reply drafts, and "who is viewing this
ticket" for the collision notice. None of it changes the ticket, so none of it writes ticket history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from hesk_py.extensions import db
from hesk_py.models import Reply, ReplyDraft, Ticket, TicketBookmark, TicketViewer, User
from hesk_py.models.types import utcnow
from hesk_py.services.errors import InvalidTicketData

_UNKNOWN = object()  # an argument not given (None is a value)
# Someone who opened the ticket this recently still counts as viewing it.
VIEWING_WINDOW = timedelta(minutes=10)
# Re-opening or polling refreshes the row at most this often (a view is then usually read-only).
VIEWING_REFRESH = timedelta(seconds=30)
MAX_DRAFT = 1_000_000


# --- bookmarks ------------------------------------------------------------------------------------

def set_bookmark(ticket: Ticket, user: User, on: bool) -> None:
    if on:
        if db.session.get(TicketBookmark, (user.id, ticket.id)) is None:
            try:
                with db.session.begin_nested():
                    db.session.add(TicketBookmark(user_id=user.id, ticket_id=ticket.id, created_at=utcnow()))
            except IntegrityError:  # a double click
                pass
    else:
        db.session.execute(
            delete(TicketBookmark).where(TicketBookmark.user_id == user.id, TicketBookmark.ticket_id == ticket.id)
        )
    db.session.commit()


def is_bookmarked(ticket: Ticket, user: User) -> bool:
    return db.session.get(TicketBookmark, (user.id, ticket.id)) is not None


# --- drafts ---------------------------------------------------------------------------------------

def save_draft(ticket: Ticket, user: User, message: str) -> ReplyDraft | None:
    """Save (or, for an empty text, discard) the user's draft reply on this ticket."""
    message = message or ""
    if len(message) > MAX_DRAFT:
        raise InvalidTicketData({"message": str(_l("The message is too long."))})
    if not message.strip():
        discard_draft(ticket, user)
        return None
    now = utcnow()
    draft = db.session.get(ReplyDraft, (user.id, ticket.id))
    try:
        if draft is None:
            with db.session.begin_nested():
                draft = ReplyDraft(user_id=user.id, ticket_id=ticket.id, message=message, updated_at=now)
                db.session.add(draft)
        else:
            draft.message = message
            draft.updated_at = now
        db.session.commit()
    except IntegrityError:  # the auto-save and the button at the same moment: update the other's row
        db.session.rollback()
        db.session.execute(update(ReplyDraft).where(ReplyDraft.user_id == user.id, ReplyDraft.ticket_id == ticket.id)
                           .values(message=message, updated_at=now))
        db.session.commit()
        draft = db.session.get(ReplyDraft, (user.id, ticket.id))
    return draft


def get_draft(ticket: Ticket, user: User) -> ReplyDraft | None:
    return db.session.get(ReplyDraft, (user.id, ticket.id))


def discard_draft(ticket: Ticket, user: User) -> None:
    db.session.execute(delete(ReplyDraft).where(ReplyDraft.user_id == user.id, ReplyDraft.ticket_id == ticket.id))
    db.session.commit()


def draft_is_stale(draft, ticket: Ticket, *, latest_reply_at=_UNKNOWN) -> bool:
    """A draft written before the latest reply on the ticket may answer something already answered.
    ``latest_reply_at``: the newest reply's time when the caller has the replies (None: no replies)."""
    if draft is None or ticket.reply_count == 0:
        return False
    latest = latest_reply_at
    if latest is _UNKNOWN:
        latest = db.session.scalar(select(Reply.created_at).where(Reply.ticket_id == ticket.id)
                                   .order_by(Reply.created_at.desc()).limit(1))
    return latest is not None and latest > draft.updated_at


# --- who is viewing (the collision notice) -------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    seen_at: datetime


def mark_viewing(ticket: Ticket, user: User, *, now: datetime | None = None, seen=_UNKNOWN) -> None:
    """Record that ``user`` has this ticket open. Writes only when the row is missing or older than
    VIEWING_REFRESH, so opening a ticket is usually a read (none at all when the caller passes ``seen``, the
    user's viewing time it already read, such as ``WorkingState.seen_at``; None: missing or out of the
    window)."""
    now = now or utcnow()
    if seen is _UNKNOWN:
        seen = db.session.scalar(
            select(TicketViewer.seen_at).where(TicketViewer.ticket_id == ticket.id,
                                               TicketViewer.user_id == user.id)
        )
    if seen is not None and now - seen < VIEWING_REFRESH:
        return
    try:
        done = db.session.execute(update(TicketViewer)
                                  .where(TicketViewer.ticket_id == ticket.id, TicketViewer.user_id == user.id)
                                  .values(seen_at=now)).rowcount
        if not done:
            with db.session.begin_nested():
                db.session.add(TicketViewer(ticket_id=ticket.id, user_id=user.id, seen_at=now))
        db.session.commit()
    except IntegrityError:  # two tabs at once
        db.session.rollback()


def stop_viewing(ticket: Ticket, user: User) -> None:
    db.session.execute(delete(TicketViewer).where(TicketViewer.ticket_id == ticket.id,
                                                  TicketViewer.user_id == user.id))
    db.session.commit()


def other_viewers(ticket: Ticket, user: User, *, now: datetime | None = None) -> list[Viewer]:
    """Other staff who opened this ticket within VIEWING_WINDOW, most recent first."""
    since = (now or utcnow()) - VIEWING_WINDOW
    rows = db.session.execute(
        select(TicketViewer.user_id, User.name, User.nickname, TicketViewer.seen_at)
        .join(User, User.id == TicketViewer.user_id)
        .where(TicketViewer.ticket_id == ticket.id, TicketViewer.user_id != user.id,
               TicketViewer.seen_at >= since)
        .order_by(TicketViewer.seen_at.desc())
    ).all()
    return [Viewer(r.user_id, r.nickname or r.name, r.seen_at) for r in rows]


@dataclass(frozen=True)
class DraftText:
    message: str
    updated_at: datetime


@dataclass(frozen=True)
class WorkingState:
    """What the ticket page shows of a staff member's own work on a ticket (``working_state``)."""

    draft: DraftText | None
    bookmarked: bool
    timer_started: datetime | None
    viewers: list[Viewer]  # the others who opened it within VIEWING_WINDOW, most recent first
    seen_at: datetime | None  # the user's own viewing time when within VIEWING_WINDOW (for mark_viewing)


_STATE_STATEMENTS = None


def working_state(ticket: Ticket, user: User, *, now: datetime | None = None) -> WorkingState:
    """The user's draft, bookmark and running timer on this ticket, and who is viewing it, in two queries
    (the ticket page would otherwise ask for each one: five)."""
    global _STATE_STATEMENTS
    if _STATE_STATEMENTS is None:  # built once (values as bind parameters): building them cost more than running
        from hesk_py.models import TicketTimer

        uid, tid = bindparam("uid"), bindparam("tid")
        mine = (ReplyDraft.user_id == uid, ReplyDraft.ticket_id == tid)
        _STATE_STATEMENTS = (
            select(
                select(ReplyDraft.message).where(*mine).scalar_subquery(),
                select(ReplyDraft.updated_at).where(*mine).scalar_subquery(),
                select(TicketBookmark.ticket_id).where(TicketBookmark.user_id == uid,
                                                       TicketBookmark.ticket_id == tid).exists(),
                select(TicketTimer.started_at).where(TicketTimer.ticket_id == tid,
                                                     TicketTimer.user_id == uid).scalar_subquery(),
            ),
            select(TicketViewer.user_id, User.name, User.nickname, TicketViewer.seen_at)
            .join(User, User.id == TicketViewer.user_id)
            .where(TicketViewer.ticket_id == tid, TicketViewer.seen_at >= bindparam("since"))
            .order_by(TicketViewer.seen_at.desc()),
        )
    state, viewing = _STATE_STATEMENTS
    row = db.session.execute(state, {"uid": user.id, "tid": ticket.id}).one()
    since = (now or utcnow()) - VIEWING_WINDOW
    viewers, seen_at = [], None
    for uid, name, nickname, seen in db.session.execute(viewing, {"tid": ticket.id, "since": since}):
        if uid == user.id:
            seen_at = seen
        else:
            viewers.append(Viewer(uid, nickname or name, seen))
    draft = DraftText(row[0], row[1]) if row[1] is not None else None
    return WorkingState(draft=draft, bookmarked=bool(row[2]), timer_started=row[3], viewers=viewers,
                        seen_at=seen_at)


def replies_since(ticket: Ticket, last_reply_id: int) -> list[Reply]:
    """Replies added to the ticket after the one with ``last_reply_id`` (the newest the page showed)."""
    return list(db.session.scalars(
        select(Reply).where(Reply.ticket_id == ticket.id, Reply.id > last_reply_id).order_by(Reply.id)
    ))


def last_reply_id(ticket: Ticket) -> int:
    return db.session.scalar(select(Reply.id).where(Reply.ticket_id == ticket.id)
                             .order_by(Reply.id.desc()).limit(1)) or 0
