"""The database storage behind Flask-Limiter, and the flood timers built on it."""
from __future__ import annotations

import threading
import time

from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select, update

from hesk_py.extensions import db, limiter
from hesk_py.models import RateLimitCounter
from hesk_py.services import ratelimit


def test_the_limiter_uses_the_database(app):
    assert isinstance(limiter._storage, ratelimit.DatabaseStorage)


def test_fixed_window_counting(app_ctx):
    strategy = FixedWindowRateLimiter(ratelimit.DatabaseStorage())
    item = parse("3/minute")
    assert [strategy.hit(item, "test", "1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert strategy.hit(item, "test", "5.6.7.8")  # another key
    stats = strategy.get_window_stats(item, "test", "1.2.3.4")
    assert stats.remaining == 0
    assert 0 < stats.reset_time - time.time() <= 60
    # the window ends: counting starts again
    db.session.execute(update(RateLimitCounter).values(expires_at=time.time() - 1))
    db.session.commit()
    assert strategy.hit(item, "test", "1.2.3.4")
    assert ratelimit.DatabaseStorage().get(item.key_for("test", "1.2.3.4")) == 1


def test_clear_reset_and_long_keys(app_ctx):
    storage = ratelimit.DatabaseStorage()
    long_key = "k" * 500
    assert storage.incr(long_key, 60) == 1
    assert storage.incr(long_key, 60) == 2
    assert storage.get(long_key) == 2
    storage.clear(long_key)
    assert storage.get(long_key) == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2
    assert storage.check()


def test_concurrent_hits_are_all_counted(app):
    def hit():
        with app.app_context():
            for _ in range(10):
                ratelimit.DatabaseStorage().incr("shared", 60)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        assert ratelimit.DatabaseStorage().get("shared") == 40
        assert db.session.scalar(select(func.count()).select_from(RateLimitCounter)) == 1


def test_flood_timer(app_ctx):
    assert ratelimit.flood_wait("ticket", "1.2.3.4", 30) == 0
    ratelimit.flood_mark("ticket", "1.2.3.4", 30)
    assert 25 <= ratelimit.flood_wait("ticket", "1.2.3.4", 30) <= 30
    assert ratelimit.flood_wait("reply", "1.2.3.4", 30) == 0
    assert ratelimit.flood_wait("ticket", "1.2.3.5", 30) == 0
    assert ratelimit.flood_wait("ticket", "1.2.3.4", 0) == 0  # flood protection off
