"""The statuses page (/admin/statuses, ``can_man_settings``) through HTTP: built-in statuses renamed and
recoloured but never deleted, custom ones with a class and "customers can set this", deleted only when no
ticket uses them, bad input kept beside the fields, the permission check."""
from __future__ import annotations

from html import unescape

from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Status
from hesk_py.services import tickets
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of

BASE = "/admin/statuses"


def _status(app, name):
    def load():
        s = db.session.scalar(select(Status).where(Status.name == name))
        if s is not None:
            db.session.expunge(s)
        return s
    return in_db(app, load)


def _save(client, url, **data):
    form = {"name": "", "color": "#123456", "kind": "open"}
    form.update(data)
    return post(client, url, form, token_url=url)


def test_builtin_statuses_rename_and_recolour(app, admin):
    client = logged_in(app, "admin")
    html = text_of(client.get(BASE + "/"))
    for name in ("New", "Waiting reply", "Replied", "Resolved", "In progress", "On hold"):
        assert name in html
    assert f'action="{BASE}/1/delete"' not in html  # no delete button for built-in ones
    resp = _save(client, f"{BASE}/5/edit", name="Being worked on", color="#AA0000", kind="closed",
                 can_customers_change="y")
    assert resp.status_code == 303
    status = _status(app, "Being worked on")
    assert (status.id, status.color, status.kind, status.can_customers_change) == (5, "#aa0000", "open", True)
    assert "Being worked on" in text_of(client.get(BASE + "/"))
    # refused for a built-in one
    resp = post(client, f"{BASE}/5/delete", token_url=BASE + "/")
    assert resp.status_code == 303
    assert "Built-in statuses cannot be deleted." in text_of(client.get(BASE + "/"))
    assert _status(app, "Being worked on") is not None


def test_custom_status_crud_and_delete_only_when_unused(app, admin, make_ticket):
    client = logged_in(app, "admin")
    resp = _save(client, BASE + "/new", name="Waiting for parts", color="#336699", kind="waiting",
                 can_customers_change="y")
    assert resp.status_code == 303
    status = _status(app, "Waiting for parts")
    assert (status.kind, status.color, status.can_customers_change, status.key) == ("waiting", "#336699", True, None)
    assert 'Status "Waiting for parts" saved.' in unescape(text_of(client.get(BASE + "/")))
    resp = _save(client, f"{BASE}/{status.id}/edit", name="Parts ordered", color="#336699", kind="closed")
    assert resp.status_code == 303
    status = _status(app, "Parts ordered")
    assert (status.kind, status.can_customers_change) == ("closed", False)
    # used by a ticket: refused with the count
    trackid = make_ticket()

    def use():
        from hesk_py.models import Ticket, User
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        tickets.change_status(ticket, status.id, actor=tickets.Actor.staff(db.session.get(User, admin)),
                              notify=False)
    in_db(app, use)
    resp = post(client, f"{BASE}/{status.id}/delete", token_url=BASE + "/")
    assert resp.status_code == 303
    assert '"Parts ordered" is used by 1 ticket and cannot be deleted.' in unescape(text_of(client.get(BASE + "/")))
    assert _status(app, "Parts ordered") is not None
    # unused: deleted
    _save(client, BASE + "/new", name="Spare", color="#000000", kind="open")
    spare = _status(app, "Spare").id
    assert post(client, f"{BASE}/{spare}/delete", token_url=BASE + "/").status_code == 303
    assert _status(app, "Spare") is None


def test_bad_input_comes_back_beside_the_fields(app, admin):
    client = logged_in(app, "admin")
    resp = _save(client, BASE + "/new", name="resolved", color="red", kind="sideways")
    assert resp.status_code == 400
    html = unescape(text_of(resp))
    assert 'value="resolved"' in html and 'value="red"' in html
    assert '"resolved" is already used.' in html
    assert "Enter a colour as #RRGGBB" in html
    assert "Choose open, waiting on the customer or closed." in html
    resp = _save(client, BASE + "/new", name="", color="#000000")
    assert resp.status_code == 400 and "Enter a name." in text_of(resp)
    assert in_db(app, lambda: len(db.session.scalars(select(Status)).all())) == 6


def test_permission_and_menu(app, admin, make_user):
    make_user("clerk")
    make_user("configurer", features=["can_view_tickets", "can_man_settings"])
    clerk = logged_in(app, "clerk")
    assert clerk.get(BASE + "/").status_code == 403
    assert clerk.get(BASE + "/1/edit").status_code == 403
    assert f'href="{BASE}/"' not in text_of(clerk.get("/admin/profile"))
    configurer = logged_in(app, "configurer")
    assert f'href="{BASE}/"' in text_of(configurer.get("/admin/profile"))
    assert _save(configurer, BASE + "/new", name="Escalated", color="#ff0000").status_code == 303
