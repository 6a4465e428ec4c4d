"""Query counts of the hot staff pages: the ticket list and a ticket with 50 replies run a fixed number of
SQL statements, however many tickets, replies, notes and attachments there are (no N+1)."""
from __future__ import annotations

import secrets

import pytest

from hesk_py.extensions import db
from hesk_py.models import Ticket, User
from hesk_py.services import tickets as svc
from tests.admin.ticket_helpers import in_db, logged_in

# The list: the user (+ the permissions of a non-admin), the quick-filter counts (from the ticket counts,
# with the due dates and bookmarks), the ids of the page (critical first, then the others, newest first,
# status by status, in one statement), those tickets, their bookmarks, the staff names (with their categories).
# Settings, statuses, priorities and categories come from the per-process cache.
LIST_QUERIES = {"admin": 6, "staffer": 7}
# The ticket: the user, the ticket, its replies, notes and files, the staff (names, categories, who may own
# it), the user's draft/bookmark/timer, who else is viewing it, the linked tickets, the customer's tickets
# per status. Bans and canned responses come from the per-process cache.
VIEW_QUERIES = 10


@pytest.fixture
def app_config():
    # the shared cache checks its generation token at most once an hour here, so that check (one read per
    # second in production) does not land in a counted request by chance
    return {"HESK_CACHE_CHECK_SECONDS": 3600}


def _att(name):
    return {"saved_name": secrets.token_hex(24), "real_name": name, "size": 3, "content_type": "text/plain"}


def _grow(app, trackid, replies, staff_id):
    def go():
        t = db.session.query(Ticket).filter_by(trackid=trackid).one()
        staff = svc.Actor.staff(db.session.get(User, staff_id))
        for i in range(replies):
            actor = staff if i % 2 else svc.Actor.customer("Casey Customer")
            svc.add_reply(t, message=f"Reply number {i}", actor=actor, attachments=[_att(f"r{i}.txt")])
            if i % 10 == 0:
                svc.add_note(t, message=f"Note {i}", actor=staff, attachments=[_att(f"n{i}.txt")])
        svc.link_tickets(t, db.session.query(Ticket).filter(Ticket.id != t.id).first(), actor=staff)

    in_db(app, go)


def _count(app, count_queries, client, url) -> int:
    client.get(url)  # warm: first-request work (viewer row, caches) is not what we measure
    with app.app_context(), count_queries() as q:
        resp = client.get(url)
    assert resp.status_code == 200, url
    return q.count


@pytest.mark.parametrize("username", ["admin", "staffer"])
def test_ticket_list_query_count_does_not_grow(app, admin, make_user, make_ticket, count_queries, username):
    make_user("staffer", features=["can_view_tickets", "can_view_unassigned", "can_view_ass_others"])
    client = logged_in(app, username)
    make_ticket(priority_id=1)
    for _ in range(2):
        make_ticket()
    few = _count(app, count_queries, client, "/admin/")
    for i in range(30):
        make_ticket(subject=f"More {i}", priority_id=1 if i % 7 == 0 else None)
    many = _count(app, count_queries, client, "/admin/")
    assert few == many <= LIST_QUERIES[username]
    # a search (on MariaDB one more: how far back the newest tickets go), "All tickets" (its total from the
    # ticket counts) and a page of another quick filter are no worse
    assert _count(app, count_queries, client, "/admin/?q=printer&what=message") <= LIST_QUERIES[username] + 1
    assert _count(app, count_queries, client, "/admin/?view=all") <= LIST_QUERIES[username] + 1
    assert _count(app, count_queries, client, "/admin/?view=unassigned&sort=subject") <= LIST_QUERIES[username] + 1


@pytest.mark.parametrize("username, more", [("admin", 0), ("staffer", 1)])  # + a staff member's own permissions
def test_ticket_view_query_count_with_50_replies(app, admin, make_user, make_ticket, count_queries, username, more):
    make_user("staffer", category_ids=[1], features=["can_view_tickets", "can_view_unassigned", "can_view_ass_others",
                                                  "can_reply_tickets"])
    client = logged_in(app, username)
    small, big = make_ticket(), make_ticket()
    _grow(app, small, 1, admin)
    _grow(app, big, 50, admin)
    one = _count(app, count_queries, client, f"/admin/tickets/{small}")
    fifty = _count(app, count_queries, client, f"/admin/tickets/{big}")
    assert one == fifty <= VIEW_QUERIES + more
    html = client.get(f"/admin/tickets/{big}").get_data(as_text=True)
    assert "Reply number 49" in html and "r49.txt" in html and "Note 40" in html

