"""In Chromium: a customer registers, confirms the address with the link from the mail the SMTP server
received, logs in, files a ticket (the form filled in from the account), finds it in My tickets, and logs
out; then My tickets on a phone (375 px)."""
from __future__ import annotations

import re

import pytest

from hesk_py import settings
from tests.public.accounts_helpers import LINK_RE, PASSWORD, accounts_on, deliver

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def desk(app, live_server):
    accounts_on(app)
    with app.test_request_context():
        settings.save({"hesk_url": live_server.url})  # the links in the mail lead to this server
    return live_server.url


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_register_verify_log_in_file_a_ticket_and_log_out(app, desk, smtp_server, page, browser, screenshot):
    page.set_viewport_size(DESKTOP)
    page.goto(desk + "/")
    page.click("header >> text=Register")
    page.fill("#name", "Casey Customer")
    page.fill("#email", "casey@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.fill("#question", "PB6YM")
    screenshot("1-register")
    page.click("main button:has-text('Register')")
    page.wait_for_selector("h1:has-text('Check your email')")
    screenshot("2-check-your-email")

    assert deliver(app)["sent"] == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["Subject"] == "Verify your registration"
    link = LINK_RE.search(mail.get_content()).group(0)
    assert link.startswith(desk + "/verify/")
    page.goto(link)
    page.wait_for_selector("h1:has-text('Confirm your email address')")
    page.fill("#password", PASSWORD)
    screenshot("3-confirm")
    page.click("main button:has-text('Confirm')")
    page.wait_for_url(desk + "/my-tickets")
    assert "you are logged in" in page.inner_text("main")
    page.click("header button:has-text('Log out')")
    page.wait_for_selector("text=You have been logged out.")

    page.click("header >> text=Log in")
    page.fill("#email", "casey@example.com")
    page.fill("#password", PASSWORD)
    page.check("#remember")
    screenshot("4-login")
    page.click("main button:has-text('Log in')")
    page.wait_for_url(desk + "/my-tickets")
    assert "You have no tickets yet." in page.inner_text("main")

    page.click("main >> text=Submit a ticket")
    page.wait_for_selector("h1:has-text('Submit a ticket')")
    assert page.input_value("#name") == "Casey Customer" and page.input_value("#email") == "casey@example.com"
    assert page.get_attribute("#email", "readonly") is not None
    page.fill("#subject", "My account's first ticket")
    page.fill("#message", "Filed while logged in.")
    page.fill("#question", "PB6YM")
    screenshot("5-ticket-form")
    page.click("button:has-text('Submit ticket')")
    page.wait_for_selector("h1:has-text('Your ticket has been submitted')")
    trackid = page.inner_text("strong.trackid")
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4}", trackid)

    page.click("header >> text=My tickets")
    page.wait_for_selector(f"a:has-text('{trackid}')")
    assert "My account's first ticket" in page.inner_text("table.my-tickets")
    _no_sideways_scroll(page)
    screenshot("6-my-tickets")
    page.click(f"a:has-text('{trackid}')")
    page.wait_for_selector("h1:has-text(\"My account's first ticket\")")
    screenshot("7-ticket")

    phone = browser.new_context(viewport=PHONE)
    try:
        phone_page = phone.new_page()
        phone_page.goto(desk + "/login")
        phone_page.fill("#email", "casey@example.com")
        phone_page.fill("#password", PASSWORD)
        phone_page.click("main button:has-text('Log in')")
        phone_page.wait_for_url(desk + "/my-tickets")
        assert trackid in phone_page.inner_text("main")
        _no_sideways_scroll(phone_page)
        from tests.browser.conftest import SCREENSHOTS

        import os

        kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"
        phone_page.screenshot(path=str(SCREENSHOTS / f"test_customer_accounts-{kind}-8-phone-my-tickets.png"),
                              full_page=True)
    finally:
        phone.close()

    page.click("header button:has-text('Log out')")
    page.wait_for_selector("text=You have been logged out.")
    assert "Log in" in page.inner_text("header")
    page.goto(desk + "/my-tickets")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    screenshot("9-logged-out")
