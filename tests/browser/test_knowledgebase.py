"""In Chromium: a staff member writes a knowledgebase article through the real form; a customer sees it
suggested while typing in the knowledgebase search box (static/js/kb-suggest.js), searches for it, opens
it and rates it once. Screenshots of every step, desktop and phone."""
from __future__ import annotations

import os
import re

import pytest

from hesk_py.extensions import db
from hesk_py.models import KbArticle
from hesk_py.services import knowledgebase as kb
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

TITLE = "How to clear a paper jam"
CONTENT = """Paper jams happen when the **paper tray** is overfilled.

1. Switch the printer off.
2. Open the front cover and pull the jammed paper out slowly.
3. Close the cover and switch the printer on.

See also the [manufacturer's guide](https://example.com/printer-guide).
"""


@pytest.fixture
def shelves(app, admin):
    with app.app_context():
        printers = kb.create_category("Printers", 1, True)
        kb.create_article(title="Replacing the toner", category_id=printers.id,
                          content="Lift the lid and swap the toner cartridge.")
        kb.create_article(title="Wireless network drops", content="Move closer to the access point.")
        return printers.id


def _shooter(request):
    """Screenshots of a second page (the customer's browser), named like the ``screenshot`` fixture's."""
    db_kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"

    def shoot(p, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{db_kind}-{name}.png"
        p.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    return shoot


def test_staff_write_customer_finds_reads_and_rates(app, live_server, page, browser, shelves, screenshot,
                                                      request):
    base = live_server.url
    shoot = _shooter(request)
    page.set_viewport_size({"width": 1280, "height": 900})

    # staff: log in and write the article
    page.goto(base + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")
    page.click("nav.menu >> text=Knowledgebase")
    page.wait_for_url(base + "/admin/knowledgebase/")
    screenshot("1-staff-tree")
    page.click("a:has-text('New article')")
    page.fill("#title", TITLE)
    page.fill("#content", CONTENT)
    page.fill("#keywords", "jam stuck paper")
    page.select_option("#category_id", str(shelves))
    page.check("input[name=type][value=published]")
    screenshot("2-staff-new-article")
    page.click("button:has-text('Save article')")
    page.wait_for_url(re.compile(r".*/admin/knowledgebase/view/article/\d+$"))
    assert page.locator(".kb-content strong").inner_text() == "paper tray"
    assert page.locator(".kb-content ol li").count() == 3
    article_id = int(page.url.rsplit("/", 1)[1])
    screenshot("3-staff-view")

    # customer: another browser, no staff session
    customer_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    customer = customer_ctx.new_page()
    customer.goto(base + "/knowledgebase")
    assert "Printers" in customer.locator(".kb-grid").first.inner_text()
    box = customer.locator("#kb-search-q")
    box.click()
    box.type("paper jam in my print", delay=30)  # suggestions while typing
    suggestion = customer.locator("#kb-search-suggest a", has_text=TITLE)
    suggestion.wait_for(timeout=10000)
    assert customer.locator("#kb-search-suggest").is_visible()
    assert customer.locator("#kb-search-suggest .kb-suggest-title").inner_text() == "Matching articles"
    shoot(customer, "4-customer-suggested")
    box.press("Enter")
    customer.wait_for_url(re.compile(r".*/knowledgebase/search\?q=.*"))
    first = customer.locator("ol.kb-results li").first
    assert TITLE in first.inner_text()
    assert customer.locator("ol.kb-results mark").count() >= 2
    shoot(customer, "5-customer-search")
    first.locator("a.kb-item-title").click()
    customer.wait_for_url(base + f"/knowledgebase/article/{article_id}")
    assert customer.locator("h1").inner_text() == TITLE
    assert customer.locator(".kb-content a[href='https://example.com/printer-guide']").get_attribute("rel") \
        == "noopener noreferrer nofollow"
    shoot(customer, "6-customer-article")

    # rate it: once
    customer.click(".kb-rate button:has-text('Yes')")
    customer.wait_for_url(base + f"/knowledgebase/article/{article_id}")
    assert "Thank you for your feedback." in customer.locator(".notice").inner_text()
    assert "You have rated this article" in customer.locator(".kb-rate").inner_text()
    assert customer.locator(".kb-rate button").count() == 0
    customer.reload()
    assert customer.locator(".kb-rate button").count() == 0
    shoot(customer, "7-customer-rated")

    # on a phone: nothing overflows sideways
    customer.set_viewport_size({"width": 375, "height": 740})
    customer.reload()
    assert customer.evaluate("document.documentElement.scrollWidth") <= 375
    shoot(customer, "8-customer-phone")
    customer_ctx.close()

    with app.app_context():
        article = db.session.get(KbArticle, article_id)
        assert (article.votes, article.helpful_votes) == (1, 1)
        assert article.views >= 1
        db.session.rollback()

    # staff see the vote
    page.goto(base + f"/admin/knowledgebase/view/article/{article_id}")
    assert "5.0 of 5 (1 vote, 1 found it helpful)" in page.locator(".kb-rating").inner_text()
    screenshot("9-staff-sees-rating")


def test_customer_sees_an_article_suggested_while_typing_a_ticket(app, live_server, page, shelves, screenshot):
    """The submit form asks /suggest_articles as the customer types; the articles shown go with the ticket,
    and staff see them on the ticket."""
    from sqlalchemy import select

    from hesk_py import settings
    from hesk_py.models import Ticket

    with app.app_context():
        settings.save({"secimg_use": 0, "question_use": True, "spam_min_fill_seconds": 0, "flood": 0})
        jam_id = kb.create_article(title=TITLE, category_id=shelves, content=CONTENT, keywords="jam stuck paper").id
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/submit_ticket?category=1")
    page.fill("#name", "Casey Customer")
    page.fill("#email", "casey@example.com")
    page.fill("#subject", "Printer problem")
    page.fill("#question", "PB6YM")  # the anti-spam question's default answer
    box = page.locator("#message")
    box.click()
    box.type("The paper is stuck, a paper jam again", delay=20)
    suggestion = page.locator("#kb-suggestions a", has_text=TITLE)
    suggestion.wait_for(timeout=10000)
    assert page.locator("#kb-suggestions").is_visible()
    assert "Suggested knowledgebase articles" in page.locator("#kb-suggestions .kb-suggest-title").inner_text()
    assert suggestion.get_attribute("href") == f"/knowledgebase/article/{jam_id}"
    assert page.locator(f"form.ticket-form input[type=hidden][name=suggested][value='{jam_id}']").count() == 1
    screenshot("1-suggested-while-typing")
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot("2-suggested-phone")
    page.click("button:has-text('Submit ticket')")
    page.wait_for_url(base + "/submit_ticket/done")
    trackid = page.inner_text("strong.trackid")
    with app.app_context():
        assert db.session.scalars(select(Ticket.suggested_articles).where(Ticket.trackid == trackid)).one() \
            == [jam_id]
        db.session.rollback()
    # staff see what the customer was offered
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")
    page.goto(base + f"/admin/tickets/{trackid}")
    assert TITLE in page.locator(".suggested-articles").inner_text()
    screenshot("3-staff-sees-suggested")
