"""First visits to the home page and the ticket form (hesk_py/public/page_cache.py): the page is built once, each
visitor gets tokens of their own, and nothing of one visitor ever reaches another."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Ticket
from tests.public.conftest import ANSWER, hidden_fields

_TOKENS = re.compile(r'name="(csrf_token|hesk_form)"[^>]*value="([^"]+)"')


def _first_visit(app, url):
    client = app.test_client()  # no cookie at all
    resp = client.get(url)
    assert resp.status_code == 200
    return client, resp


def _without_tokens(html: str) -> str:
    return _TOKENS.sub("TOKEN", re.sub(r"/captcha\?t=[^\"]+", "CAPTCHA", html))


def test_each_first_visitor_gets_own_tokens_and_can_file_a_ticket(app, quick_form):
    pages = [_first_visit(app, "/submit_ticket?category=1") for _ in range(3)]
    htmls = [resp.get_data(as_text=True) for _client, resp in pages]
    tokens = [dict(_TOKENS.findall(h)) for h in htmls]
    assert all(t.get("csrf_token") and t.get("hesk_form") for t in tokens)
    assert len({t["csrf_token"] for t in tokens}) == 3 and len({t["hesk_form"] for t in tokens}) == 3
    assert len({_without_tokens(h) for h in htmls}) == 1  # the same page otherwise
    for _client, resp in pages:
        assert resp.headers["Cache-Control"] == "private, no-store"
        assert "hesk_session=" in " ".join(resp.headers.getlist("Set-Cookie"))  # the CSRF token's new session
    # the form of a kept page files a ticket (its CSRF token belongs to that visitor's session)
    client, resp = pages[2]
    data = {**hidden_fields(htmls[2]), "name": "Kept Page", "email": "kept@example.com", "subject": "From a kept page",
            "message": "Hello", "question": ANSWER}
    assert client.post("/submit_ticket", data=data, content_type="multipart/form-data").status_code == 303
    # another visitor's CSRF token does not work with this one's session
    other_client, _resp = pages[1]
    data = {**hidden_fields(htmls[0]), "name": "Stolen", "email": "stolen@example.com", "subject": "Stolen token",
            "message": "Hello", "question": ANSWER}
    assert other_client.post("/submit_ticket", data=data, content_type="multipart/form-data").status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.subject == "Stolen token")) == 0


def test_a_visitor_with_a_session_gets_the_page_made_for_them(app, quick_form, open_form):
    _first_visit(app, "/submit_ticket?category=1")  # kept now
    client = app.test_client()
    client.get("/submit_ticket?category=1")  # this visitor has a session from here on
    prefilled = client.get("/submit_ticket?category=1&name=Dana+Prefilled").get_data(as_text=True)
    assert 'value="Dana Prefilled"' in prefilled  # arguments other than the category fill in the form
    cookie_less = app.test_client().get("/submit_ticket?category=1&name=Dana+Prefilled").get_data(as_text=True)
    assert 'value="Dana Prefilled"' in cookie_less  # not the kept page: it has other arguments


def test_the_kept_pages_follow_changes(app, client):
    _client, resp = _first_visit(app, "/")
    assert "Help Desk" in resp.get_data(as_text=True)
    with app.app_context():
        settings.save({"hesk_title": "Renamed Desk"})
    _client, resp = _first_visit(app, "/")
    assert "Renamed Desk" in resp.get_data(as_text=True)


def test_the_language_picker_of_a_kept_home_page_has_each_visitors_token(app):
    with app.app_context():
        settings.save({"can_sel_lang": True})
    htmls = [_first_visit(app, "/")[1].get_data(as_text=True) for _ in range(3)]
    tokens = [dict(_TOKENS.findall(h)).get("csrf_token") for h in htmls]
    assert all(tokens) and len(set(tokens)) == 3
    client, resp = _first_visit(app, "/")
    token = dict(_TOKENS.findall(resp.get_data(as_text=True)))["csrf_token"]
    resp = client.post("/language", data={"csrf_token": token, "language": "uk", "next": "/"})
    assert resp.status_code == 302 and "hesk_language=uk" in " ".join(resp.headers.getlist("Set-Cookie"))
    assert 'lang="uk"' in client.get("/").get_data(as_text=True)  # the cookie: no longer a first visit


def test_only_the_categorys_own_url_is_kept(app, quick_form):
    with app.app_context():
        settings.save({"can_sel_lang": True})  # the language form repeats the URL (its "next" field)
    typed = "/submit_ticket?category=1&x=%22typed-by-someone%22"
    for _ in range(2):
        assert "typed-by-someone" in _first_visit(app, typed)[1].get_data(as_text=True)
    for _ in range(2):
        assert "typed-by-someone" not in _first_visit(app, "/submit_ticket?category=1")[1].get_data(as_text=True)
