"""The outbox: every email the help desk sends is first a row here, written in the same
transaction as the change that caused it. A sender delivers the rows later, under a lease."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import utcnow

OUTBOX_QUEUED = "queued"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"


class OutboxMessage(db.Model):
    __tablename__ = "hesk_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(50))  # new_ticket, new_reply_by_staff, ...
    recipient: Mapped[str] = mapped_column(String(255))  # To
    cc: Mapped[Any] = mapped_column(JSON, nullable=True)  # Cc addresses (a ticket's followers), or None
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    context: Mapped[Any] = mapped_column(JSON, nullable=True)  # values the template needs
    status: Mapped[str] = mapped_column(String(10), default=OUTBOX_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # A sender owns a row while lease_until is in the future (no GET_LOCK: works on Galera too).
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the Message-ID it was sent with: a customer's reply names it in In-Reply-To (indexed for that)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_hesk_outbox_status_next", "status", "next_attempt_at"),)
