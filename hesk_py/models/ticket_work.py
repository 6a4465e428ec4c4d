"""Staff working state around tickets: bookmarks, links between tickets, reply drafts, who is viewing a
ticket (the collision notice), running time-worked timers, and the tracking IDs of merged tickets.

These rows belong to the ticket aggregate (they go when the ticket goes: ``ON DELETE CASCADE``) but are
kept apart from ``tickets.py`` because they describe what staff do with a ticket, not the ticket itself.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import LongText, utcnow


class TicketBookmark(db.Model):
    """A staff member's bookmark on a ticket (HESK's ``bookmarks``)."""

    __tablename__ = "hesk_ticket_bookmarks"

    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TicketLink(db.Model):
    """One direction of a link between two tickets; linking writes both directions, so "the tickets
    linked to X" is one indexed look-up."""

    __tablename__ = "hesk_ticket_links"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True)
    linked_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True
    )


class ReplyDraft(db.Model):
    """A reply a staff member saved for later, or that the page auto-saved (HESK's ``reply_drafts``)."""

    __tablename__ = "hesk_reply_drafts"

    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    message: Mapped[str] = mapped_column(LongText, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TicketViewer(db.Model):
    """Staff member X had ticket Y open at ``seen_at``: the collision notice shows the others."""

    __tablename__ = "hesk_ticket_viewers"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TicketTimer(db.Model):
    """A running time-worked timer: stopping it adds the elapsed seconds to ``Ticket.time_worked``."""

    __tablename__ = "hesk_ticket_timers"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TicketAlias(db.Model):
    """The tracking ID of a ticket merged into another one; it keeps resolving to the kept ticket.

    ``Ticket.merged_ids`` lists the same IDs for display (HESK's ``merged``); this table makes the
    look-up an indexed one instead of a scan of every ticket's JSON.
    """

    __tablename__ = "hesk_ticket_aliases"

    trackid: Mapped[str] = mapped_column(String(13), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), index=True)


__all__ = ["ReplyDraft", "TicketAlias", "TicketBookmark", "TicketLink", "TicketTimer", "TicketViewer"]
