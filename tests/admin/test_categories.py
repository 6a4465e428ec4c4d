"""The categories page (/admin/categories, ``can_man_cat``) through HTTP: create, edit, order, delete
(moving the tickets, with history), the rules (unique names, the default category stays), bad input kept
beside the fields, the permission check, and what the settings do to new tickets (auto-assign mode,
default due date, private categories off the customer form)."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import Category, Ticket, TicketEvent
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of

BASE = "/admin/categories"


def _cat(app, name):
    def load():
        c = db.session.scalar(select(Category).where(Category.name == name))
        if c is not None:
            db.session.expunge(c)
        return c
    return in_db(app, load)


def _names(app):
    return in_db(app, lambda: list(db.session.scalars(select(Category.name).order_by(Category.sort_order,
                                                                                     Category.id))))


def _create(client, name, **extra):
    data = {"name": name, "is_public": "1", "default_priority": "3", "autoassign": "any", "due_amount": "",
            "due_unit": "day"}
    data.update(extra)
    return post(client, BASE + "/new", data, token_url=BASE + "/new")


def _ticket(app, trackid):
    def load():
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        db.session.expunge(t)
        return t
    return in_db(app, load)


def test_create_edit_order_and_list(app, admin):
    client = logged_in(app, "admin")
    assert _create(client, "Billing").status_code == 303
    assert _create(client, "Accounts", is_public="0", default_priority="2").status_code == 303
    html = unescape(text_of(client.get(BASE + "/")))
    assert 'Category "Accounts" created.' in html
    billing = _cat(app, "Billing")
    accounts = _cat(app, "Accounts")
    assert accounts.is_public is False and accounts.default_priority_id == 2
    # the direct link of the public form, only for public categories
    assert f"/submit_ticket?category={billing.id}" in html
    assert f"/submit_ticket?category={accounts.id}" not in html
    assert _names(app) == ["General", "Billing", "Accounts"]
    # move up, then sort by name
    assert post(client, f"{BASE}/{accounts.id}/move", {"direction": "up"}, token_url=BASE + "/").status_code == 303
    assert _names(app) == ["General", "Accounts", "Billing"]
    assert post(client, f"{BASE}/{accounts.id}/move", {"direction": "up"}, token_url=BASE + "/").status_code == 303
    assert _names(app) == ["Accounts", "General", "Billing"]
    assert post(client, BASE + "/sort", token_url=BASE + "/").status_code == 303
    _create(client, "Zebra")
    _create(client, "Apples")
    assert post(client, BASE + "/sort", token_url=BASE + "/").status_code == 303
    assert _names(app) == ["Accounts", "Apples", "Billing", "General", "Zebra"]
    # edit: the form shows the stored values, the change is saved
    form = text_of(client.get(f"{BASE}/{billing.id}/edit"))
    assert 'value="Billing"' in form
    resp = post(client, f"{BASE}/{billing.id}/edit",
                {"name": "Billing and invoices", "is_public": "0", "default_priority": "1", "autoassign": "off",
                 "due_amount": "2", "due_unit": "week"}, token_url=f"{BASE}/{billing.id}/edit")
    assert resp.status_code == 303
    edited = _cat(app, "Billing and invoices")
    assert (edited.is_public, edited.default_priority_id, edited.autoassign) == (False, 1, False)
    assert (edited.default_due_amount, edited.default_due_unit) == (2, "week")


def test_ticket_counts_in_the_list(app, admin, make_ticket):
    client = logged_in(app, "admin")
    _create(client, "Billing")
    billing = _cat(app, "Billing").id
    for _ in range(3):
        make_ticket(category_id=billing)
    make_ticket()
    html = text_of(client.get(BASE + "/"))
    row = re.search(rf'<tr id="category-{billing}">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="ticket-count">3</td>' in row
    row = re.search(r'<tr id="category-1">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="ticket-count">1</td>' in row


def test_bad_input_comes_back_beside_the_fields(app, admin):
    client = logged_in(app, "admin")
    _create(client, "Billing")
    resp = _create(client, "billing", due_amount="soon", autoassign="only")
    assert resp.status_code == 400
    html = unescape(text_of(resp))
    assert 'value="billing"' in html and 'value="soon"' in html
    assert 'Another category is already called "billing".' in html
    assert "Enter a whole number" in html
    assert "Choose at least one staff member." in html
    assert _names(app) == ["General", "Billing"]
    resp = _create(client, "  ")
    assert resp.status_code == 400 and "Enter a name." in text_of(resp)
    resp = _create(client, "Later", due_amount="5000")
    assert resp.status_code == 400 and "Enter a number from 1 to 1000" in text_of(resp)
    assert _names(app) == ["General", "Billing"]


def test_delete_moves_the_tickets_with_history(app, admin, make_ticket):
    client = logged_in(app, "admin")
    _create(client, "Billing")
    _create(client, "Sales")
    billing, sales = _cat(app, "Billing").id, _cat(app, "Sales").id
    moved = [make_ticket(category_id=billing) for _ in range(2)]
    stays = make_ticket()
    page = client.get(f"{BASE}/{billing}/delete")
    assert page.status_code == 200 and "It has 2 tickets" in text_of(page)
    assert _cat(app, "Billing") is not None  # GET changes nothing
    resp = post(client, f"{BASE}/{billing}/delete", {"move_to": str(sales)}, token_url=f"{BASE}/{billing}/delete")
    assert resp.status_code == 303
    assert 'deleted; 2 tickets moved.' in unescape(text_of(client.get(BASE + "/")))
    assert _cat(app, "Billing") is None
    for trackid in moved:
        ticket = _ticket(app, trackid)
        assert ticket.category_id == sales
        events = in_db(app, lambda: [(e.action, e.data, e.actor_name) for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "category"))])
        assert events == [("category", {"old": billing, "new": sales}, "Ada Admin")]
    assert _ticket(app, stays).category_id == 1
    # a moved ticket shows its new category on its page
    assert "Sales" in text_of(client.get(f"/admin/tickets/{moved[0]}"))


def test_delete_needs_a_target_and_the_default_category_stays(app, admin, make_ticket):
    client = logged_in(app, "admin")
    _create(client, "Billing")
    billing = _cat(app, "Billing").id
    trackid = make_ticket(category_id=billing)
    resp = post(client, f"{BASE}/{billing}/delete", {"move_to": str(billing)}, token_url=f"{BASE}/{billing}/delete")
    assert resp.status_code == 400 and "Choose the category that receives its tickets." in text_of(resp)
    assert _ticket(app, trackid).category_id == billing and _cat(app, "Billing") is not None
    # the default category: no delete link, and the POST is refused
    html = text_of(client.get(BASE + "/"))
    assert f"{BASE}/1/delete" not in html
    resp = post(client, f"{BASE}/1/delete", {"move_to": str(billing)}, token_url=BASE + "/")
    assert resp.status_code == 303
    assert "The default category cannot be deleted." in unescape(text_of(client.get(BASE + "/")))
    assert _cat(app, "General") is not None


def test_permission_and_menu(app, admin, make_user):
    make_user("clerk")
    make_user("manager", features=["can_view_tickets", "can_man_cat"])
    clerk = logged_in(app, "clerk")
    assert clerk.get(BASE + "/").status_code == 403
    assert clerk.get(BASE + "/1/edit").status_code == 403
    assert clerk.post(BASE + "/new", data={"name": "X"}).status_code in (400, 403)
    assert f'href="{BASE}/"' not in text_of(clerk.get("/admin/profile"))
    assert _names(app) == ["General"]
    manager = logged_in(app, "manager")
    assert f'href="{BASE}/"' in text_of(manager.get("/admin/profile"))
    assert _create(manager, "Manager made").status_code == 303
    assert _names(app) == ["General", "Manager made"]


def test_autoassign_modes_pick_the_right_staff(app, admin, make_user, make_ticket):
    client = logged_in(app, "admin")
    _create(client, "Support", autoassign="off")
    support = _cat(app, "Support").id
    features = ["can_view_tickets", "can_reply_tickets"]
    first = make_user("first", category_ids=[support], features=features)
    second = make_user("second", category_ids=[support], features=features)
    make_user("outsider", features=features)  # no access to the category

    def set_mode(mode, users=()):
        resp = post(client, f"{BASE}/{support}/edit",
                    {"name": "Support", "is_public": "1", "default_priority": "3", "autoassign": mode,
                     "autoassign_users": [str(u) for u in users], "due_amount": "", "due_unit": "day"},
                    token_url=f"{BASE}/{support}/edit")
        assert resp.status_code == 303

    assert _ticket(app, make_ticket(category_id=support)).owner_id is None  # off
    set_mode("only", [second])
    assert _ticket(app, make_ticket(category_id=support)).owner_id == second
    set_mode("except", [admin, second])
    assert _ticket(app, make_ticket(category_id=support)).owner_id == first
    set_mode("any")
    # any staff with access: the one with the fewest open tickets (admin has none, then first/second one each)
    assert _ticket(app, make_ticket(category_id=support)).owner_id == admin
    # the edit form shows the chosen mode and staff
    set_mode("only", [first])
    form = text_of(client.get(f"{BASE}/{support}/edit"))
    assert re.search(r'<option selected value="only">|<option value="only" selected>', form)
    assert re.search(rf'<option selected value="{first}">|<option value="{first}" selected>', form)


def test_default_due_date_is_applied(app, admin, make_ticket):
    client = logged_in(app, "admin")
    _create(client, "Urgent", due_amount="3", due_unit="day")
    _create(client, "Slow", due_amount="2", due_unit="week")
    urgent, slow = _cat(app, "Urgent").id, _cat(app, "Slow").id
    t = _ticket(app, make_ticket(category_id=urgent))
    assert (t.due_date - t.created_at).days == 3
    t = _ticket(app, make_ticket(category_id=slow))
    assert (t.due_date - t.created_at).days == 14
    assert _ticket(app, make_ticket()).due_date is None


def test_private_category_is_not_on_the_public_form(app, admin):
    client = logged_in(app, "admin")
    _create(client, "Open door")
    _create(client, "Back office", is_public="0")
    public = app.test_client()
    page = text_of(public.get("/submit_ticket"))
    assert "Open door" in page and "Back office" not in page
    private_id = _cat(app, "Back office").id
    resp = public.get(f"/submit_ticket?category={private_id}")
    assert "Back office" not in text_of(resp)
    assert in_db(app, lambda: db.session.scalar(select(func.count(Category.id)))) == 3
