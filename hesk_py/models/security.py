"""Tables that protect the help desk from abuse: failed login and ticket look-up attempts per IP, banned
emails and IPs, rate-limit counters and spent one-time form tokens."""
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

