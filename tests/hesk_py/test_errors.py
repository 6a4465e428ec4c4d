"""The 500 page and debug mode (``debug_mode``): an administrator sees the error's type, message and
traceback with every secret replaced by ***; customers and other staff always get the plain page."""
from __future__ import annotations

from html import unescape

import pytest

from hesk_py import settings

SMTP_PASSWORD = "Smtp-Pa55-hunter2"
DB_PASSWORD = "Db-Pa55-w0rd-xyz"


@pytest.fixture
def app_config():
    # let the app's own 500 handler answer, as in production (tests propagate exceptions by default)
    return {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def failing_page(app):
    """A page that fails the way a bug would: with secrets in its message and a traceback through our code."""

    def broken_view():
        raise RuntimeError(f"could not reach mysql+pymysql://hesk:{DB_PASSWORD}@db.example:3306/hesk; SMTP login "
                           f"with {SMTP_PASSWORD} refused; key {app.config['SECRET_KEY']}")

    app.add_url_rule("/broken", "broken", broken_view)
    with app.test_request_context():
        settings.save({"smtp_password": SMTP_PASSWORD})
    return "/broken"


def _page(client, url) -> tuple[int, str]:
    resp = client.get(url)
    return resp.status_code, unescape(resp.get_data(as_text=True))


def _no_details(html: str) -> None:
    assert "Something went wrong" in html
    for leak in ("Traceback", "RuntimeError", "broken_view", "debug-report", "db.example", SMTP_PASSWORD,
                 DB_PASSWORD, "test-secret-key"):
        assert leak not in html, leak


def test_without_debug_mode_everyone_gets_the_plain_page(client, admin, login, failing_page):
    login("admin")
    status, html = _page(client, failing_page)
    assert status == 500
    _no_details(html)


def test_in_debug_mode_an_administrator_sees_the_error_with_secrets_redacted(app, client, admin, login,
                                                                              failing_page):
    with app.test_request_context():
        settings.save({"debug_mode": True})
    login("admin")
    status, html = _page(client, failing_page)
    assert status == 500
    assert 'id="debug-report"' in html
    assert "RuntimeError" in html
    assert "Traceback (most recent call last)" in html and "broken_view" in html and "test_errors.py" in html
    # the message is there, its secrets are not: the DB password in the URL, the SMTP password, the key
    assert "could not reach mysql+pymysql://hesk:***@db.example:3306/hesk" in html
    assert "SMTP login with *** refused" in html
    for secret in (DB_PASSWORD, SMTP_PASSWORD, app.config["SECRET_KEY"]):
        assert secret not in html, secret


def test_in_debug_mode_customers_and_other_staff_get_the_plain_page(app, client, make_user, login, failing_page):
    with app.test_request_context():
        settings.save({"debug_mode": True})
    status, html = _page(client, failing_page)  # a customer: nobody logged in
    assert status == 500
    _no_details(html)
    make_user("agent", features=["can_view_tickets", "can_man_settings", "can_reply_tickets"])
    login("agent")
    status, html = _page(client, failing_page)
    assert status == 500
    _no_details(html)

