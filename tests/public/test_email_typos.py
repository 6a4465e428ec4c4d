"""Email typo suggestions on the ticket form (``detect_typos``, ``email_providers``): without JavaScript the
form comes back once with "Did you mean ...?" beside the email field, and the customer takes the
suggestion or keeps what they typed; /suggest_email answers the same for the page's script."""
from __future__ import annotations

from html import unescape

from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Ticket
from hesk_py.services.email_typos import suggest
from tests.public.conftest import hidden_fields, text_of


def _emails(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Ticket.email).order_by(Ticket.id)))


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Ticket))


def _asked(resp) -> dict[str, str]:
    """The form came back with the question: its hidden fields, as the next post sends them."""
    assert resp.status_code == 200, resp.status_code
    html = resp.get_data(as_text=True)
    assert 'class="email-typo"' in html
    return hidden_fields(html)


def test_the_form_asks_once_and_the_customer_takes_the_suggestion(app, client, quick_form, file_ticket):
    resp = file_ticket(client, email="jo@gmial.com")
    hidden = _asked(resp)
    page = text_of(resp.get_data(as_text=True))
    assert "Did you mean jo@gmail.com?" in page
    assert "Yes, use jo@gmail.com" in page and "No, keep jo@gmial.com" in page
    assert hidden["email_checked"] == "jo@gmial.com"
    assert 'value="jo@gmial.com"' in resp.get_data(as_text=True)  # the field as typed
    assert 'aria-invalid="true"' in resp.get_data(as_text=True)
    assert _count(app) == 0
    # "Yes, use ...": the button sends the suggestion
    resp = file_ticket(client, email="jo@gmial.com", email_checked="jo@gmial.com", email_use="jo@gmail.com")
    assert resp.status_code == 303
    assert _emails(app) == ["jo@gmail.com"]


def test_the_customer_may_keep_what_they_typed(app, client, quick_form, file_ticket):
    _asked(file_ticket(client, email="Jo.Doe@gmial.com"))
    resp = file_ticket(client, email="Jo.Doe@gmial.com", email_checked="Jo.Doe@gmial.com", email_keep="1")
    assert resp.status_code == 303
    assert _emails(app) == ["Jo.Doe@gmial.com"]


def test_a_newly_typed_address_is_checked_again(app, client, quick_form, file_ticket):
    _asked(file_ticket(client, email="jo@gmial.com"))
    # the customer typed another address in the field instead of pressing a button
    resp = file_ticket(client, email="jo@yahoo.co", email_checked="jo@gmial.com", email_use="jo@gmail.com")
    assert "Did you mean jo@yahoo.com?" in text_of(resp.get_data(as_text=True))
    assert _count(app) == 0
    assert file_ticket(client, email="jo@example.org", email_checked="jo@yahoo.co").status_code == 303
    assert _emails(app) == ["jo@example.org"]


def test_with_other_errors_the_question_comes_with_them_and_a_taken_suggestion_is_kept(app, client, quick_form,
                                                                                      file_ticket):
    resp = file_ticket(client, email="jo@hotmial.com", subject="")
    assert resp.status_code == 400
    page = text_of(resp.get_data(as_text=True))
    assert "Did you mean jo@hotmail.com?" in page and "Please enter a subject." in page
    resp = file_ticket(client, email="jo@hotmial.com", subject="", email_checked="jo@hotmial.com",
                       email_use="jo@hotmail.com")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Did you mean" not in text_of(html)
    assert 'value="jo@hotmail.com"' in html  # the field now shows the address the customer chose
    assert file_ticket(client, email="jo@hotmail.com").status_code == 303
    assert _emails(app) == ["jo@hotmail.com"]


def test_the_confirmation_field_follows_the_suggestion(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"confirm_email": True})
    _asked(file_ticket(client, email="jo@gmial.com", email2="jo@gmial.com"))
    resp = file_ticket(client, email="jo@gmial.com", email2="jo@gmial.com", email_checked="jo@gmial.com",
                       email_use="jo@gmail.com")
    assert resp.status_code == 303
    assert _emails(app) == ["jo@gmail.com"]


def test_detect_typos_off_files_the_address_as_typed(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"detect_typos": False})
    form = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert "email-typo.js" not in form and "data-typo-url" not in form
    assert file_ticket(client, email="jo@gmial.com").status_code == 303
    assert _emails(app) == ["jo@gmial.com"]
    assert client.get("/suggest_email?e=jo@gmial.com").get_json() == {"suggestion": None}


def test_email_providers_is_the_list_compared_with(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"email_providers": "acme-mail.example\nposteo.de"})
    # gmail.com is no longer a known provider: nothing to suggest
    assert file_ticket(client, email="jo@gmial.com").status_code == 303
    resp = file_ticket(client, email="jo@acme-mial.example")
    assert "Did you mean jo@acme-mail.example?" in text_of(resp.get_data(as_text=True))
    assert client.get("/suggest_email?e=ann@poteo.de").get_json() == {"suggestion": "ann@posteo.de"}
    assert client.get("/suggest_email?e=ann@posteo.de").get_json() == {"suggestion": None}


def test_the_form_carries_the_script_and_its_texts(app, client):
    html = unescape(client.get("/submit_ticket?category=1").get_data(as_text=True))
    assert '<script src="/static/js/email-typo.js" defer></script>' in html
    assert 'data-typo-url="/suggest_email"' in html
    assert 'data-typo-question="Did you mean {email}?"' in html


def test_suggest_email_answers_json(client):
    resp = client.get("/suggest_email?e=Jo.Doe@HOTMAIL.CM")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.get_json() == {"suggestion": "Jo.Doe@hotmail.com"}
    for good in ("jo@gmail.com", "jo@example.org", "", "not-an-address", "a@b@gmial.com"):
        assert client.get("/suggest_email", query_string={"e": good}).get_json() == {"suggestion": None}, good


def test_hesks_distance_catches_common_slips_and_leaves_real_domains_alone(app_ctx):
    providers = settings.get("email_providers")
    cases = {"ann@gmial.com": "ann@gmail.com", "ann@gmai.com": "ann@gmail.com", "ann@gmaill.com": "ann@gmail.com",
             "ann@yahoo.co": "ann@yahoo.com", "ann@outlok.com": "ann@outlook.com", "ann@hotmail.con": "ann@hotmail.com",
             "ann@acme.com": None, "ann@gmail.com": None, "ann@university.edu": None, "ann@web.de": None}
    for typed, expected in cases.items():
        assert suggest(typed, providers) == expected, typed
