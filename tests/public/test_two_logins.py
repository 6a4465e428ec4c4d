"""A staff login (/admin) and a customer login (customer accounts) in the same browser: logging in or out of
one leaves the other as it was, in both directions, while each login still starts a new session (what the
browser held before, a ticket it had opened with an email or the CSRF token, does not carry into the login:
no session fixation)."""
from __future__ import annotations

import time

import pytest

from tests.conftest import ADMIN_PASSWORD, csrf_token_from
from tests.public.accounts_helpers import accounts_on, form_fields, is_logged_in, login, logout, make_account

CASEY = "casey@example.com"


def staff_login(client):
    token = csrf_token_from(client.get("/admin/login").get_data(as_text=True))
    resp = client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and "/admin/login" not in resp.headers["Location"]


def staff_logout(client):
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302


def staff_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture
def browser(app, admin, smtp_server):
    """A browser with a customer account (Casey) that starts logged out of both sides."""
    accounts_on(app)
    client = app.test_client()
    make_account(app, client, smtp_server)
    logout(client)
    assert not is_logged_in(client) and not staff_in(client)
    return client


def test_a_customer_login_keeps_the_staff_login_and_its_secure_area(browser):
    staff_login(browser)
    assert browser.get("/admin/customers/").status_code == 200  # a secure area: the password was just typed
    assert login(browser).status_code == 302
    assert is_logged_in(browser)
    assert staff_in(browser)
    # still within the staff login's secure-area time: no password asked again
    assert browser.get("/admin/customers/").status_code == 200
    # the customer logs out: the staff member stays logged in
    assert logout(browser).status_code == 302
    assert not is_logged_in(browser) and staff_in(browser)


def test_a_staff_login_keeps_the_customer_login(browser):
    assert login(browser).status_code == 302
    staff_login(browser)
    assert staff_in(browser) and is_logged_in(browser)
    # the staff member logs out: the customer stays logged in
    staff_logout(browser)
    assert not staff_in(browser) and is_logged_in(browser)


def test_the_staff_idle_time_out_ends_only_the_staff_login(app, browser):
    staff_login(browser)
    assert login(browser).status_code == 302
    with browser.session_transaction() as sess:
        sess["hesk_seen_at"] = int(time.time()) - 25 * 60  # the staff session's idle time is 24 minutes
    resp = browser.get("/admin/")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert not staff_in(browser)
    assert is_logged_in(browser)


def test_the_customer_idle_time_out_ends_only_the_customer_login(browser):
    staff_login(browser)
    assert login(browser).status_code == 302
    with browser.session_transaction() as sess:
        sess["hesk_customer"] = {**sess["hesk_customer"], "seen": sess["hesk_customer"]["seen"] - 31 * 60}
    assert not is_logged_in(browser)
    assert staff_in(browser)


def test_what_the_browser_held_before_a_login_does_not_carry_into_it(app, browser, make_ticket):
    theirs = make_ticket(email="other@example.com", subject="Somebody elses matter")
    # opened anonymously with its email: this browser's session remembers the ticket ...
    assert browser.get(f"/ticket?track={theirs}&e=other@example.com").status_code == 200
    before = form_fields(browser, "/submit_ticket?category=1")["csrf_token"]
    assert "Somebody elses matter" in browser.get(f"/ticket?track={theirs}").get_data(as_text=True)
    # ... until a login starts a new session: Casey's login neither inherits it nor the old CSRF token
    assert login(browser).status_code == 302
    resp = browser.get(f"/ticket?track={theirs}")
    assert "Somebody elses matter" not in resp.get_data(as_text=True)
    assert form_fields(browser, "/submit_ticket?category=1")["csrf_token"] != before
    # the same for a staff login after it: the customer login stays, the rest goes
    staff_token = form_fields(browser, "/my-tickets")["csrf_token"]
    staff_login(browser)
    assert is_logged_in(browser)
    assert form_fields(browser, "/my-tickets")["csrf_token"] != staff_token


def test_a_token_from_before_the_other_login_is_refused_once(browser):
    """The cost of a new session per login: a form the staff page had open before a customer login in the
    same browser must be sent again from a fresh page (the CSRF token belongs to the earlier session)."""
    staff_login(browser)
    old = csrf_token_from(browser.get("/admin/").get_data(as_text=True))
    assert login(browser).status_code == 302
    assert browser.post("/admin/logout", data={"csrf_token": old}).status_code == 400
    assert staff_in(browser)
    staff_logout(browser)
    assert not staff_in(browser) and is_logged_in(browser)
