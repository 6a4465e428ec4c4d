"""In Chromium: a customer files a ticket with an attachment, opens it again with the tracking ID and
email, replies, marks it resolved and reopens it; on a desktop and on a phone (375 px) screen."""
from __future__ import annotations

import re

import pytest

from hesk_py import settings
from tests.public.test_attachments import PNG

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def customer_settings(app):
    # the image CAPTCHA cannot be read by a test; the question (answer known) stays as the anti-spam step
    with app.app_context():
        settings.save({"secimg_use": 0, "question_use": True, "spam_min_fill_seconds": 1, "flood": 0})


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def _file_a_ticket(page, base, tmp_path, screenshot, prefix):
    shot = tmp_path / "screenshot.png"
    shot.write_bytes(PNG)
    page.goto(base + "/")
    screenshot(f"{prefix}-1-home")
    page.click("main >> text=Submit a ticket")
    page.wait_for_url(re.compile(r".*/submit_ticket.*"))
    page.fill("#name", "Casey Customer")
    page.fill("#email", "casey@example.com")
    page.fill("#subject", "The printer prints blank pages")
    page.fill("#message", "Since Monday every page comes out blank.\nSee https://example.com/printer")
    page.fill("#question", "PB6YM")
    page.set_input_files("#attachments", str(shot))
    _no_sideways_scroll(page)
    screenshot(f"{prefix}-2-form")
    page.wait_for_timeout(1100)  # the minimum fill time: a person takes longer than a robot
    page.click("button:has-text('Submit ticket')")
    page.wait_for_url(base + "/submit_ticket/done")
    assert "Your ticket has been submitted" in page.inner_text("h1")
    trackid = page.inner_text("strong.trackid")
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4}", trackid)
    _no_sideways_scroll(page)
    screenshot(f"{prefix}-3-submitted")
    return trackid


def _follow_up(browser, base, trackid, screenshot, prefix, viewport):
    # a new browser session: the tracking ID and the email open the ticket
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.goto(base + "/ticket")
        page.fill("#track", trackid)
        page.fill("#e", "casey@example.com")
        page.click("button:has-text('View ticket')")
        page.wait_for_selector("h1:has-text('The printer prints blank pages')")
        main = page.inner_text("main")
        assert trackid in main and "New" in main and "screenshot.png" in main
        assert page.locator("a[rel='nofollow noopener noreferrer']").get_attribute("href") == "https://example.com/printer"
        with page.expect_download() as download:
            page.click("a:has-text('screenshot.png')")
        assert download.value.suggested_filename == "screenshot.png"
        _no_sideways_scroll(page)
        screenshot(f"{prefix}-4-ticket")

        page.fill("#message", "It also makes a clicking noise.")
        page.click("button:has-text('Send reply')")
        page.wait_for_selector("text=Your reply has been sent.")
        assert "It also makes a clicking noise." in page.inner_text(".thread")
        assert "Waiting reply" in page.inner_text(".ticket-details")
        screenshot(f"{prefix}-5-replied")

        page.click("button:has-text('Mark as resolved')")
        page.wait_for_selector("text=Your ticket has been marked resolved.")
        assert "Resolved" in page.inner_text(".ticket-details")
        screenshot(f"{prefix}-6-resolved")

        page.click("button:has-text('Reopen ticket')")
        page.wait_for_selector("text=Your ticket has been reopened.")
        assert "New" in page.inner_text(".ticket-details")  # staff never replied: New again (HESK's rule)
        assert page.locator("button:has-text('Mark as resolved')").is_visible()
        _no_sideways_scroll(page)
        screenshot(f"{prefix}-7-reopened")
    finally:
        context.close()


def test_customer_on_a_desktop(live_server, customer_settings, page, browser, screenshot, tmp_path):
    page.set_viewport_size(DESKTOP)
    trackid = _file_a_ticket(page, live_server.url, tmp_path, screenshot, "desktop")
    _follow_up(browser, live_server.url, trackid, lambda name: _shot_in(browser, screenshot, name), "desktop",
               DESKTOP)


def test_customer_on_a_phone(live_server, customer_settings, page, browser, screenshot, tmp_path):
    page.set_viewport_size(PHONE)
    trackid = _file_a_ticket(page, live_server.url, tmp_path, screenshot, "phone")
    _follow_up(browser, live_server.url, trackid, lambda name: _shot_in(browser, screenshot, name), "phone", PHONE)


def _shot_in(browser, screenshot, name):
    """Screenshots of the second browser context (its newest page)."""
    context = browser.contexts[-1]
    page = context.pages[-1]
    from tests.browser.conftest import SCREENSHOTS

    import os

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    db_kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"
    path = SCREENSHOTS / f"test_customer-{db_kind}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path
