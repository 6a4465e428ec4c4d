"""Delivering the outbox over SMTP.

Rows are claimed one by one with a conditional UPDATE (a lease in the row itself, not GET_LOCK), so two
cron runs or two app servers never send the same mail. A failed delivery is retried with backoff and
marked failed after ``MAX_ATTEMPTS``.
"""
from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
from hesk_py.models.types import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)

SUBJECTS = {
    "new_ticket": _l("[#%(trackid)s] Ticket received: %(subject)s"),
    "new_ticket_staff": _l("[#%(trackid)s] New ticket submitted: %(subject)s"),
    "new_reply_by_staff": _l("[#%(trackid)s] New reply to: %(subject)s"),
    "new_reply_by_customer": _l("[#%(trackid)s] New reply to: %(subject)s"),
    "ticket_assigned_to_you": _l("[#%(trackid)s] Ticket assigned to you: %(subject)s"),
    "new_note": _l("[#%(trackid)s] Private note added to: %(subject)s"),
    "ticket_closed": _l("[#%(trackid)s] Your ticket has been resolved: %(subject)s"),
    "reset_password": _l("Reset your help desk password"),
    "mfa_verification": _l("Your help desk verification code"),
    "forgot_ticket_id": _l("Your support tickets"),
}
# First line of every ticket email (HESK's "hr"): with strip_quoted on, email piping keeps only what a
# customer wrote above it (hesk_py/services/inbound.py).
REPLY_MARKER = _l("------ Reply above this line ------")


def render(msg: OutboxMessage) -> EmailMessage:
    """Build the email for one outbox row, in the recipient's language."""
    ctx = dict(msg.context or {})
    base_url = str(settings.get("hesk_url")).rstrip("/")
    ctx.setdefault("hesk_title", settings.get("hesk_title"))
    ctx["hesk_url"] = base_url
    if ctx.get("trackid"):
        ctx["ticket_url"] = f"{base_url}/ticket?track={ctx['trackid']}"
        ctx["admin_ticket_url"] = f"{base_url}/admin/tickets/{ctx['trackid']}"
    language = msg.language or settings.get("language") or "en"
    with force_locale(language):
        template = SUBJECTS.get(msg.template)
        if template is None:
            raise ValueError(f"unknown email template {msg.template}")
        subject = str(template) % {"trackid": ctx.get("trackid", ""), "subject": ctx.get("subject", "")}
        body = render_template(f"email/{msg.template}.txt", **ctx)
        if ctx.get("trackid"):
            body = f"{REPLY_MARKER}\n\n{body}"
    email = EmailMessage()
    email["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    email["From"] = formataddr((str(settings.get("noreply_name")), str(settings.get("noreply_mail"))))
    email["To"] = msg.recipient
    email["Message-ID"] = msg.message_id or make_msgid(domain=_domain(settings.get("noreply_mail")))
    if ctx.get("trackid"):
        email["X-Hesk-Tracking-ID"] = ctx["trackid"]
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(body)
    return email


def _domain(address: str) -> str:
    return str(address).rsplit("@", 1)[-1] or "localhost"


def _connect() -> smtplib.SMTP:
    use_smtp = settings.get("smtp")
    host = settings.get("smtp_host_name") if use_smtp else "localhost"
    port = int(settings.get("smtp_host_port")) if use_smtp else 25
    timeout = int(settings.get("smtp_timeout"))
    enc = settings.get("smtp_enc") if use_smtp else ""
    if enc == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
        if enc == "tls":
            server.starttls(context=ssl.create_default_context())
    if use_smtp and settings.get("smtp_user"):
        server.login(settings.get("smtp_user"), settings.get("smtp_password"))
    return server


def _claim(row_id: int, owner: str) -> bool:
    now = utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OUTBOX_QUEUED)
        .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
        .values(lease_owner=owner, lease_until=now + LEASE)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_due(limit: int = 100) -> dict[str, int]:
    """Send what is due. Returns counts: sent, retried, failed."""
    counts = {"sent": 0, "retried": 0, "failed": 0}
    owner = uuid.uuid4().hex
    now = utcnow()
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OUTBOX_QUEUED, OutboxMessage.next_attempt_at <= now)
        .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    if not ids:
        return counts
    server = None
    try:
        for row_id in ids:
            if not _claim(row_id, owner):
                continue  # another sender has it
            msg = db.session.get(OutboxMessage, row_id)
            try:
                email = render(msg)
                if server is None:
                    server = _connect()
                server.send_message(email)
            except (OSError, smtplib.SMTPException, socket.timeout) as exc:
                _failed(msg, exc, counts)
                if server is not None:
                    try:
                        server.quit()
                    except (OSError, smtplib.SMTPException):
                        pass
                    server = None
                continue
            msg.status = OUTBOX_SENT
            msg.sent_at = utcnow()
            msg.message_id = email["Message-ID"]
            msg.attempts += 1
            msg.lease_owner = None
            msg.lease_until = None
            db.session.commit()
            counts["sent"] += 1
    finally:
        if server is not None:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return counts


def _failed(msg: OutboxMessage, exc: Exception, counts: dict[str, int]) -> None:
    msg.attempts += 1
    msg.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    msg.lease_owner = None
    msg.lease_until = None
    if msg.attempts >= MAX_ATTEMPTS:
        msg.status = OUTBOX_FAILED
        counts["failed"] += 1
    else:
        # 1, 2, 4, 8 ... minutes, at most 6 hours
        msg.next_attempt_at = utcnow() + timedelta(minutes=min(2 ** (msg.attempts - 1), 360))
        counts["retried"] += 1
    db.session.commit()
    log.warning("mail %s to outbox row %s not sent (attempt %s): %s", msg.template, msg.id, msg.attempts,
                type(exc).__name__)


def send_after_request(app) -> None:
    """Deliver queued mail in a background thread, so the response is not delayed."""
    import threading

    def run():
        with app.app_context():
            try:
                deliver_due(limit=20)
            except Exception:  # the cron job retries; never let this thread crash loudly
                log.exception("sending queued mail after a request failed")
            finally:
                db.session.remove()

    threading.Thread(target=run, name="hesk-outbox", daemon=True).start()


def queued_count() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OUTBOX_QUEUED)) or 0


__all__ = ["deliver_due", "render", "send_after_request", "queued_count"]
