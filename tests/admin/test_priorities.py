"""The priorities page (/admin/priorities, ``can_man_settings``) through HTTP: built-in priorities renamed
and recoloured but never deleted, custom ones with colour, order and "customers can choose" (which the
customer form honours), deleted only when unused, bad input kept beside the fields, the permission check."""
from __future__ import annotations

from html import unescape

from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Category, Priority
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of

BASE = "/admin/priorities"


def _priority(app, name):
    def load():
        p = db.session.scalar(select(Priority).where(Priority.name == name))
        if p is not None:
            db.session.expunge(p)
        return p
    return in_db(app, load)


def _names(app):
    return in_db(app, lambda: list(db.session.scalars(select(Priority.name).order_by(Priority.sort_order,
                                                                                     Priority.id))))


def _save(client, url, **data):
    form = {"name": "", "color": "#123456"}
    form.update(data)
    return post(client, url, form, token_url=url)


def test_builtin_priorities_rename_and_recolour(app, admin):
    client = logged_in(app, "admin")
    html = text_of(client.get(BASE + "/"))
    assert all(n in html for n in ("Critical", "High", "Medium", "Low"))
    assert f'action="{BASE}/1/delete"' not in html
    assert _save(client, f"{BASE}/1/edit", name="Emergency", color="#FF0000").status_code == 303
    p = _priority(app, "Emergency")
    assert (p.id, p.color, p.can_customers_select) == (1, "#ff0000", False)
    assert post(client, f"{BASE}/1/delete", token_url=BASE + "/").status_code == 303
    assert "Built-in priorities cannot be deleted." in text_of(client.get(BASE + "/"))
    assert _priority(app, "Emergency") is not None


def test_custom_priority_order_customer_choice_and_delete(app, admin, make_ticket):
    client = logged_in(app, "admin")
    assert _save(client, BASE + "/new", name="Whenever", color="#aaaaaa", can_customers_select="y").status_code == 303
    assert _save(client, BASE + "/new", name="Internal only", color="#bbbbbb").status_code == 303
    assert _names(app) == ["Critical", "High", "Medium", "Low", "Whenever", "Internal only"]
    whenever = _priority(app, "Whenever").id
    internal = _priority(app, "Internal only").id
    assert post(client, f"{BASE}/{whenever}/move", {"direction": "up"}, token_url=BASE + "/").status_code == 303
    assert _names(app) == ["Critical", "High", "Medium", "Whenever", "Low", "Internal only"]
    # the customer form (cust_urgency is on by default) offers the ones customers can choose
    page = text_of(app.test_client().get("/submit_ticket?category=1"))
    assert "Whenever" in page and "Internal only" not in page
    # in use by a ticket: refused with the count; by a category default: refused too
    make_ticket(priority_id=whenever)
    assert post(client, f"{BASE}/{whenever}/delete", token_url=BASE + "/").status_code == 303
    assert '"Whenever" is used by 1 ticket or category' in unescape(text_of(client.get(BASE + "/")))
    in_db(app, lambda: (setattr(db.session.get(Category, 1), "default_priority_id", internal), db.session.commit()))
    assert post(client, f"{BASE}/{internal}/delete", token_url=BASE + "/").status_code == 303
    assert _priority(app, "Internal only") is not None
    in_db(app, lambda: (setattr(db.session.get(Category, 1), "default_priority_id", 4), db.session.commit()))
    assert post(client, f"{BASE}/{internal}/delete", token_url=BASE + "/").status_code == 303
    assert _priority(app, "Internal only") is None
    assert 'Priority "Internal only" deleted.' in unescape(text_of(client.get(BASE + "/")))


def test_bad_input_comes_back_beside_the_fields(app, admin):
    client = logged_in(app, "admin")
    resp = _save(client, BASE + "/new", name="HIGH", color="#12345")
    assert resp.status_code == 400
    html = unescape(text_of(resp))
    assert 'value="HIGH"' in html and 'value="#12345"' in html
    assert '"HIGH" is already used.' in html and "Enter a colour as #RRGGBB" in html
    assert len(_names(app)) == 4


def test_permission_and_menu(app, admin, make_user):
    make_user("clerk")
    clerk = logged_in(app, "clerk")
    assert clerk.get(BASE + "/").status_code == 403
    assert clerk.get(BASE + "/new").status_code == 403
    assert f'href="{BASE}/"' not in text_of(clerk.get("/admin/profile"))
    assert f'href="{BASE}/"' in text_of(logged_in(app, "admin").get("/admin/profile"))
