"""Brute-force protection (HESK's attempt_limit / attempt_banmin): failed staff logins and failed ticket
look-ups are counted per IP; after ``attempt_limit`` failures the IP is blocked for ``attempt_banmin``
minutes. A success clears the count."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import FailedAttempt
from hesk_py.models.types import utcnow


def _window() -> timedelta:
    return timedelta(minutes=int(settings.get("attempt_banmin")))


def minutes_left(ip: str) -> int:
    """0 when this IP may try again; otherwise the whole minutes it stays blocked (at least 1)."""
    limit = int(settings.get("attempt_limit"))
    if limit <= 0 or not ip:
        return 0
    row = db.session.scalar(select(FailedAttempt).where(FailedAttempt.ip == ip))
    if row is None or row.count < limit:
        return 0
    until = row.last_attempt_at + _window()
    now = utcnow()
    if until <= now:
        return 0
    return max(1, int((until - now).total_seconds() // 60) + (1 if (until - now).total_seconds() % 60 else 0))


def is_blocked(ip: str) -> bool:
    return minutes_left(ip) > 0


def record_failure(ip: str) -> int:
    """Count one failure for this IP (in its own transaction). Returns the count now."""
    if not ip:
        return 0
    now = utcnow()
    row = db.session.scalar(select(FailedAttempt).where(FailedAttempt.ip == ip))
    if row is not None and row.last_attempt_at + _window() < now:
        # the last failure is older than the block window: start counting again
        db.session.execute(update(FailedAttempt).where(FailedAttempt.id == row.id).values(count=1, last_attempt_at=now))
        db.session.commit()
        return 1
    if row is None:
        try:
            db.session.add(FailedAttempt(ip=ip, count=1, last_attempt_at=now))
            db.session.commit()
            return 1
        except IntegrityError:
            db.session.rollback()
    db.session.execute(
        update(FailedAttempt).where(FailedAttempt.ip == ip)
        .values(count=FailedAttempt.count + 1, last_attempt_at=now)
    )
    db.session.commit()
    return db.session.scalar(select(FailedAttempt.count).where(FailedAttempt.ip == ip)) or 0


def clear(ip: str) -> None:
    db.session.execute(delete(FailedAttempt).where(FailedAttempt.ip == ip))
    db.session.commit()
