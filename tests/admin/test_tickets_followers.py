"""Ticket followers (Cc) in the staff panel: the customer block of the ticket view, editing the followers
(``can_edit_tickets``, with a history row each), the Followers field of "New ticket", "+N more" in the list,
search by a follower's email, and merging (the merged tickets' customers become followers)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Ticket, TicketEvent
from hesk_py.services import followers, mailer, tickets
from tests.admin.test_tickets_view import ALL_FEATURES
from tests.admin.ticket_helpers import events, in_db, logged_in, post, text_of, ticket_row


@pytest.fixture
def boss(app, admin):
    with app.app_context():
        settings.save({"multi_eml": True})
    return logged_in(app, "admin")


def _emails(app, trackid) -> list[str]:
    return in_db(app, lambda: [c.email for c in followers.followers_of(tickets.get_ticket(trackid))])


def _add(app, trackid, *people):
    in_db(app, lambda: tickets.add_followers(tickets.get_ticket(trackid), list(people),
                                             actor=tickets.Actor.system()))


def _edit(client, trackid, followers_field, **fields):
    data = {"subject": "Printer on fire", "message": "It started smoking this morning.", "followers": followers_field}
    data.update(fields)
    return post(client, f"/admin/tickets/{trackid}/edit", data, token_url=f"/admin/tickets/{trackid}/edit")


def test_the_customer_block_lists_the_requester_and_the_followers(app, boss, make_ticket):
    trackid = make_ticket(subject="Printer on fire")
    _add(app, trackid, ("Fran Follower", "fran@partner.example"), "nina@partner.example")
    html = text_of(boss.get(f"/admin/tickets/{trackid}"))
    block = html[html.index('class="card customer-card"'):]
    block = block[:block.index("</section>")]
    assert "Casey Customer" in block and "casey@example.com" in block
    assert "<strong>Followers (Cc)</strong>" in block
    assert "<strong>Fran Follower</strong>" in block and ">fran@partner.example</a>" in block
    assert ">nina@partner.example</a>" in block
    assert "Edit followers" in block


def test_staff_edit_the_followers_with_a_history_row_each(app, boss, make_ticket):
    trackid = make_ticket()
    _add(app, trackid, "old@partner.example")
    page = text_of(boss.get(f"/admin/tickets/{trackid}/edit"))
    assert re.search(r'<textarea[^>]*name="followers"[^>]*>\s*old@partner.example</textarea>', page)
    resp = _edit(boss, trackid, "Fran@Partner.example\nnina@partner.example, casey@example.com")
    assert resp.status_code == 302
    assert _emails(app, trackid) == ["fran@partner.example", "nina@partner.example"]
    assert ticket_row(app, trackid).follower_count == 2
    assert events(app, trackid)[-3:] == ["follower_removed", "follower_added", "follower_added"]
    history = text_of(boss.get(f"/admin/tickets/{trackid}/history"))
    assert "Removed the follower old@partner.example" in history
    assert "Added the follower fran@partner.example" in history and "Ada Admin" in history
    rows = in_db(app, lambda: [(e.actor_type, e.actor_name, e.data["email"]) for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.action.in_(["follower_added", "follower_removed"]))
        .order_by(TicketEvent.id))])
    assert rows[-3:] == [("staff", "Ada Admin", "old@partner.example"), ("staff", "Ada Admin", "fran@partner.example"),
                         ("staff", "Ada Admin", "nina@partner.example")]
    # emptying the field removes them all
    assert _edit(boss, trackid, "").status_code == 302
    assert _emails(app, trackid) == [] and ticket_row(app, trackid).follower_count == 0


def test_a_bad_address_comes_back_beside_the_field_and_nothing_is_saved(app, boss, make_ticket):
    trackid = make_ticket()
    _add(app, trackid, "kept@partner.example")
    resp = _edit(boss, trackid, "fran@partner.example\nfran at partner", subject="Changed subject")
    html = text_of(resp)
    assert resp.status_code == 400
    assert re.search(r'id="followers-error" role="alert">Not a valid email address: fran, at, partner<', html)
    assert "fran@partner.example\nfran at partner</textarea>" in html and 'value="Changed subject"' in html
    assert _emails(app, trackid) == ["kept@partner.example"]
    assert ticket_row(app, trackid).subject != "Changed subject"  # nothing written half


def test_editing_followers_needs_can_edit_tickets(app, boss, make_user, make_ticket):
    trackid = make_ticket()
    make_user("reader", features=[f for f in ALL_FEATURES if f != "can_edit_tickets"])
    reader = logged_in(app, "reader")
    assert "Edit followers" not in text_of(reader.get(f"/admin/tickets/{trackid}"))
    assert reader.get(f"/admin/tickets/{trackid}/edit").status_code == 403
    # with a CSRF token from a page the reader may open, the POST is refused all the same
    resp = post(reader, f"/admin/tickets/{trackid}/edit", {"subject": "x", "message": "y",
                                                           "followers": "evil@partner.example"},
                token_url=f"/admin/tickets/{trackid}")
    assert resp.status_code == 403
    assert _emails(app, trackid) == []


def test_without_ticket_followers_the_fields_are_hidden_unless_the_ticket_has_some(app, admin, make_ticket):
    client = logged_in(app, "admin")
    trackid = make_ticket()
    assert 'name="followers"' not in text_of(client.get("/admin/tickets/new"))
    assert 'name="followers"' not in text_of(client.get(f"/admin/tickets/{trackid}/edit"))
    _add(app, trackid, "fran@partner.example")  # e.g. from a merge: still shown, so staff can remove them
    assert 'name="followers"' in text_of(client.get(f"/admin/tickets/{trackid}/edit"))


def test_new_ticket_on_behalf_with_followers_emails_them_in_cc(app, boss, smtp_server):
    resp = post(boss, "/admin/tickets/new", {
        "name": "Casey Customer", "email": "casey@example.com", "followers": "fran@partner.example, nina@partner.example",
        "category": "1", "priority": "3", "status": "1", "owner": "", "subject": "Phoned in", "message": "Printer",
        "notify": "y"}, token_url="/admin/tickets/new")
    assert resp.status_code == 302, text_of(resp)
    trackid = in_db(app, lambda: db.session.scalar(select(Ticket.trackid)))
    assert _emails(app, trackid) == ["fran@partner.example", "nina@partner.example"]
    assert in_db(app, lambda: mailer.deliver_due()["sent"]) == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "casey@example.com" and mail["Cc"] == "fran@partner.example, nina@partner.example"
    # a bad one: the form comes back, nothing filed
    resp = post(boss, "/admin/tickets/new", {
        "name": "Casey Customer", "email": "casey@example.com", "followers": "fran@", "category": "1",
        "priority": "3", "status": "1", "owner": "", "subject": "Again", "message": "x"}, token_url="/admin/tickets/new")
    assert resp.status_code == 400 and "Not a valid email address: fran@" in text_of(resp)
    assert in_db(app, lambda: db.session.scalar(select(db.func.count(Ticket.id)))) == 1


def test_the_list_shows_more_customers_and_search_finds_a_followers_ticket(app, boss, make_ticket):
    followed = make_ticket(subject="Followed ticket")
    make_ticket(subject="Lonely ticket", email="lonely@example.com")
    _add(app, followed, "fran@partner.example", "nina@partner.example")
    html = text_of(boss.get("/admin/?view=all"))
    row = html[html.index(f"Select ticket {followed}"):]
    row = row[:row.index("</tr>")]
    assert "Casey Customer" in row and "+2 more" in row
    lonely = html[html.index("Lonely ticket") - 2000:html.index("Lonely ticket")]
    assert "more" not in lonely[lonely.rindex("<tr"):]
    found = text_of(boss.get("/admin/", query_string={"q": "Fran@partner.example", "what": "email"}))
    assert "Followed ticket" in found and "Lonely ticket" not in found
    found = text_of(boss.get("/admin/", query_string={"q": "nina@partner.example"}))  # "anywhere" sees an address
    assert "Followed ticket" in found and "Lonely ticket" not in found


def test_merge_makes_the_merged_tickets_customers_followers(app, boss, make_ticket):
    kept = make_ticket(subject="First", email="casey@example.com")
    other = make_ticket(subject="Second", email="paula@client.example", name="Paula Requester")
    third = make_ticket(subject="Third", email="casey@example.com")
    _add(app, other, ("Tom Teammate", "tom@client.example"))
    ids = [str(ticket_row(app, t).id) for t in (third, other, kept)]
    resp = post(boss, "/admin/tickets/bulk", {"action": "merge", "ids": ids, "back": "/admin/"}, token_url="/admin/")
    assert resp.headers["Location"].endswith(f"/admin/tickets/{kept}")
    # Paula and Tom follow the kept ticket; Casey is its requester already
    assert _emails(app, kept) == ["paula@client.example", "tom@client.example"]
    assert ticket_row(app, kept).follower_count == 2
    added = in_db(app, lambda: [(e.data["email"], e.actor_name) for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_row(app, kept).id,
                                  TicketEvent.action == "follower_added").order_by(TicketEvent.id))])
    # Tom's row came over with the second ticket's history; the merge added Paula and Tom to the kept one
    assert added == [("tom@client.example", ""), ("paula@client.example", "Ada Admin"),
                     ("tom@client.example", "Ada Admin")]
    # Paula can still open it with her own email through her old tracking ID
    customer = app.test_client()
    resp = customer.get(f"/ticket?track={other}&e=paula@client.example")
    assert resp.status_code == 200 and "First" in resp.get_data(as_text=True)


def test_the_outbox_page_shows_the_cc(app, boss, make_ticket):
    trackid = make_ticket()
    _add(app, trackid, "fran@partner.example")
    in_db(app, lambda: (tickets.resend_notification(tickets.get_ticket(trackid), actor=tickets.Actor.system()),))
    assert in_db(app, lambda: db.session.scalar(select(OutboxMessage.cc).order_by(OutboxMessage.id.desc())
                                                .limit(1))) == ["fran@partner.example"]
    html = text_of(boss.get("/admin/outbox?status=queued"))
    assert "Cc: fran@partner.example" in html


def test_a_followers_reply_shows_them_as_the_last_replier(app, boss, make_ticket):
    trackid = make_ticket()
    _add(app, trackid, ("Fran Follower", "fran@partner.example"))

    def reply():
        t = tickets.get_ticket(trackid)
        fran = followers.followers_of(t)[0]
        tickets.add_reply(t, message="From Fran", actor=tickets.Actor.customer(fran.name, fran.id))

    in_db(app, reply)
    html = text_of(boss.get(f"/admin/tickets/{trackid}"))
    assert re.search(r"<dt>Last replier</dt><dd>\s*Fran Follower\s*</dd>", html)
    public = app.test_client().get(f"/ticket?track={trackid}&e=fran@partner.example").get_data(as_text=True)
    assert re.search(r"<dt>Last replier</dt><dd>\s*Fran Follower\s*</dd>", public)
