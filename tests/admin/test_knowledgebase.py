"""Staff knowledgebase pages: permissions on every route, the category tree, categories and articles
through their real forms, history, resets, ordering, the staff view, imports from tickets and the staff
suggestions. On SQLite and MariaDB."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import KbArticle, KbArticleRevision, KbAttachment, KbCategory, Ticket, User
from hesk_py.services import knowledgebase as kb
from tests.conftest import csrf_token_from
from tests.hesk_py.services.test_knowledgebase import PNG, Upload
from tests.public.conftest import text_of


def words(html: str) -> str:
    """The page's text with single spaces, as a person reads it."""
    return " ".join(text_of(html).split())

# Routes any staff member who answers tickets may use; everything else needs can_man_kb.
READER_ENDPOINTS = {
    "admin.knowledgebase.view", "admin.knowledgebase.view_category", "admin.knowledgebase.view_article",
    "admin.knowledgebase.view_search", "admin.knowledgebase.attachment", "admin.knowledgebase.suggest",
}


@pytest.fixture
def content(app, admin):
    with app.app_context():
        author = db.session.get(User, admin)
        cat = kb.create_category("Printers", 1, True)
        secret = kb.create_category("Internal", 1, False)
        ids = {
            "cat": cat.id, "secret": secret.id,
            "public": kb.create_article(title="Paper jam", content="Open the tray.\n\nPull the paper.",
                                        category_id=cat.id, author=author,
                                        files=[Upload("tray.png", PNG)]).id,
            "private": kb.create_article(title="Printer admin code", content="The code is 4321.",
                                         category_id=cat.id, type=kb.ARTICLE_PRIVATE, author=author).id,
            "draft": kb.create_article(title="Printer draft", content="Unfinished.", category_id=cat.id,
                                       type=kb.ARTICLE_DRAFT, author=author).id,
            "internal": kb.create_article(title="Printer contract", content="Internal printer text.",
                                          category_id=secret.id, author=author).id,
        }
        ids["att"] = db.session.scalar(select(KbAttachment.id).where(KbAttachment.article_id == ids["public"]))
    return ids


def _post(client, url, data=None, *, page=None, **kw):
    """Post a form the way a browser does: the CSRF token comes from the page it is on."""
    token = csrf_token_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kw)


# --- permissions ------------------------------------------------------------------------------------

def _kb_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.knowledgebase."):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method


def _url(app, rule, ids):
    values = {}
    for name in rule.arguments:
        values[name] = {"category_id": ids["cat"], "article_id": ids["public"], "revision_id": 1,
                        "attachment_id": ids["att"], "trackid": ids.get("trackid", "AAA-AAA-AAAA")}[name]
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_managing_needs_can_man_kb_and_reading_needs_ticket_rights(app, client, content, make_user, login,
                                                                      make_ticket):
    content["trackid"] = make_ticket()
    make_user("answerer", features=["can_view_tickets", "can_reply_tickets"], category_ids=[1])
    login("answerer")
    token = csrf_token_from(client.get("/admin/profile").get_data(as_text=True))
    routes = list(_kb_routes(app))
    assert len(routes) >= 25
    for rule, method in routes:
        url = _url(app, rule, content)
        resp = client.get(url) if method == "GET" else client.open(url, method=method, data={"csrf_token": token})
        if rule.endpoint in READER_ENDPOINTS:
            assert resp.status_code == 200, (method, url, resp.status_code)
        else:
            assert resp.status_code == 403, (method, url, resp.status_code)
    with app.app_context():  # nothing was changed by the refused posts
        assert db.session.get(KbArticle, content["public"]) is not None
        assert db.session.get(KbCategory, content["cat"]) is not None


def test_staff_without_rights_and_strangers_are_turned_away(app, content, make_user):
    make_user("norights", features=[], category_ids=[])
    stranger = app.test_client()
    staff = app.test_client()
    page = staff.get("/admin/login").get_data(as_text=True)
    staff.post("/admin/login", data={"username": "norights", "password": "Staff-pass-w0rd",
                                     "csrf_token": csrf_token_from(page)})
    for rule, method in _kb_routes(app):
        if method != "GET":
            continue
        url = _url(app, rule, content)
        resp = stranger.get(url)
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"], url
        assert staff.get(url).status_code in (403, 404), url


# --- the tree and categories ------------------------------------------------------------------------

def test_tree_shows_counts_per_type_and_marks_private(client, login, content):
    login()
    body = client.get("/admin/knowledgebase/").get_data(as_text=True)
    row = body.split(f'id="kb-cat-{content["cat"]}"', 1)[1].split("</li>", 1)[0]
    assert "Printers" in row and "1 / 1 / 1" in row  # published / private / draft
    secret_row = body.split(f'id="kb-cat-{content["secret"]}"', 1)[1].split("</li>", 1)[0]
    assert "* Private" in secret_row and "1 / 0 / 0" in secret_row
    assert "Knowledgebase" in body


def test_create_edit_and_order_categories_through_the_forms(app, client, login, content):
    login()
    resp = _post(client, "/admin/knowledgebase/category/new", {"name": "Scanners", "parent_id": "1",
                                                                "is_public": "0"})
    assert resp.status_code == 303
    with app.app_context():
        scanners = db.session.scalar(select(KbCategory).where(KbCategory.name == "Scanners"))
        assert scanners.parent_id == 1 and scanners.is_public is False
        scanners_id = scanners.id
    child = _post(client, "/admin/knowledgebase/category/new", {"name": "Flatbed", "parent_id": str(scanners_id),
                                                                 "is_public": "1"})
    assert child.status_code == 303
    with app.app_context():
        flatbed_id = db.session.scalar(select(KbCategory.id).where(KbCategory.name == "Flatbed"))
    # a category cannot move inside its own subcategory: the choice is not even offered
    resp = _post(client, f"/admin/knowledgebase/category/{scanners_id}/edit",
                 {"name": "Scanners", "parent_id": str(flatbed_id), "is_public": "1"})
    assert resp.status_code == 400 and "Not a valid choice" in resp.get_data(as_text=True)
    resp = _post(client, f"/admin/knowledgebase/category/{scanners_id}/edit",
                 {"name": "Scanners and copiers", "parent_id": str(content["cat"]), "is_public": "1"})
    assert resp.status_code == 303
    with app.app_context():
        row = db.session.get(KbCategory, scanners_id)
        assert (row.name, row.parent_id, row.is_public) == ("Scanners and copiers", content["cat"], True)
    # order: "Internal" moves above "Printers"
    resp = _post(client, f"/admin/knowledgebase/category/{content['secret']}/move",
                 {"direction": "up", "next": "/admin/knowledgebase/"}, page="/admin/knowledgebase/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/knowledgebase/")
    with app.app_context():
        assert [c.name for c in kb.catalogue().subcategories(1, kb.MANAGERS)] == ["Internal", "Printers"]


def test_a_bad_category_form_comes_back_with_messages(client, login, admin):
    login()
    resp = _post(client, "/admin/knowledgebase/category/new", {"name": "", "parent_id": "1", "is_public": "1"})
    assert resp.status_code == 400
    assert "This field is required." in resp.get_data(as_text=True)
    resp = _post(client, "/admin/knowledgebase/category/new", {"name": "x" * 300, "parent_id": "1",
                                                                "is_public": "1"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "x" * 300 in body


def test_deleting_a_category_asks_first_then_moves_or_deletes(app, client, login, content):
    login()
    url = f"/admin/knowledgebase/category/{content['cat']}/delete"
    page = client.get(url).get_data(as_text=True)
    assert "It holds 3 articles." in text_of(page) and "Move them to the parent category" in page
    with app.app_context():  # nothing happened on GET
        assert db.session.get(KbCategory, content["cat"]) is not None
    assert _post(client, url, {"articles": "move"}).status_code == 303
    with app.app_context():
        assert db.session.get(KbCategory, content["cat"]) is None
        assert db.session.get(KbArticle, content["public"]).category_id == 1
    url = f"/admin/knowledgebase/category/{content['secret']}/delete"
    assert _post(client, url, {"articles": "delete"}).status_code == 303
    with app.app_context():
        assert db.session.get(KbArticle, content["internal"]) is None
    # the root cannot be deleted
    assert client.get("/admin/knowledgebase/category/1/delete").status_code == 302
    with app.app_context():
        assert db.session.get(KbCategory, 1) is not None


# --- articles ---------------------------------------------------------------------------------------

def test_write_an_article_with_a_file_and_customers_read_it(app, client, login, content):
    login()
    url = "/admin/knowledgebase/article/new"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    resp = client.post(url, data={
        "csrf_token": token, "title": "Clean the rollers", "content": "Use a **damp** cloth.\n\n- one\n- two",
        "keywords": "rollers cleaning", "type": "published", "category_id": str(content["cat"]),
        "attachments": [(io.BytesIO(PNG), "rollers.png")],
    }, content_type="multipart/form-data")
    assert resp.status_code == 303
    with app.app_context():
        article = db.session.scalar(select(KbArticle).where(KbArticle.title == "Clean the rollers"))
        assert article.author.username == "admin" and len(article.attachments) == 1
        revs = kb.revisions(article.id)
        assert [(r.action, r.user_name) for r in revs] == [("created", "Ada Admin")]
        article_id = article.id
    staff_page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "<strong>damp</strong>" in staff_page and "rollers.png" in staff_page
    customer = app.test_client()
    public = customer.get(f"/knowledgebase/article/{article_id}").get_data(as_text=True)
    assert "Clean the rollers" in public and "<li>one</li>" in public
    assert "Clean the rollers" in words(customer.get("/knowledgebase/search?q=rollers").get_data(as_text=True))


def test_a_bad_article_form_keeps_what_was_typed(app, client, login, content):
    login()
    resp = _post(client, "/admin/knowledgebase/article/new", {
        "title": "", "content": "My carefully written text", "keywords": "kw", "type": "published",
        "category_id": str(content["cat"])})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "My carefully written text" in body and "This field is required." in body
    token = csrf_token_from(client.get("/admin/knowledgebase/article/new").get_data(as_text=True))
    resp = client.post("/admin/knowledgebase/article/new", data={
        "csrf_token": token, "title": "With a fake picture", "content": "Text kept", "type": "published",
        "category_id": str(content["cat"]),
        "attachments": [(io.BytesIO(b"<html><script>alert(1)</script></html>"), "fake.png")],
    }, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Text kept" in body and "fake.png" in body
    with app.app_context():
        assert db.session.scalar(select(KbArticle).where(KbArticle.title == "With a fake picture")) is None


def test_editing_keeps_a_history_with_who_and_when_and_restores(app, client, login, content, make_user):
    make_user("writer", name="Wanda Writer", features=["can_man_kb"])
    login("writer")
    url = f"/admin/knowledgebase/article/{content['public']}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "Open the tray." in page and "tray.png" in page
    resp = _post(client, url, {"title": "Paper jam (new)", "content": "Brand new text.", "keywords": "",
                               "type": "published", "category_id": str(content["cat"])})
    assert resp.status_code == 303
    history = client.get(f"/admin/knowledgebase/article/{content['public']}/history").get_data(as_text=True)
    text = text_of(history)
    assert "Modified" in text and "Wanda Writer" in text and "Written" in text and "Ada Admin" in text
    with app.app_context():
        first = kb.revisions(content["public"])[-1].id
    rev_page = client.get(f"/admin/knowledgebase/article/{content['public']}/revision/{first}")
    assert "Open the tray." in rev_page.get_data(as_text=True)
    resp = _post(client, f"/admin/knowledgebase/article/{content['public']}/revision/{first}/restore",
                 page=f"/admin/knowledgebase/article/{content['public']}/revision/{first}")
    assert resp.status_code == 303
    with app.app_context():
        article = db.session.get(KbArticle, content["public"])
        assert article.title == "Paper jam" and article.content.startswith("Open the tray.")
        assert [r.action for r in kb.revisions(article.id)][:2] == ["restored", "modified"]


def test_removing_an_attachment_while_editing(app, client, login, content):
    login()
    url = f"/admin/knowledgebase/article/{content['public']}/edit"
    resp = _post(client, url, {"title": "Paper jam", "content": "Open the tray.", "type": "published",
                               "category_id": str(content["cat"]), "remove_attachment": str(content["att"])})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(KbAttachment, content["att"]) is None


def test_reset_views_and_votes(app, client, login, content):
    with app.app_context():
        kb.count_view(content["public"], "Mozilla/5.0")
        kb.vote(content["public"], kb.visitor_id("c", "192.0.2.3"), True)
    login()
    view = f"/admin/knowledgebase/view/article/{content['public']}"
    assert client.get(f"/admin/knowledgebase/article/{content['public']}/reset_views").status_code == 405
    assert _post(client, f"/admin/knowledgebase/article/{content['public']}/reset_views", page=view).status_code == 303
    assert _post(client, f"/admin/knowledgebase/article/{content['public']}/reset_votes", page=view).status_code == 303
    with app.app_context():
        article = db.session.get(KbArticle, content["public"])
        assert (article.views, article.votes) == (0, 0)
        actions = [r.action for r in kb.revisions(article.id)]
        assert actions[:2] == ["votes_reset", "views_reset"]
    body = client.get(view).get_data(as_text=True)
    assert "Not rated yet" in body


def test_sticky_move_and_delete_buttons(app, client, login, content):
    with app.app_context():
        second = kb.create_article(title="Second", content="x", category_id=content["cat"]).id
    login()
    page = f"/admin/knowledgebase/category/{content['cat']}"

    def order():
        with app.app_context():
            return [a.title for a in kb.category_articles(content["cat"], kb.MANAGERS)]

    assert order() == ["Paper jam", "Printer admin code", "Printer draft", "Second"]
    resp = _post(client, f"/admin/knowledgebase/article/{second}/move", {"direction": "up", "next": page}, page=page)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(page)
    assert order() == ["Paper jam", "Printer admin code", "Second", "Printer draft"]
    _post(client, f"/admin/knowledgebase/article/{content['public']}/move", {"direction": "down", "next": page},
          page=page)
    assert order() == ["Printer admin code", "Paper jam", "Second", "Printer draft"]
    _post(client, f"/admin/knowledgebase/article/{second}/sticky", {"sticky": "1", "next": page}, page=page)
    assert order()[0] == "Second"
    # a redirect target from another site is ignored
    resp = _post(client, f"/admin/knowledgebase/article/{second}/move",
                 {"direction": "up", "next": "https://evil.example/"}, page=page)
    assert resp.headers["Location"].startswith("/admin/")
    confirm = client.get(f"/admin/knowledgebase/article/{second}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    assert _post(client, f"/admin/knowledgebase/article/{second}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(KbArticle, second) is None


# --- the staff view, lists, suggestions, downloads --------------------------------------------------------

def test_staff_view_marks_private_and_shows_drafts_to_managers_only(app, client, login, content, make_user):
    make_user("answerer", features=["can_view_tickets"], category_ids=[1])
    login("answerer")
    page = client.get(f"/admin/knowledgebase/view/category/{content['cat']}").get_data(as_text=True)
    assert "Paper jam" in page and "Printer admin code" in page and "* Private" in page
    assert "Printer draft" not in page
    assert client.get(f"/admin/knowledgebase/view/article/{content['draft']}").status_code == 404
    article = client.get(f"/admin/knowledgebase/view/article/{content['internal']}").get_data(as_text=True)
    assert "customers do not see it" in article
    search = words(client.get("/admin/knowledgebase/view/search?q=printer").get_data(as_text=True))
    assert "Printer admin code" in search and "Printer contract" in search and "Printer draft" not in search
    assert client.get(f"/admin/knowledgebase/attachment/{content['att']}").data == PNG
    manager = app.test_client()
    page = manager.get("/admin/login").get_data(as_text=True)
    manager.post("/admin/login", data={"username": "admin", "password": "Adm1n-pass-word",
                                       "csrf_token": csrf_token_from(page)})
    assert "Printer draft" in manager.get(f"/admin/knowledgebase/view/category/{content['cat']}").get_data(as_text=True)
    assert manager.get(f"/admin/knowledgebase/view/article/{content['draft']}").status_code == 200


def test_private_and_draft_lists(client, login, content):
    login()
    private = client.get("/admin/knowledgebase/private").get_data(as_text=True)
    drafts = client.get("/admin/knowledgebase/drafts").get_data(as_text=True)
    assert "Printer admin code" in private and "Printer draft" not in private
    assert "Printer draft" in drafts and "Paper jam" not in drafts


def test_staff_suggestions_offer_links_only_for_public_articles(client, login, content):
    login()
    resp = client.get("/admin/knowledgebase/suggest?q=printer+paper+code+tray")
    assert resp.status_code == 200 and resp.is_json
    by_id = {a["id"]: a for a in resp.get_json()["articles"]}
    assert content["draft"] not in by_id
    public, private = by_id[content["public"]], by_id[content["private"]]
    assert public["link"].endswith(f"/knowledgebase/article/{content['public']}")
    assert public["link"].startswith("http")
    assert public["text"] == "Open the tray.\n\nPull the paper."
    assert private["link"] == "" and private["title"].endswith("(private)")
    assert private["url"] == f"/admin/knowledgebase/view/article/{content['private']}"


def test_admin_menu_links_to_the_knowledgebase(client, login, content):
    login()
    body = client.get("/admin/knowledgebase/view").get_data(as_text=True)
    assert 'href="/admin/knowledgebase/"' in body


# --- import a ticket --------------------------------------------------------------------------------

def test_import_a_ticket_as_a_draft_with_a_private_data_warning(app, client, login, admin, make_ticket):
    trackid = make_ticket(subject="Scanner makes noise", message="It squeaks when it starts.",
                          email="private.person@example.com", name="Private Person")
    login()
    url = f"/admin/knowledgebase/import/{trackid}"
    page = client.get(url).get_data(as_text=True)
    assert "Private data warning" in page
    assert "Scanner makes noise" in page and "It squeaks when it starts." in page
    assert "private.person@example.com" not in page
    resp = _post(client, url, {"title": "Scanner makes noise", "content": "It squeaks when it starts.",
                               "type": "published", "category_id": "1"})
    assert resp.status_code == 400  # only "draft" is offered
    resp = _post(client, url, {"title": "Scanner makes noise", "content": "It squeaks when it starts.",
                               "type": "draft", "category_id": "1"})
    assert resp.status_code == 303
    with app.app_context():
        article = db.session.scalar(select(KbArticle).where(KbArticle.title == "Scanner makes noise"))
        assert article.type == kb.ARTICLE_DRAFT
        rev = db.session.scalar(select(KbArticleRevision).where(KbArticleRevision.article_id == article.id))
        assert (rev.action, rev.note) == ("imported", trackid)
        article_id = article.id
    assert app.test_client().get(f"/knowledgebase/article/{article_id}").status_code == 404


def test_import_follows_the_ticket_visibility_rule(app, client, login, make_ticket, make_user):
    from hesk_py.models import Category

    with app.app_context():
        db.session.add(Category(id=2, name="Billing", sort_order=20, is_public=True, default_priority_id=4))
        db.session.commit()
    billing = make_ticket(subject="Invoice question", category_id=2)
    general = make_ticket(subject="Printer question", category_id=1)
    make_user("kbwriter", features=["can_man_kb", "can_view_tickets", "can_view_unassigned"], category_ids=[1])
    login("kbwriter")
    assert client.get(f"/admin/knowledgebase/import/{general}").status_code == 200
    resp = client.get(f"/admin/knowledgebase/import/{billing}")
    assert resp.status_code == 404 and "Invoice question" not in resp.get_data(as_text=True)
    assert client.get("/admin/knowledgebase/import/NOT-A-TRACKID").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Ticket.subject).where(Ticket.trackid == billing)) == "Invoice question"
