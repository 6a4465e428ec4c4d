"""In Chromium: a staff member logs in, sets up an authenticator app (the code computed with pyotp from
the key the page shows), logs out, and logs in again with the password and a code."""
from __future__ import annotations

import time

import pyotp
import pytest

from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def log_in(page, base, password):
    page.goto(base + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()


def test_login_enrol_totp_logout_login_with_code(live_server, admin, page, screenshot):
    base = live_server.url
    log_in(page, base, "Wrong-passw0rd")
    assert "Wrong username or password." in page.inner_text("main")
    screenshot("1-wrong-password")

    page.fill("#password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/admin/")
    screenshot("2-logged-in")

    page.get_by_role("link", name="Profile", exact=True).click()
    page.wait_for_url(base + "/admin/profile")
    assert "Two-factor authentication is off." in page.inner_text("main")
    screenshot("3-profile")
    page.get_by_role("link", name="Manage two-factor authentication").click()
    page.wait_for_url(base + "/admin/mfa")
    page.get_by_role("button", name="Set up an authenticator app").click()
    page.wait_for_url(base + "/admin/mfa/app")
    assert page.locator("svg.qr-code").is_visible()
    screenshot("4-qr-code")
    secret = page.inner_text("#mfa-secret").replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    page.get_by_role("button", name="Turn on").click()
    assert page.locator(".backup-codes li").count() == 10
    screenshot("5-backup-codes")

    page.get_by_role("button", name="Log out (admin)").click()
    page.wait_for_url(base + "/admin/login")
    assert "You have been logged out." in page.inner_text("main")

    log_in(page, base, ADMIN_PASSWORD)
    page.wait_for_url(base + "/admin/login/verify")
    assert "authenticator app" in page.inner_text("main")
    screenshot("6-second-factor")
    # the code of the enrolment's time step is spent: an app a little ahead shows the next one
    page.fill("#code", totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(base + "/admin/")
    assert page.get_by_role("button", name="Log out (admin)").is_visible()
    screenshot("7-logged-in-with-code")


def test_login_page_on_a_phone(live_server, page, screenshot):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/admin/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot("login-phone")
