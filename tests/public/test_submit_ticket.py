"""Submitting a ticket through the public form: categories, fields, settings, errors, confirmation."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Attachment, Category, OutboxMessage, Ticket
from tests.public.conftest import ANSWER, hidden_fields, text_of


def _count(app, model=Ticket):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _only_ticket(app):
    with app.app_context():
        rows = db.session.scalars(select(Ticket)).all()
        assert len(rows) == 1
        t = rows[0]
        db.session.expunge(t)
        return t


def _add_categories(app, *names, public=True):
    with app.app_context():
        ids = []
        for i, name in enumerate(names):
            c = Category(name=name, sort_order=100 + i, is_public=public, default_priority_id=3)
            db.session.add(c)
            db.session.flush()
            ids.append(c.id)
        db.session.commit()
        return ids


def test_a_ticket_is_filed_and_confirmed(app, client, quick_form, file_ticket):
    resp = file_ticket(client, subject="Printer on fire", message="Smoke!\nLots of it.")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/submit_ticket/done")
    ticket = _only_ticket(app)
    assert (ticket.name, ticket.email, ticket.subject) == ("Casey Customer", "casey@example.com", "Printer on fire")
    assert ticket.message == "Smoke!\nLots of it."
    assert ticket.ip == "127.0.0.1"
    assert ticket.opened_by == "customer"
    page = client.get("/submit_ticket/done")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ticket.trackid in html
    assert f"/ticket?track={ticket.trackid}" in html
    assert "SPAM" in html  # spam-folder notice (spam_notice is on by default)
    assert page.headers["Cache-Control"] == "private, no-store"


def test_the_confirmation_page_belongs_to_the_browser_that_submitted(app, client, quick_form, file_ticket):
    file_ticket(client)
    other = app.test_client()
    resp = other.get("/submit_ticket/done")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/submit_ticket")


def test_no_spam_notice_when_turned_off(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"spam_notice": False})
    file_ticket(client)
    html = client.get("/submit_ticket/done").get_data(as_text=True)
    assert "SPAM" not in html
    assert "confirmation" in html


def test_the_confirmation_email_is_queued_and_delivered(app, client, quick_form, file_ticket, smtp_server):
    file_ticket(client, email="dana@example.com", subject="Where is my order?")
    ticket = _only_ticket(app)
    with app.app_context():
        queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "new_ticket")).all()
        assert [m.recipient for m in queued] == ["dana@example.com"]
        from hesk_py.services import mailer

        assert mailer.deliver_due()["sent"] >= 1
    messages = smtp_server.wait_for(1)
    mine = [m for m in messages if m["To"] == "dana@example.com"]
    assert len(mine) == 1
    assert ticket.trackid in mine[0]["Subject"]
    assert ticket.trackid in mine[0].get_content()


def test_the_form_comes_back_with_everything_typed_and_errors_beside_fields(app, client, quick_form, file_ticket):
    resp = file_ticket(client, name="", email="not-an-email", subject="Kept subject",
                       message="Kept message\nline two", files=[(__import__("io").BytesIO(b"hello"), "notes.txt")])
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert _count(app) == 0
    assert _count(app, Attachment) == 0
    assert 'value="not-an-email"' in html
    assert 'value="Kept subject"' in html
    assert "Kept message\nline two</textarea>" in html
    # each error sits beside its field and is announced
    assert 'id="name-error" role="alert">Please enter your name.' in html
    assert 'aria-describedby="name-error"' in html
    assert 'id="email-error" role="alert">Please enter a valid email address.' in html
    # files are never kept: the customer is told to choose them again
    assert "please choose them again" in html
    assert 'id="error-summary"' in html


def test_several_public_categories_are_offered_first(app, client, quick_form):
    billing, sales = _add_categories(app, "Billing", "Sales")
    _add_categories(app, "Internal", public=False)
    resp = client.get("/submit_ticket")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'/submit_ticket?category={billing}' in html and f'/submit_ticket?category={sales}' in html
    assert "Internal" not in html
    assert 'name="name"' not in html  # the form comes after the choice


def test_many_categories_use_a_select_box(app, client, quick_form):
    _add_categories(app, "Billing", "Sales", "Returns")
    with app.app_context():
        settings.save({"cat_show_select": 2})
    html = client.get("/submit_ticket").get_data(as_text=True)
    assert '<select id="category" name="category"' in html
    assert "Returns" in html


def test_category_link_preselects_and_private_categories_are_refused(app, client, quick_form, file_ticket):
    billing, = _add_categories(app, "Billing")
    internal, = _add_categories(app, "Internal", public=False)
    html = client.get(f"/submit_ticket?category={billing}").get_data(as_text=True)
    assert f'name="category" type="hidden" value="{billing}"' in html
    assert "Billing" in html and "Change category" in html
    # a private category cannot be chosen by URL ...
    resp = client.get(f"/submit_ticket?category={internal}")
    assert 'name="name"' not in resp.get_data(as_text=True)
    # ... nor by posting it
    resp = file_ticket(client, url=f"/submit_ticket?category={billing}", category=str(internal))
    assert resp.status_code == 400
    assert "Please choose a category." in resp.get_data(as_text=True)
    assert _count(app) == 0
    file_ticket(client, url=f"/submit_ticket?category={billing}")
    assert _only_ticket(app).category_id == billing


def test_fields_are_prefilled_from_the_url(app, client, quick_form):
    html = client.get("/submit_ticket?category=1&name=Ann%20Lee&email=ann@example.com&subject=Hello"
                      "&message=Line%20one&priority=2").get_data(as_text=True)
    assert 'value="Ann Lee"' in html
    assert 'value="ann@example.com"' in html
    assert 'value="Hello"' in html
    assert "\nLine one</textarea>" in html
    assert '<option selected value="2">High</option>' in html


def test_priority_only_when_customers_choose_it(app, client, quick_form, file_ticket):
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="priority"' in html
    assert "Critical" not in html  # not customer-selectable
    resp = file_ticket(client, priority="1")  # Critical, posted anyway
    assert resp.status_code == 400
    assert "Please choose one of the priorities offered." in resp.get_data(as_text=True)
    file_ticket(client, priority="2")
    assert _only_ticket(app).priority_id == 2
    with app.app_context():
        settings.save({"cust_urgency": False})
        db.session.execute(db.delete(Ticket))
        db.session.commit()
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="priority"' not in html
    file_ticket(client, priority="2", email="other@example.com")
    assert _only_ticket(app).priority_id == 4  # the category's default (Low)


def test_subject_and_message_required_optional_or_hidden(app, client, quick_form, file_ticket):
    resp = file_ticket(client, subject="", message=" ")
    html = resp.get_data(as_text=True)
    assert "Please enter a subject." in html and "Please write your message." in html
    with app.app_context():
        settings.save({"require_subject": 0, "require_message": 0})
    resp = file_ticket(client, subject="", message="The first line of my message\nmore")
    assert resp.status_code == 303
    assert _only_ticket(app).subject == "The first line of my message"
    with app.app_context():
        settings.save({"require_subject": -1, "require_message": -1})
        db.session.execute(db.delete(Ticket))
        db.session.commit()
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="subject"' not in html and 'name="message"' not in html
    resp = file_ticket(client, subject="ignored", message="ignored too")
    assert resp.status_code == 303
    t = _only_ticket(app)
    assert t.message == "" and t.subject == "Ticket from Casey Customer"


def test_confirm_email(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"confirm_email": True})
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="email2"' in html
    resp = file_ticket(client, email="a@example.com", email2="b@example.com")
    assert resp.status_code == 400
    assert "The two email addresses are not the same." in resp.get_data(as_text=True)
    assert file_ticket(client, email="a@example.com", email2="A@example.com").status_code == 303


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
])
def test_html_in_name_subject_and_message_shows_as_text(app, client, quick_form, file_ticket, payload):
    resp = file_ticket(client, name=f"Eve {payload}", subject=f"Hi {payload}", message=f"Body {payload}")
    assert resp.status_code == 303
    t = _only_ticket(app)
    assert t.subject == f"Hi {payload}" and t.message == f"Body {payload}"  # stored exactly as typed
    for url in (f"/ticket?track={t.trackid}", f"/ticket/print?track={t.trackid}", "/submit_ticket/done"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "<img src=x" not in html and "<svg onload" not in html
        if url != "/submit_ticket/done":
            assert f"Hi {payload}" in text_of(html)  # shown, as text


def test_html_comes_back_escaped_in_the_form(app, client, quick_form, file_ticket):
    resp = file_ticket(client, name="<script>alert(1)</script>", email="bad", subject='"><img src=x onerror=alert(1)>')
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("field", ["name", "subject", "email"])
@pytest.mark.parametrize("breaker", ["\r\nBcc: victim@example.com", "\nX-Injected: 1", "\tTab"])
def test_header_injection_characters_are_refused(app, client, quick_form, file_ticket, field, breaker):
    value = {"name": "Mallory", "subject": "Hello", "email": "m@example.com"}[field] + breaker
    resp = file_ticket(client, **{field: value})
    assert resp.status_code == 400
    assert "single line" in resp.get_data(as_text=True) or "valid email" in resp.get_data(as_text=True)
    assert _count(app) == 0


def test_links_in_messages_are_clickable_and_safe(app, client, quick_form, file_ticket):
    message = ("See https://example.com/a?b=1&c=<2> and (http://example.org/x). "
               "Not javascript:alert(1) nor <a href=\"javascript:alert(1)\">x</a>")
    file_ticket(client, message=message)
    t = _only_ticket(app)
    assert t.message == message
    html = client.get(f"/ticket?track={t.trackid}").get_data(as_text=True)
    assert '<a href="https://example.com/a?b=1&amp;c=" rel="nofollow noopener noreferrer">' in html
    assert '<a href="http://example.org/x" rel="nofollow noopener noreferrer">http://example.org/x</a>)' in html
    assert 'href="javascript' not in html
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;" in html


def test_the_ticket_language_is_the_page_language(app, client, quick_form, file_ticket):
    with app.app_context():
        settings.save({"can_sel_lang": True})
    client.set_cookie("hesk_language", "uk")
    file_ticket(client)
    assert _only_ticket(app).language == "uk"


def test_an_unknown_category_link_asks_to_choose_one(app, client, quick_form, file_ticket):
    billing, sales = _add_categories(app, "Billing", "Sales")
    html = client.get("/submit_ticket").get_data(as_text=True)
    assert "General" in html  # three public categories: a choice
    assert _count(app) == 0
    resp = client.get("/submit_ticket?category=999")
    assert resp.status_code == 404
    assert "Please choose one of the categories below." in resp.get_data(as_text=True)


# --- knowledgebase suggestions while typing ----------------------------------------------------------------

@pytest.fixture
def articles(app):
    from hesk_py.services import knowledgebase as kb

    with app.app_context():
        private_cat = kb.create_category("Staff only", 1, False)
        return {
            "jam": kb.create_article(title="Paper jam in the printer", content="Open the front tray.").id,
            "toner": kb.create_article(title="Replacing the printer toner", content="Lift the lid.").id,
            "ink": kb.create_article(title="Printer ink smudges", content="Clean the heads.").id,
            "private": kb.create_article(title="Printer admin password", content="Secret.",
                                         type=kb.ARTICLE_PRIVATE).id,
            "draft": kb.create_article(title="Printer draft", content="Half-written.", type=kb.ARTICLE_DRAFT).id,
            "hidden": kb.create_article(title="Printer contract", content="In a private category.",
                                        category_id=private_cat.id).id,
        }


def test_the_form_asks_for_suggestions_only_when_the_knowledgebase_suggests(app, client, quick_form):
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'data-suggest-url="/suggest_articles"' in html and 'data-suggest-name="suggested"' in html
    assert 'data-suggest-with="#subject"' in html and "/static/js/kb-suggest.js" in html
    # HESK's do_not_suggest=1, kb_recommendanswers off, or no knowledgebase: a plain form
    assert "data-suggest-url" not in client.get("/submit_ticket?category=1&do_not_suggest=1").get_data(as_text=True)
    with app.app_context():
        settings.save({"kb_recommendanswers": False})
    assert "data-suggest-url" not in client.get("/submit_ticket?category=1").get_data(as_text=True)
    with app.app_context():
        settings.save({"kb_recommendanswers": True, "kb_enable": 0})
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert "data-suggest-url" not in html and "kb-suggest.js" not in html


def test_suggested_articles_are_stored_with_the_ticket(app, client, quick_form, file_ticket, articles, admin, login):
    a = articles
    with app.app_context():
        settings.save({"kb_search_limit": 2})
    posted = [str(a["jam"]), str(a["jam"]), "abc", "-3", str(a["private"]), str(a["draft"]), str(a["hidden"]),
              "99999999", str(a["toner"]), str(a["ink"])]
    resp = file_ticket(client, suggested=posted)
    assert resp.status_code in (302, 303), resp.status_code
    # ints, each once, only what customers may read, at most kb_search_limit
    assert _only_ticket(app).suggested_articles == [a["jam"], a["toner"]]
    login()
    page = client.get(f"/admin/tickets/{_only_ticket(app).trackid}").get_data(as_text=True)
    assert "Knowledgebase articles suggested to the customer" in page
    assert f'href="/admin/knowledgebase/view/article/{a["jam"]}"' in page and "Replacing the printer toner" in page


def test_no_suggestions_posted_means_none_stored(app, client, quick_form, file_ticket, articles):
    assert file_ticket(client).status_code in (302, 303)
    assert _only_ticket(app).suggested_articles is None


def test_nothing_stored_when_suggestions_are_off(app, client, quick_form, file_ticket, articles):
    with app.app_context():
        settings.save({"kb_recommendanswers": False})
    assert file_ticket(client, suggested=[str(articles["jam"])]).status_code in (302, 303)
    assert _only_ticket(app).suggested_articles is None
