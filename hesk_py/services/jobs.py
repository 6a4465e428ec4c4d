"""Background jobs run by ``hesk-py cron``. Each returns one line saying what it did."""
from __future__ import annotations

from typing import Callable

from flask_babel import gettext as _


def _outbox() -> str:
    from hesk_py.services import mailer

    counts = mailer.deliver_due(limit=500)
    return _("%(sent)s sent, %(retried)s to retry, %(failed)s failed", **counts)


def _autoclose() -> str:
    from hesk_py import settings
    from hesk_py.services import tickets

    days = int(settings.get("autoclose"))
    if days <= 0:
        return _("off")
    return _("%(n)s tickets resolved", n=tickets.autoclose(days))


JOBS: dict[str, Callable[[], str]] = {
    # auto-close first, so the "ticket resolved" emails it queues go out in the same run
    "autoclose": _autoclose,
    "outbox": _outbox,
}


def run(name: str) -> str:
    """Run one job and record when it ran and how it went (the settings status box reads it)."""
    started = _record_start(name)
    try:
        line = JOBS[name]()
    except Exception as exc:
        _record_end(name, started, ok=False, result=type(exc).__name__)
        raise
    _record_end(name, started, ok=True, result=line)
    return line


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
