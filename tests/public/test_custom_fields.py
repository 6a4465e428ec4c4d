"""Custom fields on the public form: every type, placement, visibility, required rules, categories,
languages, validation and how values are stored and shown."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Category, Ticket
from hesk_py.services import custom_fields
from tests.public.conftest import text_of


@pytest.fixture
def fields(app, quick_form):
    with app.app_context():
        billing = Category(name="Billing", sort_order=50, is_public=True, default_priority_id=3)
        db.session.add(billing)
        db.session.commit()
        billing_id = billing.id
        make = custom_fields.create_field
        make(id=1, type="text", names={"en": "Order number", "uk": "Номер замовлення"}, required="always",
             options={"max_length": 20})
        make(id=2, type="textarea", names={"en": "Steps to reproduce"}, place="after")
        make(id=3, type="radio", names={"en": "Operating system"}, options={"options": ["Linux", "Windows", "Mac"]})
        make(id=4, type="select", names={"en": "Product"}, required="customers",
             options={"options": ["Printer", "Scanner"]})
        make(id=5, type="checkbox", names={"en": "Affected"}, options={"options": ["Paper", "Ink", "Toner"]})
        make(id=6, type="date", names={"en": "Purchase date"}, options={"min": "-1y", "max": "+0d"})
        make(id=7, type="email", names={"en": "Other contact"}, options={"multiple": True})
        make(id=8, type="hidden", names={"en": "Campaign"})
        make(id=9, type="text", names={"en": "Staff note"}, visibility="staff")
        make(id=10, type="text", names={"en": "Invoice number"}, category_ids=[billing_id], required="always")
    return billing_id


def _valid(**extra):
    data = {"custom1": "A-1001", "custom4": "Printer"}
    data.update(extra)
    return data


def _ticket(app):
    with app.app_context():
        t = db.session.scalars(select(Ticket)).one()
        db.session.expunge(t)
        return t


def test_the_form_shows_public_fields_in_their_places(app, client, fields):
    html = client.get("/submit_ticket?category=1&custom8=spring-sale").get_data(as_text=True)
    order = [html.index(s) for s in ("Order number", "Operating system", "Product", 'name="subject"',
                                     'name="message"', "Steps to reproduce")]
    assert order == sorted(order)  # before the subject ... after the message
    assert 'type="radio" name="custom3" value="Linux" checked' in html  # the first option by default
    assert '<option value="Scanner">' in html
    assert 'type="checkbox" name="custom5" value="Ink"' in html
    today = date.today()
    assert f'min="{today.replace(year=today.year - 1).isoformat()}"' in html
    assert f'max="{today.isoformat()}"' in html
    assert '<input type="hidden" name="custom8" value="spring-sale">' in html
    assert "Staff note" not in html and "custom9" not in html
    assert "Invoice number" not in html  # only in the Billing category
    assert 'for="f-custom1"' in html and 'id="f-custom1"' in html  # labels tied to inputs


def test_fields_of_a_category(app, client, fields):
    html = client.get(f"/submit_ticket?category={fields}").get_data(as_text=True)
    assert "Invoice number" in html


def test_values_are_stored_as_typed(app, client, fields, file_ticket):
    resp = file_ticket(client, **_valid(custom2="1. Turn on\n2. Print", custom3="Mac", custom5=["Ink", "Toner"],
                                        custom6=date.today().isoformat(), custom7="a@example.com, b@example.com",
                                        custom8="spring-sale", custom9="sneaky"),
                       url="/submit_ticket?category=1&custom8=spring-sale")
    assert resp.status_code == 303
    t = _ticket(app)
    assert t.custom == {"custom1": "A-1001", "custom2": "1. Turn on\n2. Print", "custom3": "Mac",
                        "custom4": "Printer", "custom5": ["Ink", "Toner"], "custom6": date.today().isoformat(),
                        "custom7": "a@example.com, b@example.com", "custom8": "spring-sale"}
    page = text_of(client.get(f"/ticket?track={t.trackid}").get_data(as_text=True))
    assert "Order number" in page and "A-1001" in page and "Ink, Toner" in page
    assert "spring-sale" not in page  # hidden fields are for staff


def test_required_and_invalid_values_come_back_with_errors(app, client, fields, file_ticket):
    too_old = (date.today() - timedelta(days=800)).isoformat()
    resp = file_ticket(client, custom1="", custom4="Fax machine", custom6=too_old, custom7="not-an-email",
                       custom3="BeOS", custom2="kept steps")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="f-custom1-error" role="alert">This field is required.' in html
    assert 'id="f-custom4-error" role="alert">Please choose one of the options.' in html
    assert "The date must be on or after" in html
    assert "Please enter valid email addresses, separated by commas." in html
    assert "Please choose one of the options." in html
    assert f'value="{too_old}"' in html and ">kept steps</textarea>" in html
    assert 'href="#f-custom1"' in html  # the error summary links to the field
    with app.app_context():
        assert db.session.scalar(select(Ticket.id)) is None


def test_too_long_text_is_refused(app, client, fields, file_ticket):
    resp = file_ticket(client, **_valid(custom1="X" * 21))
    assert "At most 20 characters." in resp.get_data(as_text=True)


def test_a_category_field_is_required_only_there(app, client, fields, file_ticket):
    resp = file_ticket(client, url=f"/submit_ticket?category={fields}", **_valid())
    assert resp.status_code == 400
    assert 'id="f-custom10-error"' in resp.get_data(as_text=True)
    resp = file_ticket(client, url=f"/submit_ticket?category={fields}", **_valid(custom10="INV-7"))
    assert resp.status_code == 303
    assert _ticket(app).custom["custom10"] == "INV-7"


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_html_in_custom_fields_shows_as_text(app, client, fields, file_ticket, payload):
    resp = file_ticket(client, **_valid(custom1=payload[:20], custom2=payload))
    assert resp.status_code == 303
    t = _ticket(app)
    assert t.custom["custom2"] == payload
    html = client.get(f"/ticket?track={t.trackid}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert payload in text_of(html)
    # and in the form that comes back
    resp = file_ticket(client, **_valid(custom2=payload, name=""))
    html = resp.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html


def test_single_line_fields_refuse_line_breaks(app, client, fields, file_ticket):
    resp = file_ticket(client, **_valid(custom1="A-1\r\nBcc: x@example.com"))
    assert resp.status_code == 400
    assert "This field must be a single line." in resp.get_data(as_text=True)


def test_names_per_language(app, client, fields):
    with app.app_context():
        settings.save({"can_sel_lang": True})
    client.set_cookie("hesk_language", "uk")
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert "Номер замовлення" in html
    assert "Steps to reproduce" in html  # no Ukrainian name: the English one


def test_a_disabled_field_is_gone(app, client, fields, file_ticket):
    with app.app_context():
        from hesk_py.models import CustomField

        db.session.get(CustomField, 1).enabled = False
        db.session.commit()
    assert "Order number" not in client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert file_ticket(client, custom4="Printer").status_code == 303


def test_custom_values_are_remembered_for_the_next_ticket(app, client, fields, file_ticket):
    assert file_ticket(client, **_valid(custom1="A-77", custom3="Windows")).status_code == 303
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'value="A-77"' in html and 'value="Windows" checked' in html
    assert 'value="A-77"' not in app.test_client().get("/submit_ticket?category=1").get_data(as_text=True)
    with app.app_context():
        settings.save({"remember_custom_field_values": False})
    assert 'value="A-77"' not in client.get("/submit_ticket?category=1").get_data(as_text=True)
