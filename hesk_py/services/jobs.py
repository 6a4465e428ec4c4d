"""Background jobs run by ``hesk-py cron`` (and by the secret cron URL, ``url_key``). Each returns one line
saying what it did.

A job that must never run twice at the same time (fetching, auto-close, overdue notices) holds a lease on
its row in ``hesk_job_runs`` while it runs: a conditional UPDATE, not GET_LOCK, so it also works on Galera and
across app servers. A second run finds the lease taken and says "skipped". A run that dies keeps the lease
until it times out (IMAP/POP3: the "Task timeout" setting; the others: ``LEASE_MINUTES``). The outbox needs
no job lease: each mail has its own (hesk_py/services/mailer.py).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Callable

from flask_babel import gettext as _
from flask_babel import ngettext

LEASE_MINUTES = 10
# What a job leaves of its lease for finishing the message it is on: it stops starting new work this long
# before the lease ends, so it never outlives its lease (at most a minute, at most a tenth of the lease).
_MARGIN_MAX = timedelta(minutes=1)


def _outbox(deadline: datetime | None = None) -> str:
    from hesk_py.services import mailer

    counts = mailer.deliver_due(limit=500)
    return _("%(sent)s sent, %(retried)s to retry, %(failed)s failed", **counts)


def _autoclose(deadline: datetime | None = None) -> str:
    from hesk_py import settings
    from hesk_py.services import tickets

    days = int(settings.get("autoclose"))
    if days <= 0:
        return _("off")
    return ngettext("%(num)s ticket resolved", "%(num)s tickets resolved", tickets.autoclose(days))


def _overdue(deadline: datetime | None = None) -> str:
    from hesk_py.services import tickets

    return ngettext("%(num)s overdue ticket notified", "%(num)s overdue tickets notified", tickets.notify_overdue())


def _fetch(protocol: str, deadline: datetime | None) -> str:
    from hesk_py import settings
    from hesk_py.services import fetch

    if not settings.get(protocol):
        return _("off")
    if settings.get("maintenance_mode"):  # as in HESK; piped email is still accepted
        return _("paused (maintenance mode)")
    result = fetch.fetch_imap(deadline=deadline) if protocol == "imap" else fetch.fetch_pop3(deadline=deadline)
    return result.line()


def _imap(deadline: datetime | None = None) -> str:
    return _fetch("imap", deadline)


def _pop3(deadline: datetime | None = None) -> str:
    return _fetch("pop3", deadline)


JOBS: dict[str, Callable[..., str]] = {
    # fetching and auto-close before the outbox, so the emails they queue go out in the same run
    "imap": _imap,
    "pop3": _pop3,
    "autoclose": _autoclose,
    "overdue": _overdue,
    "outbox": _outbox,
}


def lease_minutes(name: str) -> int:
    """How long a run of this job may hold it; 0: no lease (the job may run alongside itself)."""
    from hesk_py import settings

    if name in ("imap", "pop3"):
        return int(settings.get(f"{name}_job_wait"))
    if name == "outbox":
        return 0
    return LEASE_MINUTES


def run(name: str) -> str:
    """Run one job under its lease and record when it ran and how it went (the settings status box reads it)."""
    minutes = lease_minutes(name)
    owner = deadline = None
    if minutes:
        owner, until = acquire(name, timedelta(minutes=minutes))
        if owner is None:
            from flask_babel import format_datetime

            return _("skipped: the previous run has not finished (its lease ends %(until)s)",
                     until=format_datetime(until))
        deadline = until - min(_MARGIN_MAX, timedelta(minutes=minutes) / 10)
    started = _record_start(name)
    try:
        line = JOBS[name](deadline)
    except Exception as exc:
        _record_end(name, started, ok=False, result=type(exc).__name__)
        raise
    else:
        _record_end(name, started, ok=True, result=line)
    finally:
        if owner is not None:
            release(name, owner)
    return line


def run_all() -> list[tuple[str, str | None, str | None]]:
    """Every job in order, one failing job not stopping the others: [(name, line, error class or None)]."""
    import logging

    from hesk_py.extensions import db

    out = []
    for name in JOBS:
        try:
            out.append((name, run(name), None))
        except Exception as exc:
            db.session.rollback()
            logging.getLogger(__name__).exception("cron job %s failed", name)
            out.append((name, None, type(exc).__name__))
    return out


# --- the lease ---------------------------------------------------------------------------------------

def _ensure_row(name: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from hesk_py.extensions import db
    from hesk_py.models import JobRun
    from hesk_py.models.types import utcnow

    if db.session.get(JobRun, name) is not None:
        db.session.commit()
        return
    db.session.add(JobRun(name=name, started_at=utcnow(), ok=False, result=""))
    try:
        db.session.commit()
    except IntegrityError:  # two runs creating the row at once: the other one's row is as good
        db.session.rollback()


def acquire(name: str, duration: timedelta) -> tuple[str | None, datetime]:
    """Take the job's lease for ``duration``. Returns (owner token, lease end), or (None, the current holder's
    lease end) when another run holds it."""
    from sqlalchemy import or_, select, update

    from hesk_py.extensions import db
    from hesk_py.models import JobRun
    from hesk_py.models.types import utcnow

    _ensure_row(name)
    owner = uuid.uuid4().hex
    now = utcnow()
    until = now + duration
    result = db.session.execute(
        update(JobRun)
        .where(JobRun.name == name, or_(JobRun.lease_until.is_(None), JobRun.lease_until < now))
        .values(lease_owner=owner, lease_until=until)
    )
    db.session.commit()
    if result.rowcount == 1:
        return owner, until
    held = db.session.scalar(select(JobRun.lease_until).where(JobRun.name == name))
    db.session.commit()
    return None, held or now


def release(name: str, owner: str) -> None:
    from sqlalchemy import update

    from hesk_py.extensions import db
    from hesk_py.models import JobRun

    db.session.rollback()  # a failed job may leave its transaction broken
    db.session.execute(update(JobRun).where(JobRun.name == name, JobRun.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None))
    db.session.commit()


# --- the record the status box reads ---------------------------------------------------------------

def _record_start(name: str):
    from hesk_py.extensions import db
    from hesk_py.models import JobRun
    from hesk_py.models.types import utcnow

    now = utcnow()
    row = db.session.get(JobRun, name)
    if row is None:
        row = JobRun(name=name, started_at=now, ok=False, result="")
        db.session.add(row)
    else:
        row.started_at = now
    try:
        db.session.commit()
    except Exception:  # two cron runs creating the row at once: the other one's row is as good
        db.session.rollback()
    return now


def _record_end(name: str, started, *, ok: bool, result: str) -> None:
    from sqlalchemy import update

    from hesk_py.extensions import db
    from hesk_py.models import JobRun
    from hesk_py.models.types import utcnow

    db.session.rollback()  # a failed job may leave its transaction broken
    db.session.execute(update(JobRun).where(JobRun.name == name).values(
        started_at=started, finished_at=utcnow(), ok=ok, result=str(result)[:255]))
    db.session.commit()


def last_runs() -> dict[str, object]:
    """{job name: JobRun} for every job that has run at least once."""
    from sqlalchemy import select

    from hesk_py.extensions import db
    from hesk_py.models import JobRun

    return {row.name: row for row in db.session.scalars(select(JobRun))}
