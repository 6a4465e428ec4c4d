"""In Chromium: a staff member logs in through the form, filters the ticket list, opens a ticket, replies
with a canned response picked from the reply form (its %%TAGS%% filled for this ticket) and an attachment, adds a private note, assigns the ticket and resolves it;
the customer then sees the reply on the public ticket page. Screenshots of every step, desktop and phone."""
from __future__ import annotations

import os
import re
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

CANNED_TEXT = "Hello %%HESK_FIRST_NAME%%, about %%HESK_TRACK_ID%%: please restart the printer and try again."


@pytest.fixture
def desk(app, admin, make_user, make_ticket):
    make_user("mira", name="Mira Support", features=["can_view_tickets", "can_reply_tickets",
                                                     "can_view_unassigned", "can_assign_self"])
    printer = make_ticket(subject="The printer prints blank pages", message="Every page comes out empty.",
                          priority_id=2, autoassign=False)
    make_ticket(subject="Password reset please", message="I forgot it.", autoassign=False)
    make_ticket(subject="Invoice copy", message="Please send March's invoice.", autoassign=False)
    from hesk_py.extensions import db
    from hesk_py.models import CannedResponse

    with app.app_context():
        db.session.add_all([CannedResponse(title="Restart the printer", message=CANNED_TEXT, sort_order=10),
                            CannedResponse(title="Something else", message="Not this one.", sort_order=20)])
        db.session.commit()
    return printer


def db_kind() -> str:
    return "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"


def _log_in(page, base):
    page.goto(base + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")


def test_staff_ticket_flow(app, live_server, page, browser, desk, screenshot, tmp_path):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, base)
    assert page.locator("table.tickets tbody tr").count() == 3
    screenshot("1-list")

    # filter: only High priority tickets
    page.click("summary:has-text('Show tickets')")
    page.check("fieldset:has(legend:has-text('Priority')) >> label:has-text('High') >> input")
    page.click("button:has-text('Show tickets')")
    page.wait_for_url(re.compile(r".*priority=2.*"))
    rows = page.locator("table.tickets tbody tr")
    assert rows.count() == 1 and "The printer prints blank pages" in rows.inner_text()
    screenshot("2-filtered")

    # open it and pick the canned response: the script fills it in place, its tags filled for this ticket
    page.click("a:has-text('The printer prints blank pages')")
    page.wait_for_url(base + f"/admin/tickets/{desk}")
    canned = f"Hello Casey, about {desk}: please restart the printer and try again."
    page.select_option("#canned", label="Restart the printer")
    page.click("form.canned-picker >> button:has-text('Insert')")
    # a locator assertion (it retries), not wait_for_function: a string predicate needs eval, which the
    # page's Content-Security-Policy rightly forbids
    expect(page.locator("#message")).to_have_value(canned)
    assert page.url == base + f"/admin/tickets/{desk}"  # filled in place, no reload
    screenshot("3-ticket")

    attachment = tmp_path / "steps.txt"
    attachment.write_text("1. Switch it off\n2. Switch it on\n")
    page.set_input_files("#attachments", str(attachment))
    page.click("button:has-text('Submit reply')")
    page.wait_for_selector("text=Your reply was added.")
    reply = page.locator("article.reply-staff")
    assert canned in reply.inner_text() and "steps.txt" in reply.inner_text()
    with page.expect_download() as download:
        page.click("article.reply-staff >> a:has-text('steps.txt')")
    assert download.value.suggested_filename == "steps.txt"
    screenshot("4-replied")

    page.fill("#note-message", "Customer is on the 3rd floor; printer model LX-200.")
    page.click("button:has-text('Add note')")
    page.wait_for_selector("text=Your note was added.")
    assert "LX-200" in page.inner_text("#notes")
    screenshot("5-note")

    page.select_option("#owner", label="Mira Support")
    page.click("button:has-text('Assign')")
    page.wait_for_selector("text=The ticket is now assigned to Mira Support.")
    screenshot("6-assigned")

    page.select_option("#status", label="Resolved")
    page.click("button:has-text('Change status')")
    page.wait_for_selector("text=The status is now Resolved.")
    assert "Resolved" in page.inner_text(".ticket-ids")
    screenshot("7-resolved")

    page.click("a:has-text('History')")
    history = page.inner_text("table.history")
    for line in ("Replied", "Added a private note", "Assigned to Mira Support", "Status changed from"):
        assert line in history
    screenshot("8-history")

    # the customer sees the staff reply on the public ticket page
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    customer = context.new_page()
    try:
        customer.goto(base + "/ticket")
        customer.fill("#track", desk)
        customer.fill("#e", "casey@example.com")
        customer.click("button:has-text('View ticket')")
        customer.wait_for_selector("h1:has-text('The printer prints blank pages')")
        main = customer.inner_text("main")
        assert canned in main and "LX-200" not in main  # the reply, never the private note
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        customer.screenshot(path=str(SCREENSHOTS / f"test_staff_ticket_flow-{db_kind()}-9-customer-sees-reply.png"),
                            full_page=True)
    finally:
        context.close()


def test_staff_pages_on_a_phone(app, live_server, page, desk, screenshot):
    base = live_server.url
    page.set_viewport_size({"width": 375, "height": 740})
    _log_in(page, base)
    assert page.locator("table.tickets tbody tr").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot("list-phone")
    page.goto(base + f"/admin/tickets/{desk}")
    assert "The printer prints blank pages" in page.inner_text("h1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    screenshot("ticket-phone")
