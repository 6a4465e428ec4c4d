"""The permission matrix of the staff ticket pages (reference/PEERS.md §4.6, the largest class of help-desk
bugs): a staff member restricted to category A can neither see, search, export, print, bulk-edit, link,
merge nor open by URL a ticket in category B, nor download its attachments. Tickets of others and
unassigned tickets need their own permissions; actions need their feature; every POST needs its CSRF token.
"""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Attachment, Category, Note, Reply, Ticket, TicketEvent
from tests.admin.test_tickets_view import ALL_FEATURES
from tests.admin.ticket_helpers import act, in_db, logged_in, post, text_of, ticket_row, upload

SECRET = "Zebra-secret-B-7731"


@pytest.fixture
def world(app, admin, make_user, make_ticket):
    in_db(app, lambda: (db.session.add(Category(id=2, name="Finance", sort_order=20, default_priority_id=4)),
                        db.session.commit()))
    make_user("anna", features=ALL_FEATURES, category_ids=[1])
    a = make_ticket(subject="Category A ticket", message="visible words", email="shared@example.com",
                    autoassign=False)
    b = make_ticket(subject=f"Finance {SECRET}", message=f"payroll {SECRET}", email="shared@example.com",
                    category_id=2, ip="203.0.113.250", autoassign=False)
    boss = logged_in(app, "admin")
    for trackid in (a, b):
        act(boss, trackid, "reply", {"message": f"reply on {trackid}", "status": "3", "priority": "0"},
            files={"attachments": upload(f"{trackid}.txt", f"file of {trackid}".encode())})
        act(boss, trackid, "notes", {"message": f"note on {trackid}"})

    def ids():
        out = {}
        for key, trackid in (("a", a), ("b", b)):
            t = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
            out[key] = {
                "trackid": trackid, "id": t.id,
                "reply": db.session.scalar(select(Reply.id).where(Reply.ticket_id == t.id)),
                "note": db.session.scalar(select(Note.id).where(Note.ticket_id == t.id)),
                "attachment": db.session.scalar(select(Attachment.id).where(Attachment.ticket_id == t.id)),
            }
        return out

    w = in_db(app, ids)
    w["anna"] = logged_in(app, "anna")
    return w


def _snapshot(app, ticket_id):
    def load():
        t = db.session.get(Ticket, ticket_id)
        if t is None:
            return None
        history = db.session.scalar(select(db.func.count()).select_from(TicketEvent)
                                    .where(TicketEvent.ticket_id == ticket_id))
        return (t.subject, t.message, t.status_id, t.priority_id, t.category_id, t.owner_id, t.locked, t.tagged,
                t.due_date, t.time_worked, t.reply_count, history)

    return in_db(app, load)


def test_restricted_staff_cannot_open_b_by_url(app, world):
    anna, b, a = world["anna"], world["b"], world["a"]
    urls = [
        f"/admin/tickets/{b['trackid']}", f"/admin/tickets/{b['trackid']}/history",
        f"/admin/tickets/{b['trackid']}/print", f"/admin/tickets/{b['trackid']}/edit",
        f"/admin/tickets/{b['trackid']}/viewers", f"/admin/tickets/{b['trackid']}/attachments/{b['attachment']}",
        f"/admin/tickets/{b['trackid']}/replies/{b['reply']}/edit",
        f"/admin/tickets/{b['trackid']}/notes/{b['note']}/edit",
        # B's objects through A's URL: the id must belong to the ticket in the URL
        f"/admin/tickets/{a['trackid']}/attachments/{b['attachment']}",
        f"/admin/tickets/{a['trackid']}/replies/{b['reply']}/edit",
        f"/admin/tickets/{a['trackid']}/notes/{b['note']}/edit",
    ]
    for url in urls:
        resp = anna.get(url)
        assert resp.status_code == 404, url
        assert SECRET not in text_of(resp) and b["trackid"] not in text_of(resp).replace(url, ""), url
    # the same pages for A work, so the 404s are about B
    assert anna.get(f"/admin/tickets/{a['trackid']}/attachments/{a['attachment']}").data == \
        f"file of {a['trackid']}".encode()


def test_restricted_staff_cannot_change_b(app, world):
    anna, b = world["anna"], world["b"]
    before = _snapshot(app, b["id"])
    token_url = f"/admin/tickets/{world['a']['trackid']}"  # a real token, from a page she may open
    posts = {
        "reply": {"message": "x", "status": "3", "priority": "0"}, "draft": {"message": "x"},
        "notes": {"message": "x"}, f"notes/{b['note']}/edit": {"message": "x"}, f"notes/{b['note']}/delete": {},
        "edit": {"subject": "x", "message": "x"}, f"replies/{b['reply']}/edit": {"message": "x"},
        f"replies/{b['reply']}/delete": {}, "assign": {"self": "1"}, "status": {"status": "4"},
        "priority": {"priority": "1"}, "category": {"category": "1"}, "due-date": {"due_date": "2030-01-01"},
        "time-worked": {"time_worked": "1:00:00"}, "timer": {"do": "start"}, "lock": {"on": "1"},
        "tag": {"on": "1"}, "bookmark": {"on": "1"}, "links": {"other": world["a"]["trackid"]},
        f"links/{world['a']['trackid']}/delete": {}, "resend": {}, "ban-email": {}, "ban-ip": {}, "delete": {},
    }
    for action, data in posts.items():
        resp = post(anna, f"/admin/tickets/{b['trackid']}/{action}", data, token_url=token_url)
        assert resp.status_code == 404, action
    assert _snapshot(app, b["id"]) == before
    # nor through A's page: linking A to B by number or tracking ID
    for other in (str(b["id"]), b["trackid"]):
        act(anna, world["a"]["trackid"], "links", {"other": other})
    assert SECRET not in text_of(anna.get(f"/admin/tickets/{world['a']['trackid']}"))
    assert _snapshot(app, b["id"]) == before


def test_restricted_staff_cannot_list_search_or_export_b(app, world):
    anna, b = world["anna"], world["b"]
    for query in ({"view": "all"}, {"view": "open"}, {"q": b["trackid"]}, {"q": str(b["id"])},
                  {"q": "payroll", "what": "message"}, {"q": "Zebra", "what": "subject"},
                  {"q": "shared@example.com"}, {"q": "203.0.113.250", "what": "ip"}, {"category": "2"},
                  {"q": "note", "what": "notes"}):
        html = text_of(anna.get("/admin/", query_string=query))
        # (the search box and the links echo what was typed; the result rows are what matter)
        assert SECRET not in html and f'Select ticket {b["trackid"]}' not in html, query
        assert f'/admin/tickets/{b["trackid"]}"' not in html, query
        assert "Finance" not in html  # not even the name of a category she cannot see
    export = anna.get("/admin/tickets/export", query_string={"view": "all"}).get_data(as_text=True)
    assert SECRET not in export and b["trackid"] not in export and world["a"]["trackid"] in export
    card = text_of(anna.get("/admin/tickets/customer", query_string={"email": "shared@example.com"}))
    assert world["a"]["trackid"] in card and b["trackid"] not in card
    view = text_of(anna.get(f"/admin/tickets/{world['a']['trackid']}"))
    assert "1 ticket from this customer" in view


def test_restricted_staff_cannot_bulk_edit_b(app, world):
    anna, a, b = world["anna"], world["a"], world["b"]
    before = _snapshot(app, b["id"])
    both = [str(a["id"]), str(b["id"])]
    for action, extra in (("assign", {"owner": ""}), ("priority", {"priority": "1"}), ("status", {"status": "5"}),
                          ("resolve", {}), ("tag", {}), ("untag", {}), ("link", {}), ("merge", {}),
                          ("delete", {"confirm": "1"})):
        resp = post(anna, "/admin/tickets/bulk", {"action": action, "ids": both, **extra}, token_url="/admin/")
        assert resp.status_code == 302, action
        assert _snapshot(app, b["id"]) == before, action
    printed = text_of(post(anna, "/admin/tickets/bulk", {"action": "print", "ids": both}, token_url="/admin/"))
    assert SECRET not in printed
    exported = post(anna, "/admin/tickets/bulk", {"action": "export", "ids": both},
                    token_url="/admin/").get_data(as_text=True)
    assert SECRET not in exported
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert [r[1] for r in rows[1:]] == []  # A was deleted by the bulk delete above; B never shows
    assert ticket_row(app, a["trackid"]) is None


def test_owner_permissions_via_http(app, make_user, make_ticket, admin):
    make_user("own_only", features=["can_view_tickets", "can_reply_tickets"], category_ids=[1])
    mine_only = logged_in(app, "own_only")
    unassigned = make_ticket(autoassign=False)
    assert mine_only.get(f"/admin/tickets/{unassigned}").status_code == 404
    assert unassigned not in text_of(mine_only.get("/admin/?view=all"))
    boss = logged_in(app, "admin")
    act(boss, unassigned, "assign", {"owner": str(admin)})
    assert mine_only.get(f"/admin/tickets/{unassigned}").status_code == 404  # someone else's
    uid = in_db(app, lambda: db.session.scalar(select(db.text("id")).select_from(db.table("hesk_users"))
                                               .where(db.text("username = 'own_only'"))))
    act(boss, unassigned, "assign", {"owner": str(uid)})
    assert mine_only.get(f"/admin/tickets/{unassigned}").status_code == 200


def test_features_are_needed_for_actions(app, make_user, make_ticket):
    make_user("viewer", features=["can_view_tickets", "can_view_unassigned"], category_ids=[1])
    viewer = logged_in(app, "viewer")
    t = make_ticket(autoassign=False)
    assert viewer.get(f"/admin/tickets/{t}").status_code == 200
    before = _snapshot(app, ticket_row(app, t).id)
    for action, data in (("reply", {"message": "x", "status": "3", "priority": "0"}), ("edit", {"message": "x"}),
                         ("status", {"status": "5"}), ("priority", {"priority": "1"}), ("lock", {"on": "1"}),
                         ("tag", {"on": "1"}), ("due-date", {"due_date": "2030-01-01"}),
                         ("time-worked", {"time_worked": "1:00:00"}), ("links", {"other": "1"}),
                         ("delete", {}), ("resend", {}), ("ban-email", {}), ("ban-ip", {}),
                         ("category", {"category": "1"}), ("assign", {"self": "1"})):
        assert act(viewer, t, action, data).status_code == 403, action
    assert _snapshot(app, ticket_row(app, t).id) == before
    assert viewer.get("/admin/tickets/export").status_code == 403
    # seeing and private notes need nothing more
    assert act(viewer, t, "notes", {"message": "seen it"}).status_code == 302
    # staff without can_view_tickets see no ticket page at all
    make_user("nobody", features=[], category_ids=[1])
    nobody = logged_in(app, "nobody")
    for url in ("/admin/", f"/admin/tickets/{t}", "/admin/tickets/new", "/admin/tickets/customer?email=x@y.z"):
        assert nobody.get(url).status_code in (403, 404), url


def test_state_changes_need_post_and_csrf(app, admin, make_ticket):
    boss = logged_in(app, "admin")
    t = make_ticket()
    assert boss.get(f"/admin/tickets/{t}/delete").status_code == 405
    assert boss.post(f"/admin/tickets/{t}/delete").status_code == 400
    assert boss.post(f"/admin/tickets/{t}/reply", data={"message": "x", "status": "3"}).status_code == 400
    assert boss.post("/admin/tickets/bulk", data={"action": "delete", "ids": "1", "confirm": "1"}).status_code == 400
    assert boss.post(f"/admin/tickets/{t}/lock", data={"on": "1", "csrf_token": "forged"}).status_code == 400
    assert ticket_row(app, t) is not None and not ticket_row(app, t).locked
