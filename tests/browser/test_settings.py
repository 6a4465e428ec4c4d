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
