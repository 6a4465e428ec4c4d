"""The knowledgebase in the staff ticket pages: suggestions with "insert link / insert text" on the new
ticket and reply forms, and "Import into knowledgebase" on the ticket view for staff who manage it."""
from __future__ import annotations

from hesk_py import settings
from hesk_py.services import knowledgebase as kb
from tests.conftest import csrf_token_from
from tests.public.conftest import text_of


def test_import_link_only_for_staff_who_manage_the_knowledgebase(app, client, make_user, login, make_ticket):
    trackid = make_ticket(subject="Printer on fire")
    make_user("kbwriter", features=["can_man_kb", "can_view_tickets", "can_view_unassigned", "can_reply_tickets"],
              category_ids=[1])
    make_user("answerer", features=["can_view_tickets", "can_view_unassigned", "can_reply_tickets"],
              category_ids=[1])
    link = f'href="/admin/knowledgebase/import/{trackid}"'

    login("kbwriter")
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert link in page and "Import into knowledgebase" in text_of(page)
    imported = client.get(f"/admin/knowledgebase/import/{trackid}")
    assert imported.status_code == 200 and 'value="Printer on fire"' in imported.get_data(as_text=True)
    with app.app_context():  # no knowledgebase, no link
        settings.save({"kb_enable": 0})
    assert link not in client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    with app.app_context():
        settings.save({"kb_enable": 1})

    other = app.test_client()
    token = csrf_token_from(other.get("/admin/login").get_data(as_text=True))
    other.post("/admin/login", data={"username": "answerer", "password": "Staff-pass-w0rd", "csrf_token": token})
    page = other.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert "Printer on fire" in page  # the ticket is there ...
    assert link not in page and "Import into knowledgebase" not in text_of(page)  # ... the link is not
    assert other.get(f"/admin/knowledgebase/import/{trackid}").status_code == 403


def test_new_ticket_and_reply_forms_suggest_articles_to_insert(app, client, admin, login, make_ticket):
    with app.app_context():
        article_id = kb.create_article(title="Paper jam in the printer", content="Open the **front tray**.").id
    trackid = make_ticket(subject="Paper jam again")
    login()
    for url in ("/admin/tickets/new", f"/admin/tickets/{trackid}"):
        page = client.get(url).get_data(as_text=True)
        assert 'data-suggest-url="/admin/knowledgebase/suggest"' in page, url
        assert 'data-suggest-insert="1"' in page and 'data-suggest-link-label="Insert link"' in page, url
        assert 'data-suggest-text-label="Insert text"' in page and "/static/js/kb-suggest.js" in page, url
    assert 'data-suggest-with="#subject"' in client.get("/admin/tickets/new").get_data(as_text=True)
    view = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert 'id="kb-reply-context" value="Paper jam again"' in view  # the ticket's subject starts the search
    # what the buttons insert: the customer link and the article as text
    found = client.get("/admin/knowledgebase/suggest?q=paper+jam+printer").get_json()["articles"]
    assert found[0]["id"] == article_id and found[0]["link"].endswith(f"/knowledgebase/article/{article_id}")
    assert found[0]["text"] == "Open the front tray."
    with app.app_context():
        settings.save({"kb_enable": 0})
    for url in ("/admin/tickets/new", f"/admin/tickets/{trackid}"):
        page = client.get(url).get_data(as_text=True)
        assert "data-suggest-url" not in page and "kb-suggest.js" not in page, url
