"""The outbox is delivered over real SMTP (aiosmtpd), once, with retries when the server is down."""
from __future__ import annotations

import threading

from sqlalchemy import select, update

from hesk_py.extensions import db
from hesk_py.models import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
from hesk_py.models.types import utcnow
from hesk_py.services import mailer, tickets
from hesk_py.services.tickets import Actor


def _ticket(**kw):
    data = dict(name="Ivan Petrov", email="ivan@example.com", subject="Счёт не пришёл", message="Где мой счёт?",
                category_id=1, actor=Actor.customer("Ivan Petrov"), language="ru", autoassign=False)
    data.update(kw)
    return tickets.create_ticket(**data)


def test_confirmation_mail_arrives_over_smtp(app_ctx, smtp_server):
    ticket = _ticket()
    counts = mailer.deliver_due()
    assert counts["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "ivan@example.com"
    assert f"[#{ticket.trackid}]" in mail["Subject"]
    assert "Счёт не пришёл" in mail["Subject"]  # encoded words decoded by the mail parser
    assert mail["X-Hesk-Tracking-ID"] == ticket.trackid
    assert mail["From"].addresses[0].addr_spec == "noreply@example.com"
    body = mail.get_content()
    assert ticket.trackid in body
    assert "/ticket?track=" + ticket.trackid in body
    row = db.session.scalar(select(OutboxMessage))
    assert row.status == OUTBOX_SENT and row.message_id == mail["Message-ID"]
    # nothing is sent twice
    assert mailer.deliver_due()["sent"] == 0
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


def test_server_down_means_retry_later_not_lost(app_ctx, smtp_server):
    _ticket()
    smtp_server.stop()
    counts = mailer.deliver_due()
    assert counts == {"sent": 0, "retried": 1, "failed": 0}
    row = db.session.scalar(select(OutboxMessage))
    assert row.status == OUTBOX_QUEUED and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > utcnow()
    # the server is back; the retry time has come
    smtp_server.start()  # same port again
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert mailer.deliver_due()["sent"] == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_marked_failed_after_the_last_attempt(app_ctx, smtp_server):
    _ticket()
    smtp_server.stop()
    db.session.execute(update(OutboxMessage).values(attempts=mailer.MAX_ATTEMPTS - 1))
    db.session.commit()
    assert mailer.deliver_due()["failed"] == 1
    assert db.session.scalar(select(OutboxMessage.status)) == OUTBOX_FAILED
    smtp_server.start()


def test_two_senders_at_once_send_each_mail_once(app, smtp_server):
    with app.app_context():
        for i in range(20):
            _ticket(email=f"c{i}@example.com")
    results = []

    def run():
        with app.app_context():
            results.append(mailer.deliver_due())
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["sent"] for r in results) == 20
    mails = smtp_server.wait_for(20)
    assert sorted(m["To"] for m in mails) == sorted(f"c{i}@example.com" for i in range(20))


def test_mail_is_in_the_recipients_language(app_ctx, smtp_server):
    _ticket(language="en")
    mailer.deliver_due()
    (mail,) = smtp_server.wait_for(1)
    assert "Ticket received" in mail["Subject"]
