"""Helpers for the customer accounts tests: turn accounts on, register, confirm and log in through the real
pages, and read the links out of the mail the SMTP server received."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from hesk_py import settings
from tests.public.conftest import ANSWER, hidden_fields, text_of

PASSWORD = "Casey-pass-w0rd"
LINK_RE = re.compile(r"https?://\S+?/(verify|reset-password)/([A-Za-z0-9_-]{20,})")


def accounts_on(app, mode=1, registration=0, **extra):
    """Customer accounts in ``mode`` (1 optional, 2 required for tickets, 3 required for everything), forms
    that can be posted at once (no minimum fill time, no CAPTCHA, the anti-spam question known)."""
    with app.test_request_context():
        settings.save({"customer_accounts": mode, "customer_accounts_registration": registration,
                       "spam_min_fill_seconds": 0, "secimg_use": 0, "question_use": True, "flood": 0, **extra})


def form_fields(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return hidden_fields(resp.get_data(as_text=True))


def register(client, *, name="Casey Customer", email="casey@example.com", password=PASSWORD, confirm=None,
             **extra):
    data = {**form_fields(client, "/register"), "name": name, "email": email, "password": password,
            "confirm": password if confirm is None else confirm, "question": ANSWER, **extra}
    return client.post("/register", data=data)


def deliver(app) -> dict:
    with app.app_context():
        from hesk_py.services import mailer

        return mailer.deliver_due()


def mails_to(smtp_server, address: str) -> list:
    return [m for m in smtp_server.messages if address in str(m["To"])]


def link_in(mail) -> tuple[str, str]:
    """(path, token) of the verification or password link in a mail, as the test client opens it."""
    body = mail.get_content()
    match = LINK_RE.search(body)
    assert match, body
    return f"/{match.group(1)}/{match.group(2)}", match.group(2)


def path_of(url: str) -> str:
    """A link from a mail (https://www.example.com/helpdesk/...) as a path of the test app."""
    return urlsplit(url).path.removeprefix("/helpdesk")


def confirm(client, path, password=PASSWORD):
    data = {**form_fields(client, path), "password": password}
    return client.post(path, data=data)


def make_account(app, client, smtp_server, *, email="casey@example.com", password=PASSWORD, name="Casey Customer"):
    """Register and confirm an account through the pages; the client ends logged in. Returns the customer id."""
    before = len(smtp_server.messages)
    assert register(client, name=name, email=email, password=password).status_code == 200
    deliver(app)
    mail = smtp_server.wait_for(before + 1)[-1]
    path, _token = link_in(mail)
    resp = confirm(client, path, password)
    assert resp.status_code == 302, resp.status_code
    with app.app_context():
        from hesk_py.services.customer_accounts import by_email

        return by_email(email).id


def login(client, email="casey@example.com", password=PASSWORD, *, remember=False, next_url=None):
    data = {**form_fields(client, "/login"), "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login" + (f"?next={next_url}" if next_url else ""), data=data)


def logout(client):
    token = form_fields(client, "/my-tickets")["csrf_token"]
    return client.post("/logout", data={"csrf_token": token})


def is_logged_in(client) -> bool:
    return client.get("/my-tickets").status_code == 200


__all__ = ["PASSWORD", "accounts_on", "confirm", "deliver", "form_fields", "is_logged_in", "link_in", "login",
           "logout", "mails_to", "make_account", "path_of", "register", "text_of"]
