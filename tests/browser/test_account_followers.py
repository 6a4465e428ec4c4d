"""In Chromium: a staff member mutes one follower of a ticket and bans another from the customer block
(answering the confirmation), then, in the same browser, logs in on the customer side as a follower with an
account: "My tickets" (on a phone) lists the followed ticket marked "Following", it opens without typing an
email, and the staff login is still there afterwards (and the other way round). Screenshots of every step."""
from __future__ import annotations

import pytest

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer
from hesk_py.models.customers import ACCOUNT_ACTIVE
from hesk_py.services import accounts, tickets
from tests.browser.test_staff_tickets import _log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
FRAN, NINA = "fran@partner.example", "nina@partner.example"
FRAN_PASSWORD = "Fran-pass-w0rd"


@pytest.fixture
def desk(app, admin, make_ticket):
    with app.app_context():
        settings.save({"multi_eml": True, "customer_accounts": 1})
        db.session.add(Customer(email=FRAN, name="Fran Follower", account_status=ACCOUNT_ACTIVE,
                                password_hash=accounts.hash_password(FRAN_PASSWORD)))
        db.session.commit()
    trackid = make_ticket(subject="The projector shows no picture")
    with app.app_context():
        tickets.add_followers(tickets.get_ticket(trackid), [FRAN, NINA], actor=tickets.Actor.system())
    return trackid


def _follower_item(page, email):
    return page.locator(".customer-card ul.followers li", has_text=email)


def test_staff_mute_and_ban_followers_then_a_follower_logs_in_beside_them(app, live_server, desk, page,
                                                                          screenshot):
    base, trackid = live_server.url, desk
    page.set_viewport_size(DESKTOP)
    _log_in(page, base)
    page.goto(base + f"/admin/tickets/{trackid}")
    fran = _follower_item(page, FRAN)
    assert fran.locator("button", has_text="Mute this email").count() == 1
    assert fran.locator("button", has_text="Ban this email").count() == 1
    screenshot("1-customer-block")
    page.once("dialog", lambda dialog: dialog.accept())  # "Send no more email to fran@...?"
    fran.locator("button", has_text="Mute this email").click()
    page.wait_for_selector(f"text=The email address {FRAN} is muted")
    assert "This email address is muted." in _follower_item(page, FRAN).inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    _follower_item(page, NINA).locator("button", has_text="Ban this email").click()
    page.wait_for_selector(f"text=The email address {NINA} is banned.")
    assert "This email address is banned." in _follower_item(page, NINA).inner_text()
    screenshot("2-muted-and-banned")

    # the same browser, the customer side: Fran logs in on her phone
    page.set_viewport_size(PHONE)
    page.goto(base + "/login")
    page.fill("#email", FRAN)
    page.fill("#password", FRAN_PASSWORD)
    page.click("section.account button:has-text('Log in')")
    page.wait_for_url(base + "/my-tickets")
    row = page.locator(f"#ticket-{trackid}")
    assert "Following" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("3-my-tickets-phone")
    row.locator("a").first.click()
    page.wait_for_selector("h1:has-text('The projector shows no picture')")
    assert "(you)" in page.inner_text(".ticket-details")
    screenshot("4-followed-ticket-phone")

    # back to the staff panel: still logged in there
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/admin/")
    assert page.url == base + "/admin/"
    assert page.locator("table.tickets").count() == 1
    screenshot("5-staff-still-logged-in")
