"""Helpers for the staff ticket page tests: clients logged in through the real form, POSTs that carry the
CSRF token the page gave, and reading the database without holding a transaction open (on SQLite an open
transaction in the test would block the request it is testing)."""
from __future__ import annotations

import io
import re

from hesk_py.extensions import db
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD, csrf_token_from


def logged_in(app, username: str, password: str | None = None):
    """A new browser (test client) logged in as ``username`` through the login form."""
    password = password or (ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    resp = client.post("/admin/login", data={"username": username, "password": password,
                                              "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 302, f"login as {username} failed: {resp.status_code}"
    return client


def token(client, url: str = "/admin/profile") -> str:
    resp = client.get(url)
    assert resp.status_code == 200, f"GET {url}: {resp.status_code}"
    return csrf_token_from(resp.get_data(as_text=True))


def post(client, url: str, data: dict | None = None, *, token_url: str = "/admin/profile", files=None):
    data = dict(data or {})
    data.setdefault("csrf_token", token(client, token_url))
    if files:
        data.update(files)
        return client.post(url, data=data, content_type="multipart/form-data")
    return client.post(url, data=data)


def act(client, trackid: str, action: str, data: dict | None = None, **kw):
    """POST /admin/tickets/<trackid>/<action> with a token from the ticket page."""
    return post(client, f"/admin/tickets/{trackid}/{action}", data, token_url=f"/admin/tickets/{trackid}", **kw)


def upload(name: str, content: bytes):
    return (io.BytesIO(content), name)


def in_db(app, fn):
    """Run ``fn()`` in its own app context (its own session, closed afterwards) and return its result."""
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.rollback()


def ticket_row(app, trackid: str):
    from hesk_py.models import Ticket

    def load():
        t = db.session.query(Ticket).filter_by(trackid=trackid).one_or_none()
        if t is not None:
            db.session.expunge(t)
        return t

    return in_db(app, load)


def events(app, trackid: str) -> list[str]:
    from hesk_py.models import Ticket, TicketEvent

    def load():
        t = db.session.query(Ticket).filter_by(trackid=trackid).one()
        return [e.action for e in db.session.query(TicketEvent).filter_by(ticket_id=t.id).order_by(TicketEvent.id)]

    return in_db(app, load)


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def flashes(resp_html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'class="notice notice-\w+"[^>]*>(.*?)</div>',
                                                               resp_html, re.S)]
