"""The mail quarantine: emails that email piping or IMAP/POP3 fetching could not import, kept raw
(``hesk_mail_quarantine``, written by hesk_py/services/inbound.py) until an administrator downloads,
imports again or deletes them (admin/quarantine.py)."""
from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import defer

from hesk_py.extensions import db
from hesk_py.models import QuarantinedMail
from hesk_py.services.errors import HeskError


class QuarantinedMailNotFound(HeskError):
    pass


def list_mails(*, page: int = 1, per_page: int = 50) -> tuple[list[QuarantinedMail], int, int]:
    """One page of quarantined mails, newest first (without their raw bytes), the number of pages and of
    mails."""
    total = db.session.scalar(select(func.count(QuarantinedMail.id))) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        select(QuarantinedMail).options(defer(QuarantinedMail.raw))
        .order_by(QuarantinedMail.received_at.desc(), QuarantinedMail.id.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), pages, total


def sizes(ids: list[int]) -> dict[int, int]:
    """{id: size of the raw mail in bytes}, computed by the database."""
    if not ids:
        return {}
    rows = db.session.execute(select(QuarantinedMail.id, func.length(QuarantinedMail.raw))
                              .where(QuarantinedMail.id.in_(ids))).all()
    return {row_id: int(size or 0) for row_id, size in rows}


def get_mail(mail_id: int) -> QuarantinedMail:
    row = db.session.get(QuarantinedMail, mail_id)
    if row is None:
        raise QuarantinedMailNotFound(str(mail_id))
    return row


def import_again(mail_id: int):
    """Run the mail through the import once more (after a settings change, say). The quarantined copy is
    then removed: the import has it, or, when it still cannot be imported, a new quarantine entry with
    the new reason. Returns inbound's ``ImportResult``."""
    from hesk_py.services import inbound

    row = get_mail(mail_id)
    raw, channel = bytes(row.raw), row.channel
    result = inbound.import_message(raw, channel=channel if channel in inbound.CHANNELS else "pipe")
    db.session.execute(delete(QuarantinedMail).where(QuarantinedMail.id == mail_id))
    db.session.commit()
    return result


def delete_mail(mail_id: int) -> None:
    if not db.session.execute(delete(QuarantinedMail).where(QuarantinedMail.id == mail_id)).rowcount:
        db.session.rollback()
        raise QuarantinedMailNotFound(str(mail_id))
    db.session.commit()
