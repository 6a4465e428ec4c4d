"""Forgot tracking ID: the list of an address's tickets by email; the page never tells whether the
address has tickets."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Ticket
from hesk_py.services import antispam
from tests.public.conftest import hidden_fields


def _ask(client, email, **extra):
    html = client.get("/forgot_tracking_id").get_data(as_text=True)
    return client.post("/forgot_tracking_id", data={**hidden_fields(html), "email": email, "open_only": "1",
                                                     **extra}, follow_redirects=True)


def _queued(app):
    with app.app_context():
        return db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "forgot_ticket_id")).all()


def test_the_same_answer_with_or_without_tickets(app, client, quick_form, make_ticket):
    make_ticket(email="known@example.com")
    known = _ask(client, "known@example.com")
    unknown = _ask(client, "unknown@example.com")
    assert known.status_code == unknown.status_code == 200
    norm = lambda r, e: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True)).replace(e, "EMAIL")  # noqa: E731
    assert norm(known, "known@example.com") == norm(unknown, "unknown@example.com")
    assert "If we have tickets for" in known.get_data(as_text=True)
    queued = _queued(app)
    assert [m.recipient for m in queued] == ["known@example.com"]  # nothing is sent to strangers


def test_the_list_is_emailed(app, client, quick_form, make_ticket, smtp_server):
    open_one = make_ticket(email="list@example.com", subject="Open one")
    closed_one = make_ticket(email="LIST@example.com", subject="Closed one")
    make_ticket(email="someone-else@example.com", subject="Not mine")
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.trackid == closed_one).values(status_id=4))
        db.session.commit()
    _ask(client, "list@example.com")  # open tickets only (the default)
    _ask(client, "list@example.com", open_only="0")
    with app.app_context():
        from hesk_py.services import mailer

        assert mailer.deliver_due()["sent"] >= 2
    mails = [m for m in smtp_server.wait_for(4) if m["To"] == "list@example.com"
             and m["Subject"] == "Your support tickets"]
    assert len(mails) == 2
    only_open, everything = mails[0].get_content(), mails[1].get_content()
    assert open_one in only_open and closed_one not in only_open
    assert open_one in everything and closed_one in everything and "Not mine" not in everything
    assert f"/ticket?track={open_one}" in only_open
    assert "Open one" in only_open and "Waiting reply" not in only_open


def test_a_wrong_email_is_refused_and_requests_count_toward_the_limit(app, client, quick_form):
    resp = _ask(client, "not an email")
    assert "Please enter a valid email address." in resp.get_data(as_text=True)
    with app.app_context():
        settings.save({"attempt_limit": 2})
    _ask(client, "a@example.com")
    _ask(client, "b@example.com")
    resp = _ask(client, "c@example.com")
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)


def test_the_captcha_is_asked_when_on(app, client, make_ticket):
    make_ticket(email="cap@example.com")
    with app.app_context():
        settings.save({"secimg_use": 1, "spam_min_fill_seconds": 0})
    html = client.get("/forgot_tracking_id").get_data(as_text=True)
    assert "/captcha?t=" in html
    resp = client.post("/forgot_tracking_id", data={**hidden_fields(html), "email": "cap@example.com",
                                                     "open_only": "1", "captcha": "00000"})
    assert resp.status_code == 400
    assert "does not match the image" in resp.get_data(as_text=True)
    assert _queued(app) == []
    fields = hidden_fields(html)
    with app.app_context():
        code = antispam.captcha_code(antispam.read_token(fields["hesk_form"]).nonce)
    resp = client.post("/forgot_tracking_id", data={**fields, "email": "cap@example.com", "open_only": "1",
                                                     "captcha": code})
    assert resp.status_code == 303
    assert len(_queued(app)) == 1
