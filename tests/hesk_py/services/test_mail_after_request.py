"""Mail queued by a web request is sent right after the response, by one sender thread per process."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import OUTBOX_SENT, OutboxMessage
from tests.public.conftest import file_ticket, open_form, quick_form  # noqa: F401 (fixtures)


@pytest.fixture
def app_config():
    return {"HESK_SEND_MAIL_AFTER_REQUEST": True}


def test_confirmation_arrives_without_cron(app, client, quick_form, file_ticket, smtp_server):
    resp = file_ticket(client, email="dana@example.com", subject="Router blinks")
    assert resp.status_code in (302, 303)
    resp.close()  # what the WSGI server does once the response has gone out
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "dana@example.com" and "Router blinks" in mail["Subject"]


def test_many_requests_at_once_send_each_mail_once(app, quick_form, file_ticket, smtp_server):
    errors = []

    def customer(i):
        try:
            client = app.test_client()
            resp = file_ticket(client, email=f"c{i}@example.com", subject=f"Question {i}")
            assert resp.status_code in (302, 303), resp.status_code
            resp.close()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    mails = smtp_server.wait_for(8)
    assert sorted(m["To"] for m in mails) == sorted(f"c{i}@example.com" for i in range(8))
    assert len(smtp_server.wait_for(9, timeout=1.0)) == 8  # none twice
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.status == OUTBOX_SENT)) == 8
