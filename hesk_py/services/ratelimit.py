"""Rate limits kept in the database, so every process and every machine behind the proxy counts together.

``DatabaseStorage`` is a ``limits`` storage backend (scheme ``heskdb://``) over the ``hesk_rate_limits``
table; the ``limiter`` in ``hesk_py/extensions.py`` uses it. It supports the fixed-window strategy:
one row per counter, incremented with a single UPDATE (no read-modify-write race), created with an
INSERT when missing, committed at once so a counter survives whatever the request does next.

The same storage also keeps the flood timers (``flood`` seconds between two tickets or replies from
one address): ``flood_wait`` / ``flood_mark``.
"""
from __future__ import annotations

import random
import time

from limits import RateLimitItemPerSecond
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from hesk_py.extensions import db
from hesk_py.models import RateLimitCounter

TABLE = RateLimitCounter.__table__
_MAX_KEY = 191
# One write in this many also removes expired rows, so the table stays small without a cron job.
_PURGE_EVERY = 200


def _key(key: str) -> str:
    if len(key) <= _MAX_KEY:
        return key
    import hashlib

    return key[:150] + "#" + hashlib.sha256(key.encode()).hexdigest()[:32]


class DatabaseStorage(Storage):
    """``limits`` storage over SQLAlchemy, in the database of the current Flask app.

    It works in the request's own session and commits each change at once: rate limits are checked
    before a view does anything, so nothing else is pending then, and SQLite (one writer at a time,
    ``BEGIN IMMEDIATE``) never sees a second connection wait for the request's first.
    """

    STORAGE_SCHEME = ["heskdb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return (DBAPIError,)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        key = _key(key)
        now = time.time()
        expired = TABLE.c.expires_at <= now
        bump = (
            update(TABLE)
            .where(TABLE.c.key == key)
            .values(
                count=case((expired, amount), else_=TABLE.c.count + amount),
                expires_at=case((expired, now + expiry), else_=TABLE.c.expires_at),
            )
        )
        session = db.session
        try:
            if session.execute(bump).rowcount == 0:
                try:
                    with session.begin_nested():
                        session.execute(insert(TABLE).values(key=key, count=amount, expires_at=now + expiry))
                except IntegrityError:  # another request created it a moment ago
                    session.execute(bump)
            value = session.execute(select(TABLE.c.count).where(TABLE.c.key == key)).scalar() or 0
            if random.randrange(_PURGE_EVERY) == 0:
                session.execute(delete(TABLE).where(TABLE.c.expires_at < now - 60))
            session.commit()
        except Exception:
            session.rollback()
            raise
        return int(value)

    def get(self, key: str) -> int:
        row = db.session.execute(
            select(TABLE.c.count, TABLE.c.expires_at).where(TABLE.c.key == _key(key))
        ).first()
        if row is None or row.expires_at <= time.time():
            return 0
        return int(row.count)

    def get_expiry(self, key: str) -> float:
        value = db.session.execute(select(TABLE.c.expires_at).where(TABLE.c.key == _key(key))).scalar()
        now = time.time()
        return float(value) if value and value > now else now

    def check(self) -> bool:
        try:
            db.session.execute(select(1))
            return True
        except DBAPIError:
            db.session.rollback()
            return False

    def reset(self) -> int | None:
        count = db.session.execute(delete(TABLE)).rowcount
        db.session.commit()
        return count

    def clear(self, key: str) -> None:
        db.session.execute(delete(TABLE).where(TABLE.c.key == _key(key)))
        db.session.commit()


# --- flood protection ----------------------------------------------------------------------------

def _flood_item(seconds: int):
    return RateLimitItemPerSecond(1, seconds)


def flood_wait(kind: str, ip: str, seconds: int) -> int:
    """Seconds this address must still wait before it may post again (0: it may post now)."""
    if seconds <= 0 or not ip:
        return 0
    storage = DatabaseStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = _flood_item(seconds)
    if limiter.test(item, "flood", kind, ip):
        return 0
    reset_at = limiter.get_window_stats(item, "flood", kind, ip).reset_time
    return max(1, int(round(reset_at - time.time())))


def flood_mark(kind: str, ip: str, seconds: int) -> None:
    """Start this address's quiet period after a successful post."""
    if seconds <= 0 or not ip:
        return
    FixedWindowRateLimiter(DatabaseStorage()).hit(_flood_item(seconds), "flood", kind, ip)
