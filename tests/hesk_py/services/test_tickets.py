"""The ticket service: the one door. Every change writes history and queues mail in one transaction."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Category, Customer, OutboxMessage, Reply, Status, Ticket, TicketEvent
from hesk_py.models.workflow import (
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    STATUS_REPLIED,
    STATUS_RESOLVED,
    STATUS_WAITING_REPLY,
)
from hesk_py.services import tickets
from hesk_py.services.errors import InvalidTicketData, TicketNotFound
from hesk_py.services.tickets import Actor


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _create(**kw):
    data = dict(name="Olena Shevchenko", email="olena@example.com", subject="Не працює принтер",
                message="Принтер не друкує з понеділка.", category_id=1, actor=Actor.customer("Olena Shevchenko"),
                ip="203.0.113.7", language="uk")
    data.update(kw)
    return tickets.create_ticket(**data)


def test_tracking_ids_are_random_hesk_style_and_unique():
    ids = {tickets.new_trackid() for _ in range(2000)}
    assert len(ids) == 2000
    for trackid in list(ids)[:50]:
        assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4}", trackid)
        assert not set(trackid.replace("-", "")) & set("0OIKFC")  # HESK's alphabet: no 0/O, no I


def test_create_ticket_writes_ticket_customer_history_and_outbox(app_ctx, admin):
    ticket = _create()
    assert ticket.id and tickets.TRACKID_RE.match(ticket.trackid)
    assert ticket.trackid != str(ticket.id)
    stored = db.session.get(Ticket, ticket.id)
    assert stored.subject == "Не працює принтер"  # Cyrillic round trip
    assert stored.status_id == STATUS_NEW
    assert stored.priority_id == 4  # the General category's default priority: Low
    customer = db.session.scalar(select(Customer).where(Customer.email == "olena@example.com"))
    assert customer and stored.customer_id == customer.id
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [e.action for e in events][:1] == ["created"]
    assert events[0].actor_type == "customer"
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    # the confirmation to the customer and, since nobody owns it yet, a note to the admin
    assert {(m.template, m.recipient) for m in mails} >= {("new_ticket", "olena@example.com")}
    assert all(m.ticket_id == ticket.id for m in mails)
    confirmation = next(m for m in mails if m.template == "new_ticket")
    assert confirmation.language == "uk"
    assert confirmation.context["trackid"] == ticket.trackid


def test_invalid_data_is_refused_with_every_error_and_nothing_written(app_ctx):
    with pytest.raises(InvalidTicketData) as exc:
        tickets.create_ticket(name="", email="not-an-email", subject="a\r\nBcc: victim@example.com",
                              message="x", category_id=999, actor=Actor.customer(""))
    assert set(exc.value.errors) == {"name", "email", "subject", "category"}
    assert _count(Ticket) == 0 and _count(OutboxMessage) == 0 and _count(Customer) == 0


def test_a_failure_in_the_middle_leaves_nothing(app_ctx):
    """The outbox insert fails (a database trigger refuses it): no ticket, history, customer or mail."""
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        db.session.execute(text("CREATE TRIGGER hesk_test_fail BEFORE INSERT ON hesk_outbox "
                                "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"))
    else:
        db.session.execute(text("CREATE TRIGGER hesk_test_fail BEFORE INSERT ON hesk_outbox FOR EACH ROW "
                                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'outbox unavailable'"))
    db.session.commit()
    try:
        with pytest.raises(Exception, match="outbox unavailable"):
            _create()
        assert _count(Ticket) == 0
        assert _count(TicketEvent) == 0
        assert _count(Customer) == 0
        assert _count(OutboxMessage) == 0
    finally:
        db.session.rollback()
        db.session.execute(text("DROP TRIGGER hesk_test_fail"))
        db.session.commit()
    # and the service works again once the outbox accepts rows
    assert _create().id


def test_same_customer_is_reused(app_ctx):
    _create()
    _create(email="OLENA@example.com")
    assert _count(Customer) == 1
    assert _count(Ticket) == 2


def test_autoassign_picks_the_staff_member_with_fewest_open_tickets(app_ctx, make_user):
    busy = make_user("busy", category_ids=[1])
    free = make_user("free", category_ids=[1])
    make_user("noaccess", category_ids=[])  # no access to category 1
    make_user("noreply", category_ids=[1], features=["can_view_tickets"])  # cannot reply
    t1 = _create()
    assert t1.owner_id in (busy, free)
    # give "busy" two open tickets; the next one goes to "free"
    tickets.assign(t1, busy, actor=Actor.system())
    tickets.assign(_create(autoassign=False), busy, actor=Actor.system())
    t3 = _create()
    assert t3.owner_id == free
    assert t3.autoassigned is True
    assert db.session.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == t3.id)).all() == [
        "created", "assigned"]
    # the owner is told; the customer gets the confirmation
    templates = set(db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.ticket_id == t3.id)))
    assert templates == {"new_ticket", "ticket_assigned_to_you"}


def test_autoassign_respects_the_setting_and_the_category(app_ctx, make_user):
    make_user("staff1", category_ids=[1])
    settings.save({"autoassign": False})
    assert _create().owner_id is None
    settings.save({"autoassign": True})
    db.session.get(Category, 1).autoassign = False
    db.session.commit()
    assert _create().owner_id is None


def test_autoassign_only_these_staff(app_ctx, make_user):
    a = make_user("alpha", category_ids=[1])
    b = make_user("beta", category_ids=[1])
    cat = db.session.get(Category, 1)
    cat.autoassign_config = {"mode": "only", "users": [b]}
    db.session.commit()
    for _ in range(3):
        assert _create().owner_id == b
    cat.autoassign_config = {"mode": "except", "users": [b]}
    db.session.commit()
    assert _create().owner_id == a


def test_staff_reply_customer_reply_and_reopen(app_ctx, admin):
    ticket = _create(autoassign=False)
    staff = Actor("staff", admin, "Ada Admin")
    reply = tickets.add_reply(ticket, message="Спробуйте перезавантажити.", actor=staff)
    assert reply.author_type == "staff"
    assert ticket.status_id == STATUS_REPLIED
    assert ticket.first_reply_at is not None and ticket.first_reply_by_id == admin
    assert ticket.staff_reply_count == 1 and ticket.last_replier == "staff"
    tickets.resolve(ticket, actor=staff)
    assert ticket.status_id == STATUS_RESOLVED and ticket.resolved_at is not None
    assert ticket.closed_by == "staff"
    tickets.add_reply(ticket, message="Still broken", actor=Actor.customer(ticket.name, ticket.customer_id))
    assert ticket.status_id == STATUS_WAITING_REPLY
    assert ticket.reopened_count == 1 and ticket.resolved_at is None
    actions = db.session.scalars(
        select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).all()
    assert actions == ["created", "replied", "status", "status", "replied", "status"]
    templates = db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.ticket_id == ticket.id)
                                   .order_by(OutboxMessage.id)).all()
    assert "new_reply_by_staff" in templates and "ticket_closed" in templates
    assert "new_reply_by_customer" in templates  # to the admin: nobody owns it


def test_reply_needs_text(app_ctx):
    ticket = _create()
    with pytest.raises(InvalidTicketData):
        tickets.add_reply(ticket, message="   ", actor=Actor.customer("x"))
    assert _count(Reply) == 0


def test_notes_status_priority_category_changes_write_history(app_ctx, admin, make_user):
    other = make_user("other", category_ids=[1])
    ticket = _create(autoassign=False)
    staff = Actor("staff", admin, "Ada Admin")
    tickets.assign(ticket, other, actor=staff)
    tickets.add_note(ticket, message="Customer is a VIP", actor=staff)
    tickets.change_status(ticket, STATUS_IN_PROGRESS, actor=staff)
    tickets.change_priority(ticket, 1, actor=staff)
    db.session.add(Category(id=2, name="Billing"))
    db.session.commit()
    tickets.change_category(ticket, 2, actor=staff)
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.id)).all()
    assert [e.action for e in events] == ["created", "assigned", "note", "status", "priority", "category"]
    assert all(e.actor_id == admin for e in events[1:])
    assert events[3].data == {"old": STATUS_NEW, "new": STATUS_IN_PROGRESS}
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "other@example.com")).all()
    # told of the new unassigned ticket (category access), then of the assignment and the note
    assert {m.template for m in mails} == {"new_ticket_staff", "ticket_assigned_to_you", "new_note"}
    with pytest.raises(InvalidTicketData):
        tickets.change_status(ticket, 999, actor=staff)


def test_get_ticket_needs_the_right_email(app_ctx):
    ticket = _create()
    assert tickets.get_ticket(ticket.trackid.lower(), email="OLENA@example.com").id == ticket.id
    with pytest.raises(TicketNotFound):
        tickets.get_ticket(ticket.trackid, email="someone@example.com")
    with pytest.raises(TicketNotFound):
        tickets.get_ticket("AAA-BBB-CCCC")
    with pytest.raises(TicketNotFound):
        tickets.get_ticket("' OR 1=1 --")


def test_query_count_for_creating_a_ticket(app, count_queries, make_user):
    make_user("staff1", category_ids=[1])
    with app.test_request_context("/"):
        _create()  # warm-up (settings, lookups)
    with app.test_request_context("/"):
        with count_queries() as q:
            _create()
    # settings, customer, trackid check, category, priority, auto-assign, inserts (ticket, history x2,
    # outbox), plus transaction statements: a fixed, small number
    assert q.count <= 16, q.statements


def test_loading_a_ticket_with_50_replies_is_not_n_plus_1(app, count_queries, admin):
    with app.app_context():
        t = _create()
        staff = Actor("staff", admin, "Ada Admin")
        for i in range(50):
            tickets.add_reply(db.session.get(Ticket, t.id), message=f"reply {i}", actor=staff)
        small = _create()
        tickets.add_reply(small, message="one", actor=staff)
        trackid, small_trackid = t.trackid, small.trackid
    counts = []
    for track in (trackid, small_trackid):
        with app.app_context():
            with count_queries() as q:
                ticket = tickets.load_thread(track)
                [r.message for r in ticket.replies]
                [n.message for n in ticket.notes]
                [a.real_name for a in ticket.attachments]
                (ticket.status.name, ticket.priority.name, ticket.category.name)
            counts.append(q.count)
            if track == trackid:
                assert len(ticket.replies) == 50
    print("\n".join(st[:100].replace("\n", " ") for st in q.statements))
    assert counts[0] == counts[1] <= 4


def test_statuses_seeded_like_hesk(app_ctx):
    names = db.session.execute(select(Status.id, Status.name, Status.kind).order_by(Status.id)).all()
    assert [n for _i, n, _k in names] == ["New", "Waiting reply", "Replied", "Resolved", "In progress", "On hold"]
    assert [k for _i, _n, k in names].count("closed") == 1
