"""Customer accounts and ticket followers on the staff side: a customer's page lists the tickets they follow
(marked as followed) beside those they filed, and deleting a customer (keeping, anonymizing or deleting their
tickets) or giving them the address of a contact who follows tickets keeps every ticket's follower count
(``hesk_tickets.follower_count``, which the list's "+N more" and the ticket pages rely on) equal to its
followers."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, Ticket, TicketFollower
from hesk_py.services import followers, tickets
from tests.admin.test_customers import page, token_of
from tests.admin.test_permission_groups import add_category
from tests.admin.ticket_helpers import logged_in
from tests.conftest import STAFF_PASSWORD
from tests.public.accounts_helpers import accounts_on, make_account

FRAN, NINA, CASEY, OLD = "fran@partner.example", "nina@partner.example", "casey@example.com", "old@partner.example"


@pytest.fixture
def staff_in(app, admin, login):
    accounts_on(app)
    with app.test_request_context():
        settings.save({"multi_eml": True})
    login("admin")
    return app


def follow(app, trackid, *people):
    with app.app_context():
        tickets.add_followers(tickets.get_ticket(trackid), list(people), actor=tickets.Actor.system())


def state(app) -> dict[str, tuple[int, list[str]]]:
    """Each ticket's stored follower count and its followers' addresses, by subject; and every count checked
    against the follower rows."""
    with app.app_context():
        out = {}
        for t in db.session.scalars(select(Ticket).order_by(Ticket.id)):
            rows = db.session.scalar(select(func.count()).select_from(TicketFollower)
                                     .where(TicketFollower.ticket_id == t.id))
            assert t.follower_count == rows, (t.subject, t.follower_count, rows)
            out[t.subject] = (t.follower_count, sorted(c.email for c in followers.followers_of(t)))
        return out


def test_the_customer_page_lists_the_tickets_they_follow_marked(app, client, staff_in, make_ticket, smtp_server,
                                                                make_user):
    followed = make_ticket(subject="Casey's printer", autoassign=False)
    follow(app, followed, ("Fran Follower", FRAN))
    own = make_ticket(email=FRAN, name="Fran Follower", subject="Fran's own question")
    make_ticket(email="someone@example.com", subject="Not Fran's")
    fran = make_account(app, app.test_client(), smtp_server, email=FRAN, name="Fran Follower")
    html = client.get(f"/admin/customers/{fran}").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr><td><a href="[^"]*">([A-Z0-9-]+)</a>.*?</tr>', html,
                                                        re.S)}
    assert set(rows) == {followed, own}
    assert "Followed" in rows[followed] and "Followed" not in rows[own]
    assert "Not Fran's" not in page(client.get(f"/admin/customers/{fran}"))
    # what a staff member may not see stays hidden, followed or not
    elsewhere = add_category(app, "Elsewhere")
    hidden = make_ticket(subject="Hidden followed ticket", category_id=elsewhere, autoassign=False)
    follow(app, hidden, FRAN)
    assert "Hidden followed ticket" in page(client.get(f"/admin/customers/{fran}"))
    make_user("limited", features=["can_view_tickets", "can_man_customers", "can_view_unassigned"],
              category_ids=[1])
    body = page(logged_in(app, "limited", STAFF_PASSWORD).get(f"/admin/customers/{fran}"))
    assert "Casey's printer" in body and "Hidden followed ticket" not in body


def _three_tickets(app, make_ticket):
    """A: Casey's, followed by Fran and Nina. B: Fran's own, followed by Nina and Casey. C: Casey's, by Fran."""
    a = make_ticket(subject="A")
    follow(app, a, ("Fran Follower", FRAN), NINA)
    b = make_ticket(email=FRAN, name="Fran Follower", subject="B")
    follow(app, b, NINA, CASEY)
    c = make_ticket(subject="C")
    follow(app, c, FRAN)
    return a, b, c


@pytest.mark.parametrize("mode", ["keep", "anonymize", "delete"])
def test_deleting_a_customer_keeps_the_follower_counts(app, client, staff_in, make_ticket, smtp_server, mode):
    a, b, c = _three_tickets(app, make_ticket)
    fran = make_account(app, app.test_client(), smtp_server, email=FRAN, name="Fran Follower")
    assert state(app) == {"A": (2, [FRAN, NINA]), "B": (2, [CASEY, NINA]), "C": (1, [FRAN])}
    url = f"/admin/customers/{fran}/delete"
    resp = client.post(url, data={"csrf_token": token_of(client, url), "tickets": mode})
    assert resp.status_code == 303
    after = state(app)
    if mode == "keep":  # the account goes; the address stays on the tickets, as requester and as follower
        assert after == {"A": (2, [FRAN, NINA]), "B": (2, [CASEY, NINA]), "C": (1, [FRAN])}
    elif mode == "anonymize":  # her own ticket loses every name and address; she follows nothing any more
        assert after == {"A": (1, [NINA]), "[anonymized]": (0, []), "C": (0, [])}
    else:
        assert after == {"A": (1, [NINA]), "C": (0, [])}
    # the ticket pages agree: the staff view lists exactly the followers left, the list says "+N more" only then
    block = client.get(f"/admin/tickets/{c}").get_data(as_text=True)
    block = block[block.index('class="card customer-card"'):]
    assert (FRAN in block.split("</section>")[0]) == (mode == "keep")
    listing = client.get("/admin/?view=all").get_data(as_text=True)

    def more(trackid):
        row = listing[listing.index(f"Select ticket {trackid}"):]
        found = re.search(r"\+(\d+) more", row[:row.index("</tr>")])
        return int(found.group(1)) if found else 0

    assert (more(a), more(c)) == ((2, 1) if mode == "keep" else (1, 0))
    assert (f"Select ticket {b}" in listing) == (mode != "delete")


def test_a_new_address_of_a_contact_who_follows_tickets_keeps_the_counts(app, client, staff_in, make_ticket,
                                                                         smtp_server):
    d = make_ticket(subject="D")
    follow(app, d, ("Fran Follower", FRAN), ("Old Contact", OLD))  # both follow D
    make_ticket(email=OLD, name="Old Contact", subject="E")  # the contact's own ticket ...
    with app.app_context():
        e = db.session.scalar(select(Ticket.trackid).where(Ticket.subject == "E"))
    follow(app, e, FRAN, NINA)  # ... which Fran follows
    fran = make_account(app, app.test_client(), smtp_server, email=FRAN, name="Fran Follower")
    assert state(app) == {"D": (2, [FRAN, OLD]), "E": (2, [FRAN, NINA])}
    url = f"/admin/customers/{fran}"
    resp = client.post(url, data={"csrf_token": token_of(client, url), "name": "Fran Follower", "email": OLD,
                                  "language": "", "status": "active"})
    assert resp.status_code == 303
    # one person now: D has her once, E is hers (a requester never follows her own ticket)
    assert state(app) == {"D": (1, [OLD]), "E": (1, [NINA])}
    with app.app_context():
        assert db.session.scalar(select(Ticket.customer_id).where(Ticket.subject == "E")) == fran
        assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.email == OLD)) == 1
