"""Bulk actions on the ticket list: each one applied per ticket with the acting user's permissions."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Attachment, Note, Reply, Ticket
from hesk_py.models.workflow import PRIORITY_CRITICAL, STATUS_ON_HOLD, STATUS_RESOLVED
from tests.admin.test_tickets_view import ALL_FEATURES
from tests.admin.ticket_helpers import act, events, in_db, logged_in, post, text_of, ticket_row, upload


@pytest.fixture
def boss(app, admin):
    return logged_in(app, "admin")


def _ids(app, *trackids):
    return [str(ticket_row(app, t).id) for t in trackids]


def _bulk(client, action, ids, **extra):
    return post(client, "/admin/tickets/bulk", {"action": action, "ids": ids, "back": "/admin/?view=all", **extra},
                token_url="/admin/")


def test_assign_priority_status_tag(app, boss, admin, make_ticket):
    a, b = make_ticket(autoassign=False), make_ticket(autoassign=False)
    ids = _ids(app, a, b)
    resp = _bulk(boss, "assign", ids, owner=str(admin))
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/?view=all"
    assert {ticket_row(app, t).owner_id for t in (a, b)} == {admin}
    _bulk(boss, "priority", ids, priority=str(PRIORITY_CRITICAL))
    _bulk(boss, "status", ids, status=str(STATUS_ON_HOLD))
    _bulk(boss, "tag", ids)
    for t in (a, b):
        row = ticket_row(app, t)
        assert (row.priority_id, row.status_id, row.tagged) == (PRIORITY_CRITICAL, STATUS_ON_HOLD, True)
        assert events(app, t)[-4:] == ["assigned", "priority", "status", "tagged"]
    _bulk(boss, "resolve", ids)
    _bulk(boss, "untag", ids)
    assert {ticket_row(app, t).status_id for t in (a, b)} == {STATUS_RESOLVED}
    assert not any(ticket_row(app, t).tagged for t in (a, b))
    _bulk(boss, "assign", ids, owner="")
    assert {ticket_row(app, t).owner_id for t in (a, b)} == {None}
    html = text_of(boss.get(_bulk(boss, "priority", ids, priority="nonsense").headers["Location"]))
    assert "Choose a priority." in html
    html = text_of(boss.get(_bulk(boss, "explode", ids).headers["Location"]))
    assert "Choose what to do" in html


def test_assign_is_checked_per_ticket(app, make_user, admin, make_ticket):
    me = make_user("selfie", features=["can_view_tickets", "can_view_unassigned", "can_view_ass_others",
                                       "can_assign_self"])
    client = logged_in(app, "selfie")
    free = make_ticket(autoassign=False)
    owned = make_ticket(autoassign=False)
    act(logged_in(app, "admin"), owned, "assign", {"owner": str(admin)})
    resp = _bulk(client, "assign", _ids(app, free, owned), owner=str(me))
    assert ticket_row(app, free).owner_id == me  # to herself: allowed
    assert ticket_row(app, owned).owner_id == me  # can_assign_self takes someone else's ticket too (HESK)
    resp = _bulk(client, "assign", _ids(app, free), owner=str(admin))
    assert "skipped" in text_of(client.get(resp.headers["Location"]))
    assert ticket_row(app, free).owner_id == me


def test_resolve_needs_can_resolve(app, make_user, make_ticket):
    make_user("noresolve", features=["can_view_tickets", "can_view_unassigned", "can_reply_tickets"])
    client = logged_in(app, "noresolve")
    t = make_ticket(autoassign=False)
    assert _bulk(client, "resolve", _ids(app, t)).status_code == 403
    assert _bulk(client, "status", _ids(app, t), status=str(STATUS_RESOLVED)).status_code == 403
    assert _bulk(client, "delete", _ids(app, t), confirm="1").status_code == 403
    assert ticket_row(app, t).status_id != STATUS_RESOLVED


def test_merge_with_replies_notes_and_attachments(app, boss, make_ticket):
    first = make_ticket(subject="Printer broken", message="First message")
    second = make_ticket(subject="Printer still broken", message="Second message", email="other@example.com")
    third = make_ticket(subject="Printer!!!", message="Third message")
    act(boss, second, "reply", {"message": "Staff reply on second", "status": "3", "priority": "0"},
        files={"attachments": upload("second-reply.txt", b"reply file")})
    act(boss, third, "notes", {"message": "Note on third"}, files={"attachments": upload("note.txt", b"note file")})
    act(boss, first, "time-worked", {"time_worked": "0:20:00"})
    act(boss, third, "time-worked", {"time_worked": "0:10:00"})
    resp = _bulk(boss, "merge", _ids(app, third, first, second))
    assert resp.headers["Location"].endswith(f"/admin/tickets/{first}")
    assert ticket_row(app, second) is None and ticket_row(app, third) is None
    html = text_of(boss.get(f"/admin/tickets/{first}"))
    for text in ("First message", "Second message", "Third message", "Staff reply on second", "Note on third",
                 "second-reply.txt", "note.txt", second, third):
        assert text in html, text
    kept = ticket_row(app, first)
    assert kept.time_worked == 1800 and kept.reply_count == 3

    def files():
        return {a.real_name: a.id for a in db.session.scalars(select(Attachment).where(Attachment.ticket_id == kept.id))}

    for name, content in (("second-reply.txt", b"reply file"), ("note.txt", b"note file")):
        assert boss.get(f"/admin/tickets/{first}/attachments/{in_db(app, files)[name]}").data == content
    # the old tracking IDs lead to the kept ticket, in the staff panel and in search
    assert boss.get(f"/admin/tickets/{second}").headers["Location"].endswith(f"/admin/tickets/{first}")
    assert f"Select ticket {first}" in text_of(boss.get("/admin/", query_string={"q": third}))
    assert "merged" in events(app, first)
    counts = in_db(app, lambda: (db.session.scalar(select(db.func.count()).select_from(Reply)),
                                 db.session.scalar(select(db.func.count()).select_from(Note))))
    assert counts == (3, 1)


def test_merge_refuses_when_a_ticket_is_not_allowed(app, make_user, make_ticket):
    from hesk_py.models import Category

    in_db(app, lambda: (db.session.add(Category(id=2, name="B", sort_order=2, default_priority_id=4)),
                        db.session.commit()))
    make_user("anna", features=ALL_FEATURES, category_ids=[1])
    client = logged_in(app, "anna")
    a, b = make_ticket(), make_ticket(category_id=2)
    resp = _bulk(client, "merge", _ids(app, a, b))
    assert "cannot be merged by you" in text_of(client.get(resp.headers["Location"]))
    assert ticket_row(app, a) is not None and ticket_row(app, b) is not None
    make_user("nomerge", features=["can_view_tickets", "can_view_unassigned"])
    assert _bulk(logged_in(app, "nomerge"), "merge", _ids(app, a, make_ticket())).status_code == 403


def test_link_print_export(app, boss, make_ticket):
    a, b, c = make_ticket(subject="Alpha"), make_ticket(subject="Bravo"), make_ticket(subject="Charlie")
    _bulk(boss, "link", _ids(app, a, b, c))
    html = text_of(boss.get(f"/admin/tickets/{a}"))
    assert "Bravo" in html and "Charlie" in html
    printed = text_of(_bulk(boss, "print", _ids(app, a, c)))
    assert "Alpha" in printed and "Charlie" in printed and "Bravo" not in printed
    exported = _bulk(boss, "export", _ids(app, b, c))
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert sorted(r[7] for r in rows[1:]) == ["Bravo", "Charlie"]
    assert "Select at least two" in text_of(boss.get(_bulk(boss, "link", _ids(app, a)).headers["Location"]))


def test_delete_asks_first(app, boss, make_ticket):
    a, b = make_ticket(subject="Spam one"), make_ticket(subject="Spam two")
    confirm = _bulk(boss, "delete", _ids(app, a, b))
    html = text_of(confirm)
    assert confirm.status_code == 200 and "Delete these tickets?" in html and "Spam two" in html
    assert ticket_row(app, a) is not None
    resp = _bulk(boss, "delete", _ids(app, a, b), confirm="1")
    assert resp.status_code == 302
    assert ticket_row(app, a) is None and ticket_row(app, b) is None
    assert "2 tickets updated." in text_of(boss.get(resp.headers["Location"]))


def test_nothing_selected(app, boss):
    resp = _bulk(boss, "tag", [])
    assert "Select at least one ticket." in text_of(boss.get(resp.headers["Location"]))
