"""Helpers for the customer-side tests: read a form like a browser (its hidden fields), then post it."""
from __future__ import annotations

import re
from html import unescape

import pytest

from hesk_py import settings

_INPUT_RE = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR_RE = re.compile(r'(\w[\w-]*)="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """Every hidden input of the page (CSRF token, form token, honeypots, category, track)."""
    out = {}
    for tag in _INPUT_RE.findall(html):
        attrs = {k.lower(): unescape(v) for k, v in _ATTR_RE.findall(tag)}
        if attrs.get("type") == "hidden" and "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
        elif attrs.get("name") in ("hx", "hy"):  # the honeypots are text inputs out of sight
            out[attrs["name"]] = attrs.get("value", "")
    return out


def text_of(html: str) -> str:
    """The page as a person reads it: tags removed, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def quick_form(app):
    """No minimum fill time, no CAPTCHA, the anti-spam question on (its answer is known): forms can be
    posted at once. Tests of those measures turn them back on."""
    with app.app_context():
        settings.save({"spam_min_fill_seconds": 0, "secimg_use": 0, "question_use": True, "flood": 0})
    return app


ANSWER = "PB6YM"


@pytest.fixture
def open_form():
    """``open_form(client, url)`` -> (response, hidden fields)."""

    def get(client, url="/submit_ticket?category=1"):
        resp = client.get(url)
        assert resp.status_code == 200, resp.status_code
        return resp, hidden_fields(resp.get_data(as_text=True))

    return get


@pytest.fixture
def file_ticket(open_form):
    """Post the real ticket form (after reading it): ``file_ticket(client, subject=..., files=[...])``."""

    def post(client, *, url="/submit_ticket?category=1", files=None, **fields):
        _resp, hidden = open_form(client, url)
        data = {**hidden, "name": "Casey Customer", "email": "casey@example.com", "subject": "Printer on fire",
                "message": "It started smoking this morning.", "question": ANSWER}
        data.update({k: v for k, v in fields.items() if v is not None})
        for k in [k for k, v in fields.items() if v is None]:
            data.pop(k, None)
        if files:
            data["attachments"] = files
        return client.post("/submit_ticket", data=data, content_type="multipart/form-data")

    return post
