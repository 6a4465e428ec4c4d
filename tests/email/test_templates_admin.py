"""The email templates pages (/admin/email_templates, ``can_email_tpl``) through HTTP: the list, the editor
per language with its tags, the preview, saving (and what customers then receive over SMTP), bad template
syntax and sandbox refusals coming back beside the field with the text kept, "reset to default", CSRF and
the permission checks."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import EmailTemplate
from tests.admin.ticket_helpers import in_db, logged_in, post, text_of

BASE = "/admin/email_templates"
EDIT_UK = BASE + "/new_ticket/uk"


def _rows(app) -> list[tuple[str, str, str]]:
    return in_db(app, lambda: [(r.name, r.language, r.subject) for r in db.session.scalars(
        select(EmailTemplate).order_by(EmailTemplate.id))])


def _field(html: str, name: str) -> str:
    """The value a field shows (textarea content or input value), unescaped."""
    m = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(?:\r?\n)?(.*?)</textarea>', html, re.DOTALL)
    if m:
        return unescape(m.group(1))
    m = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert m, f"no field {name}"
    return unescape(m.group(1))


def _default_subject(app, language: str) -> str:
    """new_ticket's default subject in ``language``, written with tags."""
    from flask_babel import force_locale

    from hesk_py.services.mailer import SUBJECTS

    with app.test_request_context(), force_locale(language):
        return str(SUBJECTS["new_ticket"]) % {"trackid": "%%TRACK_ID%%", "subject": "%%SUBJECT%%"}


def _ticket(app, **kw) -> str:
    from hesk_py.services import tickets

    data = dict(name="Petro Shevchenko", email="petro@example.com", subject="Не працює", message="Допоможіть",
                category_id=1, actor=tickets.Actor.customer("Petro Shevchenko"), language="uk", autoassign=False)
    data.update(kw)
    with app.app_context():
        return tickets.create_ticket(**data).trackid


def _deliver(app) -> int:
    from hesk_py.services import mailer

    with app.app_context():
        return mailer.deliver_due()["sent"]


def test_the_list_shows_every_notification_in_every_language(app, admin):
    client = logged_in(app, "admin")
    html = text_of(client.get(BASE + "/"))
    for name in ("new_ticket", "new_reply_by_staff", "ticket_closed", "forgot_ticket_id", "new_ticket_staff",
                 "ticket_assigned_to_you", "new_reply_by_customer", "new_note", "reset_password",
                 "mfa_verification"):
        for lang in ("en", "uk", "ru", "bg", "lv"):
            assert f'href="{BASE}/{name}/{lang}"' in html, (name, lang)
    assert "Emails sent to customers" in html and "Emails sent to staff" in html
    assert "Edited" not in html.split("<table", 1)[1]
    # the menu links to it
    assert f'href="{BASE}/"' in text_of(client.get("/admin/"))
    assert client.get(BASE + "/no_such_template/en").status_code == 404
    assert client.get(BASE + "/new_ticket/xx").status_code == 404


def test_edit_save_and_the_customer_receives_it_in_their_language(app, admin, smtp_server):
    client = logged_in(app, "admin")
    page = text_of(client.get(EDIT_UK))
    # the editor starts from the default, written with tags, and lists the tags
    assert _field(page, "subject") == _default_subject(app, "uk")
    assert "%%NAME%%" in _field(page, "body_text") and "%%TRACK_URL%%" in _field(page, "body_text")
    assert _field(page, "body_html") == ""
    for tag in ("%%FIRST_NAME%%", "%%CATEGORY%%", "%%STATUS%%", "%%PRIORITY%%", "%%OWNER%%", "%%DUE_DATE%%",
                "%%MESSAGE%%", "%%SITE_TITLE%%", "%%CUSTOM1%%"):
        assert f"<code>{tag}</code>" in page, tag
    resp = post(client, EDIT_UK, {"subject": "[#%%TRACK_ID%%] Ми отримали: %%SUBJECT%%",
                                  "body_text": "Вітаємо, %%FIRST_NAME%%!\n\nВаше повідомлення:\n%%MESSAGE%%",
                                  "body_html": "", "action": "save"}, token_url=EDIT_UK)
    assert resp.status_code == 303
    assert _rows(app) == [("new_ticket", "uk", "[#%%TRACK_ID%%] Ми отримали: %%SUBJECT%%")]
    page = text_of(client.get(EDIT_UK))
    assert "saved" in page and "Вітаємо, %%FIRST_NAME%%!" in _field(page, "body_text")
    assert "Edited" in text_of(client.get(BASE + "/"))
    # a Ukrainian customer gets it; an English one the default
    uk = _ticket(app)
    en = _ticket(app, name="Ed", email="ed@example.com", subject="Broken", language="en")
    assert _deliver(app) == 4  # and the admin's two "new ticket" notices
    mails = {m["To"]: m for m in smtp_server.wait_for(4)}
    assert mails["petro@example.com"]["Subject"] == f"[#{uk}] Ми отримали: Не працює"
    body = mails["petro@example.com"].get_content().replace("\r\n", "\n")
    assert "Вітаємо, Petro!\n\nВаше повідомлення:\nДопоможіть" in body
    assert mails["ed@example.com"]["Subject"] == f"[#{en}] Ticket received: Broken"


def test_preview_renders_a_sample_ticket_and_saves_nothing(app, admin):
    from hesk_py import settings

    with app.app_context():
        settings.save({"email_formatting": 3})
    client = logged_in(app, "admin")
    typed = {"subject": "[#%%TRACK_ID%%] Hello %%NAME%%", "body_text": "Dear %%FIRST_NAME%%,\n%%MESSAGE%%",
             "body_html": '<p>Hi <b>%%NAME%%</b></p><script>alert("x")</script><p onclick="x()">%%TRACK_URL%%</p>',
             "action": "preview"}
    resp = post(client, EDIT_UK, typed, token_url=EDIT_UK)
    html = text_of(resp)
    assert resp.status_code == 200
    preview = html.split('id="preview"', 1)[1].split("</section>", 1)[0]
    assert "[#ABC-DEF-1234] Hello Casey Customer" in preview
    assert "Dear Casey," in preview and "https://www.example.com/manual" in preview
    assert "<p>Hi <b>Casey Customer</b></p>" in preview
    assert "<script" not in preview and "onclick" not in preview and 'alert("x")' not in preview
    # what was typed is still in the form, and nothing was saved
    assert _field(html, "body_html") == typed["body_html"]
    assert _field(html, "subject") == typed["subject"]
    assert _rows(app) == []


@pytest.mark.parametrize("field,source,message", [
    ("body_text", "Hello {% if name %}", "Template error on line 1"),
    ("subject", "Re: {{ subject", "Template error on line 1"),
    ("body_html", "<p>{% for %}</p>", "Template error on line 1"),
    ("body_text", "{{ ''.__class__.__mro__ }}", "not allowed in an email template"),
    ("body_html", "{{ ''.__class__ }}", "not allowed in an email template"),
    ("body_text", "", "Enter the text."),
    ("subject", "", "Enter a subject."),
])
def test_bad_template_comes_back_beside_the_field_and_nothing_is_saved(app, admin, field, source, message):
    client = logged_in(app, "admin")
    typed = {"subject": "Subject %%TRACK_ID%%", "body_text": "Body", "body_html": "", "action": "save"}
    typed[field] = source
    for action in ("save", "preview"):
        typed["action"] = action
        resp = post(client, EDIT_UK, typed, token_url=EDIT_UK)
        html = text_of(resp)
        assert resp.status_code == 400
        error = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]*)</p>', html)
        assert error and message in unescape(error.group(1)), html[-3000:]
        assert _field(html, field) == source
        assert 'id="preview"' not in html
    assert _rows(app) == []


def test_reset_to_default(app, admin, smtp_server):
    client = logged_in(app, "admin")
    edit_en = BASE + "/new_ticket/en"
    assert post(client, edit_en, {"subject": "Custom %%TRACK_ID%%", "body_text": "Custom body",
                                  "body_html": "<p>Custom</p>", "action": "save"},
                token_url=edit_en).status_code == 303
    page = text_of(client.get(edit_en))
    assert "Reset to default" in page
    # GET does not reset; the POST does
    assert client.get(edit_en + "/reset").status_code == 405
    resp = post(client, edit_en + "/reset", token_url=edit_en)
    assert resp.status_code == 303 and _rows(app) == []
    page = text_of(client.get(edit_en))
    assert "back to the default" in page
    assert _field(page, "subject") == _default_subject(app, "en")
    assert "Custom body" not in page and 'action="/admin/email_templates/new_ticket/en/reset"' not in page
    trackid = _ticket(app, language="en", subject="After reset")
    assert _deliver(app) == 2  # the customer's confirmation, the admin's "new ticket"
    mail = next(m for m in smtp_server.wait_for(2) if m["To"] == "petro@example.com")
    assert mail["Subject"] == f"[#{trackid}] Ticket received: After reset"


def test_without_the_csrf_token_nothing_happens(app, admin):
    client = logged_in(app, "admin")
    resp = client.post(EDIT_UK, data={"subject": "S", "body_text": "B", "body_html": "", "action": "save"})
    assert resp.status_code == 400 and _rows(app) == []
    resp = client.post(EDIT_UK, data={"subject": "S", "body_text": "B", "body_html": "", "action": "save",
                                      "csrf_token": "forged"})
    assert resp.status_code == 400 and _rows(app) == []
    with app.app_context():
        from hesk_py.services import email_templates

        email_templates.save("new_ticket", "uk", subject="S", body_text="B", body_html="")
    assert client.post(EDIT_UK + "/reset").status_code == 400
    assert len(_rows(app)) == 1


def test_permissions(app, admin, make_user):
    make_user("plain")  # the default staff permissions: no can_email_tpl
    make_user("writer", features=("can_view_tickets", "can_email_tpl"))
    make_user("settings", features=("can_view_tickets", "can_man_settings"))
    with app.app_context():
        from hesk_py.services import email_templates

        email_templates.save("new_ticket", "en", subject="Kept", body_text="Kept body", body_html="")

    anonymous = app.test_client()
    for url in (BASE + "/", EDIT_UK):
        resp = anonymous.get(url)
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"], url
    for url in (EDIT_UK, BASE + "/new_ticket/en/reset"):  # with a valid CSRF token (from the login page)
        resp = post(anonymous, url, {"subject": "X", "body_text": "Y", "body_html": "", "action": "save"},
                    token_url="/admin/login")
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"], url

    for username in ("plain", "settings"):
        client = logged_in(app, username)
        assert f'href="{BASE}/"' not in text_of(client.get("/admin/profile"))
        assert client.get(BASE + "/").status_code == 403
        assert client.get(EDIT_UK).status_code == 403
        token_page = "/admin/profile"
        assert post(client, EDIT_UK, {"subject": "X", "body_text": "Y", "body_html": "", "action": "save"},
                    token_url=token_page).status_code == 403
        assert post(client, BASE + "/new_ticket/en/reset", token_url=token_page).status_code == 403
    assert _rows(app) == [("new_ticket", "en", "Kept")]

    client = logged_in(app, "writer")
    assert f'href="{BASE}/"' in text_of(client.get("/admin/profile"))
    assert client.get(BASE + "/").status_code == 200
    assert post(client, EDIT_UK, {"subject": "By writer", "body_text": "Y", "body_html": "", "action": "save"},
                token_url=EDIT_UK).status_code == 303
    assert post(client, BASE + "/new_ticket/en/reset", token_url=EDIT_UK).status_code == 303
    assert _rows(app) == [("new_ticket", "uk", "By writer")]
    assert in_db(app, lambda: db.session.scalar(select(func.count()).select_from(EmailTemplate))) == 1
