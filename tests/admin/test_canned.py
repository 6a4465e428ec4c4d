"""The management pages of canned responses (/admin/canned, ``can_man_canned``) and ticket templates
(/admin/ticket_templates, ``can_man_ticket_tpl``), through HTTP: list, create, edit, order, delete, the
menu link, the permission check and bad input coming back with what was typed."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import CannedResponse, TicketTemplate
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of

PAGES = [("/admin/canned", CannedResponse, "can_man_canned", "Canned responses"),
         ("/admin/ticket_templates", TicketTemplate, "can_man_ticket_tpl", "Ticket templates")]


def _titles(app, model) -> list[str]:
    return in_db(app, lambda: list(db.session.scalars(select(model.title).order_by(model.sort_order, model.id))))


def _id_of(app, model, title) -> int:
    return in_db(app, lambda: db.session.scalar(select(model.id).where(model.title == title)))


@pytest.mark.parametrize("base,model,feature,menu", PAGES)
def test_create_edit_order_delete(app, admin, base, model, feature, menu):
    client = logged_in(app, "admin")
    assert "No " in text_of(client.get(base + "/"))
    for title, text in (("Greeting", "Hello %%HESK_NAME%%,\nthanks for writing."), ("Closing", "Bye"),
                        ("Printer", "Restart the printer.")):
        resp = post(client, base + "/new", {"title": title, "message": text}, token_url=base + "/new")
        assert resp.status_code == 303
    html = text_of(client.get(base + "/"))
    assert '"Printer" saved.' in unescape(html)
    table = html.split("<table", 1)[1]
    assert table.index("Greeting") < table.index("Closing") < table.index("Printer")
    # move "Printer" up twice: it is first
    printer = _id_of(app, model, "Printer")
    for _ in range(2):
        assert post(client, f"{base}/{printer}/move", {"direction": "up"}, token_url=base + "/").status_code == 303
    assert _titles(app, model) == ["Printer", "Greeting", "Closing"]
    assert post(client, f"{base}/{printer}/move", {"direction": "down"}, token_url=base + "/").status_code == 303
    assert _titles(app, model) == ["Greeting", "Printer", "Closing"]
    # edit
    greeting = _id_of(app, model, "Greeting")
    form = text_of(client.get(f"{base}/{greeting}/edit"))
    assert "thanks for writing.</textarea>" in form and "%%HESK_FIRST_NAME%%" in form  # the tag list
    resp = post(client, f"{base}/{greeting}/edit", {"title": "Welcome", "message": "Hi %%HESK_FIRST_NAME%%"},
                token_url=f"{base}/{greeting}/edit")
    assert resp.status_code == 303
    assert in_db(app, lambda: db.session.get(model, greeting).message) == "Hi %%HESK_FIRST_NAME%%"
    # delete: a confirmation page (GET changes nothing), then the POST
    page = client.get(f"{base}/{greeting}/delete")
    assert page.status_code == 200 and "Welcome" in text_of(page)
    assert "Welcome" in _titles(app, model)
    resp = post(client, f"{base}/{greeting}/delete", token_url=f"{base}/{greeting}/delete")
    assert resp.status_code == 303 and _titles(app, model) == ["Printer", "Closing"]
    assert "deleted" in text_of(client.get(base + "/"))
    assert client.get(f"{base}/{greeting}/edit").status_code == 404
    # the menu links to the page
    assert f'href="{base}/"' in text_of(client.get("/admin/"))


@pytest.mark.parametrize("base,model,feature,menu", PAGES)
def test_bad_input_comes_back_with_what_was_typed(app, admin, base, model, feature, menu):
    client = logged_in(app, "admin")
    resp = post(client, base + "/new", {"title": "", "message": "Kept <b>text</b>"}, token_url=base + "/new")
    html = text_of(resp)
    assert resp.status_code == 400 and "Enter a title." in html
    assert "Kept &lt;b&gt;text&lt;/b&gt;</textarea>" in html
    resp = post(client, base + "/new", {"title": "T" * 256, "message": ""}, token_url=base + "/new")
    html = text_of(resp)
    assert resp.status_code == 400 and "The title is too long" in html and "Enter the text." in html
    assert 'value="' + "T" * 256 + '"' in html
    assert _titles(app, model) == []
    # without the CSRF token nothing happens
    resp = client.post(base + "/new", data={"title": "x", "message": "y"})
    assert resp.status_code == 400 and _titles(app, model) == []
    # editing: the same, and the stored row is unchanged
    post(client, base + "/new", {"title": "Good", "message": "Good text"}, token_url=base + "/new")
    good = _id_of(app, model, "Good")
    resp = post(client, f"{base}/{good}/edit", {"title": "Changed", "message": "  "},
                token_url=f"{base}/{good}/edit")
    assert resp.status_code == 400 and 'value="Changed"' in text_of(resp) and "Enter the text." in text_of(resp)
    assert _titles(app, model) == ["Good"]


def test_template_subject_is_kept(app, admin):
    client = logged_in(app, "admin")
    base = "/admin/ticket_templates"
    assert 'name="subject"' in text_of(client.get(base + "/new"))
    assert 'name="subject"' not in text_of(client.get("/admin/canned/new"))
    post(client, base + "/new", {"title": "Phone order", "subject": "Order by phone", "message": "Ordered: "},
         token_url=base + "/new")
    assert in_db(app, lambda: db.session.scalar(select(TicketTemplate.subject))) == "Order by phone"


@pytest.mark.parametrize("base,model,feature,menu", PAGES)
def test_forbidden_without_the_feature(app, admin, make_user, base, model, feature, menu):
    in_db(app, lambda: (db.session.add(model(title="Secret-canned-title", message="Secret text", sort_order=10)),
                        db.session.commit()))
    item = _id_of(app, model, "Secret-canned-title")
    make_user("plain", features=["can_view_tickets", "can_reply_tickets", "can_man_kb"])
    client = logged_in(app, "plain")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text_of(client.get("/admin/profile"))).group(1)
    for method, url in (("GET", base + "/"), ("GET", base + "/new"), ("POST", base + "/new"),
                        ("GET", f"{base}/{item}/edit"), ("POST", f"{base}/{item}/edit"),
                        ("GET", f"{base}/{item}/delete"), ("POST", f"{base}/{item}/delete"),
                        ("POST", f"{base}/{item}/move")):
        resp = client.open(url, method=method, data={"csrf_token": token, "title": "x", "message": "y",
                                                     "direction": "up"})
        assert resp.status_code == 403, (method, url)
        assert "Secret" not in text_of(resp)
    assert _titles(app, model) == ["Secret-canned-title"]
    assert f'href="{base}/"' not in text_of(client.get("/admin/"))
    # with the feature (and nothing else about tickets) the page opens
    make_user("writer", features=[feature])
    writer = logged_in(app, "writer")
    assert "Secret-canned-title" in text_of(writer.get(base + "/"))
    assert f'href="{base}/"' in text_of(writer.get(base + "/"))
    # anonymous: to the login page
    resp = app.test_client().get(base + "/")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
