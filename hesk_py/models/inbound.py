"""Inbound mail (email piping, later IMAP/POP3): what was received, and what could not be imported.

``InboundMail`` is the receipt log: one row per message looked at, whatever became of it. It finds
duplicates (the same Message-ID twice), mail loops (too many messages from one sender in a short time)
and threads replies whose In-Reply-To names an earlier message. ``QuarantinedMail`` keeps the raw bytes of
a message that could not be imported, so nothing is ever dropped.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import utcnow

RawMail = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class InboundMail(db.Model):
    __tablename__ = "hesk_inbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))  # pipe / imap / pop3
    # sha256 of the Message-ID: unique, so the same message is never imported twice, even by two fetches
    message_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sender: Mapped[str] = mapped_column(String(255), default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(12))  # created / replied / ignored / refused / quarantined
    reason: Mapped[str] = mapped_column(String(255), default="")
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )

    __table_args__ = (Index("ix_hesk_inbound_mail_sender_received", "sender", "received_at"),)


class QuarantinedMail(db.Model):
    __tablename__ = "hesk_mail_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    sender: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(RawMail)
