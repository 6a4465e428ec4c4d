"""Customer accounts and ticket followers (Cc) together: "My tickets" lists the tickets a customer follows
(marked), a logged-in follower opens and answers a followed ticket like their own in every mode, and with
accounts on the followers a customer names on the ticket form count only with a verified account (HESK:
"Followers without a verified account will be ignored"). Mail is received by a real SMTP server."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, Reply, Ticket
from hesk_py.services import followers, tickets
from tests.public.accounts_helpers import (
    accounts_on, deliver, form_fields, login, logout, make_account, register, text_of,
)
from tests.public.conftest import ANSWER, hidden_fields

FRAN = "fran@partner.example"


def page(resp) -> str:
    return " ".join(text_of(resp.get_data(as_text=True)).split())


def followers_on(app):
    with app.test_request_context():
        settings.save({"multi_eml": True})


def follow(app, trackid, *people):
    with app.app_context():
        tickets.add_followers(tickets.get_ticket(trackid), list(people), actor=tickets.Actor.system())


def unfollow(app, trackid, email):
    with app.app_context():
        ticket = tickets.get_ticket(trackid)
        cid = db.session.scalar(select(Customer.id).where(Customer.email == email))
        assert tickets.remove_follower(ticket, cid, actor=tickets.Actor.system())


def reply_rows(app, trackid):
    with app.app_context():
        t = tickets.get_ticket(trackid)
        return [tuple(r) for r in db.session.execute(
            select(Reply.name, Reply.customer_id, Reply.message).where(Reply.ticket_id == t.id).order_by(Reply.id))]


def row_of(html: str, trackid: str) -> str:
    match = re.search(rf'<tr id="ticket-{trackid}">(.*?)</tr>', html, re.S)
    assert match, trackid
    return match.group(1)


# --- My tickets ------------------------------------------------------------------------------------------

def test_my_tickets_lists_followed_tickets_marked_and_never_others(app, client, make_ticket, smtp_server):
    accounts_on(app)
    followers_on(app)
    followed = make_ticket(subject="Casey's broken printer")
    follow(app, followed, ("Fran Follower", FRAN))
    own = make_ticket(email=FRAN, name="Fran Follower", subject="Fran's own question")
    other = make_ticket(email="someone@example.com", subject="Somebody else's matter")
    fran_id = make_account(app, client, smtp_server, email=FRAN, name="Fran Follower")

    resp = client.get("/my-tickets")
    html = resp.get_data(as_text=True)
    text = page(resp)
    assert "Casey's broken printer" in text and "Fran's own question" in text
    assert "Somebody else's matter" not in text and other not in html
    assert "2 tickets" in text
    assert "Following" in text_of(row_of(html, followed))
    assert "Following" not in text_of(row_of(html, own))
    # search and filters cover the followed ticket too
    assert "Casey's broken printer" in page(client.get("/my-tickets?q=printer"))
    assert followed in page(client.get(f"/my-tickets?q={followed}"))
    assert "Casey's broken printer" in page(client.get("/my-tickets?status=open"))
    with app.app_context():
        tickets.resolve(tickets.get_ticket(followed), actor=tickets.Actor.system(), notify=False)
    resolved = page(client.get("/my-tickets?status=resolved"))
    assert "Casey's broken printer" in resolved and "Fran's own question" not in resolved
    # no longer a follower: gone from the list
    unfollow(app, followed, FRAN)
    text = page(client.get("/my-tickets"))
    assert "Casey's broken printer" not in text and "Fran's own question" in text
    with app.app_context():
        assert db.session.get(Customer, fran_id).email == FRAN


# --- a logged-in follower on the ticket page ------------------------------------------------------------

@pytest.mark.parametrize("mode", [1, 2, 3])
def test_a_logged_in_follower_opens_and_answers_a_followed_ticket_as_their_own(app, client, make_ticket,
                                                                               smtp_server, mode):
    accounts_on(app, mode=mode)
    followers_on(app)
    trackid = make_ticket(subject="Casey's broken printer")
    follow(app, trackid, ("Fran Follower", FRAN), "nina@partner.example")
    stranger = make_ticket(email="someone@example.com", subject="Somebody else's matter")
    fran_id = make_account(app, client, smtp_server, email=FRAN, name="Fran Follower")

    resp = client.get(f"/ticket?track={trackid}")  # no email typed: the account is enough
    text = page(resp)
    assert resp.status_code == 200 and "Casey's broken printer" in text
    assert f"Fran Follower {FRAN} (you)" in text and "n…@partner.example" in text
    assert "casey@example.com" not in resp.get_data(as_text=True)
    assert client.get(f"/ticket/print?track={trackid}").status_code == 200

    # a reply straight from a fresh page of the ticket is Fran's, not the requester's
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    resp = client.post("/ticket/reply", data={**hidden_fields(html), "message": "The fuse is in the drawer."})
    assert resp.status_code == 303
    assert reply_rows(app, trackid) == [("Fran Follower", fran_id, "The fuse is in the drawer.")]

    # a ticket she neither opened nor follows: not by its tracking ID alone; with accounts required not even
    # with its customer's email (optional accounts keep HESK's tracking ID + email for everyone)
    assert "Somebody else's matter" not in page(client.get(f"/ticket?track={stranger}"))
    if mode >= 2:
        resp = client.get(f"/ticket?track={stranger}&e=someone@example.com")
        assert "Somebody else's matter" not in page(resp)
        assert resp.status_code == 404
        assert "Somebody else's matter" not in page(client.get(f"/ticket/print?track={stranger}"))
        token = form_fields(client, "/my-tickets")["csrf_token"]
        resp = client.post("/ticket/reply", data={"track": stranger, "message": "hi", "csrf_token": token})
        assert resp.status_code in (302, 303)
        assert reply_rows(app, stranger) == []

    # removed as a follower: with accounts required the ticket is closed to her at once, even in this session
    unfollow(app, trackid, FRAN)
    resp = client.get(f"/ticket?track={trackid}")
    if mode >= 2:
        assert resp.status_code == 404 and "Casey's broken printer" not in page(resp)
        token = form_fields(client, "/my-tickets")["csrf_token"]
        resp = client.post("/ticket/reply", data={"track": trackid, "message": "Still me", "csrf_token": token})
        assert resp.status_code in (302, 303)
        assert len(reply_rows(app, trackid)) == 1


def test_logged_out_the_follower_needs_the_email_again(app, client, make_ticket, smtp_server):
    accounts_on(app, mode=1)
    followers_on(app)
    trackid = make_ticket(subject="Casey's broken printer")
    follow(app, trackid, ("Fran Follower", FRAN))
    make_account(app, client, smtp_server, email=FRAN, name="Fran Follower")
    assert client.get(f"/ticket?track={trackid}").status_code == 200
    logout(client)
    resp = client.get(f"/ticket?track={trackid}")
    assert "Casey's broken printer" not in page(resp) and "Enter the email address" in page(resp)
    assert client.get(f"/ticket?track={trackid}&e={FRAN}").status_code == 200


# --- the Cc field with accounts on: only verified accounts --------------------------------------------

def submit(client, **fields):
    data = {**form_fields(client, "/submit_ticket?category=1"), "name": "Casey Customer",
            "email": "casey@example.com", "subject": "Printer on fire", "message": "It started smoking.",
            "question": ANSWER, **fields}
    return client.post("/submit_ticket", data=data, content_type="multipart/form-data")


def test_the_cc_field_says_followers_need_a_verified_account(app, client):
    followers_on(app)
    with app.test_request_context():
        settings.save({"spam_min_fill_seconds": 0})
    assert "Followers without a verified account will be ignored." not in page(client.get(
        "/submit_ticket?category=1"))
    accounts_on(app, mode=1)
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    field = re.search(r'<input[^>]*\bid="cc"[^>]*>', html).group(0)
    hint_id = re.search(r'aria-describedby="([^"]+)"', field).group(1)
    described = re.search(rf'id="{hint_id}"[^>]*>([^<]*)<', html)
    assert described and "Followers without a verified account will be ignored." in described.group(1)


def test_with_accounts_on_only_followers_with_a_verified_account_are_added(app, make_ticket, smtp_server):
    accounts_on(app, mode=1)
    followers_on(app)
    make_account(app, app.test_client(), smtp_server, email=FRAN, name="Fran Follower")  # active
    register(app.test_client(), name="Una Unconfirmed", email="una@partner.example")  # never confirmed
    make_ticket(email="old@partner.example", name="Old Contact")  # filed a ticket, no account
    before = len(smtp_server.wait_for(1 + deliver(app)["sent"]))

    client = app.test_client()
    resp = submit(client, cc=f"{FRAN}, una@partner.example, old@partner.example, nobody@partner.example")
    assert resp.status_code == 303
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Printer on fire"))
        assert [c.email for c in followers.followers_of(ticket)] == [FRAN]
        assert ticket.follower_count == 1
        trackid = ticket.trackid
    deliver(app)
    mail = smtp_server.wait_for(before + 1)[-1]
    assert trackid in mail["Subject"] and mail["To"] == "casey@example.com" and mail["Cc"] == FRAN
    assert sorted(smtp_server.envelopes[-1].rcpt_tos) == ["casey@example.com", FRAN]

    # accounts off again: every valid address counts, as before
    accounts_on(app, mode=0)
    resp = submit(app.test_client(), subject="Second one", cc="old@partner.example, nobody@partner.example")
    assert resp.status_code == 303
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Second one"))
        assert [c.email for c in followers.followers_of(ticket)] == ["old@partner.example", "nobody@partner.example"]


def test_a_logged_in_customer_names_followers_under_the_same_rule(app, client, smtp_server):
    accounts_on(app, mode=2)
    followers_on(app)
    make_account(app, app.test_client(), smtp_server, email=FRAN, name="Fran Follower")
    make_account(app, client, smtp_server)  # Casey, logged in
    resp = submit(client, cc=f"{FRAN}, stranger@partner.example")
    assert resp.status_code == 303
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Printer on fire"))
        assert [c.email for c in followers.followers_of(ticket)] == [FRAN]
        trackid = ticket.trackid
    # and Fran, logged in, finds it in her tickets
    fran = app.test_client()
    assert login(fran, FRAN).status_code == 302
    assert trackid in page(fran.get("/my-tickets"))
