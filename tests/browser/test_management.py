"""In Chromium: an administrator sets the help desk up from the management pages (a category, a staff
member who may only work in it and gets its tickets by auto-assign, a custom field of that category);
a customer files a ticket there filling the custom field; the staff member logs in and finds the ticket
assigned to them with the custom field's value. Screenshots of every step."""
from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Category, CustomField, Ticket, User
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

PAT_PASSWORD = "Pat-prints-2026-safely!"


@pytest.fixture
def desk(app, admin):
    # the image CAPTCHA cannot be read by a test; the question (answer known) stays as the anti-spam step
    with app.app_context():
        settings.save({"secimg_use": 0, "question_use": True, "spam_min_fill_seconds": 0, "flood": 0,
                       "autoassign": True})


def _shoot(other_page, test_name, name):
    """A screenshot of a page of another browser context (the ``screenshot`` fixture shoots the main one)."""
    kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{test_name}-{kind}-{name}.png"
    other_page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, "the screenshot is empty"


def _log_in(page, base, username, password):
    page.goto(base + "/admin/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/admin/")


def test_category_staff_and_custom_field_set_up_from_the_admin_pages(app, live_server, page, browser, desk,
                                                                      screenshot, request):
    base = live_server.url
    name = request.node.name
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, base, "admin", ADMIN_PASSWORD)

    # 1. the category
    page.click("nav.menu >> text=Categories")
    page.click("text=New category")
    page.fill("#name", "Printers")
    page.select_option("#is_public", "1")
    page.select_option("#autoassign", "off")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Category \"Printers\" created.")
    screenshot("1-category")
    with app.app_context():
        printers = db.session.scalar(select(Category.id).where(Category.name == "Printers"))

    # 2. a staff member who may only work in that category
    page.click("nav.menu >> text=Team")
    page.click("text=New staff member")
    page.fill("#name", "Pat Printer")
    page.fill("#email", "pat@example.com")
    page.fill("#username", "pat")
    page.fill("#password", PAT_PASSWORD)
    page.fill("#confirm", PAT_PASSWORD)
    page.select_option("#role", "staff")
    page.check(f"#categories-set input[value='{printers}']")
    for key in ("can_view_tickets", "can_reply_tickets", "can_view_unassigned", "can_assign_self"):
        page.check(f"#features-set input[value='{key}']")
    screenshot("2-staff-form")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=The account of Pat Printer is saved.")
    screenshot("3-team")
    with app.app_context():
        pat = db.session.scalar(select(User).where(User.username == "pat"))
        assert pat.own_category_ids == {printers}
        pat_id = pat.id

    # 3. the category's tickets go to Pat only
    page.click("nav.menu >> text=Categories")
    page.click(f"#category-{printers} >> text=Edit")
    page.select_option("#autoassign", "only")
    page.select_option("#autoassign_users", label="Pat Printer")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Category saved.")
    assert "Chosen staff" in page.inner_text(f"#category-{printers}")
    screenshot("4-autoassign")

    # 4. a custom field of that category
    page.click("nav.menu >> text=Custom fields")
    page.click("text=New custom field")
    page.fill("#name_en", "Printer model")
    page.fill("#name_uk", "Модель принтера")
    page.select_option("#type", "select")
    assert page.is_hidden("#max_length") and page.is_visible("#options")  # the chosen type's options only
    page.fill("#options", "LX-200\nLX-300\nOther")
    page.select_option("#required", "always")
    assert page.is_hidden("#categories-set")
    page.select_option("#category_mode", "chosen")
    page.check(f"#categories-set input[value='{printers}']")
    screenshot("5-custom-field-form")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Custom field \"Printer model\" created.")
    assert "Printers" in page.inner_text("table.custom-fields-list")
    screenshot("6-custom-fields")
    with app.app_context():
        field = db.session.scalar(select(CustomField))
        assert field.category_ids == [printers] and field.names == {"en": "Printer model", "uk": "Модель принтера"}
        field_key = field.form_name

    # 5. a customer files a ticket in that category
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    customer = context.new_page()
    try:
        customer.goto(base + "/submit_ticket?category=1")
        assert "Printer model" not in customer.inner_text("main")  # not on another category's form
        customer.goto(base + f"/submit_ticket?category={printers}")
        customer.fill("#name", "Casey Customer")
        customer.fill("#email", "casey@example.com")
        customer.select_option(f"#f-{field_key}", "LX-300")
        customer.fill("#subject", "Paper jam every morning")
        customer.fill("#message", "The first print of the day always jams.")
        customer.fill("#question", "PB6YM")
        _shoot(customer, name, "7-customer-form")
        customer.click("button:has-text('Submit ticket')")
        customer.wait_for_url(base + "/submit_ticket/done")
        trackid = customer.inner_text("strong.trackid")
        _shoot(customer, name, "8-customer-submitted")
    finally:
        context.close()
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        assert ticket.category_id == printers and ticket.owner_id == pat_id
        assert ticket.custom == {field_key: "LX-300"}

    # 6. Pat logs in and finds it assigned to them, with the custom field's value
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = context.new_page()
    try:
        _log_in(staff, base, "pat", PAT_PASSWORD)
        menu = staff.inner_text("nav.menu")
        assert "Categories" not in menu and "Custom fields" not in menu and "Team" not in menu
        row = staff.locator("table.tickets tbody tr", has_text="Paper jam every morning")
        assert row.count() == 1
        _shoot(staff, name, "9-staff-list")
        row.locator("a", has_text="Paper jam every morning").click()
        staff.wait_for_url(re.compile(rf".*/admin/tickets/{trackid}$"))
        main = staff.inner_text("main")
        assert "Pat Printer" in main and "Printer model" in main and "LX-300" in main
        _shoot(staff, name, "10-staff-ticket")
        # the category is all Pat may see: another category's page is refused
        assert staff.goto(base + "/admin/categories/").status == 403
    finally:
        context.close()
