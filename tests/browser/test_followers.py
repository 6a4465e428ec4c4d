"""In Chromium: a customer files a ticket with a colleague in "Cc / followers"; both get the confirmation
(over real SMTP: the customer in To, the colleague in Cc); staff see the follower on the ticket and reply;
both get the reply; the follower opens the ticket from the email's link with their own email address (on a
phone) and replies; staff see the follower's reply. Screenshots of every step."""
from __future__ import annotations

import os
import re

import pytest

from hesk_py import settings
from hesk_py.services import mailer
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_staff_tickets import _log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
FRAN = "fran@partner.example"


@pytest.fixture
def desk(app, admin):
    with app.app_context():
        settings.save({"secimg_use": 0, "question_use": True, "spam_min_fill_seconds": 1, "flood": 0,
                       "multi_eml": True, "hesk_url": "http://help.example"})


def _customer_mail(app, smtp_server):
    """Send what is queued; the one email to the customers (staff get their own notifications)."""
    before = len(smtp_server.messages)
    with app.app_context():
        sent = mailer.deliver_due()["sent"]
    mails = smtp_server.wait_for(before + sent)[before:]
    (mail,) = [m for m in mails if m["To"] == "casey@example.com"]
    return mail


def _recipients(smtp_server, mail):
    return sorted(smtp_server.envelopes[smtp_server.messages.index(mail)].rcpt_tos)


def _shot(page, name: str) -> None:
    """A full-page screenshot of any of the test's browser windows (named like the ``screenshot`` fixture's)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    db_kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"
    path = SCREENSHOTS / f"test_followers-{db_kind}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, "the screenshot is empty"


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_a_follower_gets_the_mail_opens_the_ticket_and_replies(app, live_server, smtp_server, desk, page, browser):
    base = live_server.url
    # the customer files a ticket with a colleague in Cc
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/submit_ticket")
    page.fill("#name", "Casey Customer")
    page.fill("#email", "casey@example.com")
    page.fill("#cc", FRAN)
    page.fill("#subject", "The projector shows no picture")
    page.fill("#message", "Room 4, since Monday.")
    page.fill("#question", "PB6YM")
    _shot(page, "1-form-with-cc")
    page.wait_for_timeout(1100)  # the minimum fill time
    page.click("button:has-text('Submit ticket')")
    page.wait_for_url(base + "/submit_ticket/done")
    trackid = page.inner_text("strong.trackid")
    _shot(page, "2-submitted")
    received = _customer_mail(app, smtp_server)
    assert received["To"] == "casey@example.com" and received["Cc"] == FRAN
    assert _recipients(smtp_server, received) == ["casey@example.com", FRAN]

    # staff see the follower and reply
    staff = browser.new_context(viewport=DESKTOP)
    spage = staff.new_page()
    _log_in(spage, base)
    assert "+1 more" in spage.inner_text("table.tickets")
    spage.click("a:has-text('The projector shows no picture')")
    spage.wait_for_url(base + f"/admin/tickets/{trackid}")
    assert FRAN in spage.inner_text(".customer-card")
    spage.fill("#message", "A technician comes on Thursday at 10.")
    spage.click("button:has-text('Submit reply')")
    spage.wait_for_selector("text=A technician comes on Thursday at 10.")
    _shot(spage, "3-staff-replied")
    reply_mail = _customer_mail(app, smtp_server)
    assert reply_mail["Subject"] == f"[#{trackid}] New reply to: The projector shows no picture"
    assert reply_mail["To"] == "casey@example.com" and reply_mail["Cc"] == FRAN
    assert _recipients(smtp_server, reply_mail) == ["casey@example.com", FRAN]
    link = re.search(r"http://help\.example(/ticket\?track=\S+)", reply_mail.get_content()).group(1)

    # the follower follows the email's link on a phone and opens the ticket with their own address
    follower = browser.new_context(viewport=PHONE)
    fpage = follower.new_page()
    fpage.goto(base + link)
    fpage.fill("#e", FRAN)
    fpage.click("button:has-text('View ticket')")
    fpage.wait_for_selector("h1:has-text('The projector shows no picture')")
    details = fpage.inner_text(".ticket-details")
    assert FRAN in details and "(you)" in details
    assert "A technician comes on Thursday at 10." in fpage.inner_text(".thread")
    assert "casey@example.com" not in fpage.content()
    _no_sideways_scroll(fpage)
    _shot(fpage, "4-follower-view-phone")
    fpage.fill("#message", "Thursday works, I will be in room 4.")
    fpage.click("button:has-text('Send reply')")
    fpage.wait_for_selector("text=Your reply has been sent.")
    assert "Thursday works, I will be in room 4." in fpage.inner_text(".thread")
    _shot(fpage, "5-follower-replied-phone")

    # staff see it as the follower's reply
    spage.goto(base + f"/admin/tickets/{trackid}")
    thread = spage.inner_text("main")
    assert "Thursday works, I will be in room 4." in thread and FRAN in thread
    _shot(spage, "6-staff-sees-the-follower-reply")
    staff.close()
    follower.close()
