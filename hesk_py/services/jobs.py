"""Background jobs run by ``hesk-py cron``. Each returns one line saying what it did."""
from __future__ import annotations

from typing import Callable

from flask_babel import gettext as _


def _outbox() -> str:
    from hesk_py.services import mailer

    counts = mailer.deliver_due(limit=500)
    return _("%(sent)s sent, %(retried)s to retry, %(failed)s failed", **counts)


JOBS: dict[str, Callable[[], str]] = {
    "outbox": _outbox,
}


def run(name: str) -> str:
    return JOBS[name]()
