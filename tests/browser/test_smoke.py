"""The browser harness works: Chromium loads the home page served by waitress."""
import pytest

pytestmark = pytest.mark.browser


def test_home_page_in_chromium(live_server, page, screenshot):
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Help Desk"
    assert "Help Desk" in page.title()
    shot = screenshot("home")
    assert shot.exists()


def test_home_page_on_a_phone(live_server, page, screenshot):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/")
    # nothing overflows sideways on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot("home-phone")
