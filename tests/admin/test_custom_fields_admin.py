"""The custom fields page (/admin/custom_fields, ``can_man_settings``) through HTTP: create every type with
its options, what the public and staff forms then show and check (categories, visibility, required rule,
place, names per language), bad input kept beside the fields, edit, order, delete with the stored values
(after a confirmation with their count), the permission and the menu."""
from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Category, CustomField, Ticket
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of
from tests.public.conftest import file_ticket, open_form, quick_form  # noqa: F401  (fixtures)

BASE = "/admin/custom_fields"


def _data(**extra):
    data = {"type": "text", "name_en": "Order number", "name_uk": "", "name_ru": "", "name_bg": "", "name_lv": "",
            "enabled": "y", "visibility": "public", "required": "never", "place": "before", "category_mode": "all",
            "max_length": "", "default": "", "rows": "", "options": "", "select_prompt": "y", "date_min": "",
            "date_max": ""}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def _create(client, **extra):
    return post(client, BASE + "/new", _data(**extra), token_url=BASE + "/new")


def _fields(app):
    def load():
        rows = list(db.session.scalars(select(CustomField).order_by(CustomField.sort_order, CustomField.id)))
        for r in rows:
            db.session.expunge(r)
        return rows
    return in_db(app, load)


def _field(app, name):
    return next(f for f in _fields(app) if f.names.get("en") == name)


def _error_beside(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error" role="alert">(.*?)</p>', html, re.S)
    assert match, f"no error beside #{field_id}"
    return unescape(match.group(1))


def _category(app, name) -> int:
    def make():
        c = Category(name=name, sort_order=50, is_public=True, default_priority_id=3)
        db.session.add(c)
        db.session.commit()
        return c.id
    return in_db(app, make)


def _tickets(app):
    def load():
        rows = list(db.session.scalars(select(Ticket).order_by(Ticket.id)))
        for r in rows:
            db.session.expunge(r)
        return rows
    return in_db(app, load)


# --- a field of one category, on the public form --------------------------------------------------------

def test_a_field_of_category_a_is_only_on_its_form_and_checked_as_a_text(app, admin, client, quick_form,
                                                                          file_ticket):
    a = _category(app, "Hardware")
    staff = logged_in(app, "admin")
    resp = _create(staff, name_en="Serial number", max_length="8", required="always", category_mode="chosen",
                   categories=[str(a)])
    assert resp.status_code == 303
    assert 'Custom field "Serial number" created.' in unescape(text_of(staff.get(BASE + "/")))
    field = _field(app, "Serial number")
    assert (field.type, field.category_ids, field.options, field.required) == ("text", [a], {"max_length": 8},
                                                                               "always")
    name = field.form_name
    assert "Serial number" in text_of(client.get(f"/submit_ticket?category={a}"))
    assert "Serial number" not in text_of(client.get("/submit_ticket?category=1"))
    # category A: required and at most 8 characters
    url = f"/submit_ticket?category={a}"
    resp = file_ticket(client, url=url)
    assert resp.status_code == 400 and "This field is required." in text_of(resp)
    resp = file_ticket(client, url=url, **{name: "SN-123456789"})
    assert resp.status_code == 400 and "At most 8 characters." in text_of(resp)
    assert 'value="SN-123456789"' in text_of(resp)
    assert file_ticket(client, url=url, **{name: "SN-12345"}).status_code == 303
    # the General category neither asks for it nor stores a value posted for it
    assert file_ticket(app.test_client(), **{name: "sneaky"}).status_code == 303
    first, second = _tickets(app)
    assert first.custom == {name: "SN-12345"} and not (second.custom or {}).get(name)


@pytest.mark.parametrize("extra, bad, good, error, stored", [
    ({"type": "select", "options": "Printer\nScanner\n\n"}, "Fax", "Scanner",
     "Please choose one of the options.", "Scanner"),
    ({"type": "radio", "options": "Linux\nWindows", "no_default": "y"}, "BeOS", "Linux",
     "Please choose one of the options.", "Linux"),
    ({"type": "checkbox", "options": "Paper\nInk\nToner", "required": "always"}, [], ["Ink", "Toner"],
     "Please choose at least one option.", ["Ink", "Toner"]),
    ({"type": "email"}, "not-an-address", "a@example.com", "Please enter a valid email address.", "a@example.com"),
    ({"type": "email", "multiple": "y"}, "a@example.com, nope", "a@example.com, b@example.com",
     "Please enter valid email addresses, separated by commas.", "a@example.com, b@example.com"),
    ({"type": "date", "date_min": "-1w", "date_max": "+0d"}, (date.today() - timedelta(days=30)).isoformat(),
     date.today().isoformat(), "The date must be on or after", date.today().isoformat()),
    ({"type": "date", "date_min": "2020-01-01", "date_max": "2020-12-31"}, "2021-01-01", "2020-06-15",
     "The date must be on or before", "2020-06-15"),
    ({"type": "textarea", "rows": "3"}, None, "line one\nline two", None, "line one\nline two"),
])
def test_each_type_is_checked_as_its_options_say(app, admin, client, quick_form, file_ticket,
                                                 extra, bad, good, error, stored):
    staff = logged_in(app, "admin")
    assert _create(staff, name_en="The question", **extra).status_code == 303
    name = _field(app, "The question").form_name
    if bad is not None:
        resp = file_ticket(client, **{name: bad})
        assert resp.status_code == 400, extra
        assert error in unescape(text_of(resp))
    assert file_ticket(client, **{name: good}).status_code == 303
    assert _tickets(app)[0].custom[name] == stored


def test_type_options_reach_the_form(app, admin, client):
    staff = logged_in(app, "admin")
    _create(staff, name_en="Campaign", type="hidden", default="spring-sale")
    _create(staff, name_en="Product", type="select", options="Printer\nScanner", default="Scanner", select_prompt=None)
    _create(staff, name_en="Details", type="textarea", rows="3", place="after")
    html = text_of(client.get("/submit_ticket?category=1"))
    campaign, product, details = (_field(app, n).form_name for n in ("Campaign", "Product", "Details"))
    assert f'<input type="hidden" name="{campaign}" value="spring-sale">' in html
    select = re.search(rf'<select id="f-{product}".*?</select>', html, re.S).group(0)
    assert "Click to select" not in select and '<option value="Scanner" selected>' in select
    assert f'name="{details}" rows="3"' in html
    assert html.index(f'name="{details}"') > html.index('name="message"')  # after the message
    assert html.index(f'name="{product}"') < html.index('name="message"')


# --- visibility and the required rule -------------------------------------------------------------------

def test_staff_only_and_customers_only_rules(app, admin, client, quick_form, file_ticket):
    staff = logged_in(app, "admin")
    _create(staff, name_en="Internal code", visibility="staff")
    _create(staff, name_en="Contract", required="customers")
    internal, contract = _field(app, "Internal code").form_name, _field(app, "Contract").form_name
    public = text_of(client.get("/submit_ticket?category=1"))
    assert "Internal code" not in public and "Contract" in public
    resp = file_ticket(client)
    assert resp.status_code == 400 and "This field is required." in text_of(resp)
    # on the staff form both are there, and the contract is optional for staff
    form = text_of(staff.get("/admin/tickets/new"))
    assert "Internal code" in form and "Contract" in form
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    resp = staff.post("/admin/tickets/new", data={
        "csrf_token": token, "name": "Casey", "email": "casey@example.com", "category": "1", "priority": "3",
        "status": "1", "owner": "", "subject": "By phone", "message": "Called us", internal: "X-1"})
    assert resp.status_code == 302, text_of(resp)[:2000]
    assert _tickets(app)[0].custom == {internal: "X-1"}


def test_names_per_language(app, admin, client):
    staff = logged_in(app, "admin")
    _create(staff, name_en="Order number", name_uk="Номер замовлення", name_lv="Pasūtījuma numurs")
    with app.app_context():
        settings.save({"can_sel_lang": True})
    field = _field(app, "Order number")
    assert field.names == {"en": "Order number", "uk": "Номер замовлення", "lv": "Pasūtījuma numurs"}
    client.set_cookie("hesk_language", "uk")
    assert "Номер замовлення" in text_of(client.get("/submit_ticket?category=1"))
    client.set_cookie("hesk_language", "bg")
    assert "Order number" in text_of(client.get("/submit_ticket?category=1"))  # no Bulgarian name: English


# --- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, field_id, message", [
    ({"name_en": "  "}, "name_en", "Enter the field's name in English."),
    ({"name_en": "", "name_uk": "Тільки українською"}, "name_en", "Enter the field's name in English."),
    ({"type": "select", "options": "\n \n"}, "options", "Enter at least one option, one per line."),
    ({"type": "radio", "options": "Yes\nNo\nYes"}, "options", 'The option "Yes" is there twice.'),
    ({"type": "select", "options": "Red\nBlue", "default": "Green"}, "default",
     "The default must be one of the options."),
    ({"type": "text", "max_length": "ten"}, "max_length", "Enter a whole number from 1 to 10000, or leave it empty."),
    ({"type": "text", "max_length": "5", "default": "too long a default"}, "default", "At most 5 characters."),
    ({"type": "textarea", "rows": "500"}, "rows", "Enter a whole number from 1 to 50, or leave it empty."),
    ({"type": "date", "date_min": "next week"}, "date_min", "Enter a date as YYYY-MM-DD"),
    ({"type": "date", "date_min": "2026-05-01", "date_max": "2026-04-01"}, "date_max",
     "The latest date is before the earliest date."),
    ({"category_mode": "chosen"}, "categories", "Choose at least one category."),
    ({"category_mode": "chosen", "categories": ["999"]}, "categories", "Choose at least one category."),
    ({"type": "spreadsheet"}, "type", "Choose a type."),
    ({"required": "sometimes"}, "required", "Choose one of the options."),
])
def test_bad_input_comes_back_beside_the_fields(app, admin, extra, field_id, message):
    client = logged_in(app, "admin")
    resp = _create(client, **extra)
    assert resp.status_code == 400
    html = text_of(resp)
    assert _error_beside(html, field_id).startswith(message)
    for key, value in extra.items():  # what was typed is still there
        if key in ("name_uk", "date_min", "date_max", "default", "max_length", "rows") and value.strip():
            assert f'value="{value}"' in html, key
        if key == "options" and value.strip():
            assert f"{value}</textarea>" in html
    assert _fields(app) == []


# --- edit, order, delete ------------------------------------------------------------------------------

def test_edit_shows_the_stored_values_and_saves(app, admin):
    a = _category(app, "Hardware")
    client = logged_in(app, "admin")
    _create(client, name_en="Product", type="radio", options="Printer\nScanner", name_ru="Продукт",
            category_mode="chosen", categories=[str(a)], required="always", place="after")
    field = _field(app, "Product")
    form = text_of(client.get(f"{BASE}/{field.id}/edit"))
    assert 'value="Product"' in form and 'value="Продукт"' in form
    assert "\nPrinter\nScanner</textarea>" in form
    assert re.search(r'<option selected value="radio">|<option value="radio" selected>', form)
    assert re.search(r'<option selected value="chosen">|<option value="chosen" selected>', form)
    assert f'name="categories" value="{a}" checked' in form
    resp = post(client, f"{BASE}/{field.id}/edit", _data(name_en="Device", type="select", options="Laptop\nPhone",
                                                          visibility="staff", enabled=None),
                token_url=f"{BASE}/{field.id}/edit")
    assert resp.status_code == 303
    edited = _field(app, "Device")
    assert edited.id == field.id
    assert (edited.type, edited.options, edited.visibility, edited.enabled, edited.category_ids) == (
        "select", {"options": ["Laptop", "Phone"], "select_prompt": True}, "staff", False, None)
    assert edited.names == {"en": "Device"}
    assert client.get(f"{BASE}/999/edit").status_code == 404


def test_order_up_and_down(app, admin, client):
    staff = logged_in(app, "admin")
    for name in ("First", "Second", "Third"):
        _create(staff, name_en=name)
    third = _field(app, "Third").id
    assert post(staff, f"{BASE}/{third}/move", {"direction": "up"}, token_url=BASE + "/").status_code == 303
    assert [f.names["en"] for f in _fields(app)] == ["First", "Third", "Second"]
    first = _field(app, "First").id
    assert post(staff, f"{BASE}/{first}/move", {"direction": "down"}, token_url=BASE + "/").status_code == 303
    assert [f.names["en"] for f in _fields(app)] == ["Third", "First", "Second"]
    html = text_of(client.get("/submit_ticket?category=1"))
    assert html.index("Third") < html.index("First") < html.index("Second")
    listing = text_of(staff.get(BASE + "/"))
    assert listing.index("Third") < listing.index("First") < listing.index("Second")


def test_delete_asks_then_removes_the_field_and_its_values(app, admin, make_ticket):
    client = logged_in(app, "admin")
    _create(client, name_en="Order number")
    _create(client, name_en="Colour")
    order, colour = _field(app, "Order number"), _field(app, "Colour")
    kept = {order.form_name: "A-1", colour.form_name: "Red"}
    t1 = make_ticket(custom=dict(kept))
    t2 = make_ticket(custom={order.form_name: "A-2"})
    t3 = make_ticket(custom={colour.form_name: "Blue"})
    page = client.get(f"{BASE}/{order.id}/delete")
    assert page.status_code == 200
    assert "2 tickets have a value in this field" in text_of(page)
    assert len(_fields(app)) == 2  # the GET changed nothing
    resp = post(client, f"{BASE}/{order.id}/delete", token_url=f"{BASE}/{order.id}/delete")
    assert resp.status_code == 303
    assert 'Custom field "Order number" deleted with its value on 2 tickets.' in unescape(
        text_of(client.get(BASE + "/")))
    assert [f.names["en"] for f in _fields(app)] == ["Colour"]
    by_track = {t.trackid: t.custom for t in _tickets(app)}
    assert by_track[t1] == {colour.form_name: "Red"}
    assert not (by_track[t2] or {}).get(order.form_name)
    assert by_track[t3] == {colour.form_name: "Blue"}
    # the staff ticket page still shows the other field's value
    assert "Red" in text_of(client.get(f"/admin/tickets/{t1}"))
    assert client.get(f"{BASE}/{order.id}/delete").status_code == 404
    # a new field takes a new slot: no old value comes back under it
    _create(client, name_en="Fresh")
    assert _field(app, "Fresh").id == colour.id + 1


# --- permission and menu --------------------------------------------------------------------------------

def test_permission_and_menu(app, admin, make_user):
    make_user("clerk", features=["can_view_tickets", "can_man_cat"])
    make_user("boss", features=["can_view_tickets", "can_man_settings"])
    clerk = logged_in(app, "clerk")
    assert clerk.get(BASE + "/").status_code == 403
    assert clerk.get(BASE + "/new").status_code == 403
    assert post(clerk, BASE + "/new", _data()).status_code == 403  # a valid token: the permission answers
    assert f'href="{BASE}/"' not in text_of(clerk.get("/admin/profile"))
    assert _fields(app) == []
    boss = logged_in(app, "boss")
    assert f'href="{BASE}/"' in text_of(boss.get("/admin/profile"))
    assert _create(boss, name_en="Boss made").status_code == 303
    assert [f.names["en"] for f in _fields(app)] == ["Boss made"]
