"""Tables that protect the help desk from abuse: failed login and ticket look-up attempts per IP, banned
emails and IPs, muted emails, rate-limit counters and spent one-time form tokens."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import utcnow


class FailedAttempt(db.Model):
    """HESK's ``logins`` table: failures counted per IP address (staff logins and ticket look-ups)."""

    __tablename__ = "hesk_failed_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(45), unique=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BannedEmail(db.Model):
    """HESK's ``banned_emails``: one address, or a whole domain written ``@example.com`` (lower case)."""

    __tablename__ = "hesk_banned_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    banned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BannedIP(db.Model):
    """HESK's ``banned_ips``: a single address, a range, a CIDR block or a wildcard, stored as a range.

    ``ip_from``/``ip_to`` are 32 hex digits (the address as 128 bits; IPv4 is mapped into ``::ffff:0:0/96``),
    so one indexed string comparison finds a ban for IPv4 and IPv6 alike on every database.
    """

    __tablename__ = "hesk_banned_ips"

    id: Mapped[int] = mapped_column(primary_key=True)
    ip_from: Mapped[str] = mapped_column(String(32))
    ip_to: Mapped[str] = mapped_column(String(32))
    ip_display: Mapped[str] = mapped_column(String(100))  # as the admin typed it
    banned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_hesk_banned_ips_range", "ip_from", "ip_to"),)


class MutedEmail(db.Model):
    """An address, or a whole domain written ``@example.com`` (lower case), that the help desk sends no
    mail to: its tickets are accepted, its notifications are never queued."""

    __tablename__ = "hesk_muted_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    muted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RateLimitCounter(db.Model):
    """A Flask-Limiter counter (fixed window): shared by every process and machine through the database."""

    __tablename__ = "hesk_rate_limits"

    key: Mapped[str] = mapped_column(String(191), primary_key=True)  # 191: fits a utf8mb4 index
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Double, index=True)  # Unix time; FLOAT would round it


class UsedFormToken(db.Model):
    """One-time form tokens already spent: a second POST of the same form (double click, back button,
    a replaying robot) finds its nonce here and files nothing."""

    __tablename__ = "hesk_used_form_tokens"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    trackid: Mapped[str | None] = mapped_column(String(13), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
