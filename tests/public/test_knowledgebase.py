"""The customer knowledgebase pages over HTTP: the main page, categories, articles, rating once per
visitor, search, suggestions, downloads, the settings that shape them, and what customers must never see."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import KbArticle, KbVote
from hesk_py.services import knowledgebase as kb
from tests.conftest import csrf_token_from
from tests.hesk_py.services.test_knowledgebase import PAYLOADS, PNG, Upload, assert_safe
from tests.public.conftest import text_of

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"}


@pytest.fixture
def kbase(app):
    """A small knowledgebase: public and private categories, a subcategory, every article type."""
    with app.app_context():
        printers = kb.create_category("Printers", 1, True)
        network = kb.create_category("Network", 1, True)
        lan = kb.create_category("Cables and ports", network.id, True)
        internal = kb.create_category("Internal notes", 1, False)
        ids = {
            "printers": printers.id, "network": network.id, "lan": lan.id, "internal": internal.id,
            "jam": kb.create_article(title="Paper jam in the printer", category_id=printers.id,
                                     content="Open the **front tray** and pull the jammed paper out slowly.",
                                     keywords="tray jam", files=[Upload("tray.png", PNG)]).id,
            "toner": kb.create_article(title="Replacing the printer toner", category_id=printers.id,
                                       content="Lift the lid and swap the toner cartridge.").id,
            "sticky": kb.create_article(title="Printer safety first", category_id=printers.id, sticky=True,
                                        content="Switch the printer off before opening it.").id,
            "wifi": kb.create_article(title="Wireless connection drops", category_id=network.id,
                                      content="Move closer to the access point.").id,
            "cable": kb.create_article(title="Which network cable to use", category_id=lan.id,
                                       content="Use a category 6 network cable.").id,
            "private": kb.create_article(title="Printer admin password", category_id=printers.id,
                                         type=kb.ARTICLE_PRIVATE, content="Secret printer admin code.").id,
            "draft": kb.create_article(title="Printer draft notes", category_id=printers.id, type=kb.ARTICLE_DRAFT,
                                       content="Half-written printer notes.").id,
            "hidden": kb.create_article(title="Printer vendor contract", category_id=internal.id,
                                        content="Published printer text in a private category.",
                                        files=[Upload("contract.png", PNG)]).id,
        }
        ids["jam_att"] = kb.get_article(ids["jam"], kb.CUSTOMERS, attachments=True).attachments[0].id
        ids["hidden_att"] = kb.get_article(ids["hidden"], kb.STAFF, attachments=True).attachments[0].id
    return ids


NEVER_SHOWN = ("Printer admin password", "Secret printer admin code", "Printer draft notes", "Half-written",
               "Printer vendor contract", "Internal notes", "Published printer text in a private category")


def assert_nothing_private(body: str) -> None:
    leaked = [s for s in NEVER_SHOWN if s in body]
    assert not leaked, leaked


# --- pages and settings ------------------------------------------------------------------------------

def test_main_page_lists_public_categories_with_previews_popular_and_latest(client, kbase):
    body = client.get("/knowledgebase").get_data(as_text=True)
    assert "Printers" in body and "Network" in body
    assert f'href="/knowledgebase/category/{kbase["printers"]}"' in body
    assert "kb-cols-2" in body  # kb_cols default
    assert "Top articles" in body and "Latest articles" in body
    assert "Paper jam in the printer" in body
    assert_nothing_private(body)


def test_kb_cols_numshow_popart_and_latest_take_effect(app, client, kbase):
    with app.app_context():
        settings.save({"kb_cols": 3, "kb_numshow": 1, "kb_popart": 0, "kb_latest": 0})
    body = client.get("/knowledgebase").get_data(as_text=True)
    assert "kb-cols-3" in body
    assert "Top articles" not in body and "Latest articles" not in body
    printers_box = body.split(f'/knowledgebase/category/{kbase["printers"]}"', 1)[1].split("</section>", 1)[0]
    # one preview (the sticky article comes first) and a link to the rest
    assert "Printer safety first" in printers_box
    assert "Paper jam in the printer" not in printers_box and "Replacing the printer toner" not in printers_box
    assert "More topics" in printers_box


def test_category_page_lists_subcategories_and_sticky_articles_first(client, kbase):
    body = client.get(f"/knowledgebase/category/{kbase['printers']}").get_data(as_text=True)
    titles = re.findall(r'class="kb-item-title" href="/knowledgebase/article/\d+">([^<]+)<', body)
    assert titles == ["Printer safety first", "Paper jam in the printer", "Replacing the printer toner"]
    assert_nothing_private(body)
    body = client.get(f"/knowledgebase/category/{kbase['network']}").get_data(as_text=True)
    assert "Cables and ports" in body and "Wireless connection drops" in body
    assert client.get("/knowledgebase/category/1").status_code == 302


def test_private_categories_drafts_and_private_articles_answer_404(client, kbase):
    for url in (f"/knowledgebase/category/{kbase['internal']}", f"/knowledgebase/article/{kbase['private']}",
                f"/knowledgebase/article/{kbase['draft']}", f"/knowledgebase/article/{kbase['hidden']}",
                f"/knowledgebase/attachment/{kbase['hidden_att']}", "/knowledgebase/article/99999",
                "/knowledgebase/category/99999", "/knowledgebase/attachment/99999"):
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert_nothing_private(resp.get_data(as_text=True))


def test_a_public_category_inside_a_private_one_is_private(app, client, kbase):
    with app.app_context():
        kb.update_category(kbase["network"], "Network", 1, False)
    assert client.get(f"/knowledgebase/category/{kbase['lan']}").status_code == 404
    assert client.get(f"/knowledgebase/article/{kbase['cable']}").status_code == 404
    assert "Which network cable" not in client.get("/knowledgebase/search?q=cable").get_data(as_text=True)


def test_article_page_shows_content_attachments_details_and_related(app, client, kbase):
    with app.app_context():
        settings.save({"kb_views": True, "kb_date": True})
    resp = client.get(f"/knowledgebase/article/{kbase['jam']}", headers=BROWSER)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<strong>front tray</strong>" in body
    assert f'/knowledgebase/attachment/{kbase["jam_att"]}' in body and "tray.png" in body
    assert "Date added" in body and re.search(r"\d{4}-\d{2}-\d{2}", body)
    assert re.search(r'class="kb-views">1<', body)
    assert "Related articles" in body and "Replacing the printer toner" in body
    assert "Was this article helpful?" in body
    assert_nothing_private(body)


def test_views_and_dates_are_hidden_unless_enabled_and_related_can_be_turned_off(app, client, kbase):
    with app.app_context():
        settings.save({"kb_related": 0})
    body = client.get(f"/knowledgebase/article/{kbase['jam']}", headers=BROWSER).get_data(as_text=True)
    assert "kb-views" not in body and "Date added" not in body and "Related articles" not in body


def test_views_are_counted_for_people_not_bots(app, client, kbase):
    url = f"/knowledgebase/article/{kbase['toner']}"
    client.get(url, headers=BROWSER)
    client.get(url, headers=BROWSER)
    client.get(url, headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    client.get(url, headers={"User-Agent": ""})
    with app.app_context():
        assert db.session.get(KbArticle, kbase["toner"]).views == 2


def test_attachment_downloads_as_a_file(client, kbase):
    resp = client.get(f"/knowledgebase/attachment/{kbase['jam_att']}")
    assert resp.status_code == 200 and resp.data == PNG
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "tray.png" in resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_knowledgebase_off_means_404_everywhere(app, client, kbase):
    with app.app_context():
        settings.save({"kb_enable": 0})
    for url in ("/knowledgebase", f"/knowledgebase/category/{kbase['printers']}",
                f"/knowledgebase/article/{kbase['jam']}", "/knowledgebase/search?q=printer",
                "/suggest_articles?q=printer", f"/knowledgebase/attachment/{kbase['jam_att']}"):
        assert client.get(url).status_code == 404, url


def test_knowledgebase_only_mode_keeps_the_knowledgebase(app, client, kbase):
    with app.app_context():
        settings.save({"kb_enable": 2})
    assert client.get("/knowledgebase").status_code == 200
    assert client.get("/").headers.get("Location", "").endswith("/knowledgebase")


def test_maintenance_mode_covers_the_knowledgebase(app, client, kbase):
    with app.app_context():
        settings.save({"maintenance_mode": True})
    assert client.get("/knowledgebase").status_code == 503
    assert client.get(f"/knowledgebase/article/{kbase['jam']}").status_code == 503


# --- rating ------------------------------------------------------------------------------------------

def _rate(client, article_id, value, token=None):
    if token is None:
        token = csrf_token_from(client.get(f"/knowledgebase/article/{article_id}", headers=BROWSER)
                                .get_data(as_text=True))
    return client.post(f"/knowledgebase/article/{article_id}/rate", data={"rating": value, "csrf_token": token},
                       headers=BROWSER)


def test_a_visitor_rates_an_article_once(app, client, kbase):
    resp = _rate(client, kbase["jam"], "5")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/knowledgebase/article/{kbase['jam']}")
    page = client.get(resp.headers["Location"], headers=BROWSER).get_data(as_text=True)
    assert "Thank you for your feedback." in page
    assert "You have rated this article" in page and 'name="rating"' not in page
    assert "5.0 of 5 (1 vote, 1 found it helpful)" in page
    with app.app_context():
        row = db.session.get(KbArticle, kbase["jam"])
        assert (row.votes, row.helpful_votes) == (1, 1)


def test_a_second_vote_from_the_same_visitor_is_refused(app, client, kbase):
    token = csrf_token_from(client.get(f"/knowledgebase/article/{kbase['toner']}", headers=BROWSER)
                            .get_data(as_text=True))
    assert _rate(client, kbase["toner"], "5", token=token).status_code == 303
    resp = _rate(client, kbase["toner"], "1", token=token)
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"], headers=BROWSER).get_data(as_text=True)
    assert "You have already rated this article." in page
    with app.app_context():
        row = db.session.get(KbArticle, kbase["toner"])
        assert (row.votes, row.helpful_votes) == (1, 1)
        assert db.session.scalar(select(func.count()).select_from(KbVote)) == 1


def test_other_visitors_vote_and_a_forged_cookie_is_no_new_visitor(app, kbase):
    first, second = app.test_client(), app.test_client()
    assert _rate(first, kbase["wifi"], "5").status_code == 303
    assert _rate(second, kbase["wifi"], "1").status_code == 303  # another browser: its own vote
    # a made-up visitor cookie is ignored: the visitor is then the address alone, and votes once
    third = app.test_client()
    token = csrf_token_from(third.get(f"/knowledgebase/article/{kbase['wifi']}", headers=BROWSER)
                            .get_data(as_text=True))
    for forged in ("forged-1", "forged-2"):
        third.set_cookie("hesk_kb_visitor", forged)
        _rate(third, kbase["wifi"], "1", token=token)
    with app.app_context():
        row = db.session.get(KbArticle, kbase["wifi"])
        assert (row.votes, row.helpful_votes) == (3, 1)


def test_rating_needs_csrf_a_valid_answer_and_post(app, client, kbase):
    url = f"/knowledgebase/article/{kbase['jam']}/rate"
    client.get(f"/knowledgebase/article/{kbase['jam']}", headers=BROWSER)
    assert client.post(url, data={"rating": "5"}).status_code == 400
    token = csrf_token_from(client.get(f"/knowledgebase/article/{kbase['jam']}").get_data(as_text=True))
    assert client.post(url, data={"rating": "3", "csrf_token": token}).status_code == 400
    assert client.get(url).status_code == 405
    assert client.post(f"/knowledgebase/article/{kbase['private']}/rate",
                       data={"rating": "5", "csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(KbVote)) == 0


def test_rating_off_hides_the_question(app, client, kbase):
    with app.app_context():
        settings.save({"kb_rating": False})
    body = client.get(f"/knowledgebase/article/{kbase['jam']}").get_data(as_text=True)
    assert "Was this article helpful?" not in body
    token = csrf_token_from(client.get("/admin/login").get_data(as_text=True))
    assert client.post(f"/knowledgebase/article/{kbase['jam']}/rate",
                       data={"rating": "5", "csrf_token": token}).status_code == 404


# --- search and suggestions ---------------------------------------------------------------------------

def test_search_finds_highlights_and_hides_private(client, kbase):
    body = client.get("/knowledgebase/search?q=jammed+paper").get_data(as_text=True)
    assert "<mark>Paper</mark> jam in the printer" in body
    assert "pull the <mark>jammed</mark> <mark>paper</mark> out" in body
    body = client.get("/knowledgebase/search?q=printer").get_data(as_text=True)
    assert "Paper jam in the <mark>printer</mark>" in body
    assert "3 articles found" in text_of(body)
    assert_nothing_private(text_of(body))


def test_search_escapes_the_query(client, kbase):
    body = client.get("/knowledgebase/search?q=%3Cscript%3Ealert(1)%3C/script%3E+printer").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_search_limit_preview_length_and_short_words(app, client, kbase):
    with app.app_context():
        settings.save({"kb_search_limit": 1, "kb_substrart": 20})
    body = client.get("/knowledgebase/search?q=printer").get_data(as_text=True)
    assert len(re.findall(r'class="kb-item-title"', body)) == 1
    previews = re.findall(r'<p class="kb-item-preview">(.*?)</p>', body, re.S)
    assert previews and all(len(text_of(p).strip()) <= 22 for p in previews)
    body = text_of(client.get("/knowledgebase/search?q=ip+to").get_data(as_text=True))
    assert "Not searched (too short or too common): ip, to" in body
    assert "Type at least one word of 3 or more letters." in body


def test_search_can_be_turned_off(app, client, kbase):
    with app.app_context():
        settings.save({"kb_search": 0})
    assert client.get("/knowledgebase/search?q=printer").status_code == 404
    assert 'action="/knowledgebase/search"' not in client.get("/knowledgebase").get_data(as_text=True)
    with app.app_context():
        settings.save({"kb_search": 1})
    assert "kb-search-small" in client.get("/knowledgebase").get_data(as_text=True)


def test_search_in_cyrillic_over_http(app, client):
    with app.app_context():
        article_id = kb.create_article(title="Принтер не друкує", content="Перевірте кабель принтера.").id
    body = client.get("/knowledgebase/search?q=%D0%9A%D0%90%D0%91%D0%95%D0%9B%D0%AC").get_data(as_text=True)
    assert f"/knowledgebase/article/{article_id}" in body
    assert "<mark>кабель</mark>" in body


def test_suggestions_json(app, client, kbase):
    resp = client.get("/suggest_articles?q=My+printer+has+a+paper+jam+in+the+tray")
    assert resp.status_code == 200 and resp.is_json
    assert resp.headers["Cache-Control"] == "no-store"
    articles = resp.get_json()["articles"]
    # (the order among close scores follows the index's statistics, which differ between databases)
    jam = next(a for a in articles if a["id"] == kbase["jam"])
    assert jam == {"id": kbase["jam"], "title": "Paper jam in the printer",
                   "url": f"/knowledgebase/article/{kbase['jam']}",
                   "preview": "Open the front tray and pull the jammed paper out slowly."}
    assert {a["id"] for a in articles} <= {kbase[k] for k in ("jam", "toner", "sticky", "wifi", "cable")}
    assert_nothing_private(resp.get_data(as_text=True))
    assert client.get("/suggest_articles?q=").get_json() == {"articles": []}
    assert client.get("/suggest_articles").get_json() == {"articles": []}
    with app.app_context():
        settings.save({"kb_recommendanswers": False})
    assert client.get("/suggest_articles?q=printer+paper+jam").get_json() == {"articles": []}


def test_suggestions_drop_weak_matches(app, client, kbase):
    with app.app_context():
        weak = kb.create_article(title="Scanner glass cleaning", content=(
            "Wipe the scanner glass with a soft cloth. A fresh installation of software is rarely needed. " * 3))
        strong = kb.create_article(title="Printer driver installation", keywords="printer driver", content=(
            "Install the printer driver: download the printer driver, run the installer, restart the printer."))
        weak_id, strong_id = weak.id, strong.id
        assert weak_id in {h.article.id for h in kb.search("printer driver installation", 10)}
    ids = [a["id"] for a in client.get("/suggest_articles?q=printer+driver+installation").get_json()["articles"]]
    assert ids[0] == strong_id and weak_id not in ids


# --- stored XSS -----------------------------------------------------------------------------------------

def test_article_payloads_reach_customers_harmless(app, client):
    with app.app_context():
        article_id = kb.create_article(title='Title <script>alert("t")</script>', content="\n\n".join(PAYLOADS),
                                       keywords='"><script>alert(1)</script>').id
    resp = client.get(f"/knowledgebase/article/{article_id}", headers=BROWSER)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    content = body.split('<div class="kb-content">', 1)[1].split("</div>", 1)[0]
    assert_safe(content)
    assert 'Title &lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;' in body
    assert "<script>alert" not in body
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    for url in ("/knowledgebase/search?q=title+script", "/knowledgebase", "/suggest_articles?q=title+script"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page, url
    # suggestions are data: escaped in the JSON text, intact once decoded (the script inserts them as text)
    suggested = client.get("/suggest_articles?q=title+script").get_json()["articles"]
    assert suggested[0]["title"] == 'Title <script>alert("t")</script>'


def test_home_page_lists(app, kbase):
    """The partial the home page includes: top and latest articles, public only."""
    from flask import render_template

    with app.app_context():
        settings.save({"kb_index_latest": 3})
    with app.test_request_context("/"):
        html = render_template("public/knowledgebase/_home.html")
    assert "Top articles" in html and "Latest articles" in html and "Paper jam in the printer" in html
    assert_nothing_private(html)


def test_home_page_shows_top_and_latest_articles_when_the_knowledgebase_is_on(app, client, kbase):
    with app.app_context():
        settings.save({"kb_index_popart": 2, "kb_index_latest": 3})
    html = client.get("/").get_data(as_text=True)
    text = text_of(html)
    assert "Top articles" in text and "Latest articles" in text
    assert f'href="/knowledgebase/article/{kbase["cable"]}"' in html  # the newest public article
    assert "View the entire knowledgebase" in text
    assert_nothing_private(html)
    with app.app_context():  # each list off by its own setting
        settings.save({"kb_index_popart": 0})
    text = text_of(client.get("/").get_data(as_text=True))
    assert "Top articles" not in text and "Latest articles" in text
    with app.app_context():  # the knowledgebase off: neither list
        settings.save({"kb_index_popart": 2, "kb_enable": 0})
    text = text_of(client.get("/").get_data(as_text=True))
    assert "Top articles" not in text and "Latest articles" not in text and "Paper jam" not in text


def test_article_with_two_files_lists_both(app, client):
    with app.app_context():
        article_id = kb.create_article(title="Two files", content="x",
                                       files=[Upload("a.png", PNG), Upload("notes.txt", b"plain notes\n")]).id
    body = client.get(f"/knowledgebase/article/{article_id}").get_data(as_text=True)
    assert "a.png" in body and "notes.txt" in body
