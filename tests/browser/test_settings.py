"""The settings pages in Chromium: every tab opens, a [?] expands in place (no JavaScript needed: it is a
<details> element), a changed value is saved and seen, on a desktop and on a phone."""
import pytest

from hesk_py import settings
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page, live_server):
    page.goto(live_server.url + "/admin/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/**")


def test_each_tab_opens_with_help_and_a_change_is_saved(live_server, page, admin, screenshot):
    _log_in(page, live_server)
    for tab in settings.TABS:
        page.goto(f"{live_server.url}/admin/settings/{tab}")
        assert page.locator("h1").inner_text() == "Settings"
        assert page.locator("nav.tabs [aria-current=page]").inner_text() == str(settings.TAB_LABELS[tab])
        first = settings.definitions(tab)[0]
        box = page.locator(f"#setting-{first.field_name} details.help")
        assert not box.locator(".help-body").is_visible()
        box.locator("summary").click()
        assert box.locator(".help-body").is_visible()
        assert str(first.help) in box.locator(".help-body").inner_text()

    page.goto(live_server.url + "/admin/settings/help_desk")
    help_box = page.locator("#setting-max_listings details.help")
    help_box.locator("summary").click()
    assert "How many tickets one page" in help_box.locator(".help-body").inner_text()
    screenshot("help-open")
    page.fill("#max_listings", "5")
    page.click("button.primary:has-text('Save changes')")
    page.wait_for_selector("#saved")
    assert "Listings per page: 20 → 5" in page.locator("#saved").inner_text()
    assert page.input_value("#max_listings") == "5"
    screenshot("saved")

    # a bad value comes back as typed with its error beside it
    page.fill("#max_listings", "0")
    page.click("button.primary:has-text('Save changes')")
    assert page.locator("#max_listings-error").inner_text() == "Must be at least 1."
    assert page.input_value("#max_listings") == "0"
    screenshot("error")

    # the effect: the help desk title is the header of every page
    page.goto(live_server.url + "/admin/settings/general")
    page.fill("#hesk_title", "Acme Help Centre")
    page.click("button.primary:has-text('Save changes')")
    page.wait_for_selector("#saved")
    assert page.locator("header .brand").inner_text() == "Acme Help Centre"
    page.goto(live_server.url + "/")
    assert page.locator("header .brand").inner_text() == "Acme Help Centre"


def test_settings_on_a_phone(live_server, page, admin, screenshot):
    page.set_viewport_size({"width": 375, "height": 740})
    _log_in(page, live_server)
    page.goto(live_server.url + "/admin/settings/email")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing overflows sideways
    box = page.locator("#setting-smtp_host_name details.help")
    box.locator("summary").click()
    assert box.locator(".help-body").is_visible()
    page.fill("#noreply_name", "Acme Support")
    page.click("button.primary:has-text('Save changes')")
    page.wait_for_selector("#saved")
    assert "Acme Support" in page.locator("#saved").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot("phone")


# tab -> (the field changed, how it is changed, the page where the effect shows, what is seen there)
def _change_on_every_tab():
    return [
        ("general", "hesk_title", lambda p: p.fill("#hesk_title", "Acme Help Centre"),
         "/", lambda p: p.locator("header .brand").inner_text() == "Acme Help Centre"),
        ("help_desk", "cust_urgency", lambda p: p.uncheck("#cust_urgency"),
         "/submit_ticket?category=1", lambda p: p.locator("#priority").count() == 0 and p.locator("#subject").count() == 1),
        ("look", "custom_footer", lambda p: p.fill("#custom_footer", "<p>Open 9 to 5, Monday to Friday</p>"),
         "/", lambda p: "Open 9 to 5, Monday to Friday" in p.locator("body").inner_text()),
        ("knowledgebase", "kb_enable", lambda p: p.check("input[name=kb_enable][value='0']"),
         "/knowledgebase", lambda p: "Page not found" in p.locator("body").inner_text() or p.title().startswith("Not")),
        ("email", "confirm_email", lambda p: p.check("#confirm_email"),
         "/submit_ticket?category=1", lambda p: p.locator("#email2").is_visible()),
        ("ticket_list", "ticket_list", lambda p: p.check("input[name=ticket_list][value=owner]"),
         "/admin/", lambda p: p.locator("table.list th", has_text="Owner").count() == 1),
        ("misc", "submit_notice", lambda p: p.check("#submit_notice"),
         "/submit_ticket?category=1", lambda p: "We have recorded your IP address" in p.locator("form.ticket-form").inner_text()),
    ]


def test_on_every_tab_a_change_is_saved_and_takes_effect(live_server, page, admin, make_ticket, screenshot):
    make_ticket()  # the staff list has a row to show its columns
    _log_in(page, live_server)
    for tab, key, change, where, effect in _change_on_every_tab():
        d = settings.definition(key)
        page.goto(f"{live_server.url}/admin/settings/{tab}")
        box = page.locator(f"#setting-{d.field_name} details.help")
        box.locator("summary").click()
        assert str(d.help) in box.locator(".help-body").inner_text()
        change(page)
        page.click("button.primary:has-text('Save changes')")
        page.wait_for_selector("#saved")
        assert str(d.label) in page.locator("#saved").inner_text()
        screenshot(f"{tab}-saved")
        page.goto(live_server.url + where)
        assert effect(page), f"{tab}: {key} did not take effect on {where}"
        screenshot(f"{tab}-effect")
