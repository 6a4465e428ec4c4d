"""Ticket followers (Cc) on the customer side: the "Cc / followers" field of the ticket form (``multi_eml``),
its checks, a follower opening the ticket with their own email and replying as themselves, what the ticket
page shows of the other customers, and "forgot tracking ID" for tickets an address follows."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, OutboxMessage, Reply, Ticket, TicketFollower
from hesk_py.services import bans, followers, mailer, tickets
from tests.public.conftest import hidden_fields, text_of

CASEY = "casey@example.com"


@pytest.fixture
def followers_on(app, quick_form):
    with app.app_context():
        settings.save({"multi_eml": True})
    return app


def _only_ticket(app) -> tuple[Ticket, list[str]]:
    with app.app_context():
        (t,) = db.session.scalars(select(Ticket)).all()
        emails = [c.email for c in followers.followers_of(t)]
        db.session.expunge(t)
        return t, emails


def _ticket_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Ticket.id)))


def _with_followers(app, make_ticket, *people) -> str:
    trackid = make_ticket(email=CASEY, subject="Broken printer")
    with app.app_context():
        tickets.add_followers(tickets.get_ticket(trackid), list(people), actor=tickets.Actor.system())
    return trackid


def test_the_cc_field_is_offered_only_with_ticket_followers(app, client, quick_form, open_form):
    resp, _hidden = open_form(client)
    assert 'name="cc"' not in resp.get_data(as_text=True)
    with app.app_context():
        settings.save({"multi_eml": True})
    resp, _hidden = open_form(client)
    html = resp.get_data(as_text=True)
    assert re.search(r'<label for="cc">Cc / followers</label>\s*<input[^>]*name="cc"', html)
    # HESK's pre-filling from the address works for it too
    resp, _hidden = open_form(client, "/submit_ticket?category=1&cc=fran@partner.example")
    assert 'value="fran@partner.example"' in resp.get_data(as_text=True)


def test_a_customer_files_a_ticket_with_followers_and_everyone_gets_the_confirmation(
        app, client, followers_on, file_ticket, smtp_server):
    with app.app_context():
        bans.ban_email("@banned.example")
    resp = file_ticket(client, cc="Fran@Partner.example, nina@partner.example;CASEY@example.com "
                                  "fran@partner.example, troll@banned.example")
    assert resp.status_code == 303
    ticket, emails = _only_ticket(app)
    # each address once, the customer's own one and the banned one left out
    assert emails == ["fran@partner.example", "nina@partner.example"]
    assert ticket.follower_count == 2
    with app.app_context():
        assert mailer.deliver_due()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == CASEY
    assert mail["Cc"] == "fran@partner.example, nina@partner.example"
    assert sorted(smtp_server.envelopes[0].rcpt_tos) == [CASEY, "fran@partner.example", "nina@partner.example"]
    assert ticket.trackid in mail["Subject"]


def test_an_invalid_cc_address_comes_back_beside_the_field_as_typed(app, client, followers_on, file_ticket):
    typed = "fran@partner.example, not an address, nina@"
    resp = file_ticket(client, cc=typed, subject="Keep me")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert _ticket_count(app) == 0
    error = re.search(r'<p class="error" id="cc-error" role="alert">([^<]*)</p>', html)
    assert error and "Not a valid email address: not, an, address, nina@" in text_of(error.group(1))
    field = re.search(r'<input[^>]*id="cc"[^>]*>', html).group(0)
    assert f'value="{typed}"' in field and 'aria-invalid="true"' in field and 'aria-describedby="cc-error"' in field
    assert 'value="Keep me"' in html  # everything else as typed too
    assert 'href="#cc">Cc / followers:' in html  # the summary on top links to it


def test_at_most_ten_followers_from_the_form(app, client, followers_on, file_ticket):
    many = ", ".join(f"person{i}@partner.example" for i in range(11))
    resp = file_ticket(client, cc=many)
    assert resp.status_code == 400
    assert "Enter at most 10 addresses." in text_of(resp.get_data(as_text=True))
    assert _ticket_count(app) == 0
    assert file_ticket(client, cc=", ".join(f"person{i}@partner.example" for i in range(10))).status_code == 303
    _ticket, emails = _only_ticket(app)
    assert len(emails) == 10


def test_without_ticket_followers_a_posted_cc_is_ignored(app, client, quick_form, file_ticket):
    assert file_ticket(client, cc="fran@partner.example").status_code == 303
    ticket, emails = _only_ticket(app)
    assert emails == [] and ticket.follower_count == 0


def test_a_follower_opens_the_ticket_with_their_own_email(app, client, followers_on, make_ticket):
    trackid = _with_followers(app, make_ticket, ("Fran Follower", "fran@partner.example"), "nina@partner.example")
    resp = client.get(f"/ticket?track={trackid}&e=Fran@partner.example")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Broken printer" in html
    text = " ".join(text_of(html).split())
    # the followers: names, the viewer's own address in full, other people's masked
    assert "Fran Follower fran@partner.example (you)" in text
    assert "n…@partner.example" in text and "nina@partner.example" not in html
    assert CASEY not in html  # the requester's address is not shown either
    # anyone else's address (or a removed follower's) still finds nothing
    stranger = app.test_client()
    resp = stranger.get(f"/ticket?track={trackid}&e=mallory@partner.example")
    assert resp.status_code == 404 and "Broken printer" not in resp.get_data(as_text=True)
    with app.app_context():
        t = tickets.get_ticket(trackid)
        nina = db.session.scalar(select(Customer.id).where(Customer.email == "nina@partner.example"))
        tickets.remove_follower(t, nina, actor=tickets.Actor.system())
    assert app.test_client().get(f"/ticket?track={trackid}&e=nina@partner.example").status_code == 404


def test_the_requester_sees_the_followers_masked(app, client, followers_on, make_ticket):
    trackid = _with_followers(app, make_ticket, ("Fran Follower", "fran@partner.example"))
    html = client.get(f"/ticket?track={trackid}&e={CASEY}").get_data(as_text=True)
    text = " ".join(text_of(html).split())
    assert "Cc Fran Follower f…@partner.example" in text
    assert "fran@partner.example" not in html and "(you)" not in text


def _reply(client, trackid, message):
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    resp = client.post("/ticket/reply", data={**hidden_fields(html), "message": message})
    assert resp.status_code == 303, resp.status_code
    return resp


def test_a_follower_replies_on_the_web_as_themselves(app, client, followers_on, make_ticket, admin):
    trackid = _with_followers(app, make_ticket, ("Fran Follower", "fran@partner.example"))
    assert client.get(f"/ticket?track={trackid}&e=fran@partner.example").status_code == 200
    _reply(client, trackid, "The fuse is in the drawer.")
    requester = app.test_client()
    assert requester.get(f"/ticket?track={trackid}&e={CASEY}").status_code == 200
    _reply(requester, trackid, "Thanks Fran!")
    with app.app_context():
        fran = db.session.scalar(select(Customer).where(Customer.email == "fran@partner.example"))
        rows = db.session.execute(select(Reply.name, Reply.customer_id, Reply.message).order_by(Reply.id)).all()
        t = tickets.get_ticket(trackid)
        assert [tuple(r) for r in rows] == [("Fran Follower", fran.id, "The fuse is in the drawer."),
                                            ("Casey Customer", t.customer_id, "Thanks Fran!")]
        # staff are told of each reply, as for any customer reply
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.template == "new_reply_by_customer")) == 2
    page = text_of(client.get(f"/ticket?track={trackid}").get_data(as_text=True))
    assert "Fran Follower" in page and "The fuse is in the drawer." in page


def test_forgot_tracking_id_lists_the_tickets_an_address_follows(app, client, followers_on, make_ticket,
                                                                 smtp_server):
    followed = _with_followers(app, make_ticket, ("Fran Follower", "fran@partner.example"))
    own = make_ticket(email="fran@partner.example", name="Fran F.", subject="My own ticket")
    make_ticket(email="someone@example.com", subject="Not Fran's")
    with app.app_context():
        assert mailer.deliver_due()["sent"] == 3  # the three "ticket received" emails
    html = client.get("/forgot_tracking_id").get_data(as_text=True)
    resp = client.post("/forgot_tracking_id", data={**hidden_fields(html), "email": "fran@partner.example",
                                                     "open_only": "1"}, follow_redirects=True)
    assert resp.status_code == 200
    with app.app_context():
        assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(4)[-1]
    body = mail.get_content()
    assert mail["To"] == "fran@partner.example" and mail["Cc"] is None
    assert followed in body and own in body and "Not Fran's" not in body
    assert "Dear Fran F.," in body


def test_forgot_tracking_id_for_a_follower_only_greets_them_by_their_name(app, client, followers_on, make_ticket):
    _with_followers(app, make_ticket, ("Fran Follower", "fran@partner.example"))
    html = client.get("/forgot_tracking_id").get_data(as_text=True)
    client.post("/forgot_tracking_id", data={**hidden_fields(html), "email": "fran@partner.example",
                                             "open_only": "1"})
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "forgot_ticket_id"))
        assert row.context["name"] == "Fran Follower"  # not the requester's name
        assert db.session.scalar(select(func.count()).select_from(TicketFollower)) == 1
