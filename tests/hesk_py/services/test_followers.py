"""The ticket service's follower rules: who may follow (not the requester, each address once, at most
``MAX_PER_TICKET``), the follower count kept with the rows, and what happens to follows when customers are
merged, deleted or a ticket is anonymized or deleted."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import Customer, Ticket, TicketEvent, TicketFollower
from hesk_py.services import followers, tickets
from hesk_py.services.errors import InvalidTicketData
from hesk_py.services.tickets import Actor


def _ticket(email="casey@example.com", **kw) -> Ticket:
    data = dict(name="Casey Customer", email=email, subject="Printer", message="Smoke.", category_id=1,
                actor=Actor.customer("Casey Customer"), autoassign=False)
    data.update(kw)
    return tickets.create_ticket(**data)


def _emails(ticket) -> list[str]:
    return [c.email for c in followers.followers_of(db.session.get(Ticket, ticket.id))]


def _customer(email) -> int:
    return db.session.scalar(select(Customer.id).where(Customer.email == email))


def _count(ticket) -> int:
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id).follower_count


def test_the_requester_and_repeated_addresses_are_not_added_twice(app_ctx):
    t = _ticket(followers=["Fran@partner.example", "fran@partner.example", "CASEY@example.com"])
    assert _emails(t) == ["fran@partner.example"] and _count(t) == 1
    assert tickets.add_followers(db.session.get(Ticket, t.id), ["fran@partner.example", "casey@example.com"],
                                 actor=Actor.system()) == []
    assert _count(t) == 1
    assert db.session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.action == "follower_added")) == 1


def test_invalid_addresses_and_header_injection_are_refused_whole(app_ctx):
    for bad in (["fran@partner.example", "nope"], ["x@y.example\r\nBcc: all@victims.example"],
                [("Fran", "fran@partner.example\r\nBcc: x@y.example")]):
        with pytest.raises(InvalidTicketData) as caught:
            _ticket(followers=bad)
        assert "followers" in caught.value.errors
    assert db.session.scalar(select(func.count(Ticket.id))) == 0
    assert db.session.scalar(select(func.count()).select_from(TicketFollower)) == 0
    # a name with a line break is made one line; it never reaches a header
    t = _ticket(followers=[("Fran\r\nFollower", "fran@partner.example")])
    assert followers.followers_of(db.session.get(Ticket, t.id))[0].name == "Fran  Follower"


def test_at_most_max_per_ticket_followers(app_ctx, monkeypatch):
    monkeypatch.setattr(followers, "MAX_PER_TICKET", 3)
    t = _ticket(followers=["a@p.example", "b@p.example"])
    with pytest.raises(InvalidTicketData):
        tickets.add_followers(db.session.get(Ticket, t.id), ["c@p.example", "d@p.example"], actor=Actor.system())
    assert _emails(t) == ["a@p.example", "b@p.example"]
    # email and merging are not refused: they stop at the limit
    added = tickets.add_followers(db.session.get(Ticket, t.id), ["c@p.example", "d@p.example"],
                                  actor=Actor.system(), strict=False)
    assert [c.email for c in added] == ["c@p.example"] and _count(t) == 3


def test_merging_two_customers_moves_their_follows(app_ctx):
    a = _ticket(followers=["old@partner.example"])
    b = _ticket(followers=["old@partner.example", "new@partner.example"])
    mine = _ticket(email="new@partner.example", followers=["old@partner.example"])
    old, new = _customer("old@partner.example"), _customer("new@partner.example")
    with tickets.one_transaction():
        tickets.move_customer_tickets(old, new)
    # a: followed by the merged customer now; b: followed by it already; mine: it opened the ticket itself
    assert (_emails(a), _count(a)) == (["new@partner.example"], 1)
    assert (_emails(b), _count(b)) == (["new@partner.example"], 1)
    assert (_emails(mine), _count(mine)) == ([], 0)
    assert db.session.scalar(select(func.count()).select_from(TicketFollower).where(
        TicketFollower.customer_id == old)) == 0


def test_deleting_a_customer_ends_their_follows_and_the_counts_follow(app_ctx):
    t = _ticket(followers=["gone@partner.example", "stays@partner.example"])
    with tickets.one_transaction():
        tickets.move_customer_tickets(_customer("gone@partner.example"), None)
    assert (_emails(t), _count(t)) == (["stays@partner.example"], 1)


def test_an_anonymized_ticket_keeps_no_followers(app_ctx):
    t = _ticket(followers=[("Fran Follower", "fran@partner.example")])
    tickets.anonymize_ticket(db.session.get(Ticket, t.id), actor=Actor.system())
    assert (_emails(t), _count(t)) == ([], 0)


def test_a_deleted_ticket_takes_its_follower_rows_with_it(app_ctx):
    t = _ticket(followers=["fran@partner.example"])
    tickets.delete_ticket(db.session.get(Ticket, t.id), actor=Actor.system())
    assert db.session.scalar(select(func.count()).select_from(TicketFollower)) == 0
    assert _customer("fran@partner.example") is not None  # the customer stays


def test_a_follower_may_look_the_ticket_up_and_a_removed_one_may_not(app_ctx):
    t = _ticket(followers=["fran@partner.example"])
    assert tickets.get_ticket(t.trackid, email=" FRAN@partner.example ").id == t.id
    tickets.remove_follower(db.session.get(Ticket, t.id), _customer("fran@partner.example"), actor=Actor.system())
    with pytest.raises(tickets.TicketNotFound):
        tickets.get_ticket(t.trackid, email="fran@partner.example")
    assert tickets.remove_follower(db.session.get(Ticket, t.id), _customer("fran@partner.example"),
                                   actor=Actor.system()) is False
    assert _count(t) == 0
