"""Delivering the outbox over SMTP.

Rows are claimed one by one with a conditional UPDATE (a lease in the row itself, not GET_LOCK), so two
cron runs or two app servers never send the same mail. A failed delivery is retried with backoff and
marked failed after ``MAX_ATTEMPTS``.
"""
from __future__ import annotations

import logging
import smtplib
import socket
import time
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
    "overdue_ticket": _l("[#%(trackid)s] Ticket overdue: %(subject)s"),
    "ticket_closed": _l("[#%(trackid)s] Your ticket has been resolved: %(subject)s"),
    "reset_password": _l("Reset your help desk password"),
    "mfa_verification": _l("Your help desk verification code"),
    "forgot_ticket_id": _l("Your support tickets"),
    # customer accounts (hesk_py/services/customer_accounts.py)
    "customer_verify_registration": _l("Verify your registration"),
    "customer_verify_new_email": _l("Verify your new email address"),
    "customer_reset_password": _l("Reset your help desk password"),
    "customer_account_created": _l("Your help desk account: choose a password"),
    "customer_already_registered": _l("You already have an account"),
    "customer_approved": _l("Your account has been approved"),
    "customer_rejected": _l("Your account request was not approved"),
    "new_customer_approval": _l("You have customer accounts pending approval"),
    "email_rejected_can_self_register": _l("Account required to submit support tickets"),
    "email_rejected_cannot_self_register": _l("Account required to submit support tickets"),
}
# First line of every ticket email (HESK's "hr"): with strip_quoted on, email piping keeps only what a
# customer wrote above it (hesk_py/services/inbound.py).
REPLY_MARKER = _l("------ Reply above this line ------")


def _set_subject(email: EmailMessage, subject: str) -> None:
    """The Subject header. A non-ASCII subject is encoded here: Python's header folding (3.11) drops the
    space between two encoded words when it folds a long subject at that space, so a Ukrainian subject
    arrived as "Заявку отримано:Принтер"; Header's encoding keeps every space inside the encoded words."""
    if subject.isascii():
        email["Subject"] = subject
    else:
        from email.header import Header

        email.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\n"))


def render(msg: OutboxMessage) -> EmailMessage:
    """Build the email for one outbox row, in the recipient's language: the administrator's version of
    the template when there is one, else the default (hesk_py/services/email_templates.py); plain text,
    HTML or both per ``email_formatting``; the ticket's files attached or linked per the settings."""
    from hesk_py.services import email_templates

    if msg.template not in SUBJECTS:
        raise ValueError(f"unknown email template {msg.template}")
    ctx = msg.context or {}
    language = msg.language or settings.get("language") or "en"
    content = email_templates.compose(msg.template, language, ctx, ticket_id=msg.ticket_id,
                                      recipient=msg.recipient)
    email = EmailMessage()
    _set_subject(email, content.subject.replace("\r", " ").replace("\n", " "))
    email["From"] = formataddr((str(settings.get("noreply_name")), str(settings.get("noreply_mail"))))
    email["To"] = msg.recipient
    if msg.cc:  # a ticket's followers: smtplib sends to the Cc addresses too
        email["Cc"] = ", ".join(msg.cc)
    email["Message-ID"] = msg.message_id or make_msgid(domain=_domain(settings.get("noreply_mail")))
    if ctx.get("trackid"):
        email["X-Hesk-Tracking-ID"] = ctx["trackid"]
    email["Auto-Submitted"] = "auto-generated"
    _set_body(email, content)
    return email


def _set_body(email: EmailMessage, content) -> None:
    """Text only, HTML only, or both as multipart/alternative; then the attached files."""
    if content.html is None:
        email.set_content(content.text or "")
    elif content.text is None:
        email.set_content(content.html, subtype="html")
    else:
        email.set_content(content.text)
        email.add_alternative(content.html, subtype="html")
    for filename, data, content_type in content.files:
        maintype, _slash, subtype = content_type.partition("/")
        email.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                             filename=filename)


def _domain(address: str) -> str:
    return str(address).rsplit("@", 1)[-1] or "localhost"


def _connect() -> smtplib.SMTP:
    use_smtp = settings.get("smtp")
    host = settings.get("smtp_host_name") if use_smtp else "localhost"
    port = int(settings.get("smtp_host_port")) if use_smtp else 25
    timeout = int(settings.get("smtp_timeout"))
    enc = settings.get("smtp_enc") if use_smtp else ""
    # "Do not validate the server's certificate": the same TLS context as "Test connection"
    from hesk_py.services.diagnostics import _tls_context

    context = _tls_context(bool(use_smtp and settings.get("smtp_noval_cert")))
    if enc == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=timeout)
        if enc == "tls":
            server.starttls(context=context)
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
            except Exception as exc:
                # a template that cannot be rendered: retried like a failed delivery, then marked failed
                # (the outbox page shows it); the row is never lost and never blocks the mails after it
                log.exception("mail %s of outbox row %s could not be rendered", msg.template, msg.id)
                db.session.rollback()
                msg = db.session.get(OutboxMessage, row_id)
                _failed(msg, exc, counts)
                continue
            try:
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


STALLED_PAUSE = 15  # seconds the after-request sender waits after a round that could send nothing


class _Sender:
    """One sender thread per process for the mail queued by requests.

    A request that queued mail only wakes it (after the response has gone out); the thread drains the
    outbox and goes back to sleep. Many requests at once wake it once, so they never race each other for
    the same rows or open one SMTP connection each; whatever it cannot send, ``hesk-py cron`` retries.
    """

    def __init__(self):
        import threading

        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._app = None

    def notify(self, app) -> None:
        import threading

        with self._lock:
            self._app = app
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hesk-outbox", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            if not self._wake.wait(timeout=60):
                with self._lock:  # idle for a minute: end; the next request starts a new thread
                    if not self._wake.is_set():
                        self._thread = None
                        return
            self._wake.clear()
            app = self._app
            stalled = False
            with app.app_context():
                try:
                    while True:
                        counts = deliver_due(limit=20)
                        if not counts.get("sent"):
                            # nothing could be sent (the server is unreachable or refuses): the mail waits
                            stalled = bool(counts.get("retried") or counts.get("failed"))
                            break
                        # more may have been queued meanwhile
                except Exception:  # the cron job retries; never let this thread crash loudly
                    log.exception("sending queued mail after a request failed")
                finally:
                    db.session.remove()
            if stalled:
                # Requests keep queueing mail while the SMTP server is down: try again after a pause instead of
                # once per request (each try renders mails and connects). ``hesk-py cron`` retries too.
                time.sleep(STALLED_PAUSE)


_sender = _Sender()


def send_after_request(app) -> None:
    """Deliver queued mail in the background, so the response is not delayed."""
    _sender.notify(app)


def queued_count() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OUTBOX_QUEUED)) or 0


# --- the outbox page (admin/outbox.py) -----------------------------------------------------------

def status_counts() -> dict[str, int]:
    """{status: number of mails} for queued, sent and failed."""
    from sqlalchemy import func

    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts = {OUTBOX_QUEUED: 0, OUTBOX_SENT: 0, OUTBOX_FAILED: 0}
    counts.update({status: int(n) for status, n in rows})
    return counts


def list_messages(status: str, *, page: int = 1, per_page: int = 50) -> tuple[list[OutboxMessage], int]:
    """One page of the mails with this status, newest first, and the number of pages."""
    from sqlalchemy import func

    total = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status == status)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == status)
                              .order_by(OutboxMessage.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), pages


def error_class(msg: OutboxMessage) -> str:
    """The kind of the last error (``SMTPAuthenticationError``), without its text: that may quote the server,
    the address or the login."""
    return (msg.last_error or "").split(":", 1)[0].strip()


def retry(ids: list[int] | None = None) -> int:
    """Queue failed mails again (all failed ones when ``ids`` is None), for a full round of attempts starting now.
    Returns how many. They go out right after the request, or with the next cron run."""
    from flask import g, has_app_context

    stmt = update(OutboxMessage).where(OutboxMessage.status == OUTBOX_FAILED)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    result = db.session.execute(stmt.values(status=OUTBOX_QUEUED, attempts=0, next_attempt_at=utcnow(),
                                            lease_owner=None, lease_until=None))
    db.session.commit()
    if result.rowcount and has_app_context():
        g._hesk_outbox_pending = True
    return result.rowcount


__all__ = ["deliver_due", "render", "send_after_request", "queued_count", "status_counts", "list_messages",
           "error_class", "retry"]
