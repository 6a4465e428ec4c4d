"""When each background job last ran (``hesk-py cron``): the settings status box shows whether cron works."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db


class JobRun(db.Model):
    __tablename__ = "hesk_job_runs"

    # one row per job name (outbox, fetch, autoclose, ...), updated on every run
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    # the job's one-line summary, or the error's class name (never a message that could hold secrets)
    result: Mapped[str] = mapped_column(String(255), default="")
    # A run owns the job while lease_until is in the future: a second run of the same job waits for the next
    # cron call (a lease in the row, not GET_LOCK: works on Galera too). Released when the run ends.
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
