"""The ticket aggregate: tickets, replies, notes, attachments and the append-only history."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hesk_py.extensions import db
from hesk_py.models.types import LongText, utcnow

# Who opened a ticket (HESK's openedby): the customer on the web, staff, or an email channel.
OPENED_BY_CUSTOMER = "customer"
OPENED_BY_STAFF = "staff"
OPENED_BY_PIPE = "pipe"
OPENED_BY_IMAP = "imap"
OPENED_BY_POP3 = "pop3"


class Ticket(db.Model):
    __tablename__ = "hesk_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)  # the sequential ticket number
    trackid: Mapped[str] = mapped_column(String(13), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_customers.id"), nullable=True, index=True)
    # Denormalised copies of the customer's name and email as typed (HESK's u_name/u_email).
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("hesk_categories.id"))
    priority_id: Mapped[int] = mapped_column(ForeignKey("hesk_priorities.id"))
    status_id: Mapped[int] = mapped_column(ForeignKey("hesk_statuses.id"))
    subject: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(LongText, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    # staff id who assigned it; None with autoassigned=True means the auto-assign rule did
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True
    )
    autoassigned: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str] = mapped_column(String(45), default="")
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    opened_by: Mapped[str] = mapped_column(String(10), default=OPENED_BY_CUSTOMER)
    opened_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # staff id when staff opened it
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    first_reply_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(10), nullable=True)  # customer/staff/auto
    closed_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reopened_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    staff_reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_replier: Mapped[str] = mapped_column(String(10), default="customer")  # customer/staff
    last_replier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    overdue_email_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    time_worked: Mapped[int] = mapped_column(Integer, default=0)  # seconds
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    tagged: Mapped[bool] = mapped_column(Boolean, default=False)  # HESK's "archive" flag
    # tracking IDs of tickets merged into this one; they keep resolving here
    merged_ids: Mapped[Any] = mapped_column(JSON, nullable=True)
    # knowledgebase articles suggested to the customer while they typed
    suggested_articles: Mapped[Any] = mapped_column(JSON, nullable=True)
    custom: Mapped[Any] = mapped_column(JSON, nullable=True)  # {"custom1": "...", ...}
    # how many rows of hesk_ticket_followers the ticket has (kept by the ticket service): a page of a ticket
    # without followers, and the list's "+N more", need no query for them
    follower_count: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    category = relationship("Category", lazy="joined", innerjoin=True)
    priority = relationship("Priority", lazy="joined", innerjoin=True)
    status = relationship("Status", lazy="joined", innerjoin=True)
    owner = relationship("User", foreign_keys=[owner_id], lazy="joined")
    replies: Mapped[list[Reply]] = relationship(
        back_populates="ticket", order_by="Reply.id", cascade="all, delete-orphan", lazy="select"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="ticket", order_by="Note.id", cascade="all, delete-orphan", lazy="select"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="ticket", order_by="Attachment.id", cascade="all, delete-orphan", lazy="select"
    )
    history: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan", lazy="select"
    )

    __table_args__ = (
        # The staff ticket list: open tickets by status, newest change first, per category/owner; the
        # list's default order reads the first two without touching rows (migration 0019).
        Index("ix_hesk_tickets_list", "status_id", "updated_at", "id", "priority_id", "category_id", "owner_id"),
        Index("ix_hesk_tickets_critical", "priority_id", "status_id", "updated_at", "id", "category_id",
              "owner_id"),
        Index("ix_hesk_tickets_status_due", "status_id", "due_date", "category_id", "owner_id"),
        Index("ix_hesk_tickets_category_status_updated", "category_id", "status_id", "updated_at"),
        Index("ix_hesk_tickets_owner_status_updated", "owner_id", "status_id", "updated_at"),
        Index("ix_hesk_tickets_updated", "updated_at"),
        Index("ix_hesk_tickets_created", "created_at"),
        Index("ix_hesk_tickets_due", "due_date"),
        # the staff list's quick-filter counts read only this index (migration 0004)
        Index("ix_hesk_tickets_counts", "status_id", "category_id", "owner_id", "priority_id", "tagged",
              "due_date"),
    )

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.trackid}>"


class Reply(db.Model):
    __tablename__ = "hesk_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), index=True)
    author_type: Mapped[str] = mapped_column(String(10))  # customer / staff
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_customers.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(255))  # the author's name as shown
    message: Mapped[str] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # 1 not helpful, 5 helpful
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    # "text" or "markdown" (staff with "Ticket formatting (staff)" on): the message is stored as typed either way
    message_format: Mapped[str] = mapped_column(String(10), default="text", server_default="text")

    ticket: Mapped[Ticket] = relationship(back_populates="replies")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="reply", order_by="Attachment.id", lazy="select", viewonly=True
    )


class Note(db.Model):
    """A private note: staff only, never shown to the customer."""

    __tablename__ = "hesk_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    message: Mapped[str] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    ticket: Mapped[Ticket] = relationship(back_populates="notes")
    author = relationship("User", lazy="joined")


class Attachment(db.Model):
    """A file on a ticket, reply or note. Stored outside static/ under ``saved_name`` (random)."""

    __tablename__ = "hesk_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), index=True)
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_replies.id", ondelete="CASCADE"), nullable=True, index=True
    )
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_notes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    saved_name: Mapped[str] = mapped_column(String(64), unique=True)
    real_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
    reply: Mapped[Reply | None] = relationship(back_populates="attachments")


class TicketFollower(db.Model):
    """A follower (Cc) of a ticket: a further customer who gets its notifications in Cc, may view it with
    their own email and reply (HESK's ``ticket_to_customer`` FOLLOWER rows; the requester is
    ``Ticket.customer_id``). Written only by the ticket service, which keeps ``Ticket.follower_count``."""

    __tablename__ = "hesk_ticket_followers"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined", innerjoin=True)


class TicketEvent(db.Model):
    """One line of a ticket's history: who did what, when. Rows are only ever appended."""

    __tablename__ = "hesk_ticket_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("hesk_tickets.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(10))  # customer / staff / system / email
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(32))  # created, replied, status, assigned, ...
    data: Mapped[Any] = mapped_column(JSON, nullable=True)

    ticket: Mapped[Ticket] = relationship(back_populates="history")


class TicketCount(db.Model):
    """How many tickets have this status, category, owner (0: unassigned), priority and tagged flag.
    Written only by triggers on ``hesk_tickets`` (migration 0019), never by code: the ticket list reads
    its quick-filter counts and totals here instead of counting tickets."""

    __tablename__ = "hesk_ticket_counts"

    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    priority_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tagged: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


__all__ = ["Ticket", "Reply", "Note", "Attachment", "TicketEvent", "TicketFollower", "TicketCount"]
