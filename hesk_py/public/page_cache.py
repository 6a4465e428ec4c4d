"""Whole customer pages for first visits: the home page and the ticket form, as a visitor without any cookie
gets them.

Such a visitor has no session, no language cookie, no login, no flashed message: the page depends only on
the URL, the help desk's language and data that is the same for everyone (settings, categories, priorities,
custom fields, service messages, the knowledgebase's lists), plus the tokens of its forms. So the HTML of
the first such visit is kept (in ``hesk_py/shared_cache.py``: dropped with any change to those tables, on
this machine at once and on other app servers within ``[cache] check_seconds``, and after ``[cache] max_age``
in any case) with its tokens cut out, and the next first visits get it with tokens of their own:

* the CSRF token of the visitor's new session (Flask-WTF's ``generate_csrf``, which starts the session and
  so sets its cookie, as rendering the form would);
* the ticket form's one-time token (``antispam.issue_token``: its nonce, its time, the CAPTCHA image URL).

A page is kept only when nothing of the first visitor is in it: the request had no cookie and its query
string is one the view names (``?category=<id>`` of the category shown, or none), the session holds nothing but the CSRF token afterwards (and Flask-Login's
``_remember = "clear"``), and every place the tokens stood was found and cut out (the kept HTML contains
neither). Everything else goes through the
view as before. A page served from here must depend on nothing else of the request (no header, no address):
keep it so when changing ``templates/public/index.html``, ``submit_ticket.html`` or their views.
"""
from __future__ import annotations

from flask import current_app, g, make_response, request, session

from hesk_py import shared_cache

_CSRF = "\x00hesk-csrf\x00"
_FORM = "\x00hesk-form\x00"
_MAX_PARTS = 64  # more places than this for the tokens: something unusual, keep nothing


def _first_visit(queries: frozenset[str]) -> bool:
    return (request.method == "GET" and not request.cookies and request.query_string.decode("latin-1") in queries
            and bool(current_app.config.get("HESK_INSTALLED")))


def _key(name: str) -> str:
    """What the page depends on: its language, the URL prefix and query, and the day (dates in custom field
    defaults, "today + 7 days", change at midnight in the help desk's time zone)."""
    from datetime import datetime, timezone

    from flask_babel import get_locale, to_user_timezone

    today = to_user_timezone(datetime.now(timezone.utc)).date().isoformat()
    query = request.query_string.decode("latin-1")
    return f"page:{name}:{get_locale()}:{request.script_root}:{today}:{query}"


def serve(name: str, queries: frozenset[str] = frozenset({""}), *, form_token: bool = False):
    """The kept page for this first visit, with fresh tokens, or None (render it, then ``keep`` it).
    ``queries``: the query strings the page is kept for, exactly (anything else a visitor typed into the URL
    might show on the page, and must never reach another visitor; and the kept pages stay few)."""
    if not _first_visit(queries):
        return None
    c = shared_cache.cache()
    if c is None or not c.enabled:
        return None
    key = _key(name)
    kept = c.peek(key)
    if kept is None:
        g._hesk_page_key = key
        return None
    parts, cache_control = kept
    from flask_wtf.csrf import generate_csrf

    from hesk_py.services import antispam

    csrf = generate_csrf() if _CSRF in parts else ""
    token = antispam.issue_token() if form_token else ""
    resp = make_response("".join(csrf if p == _CSRF else token if p == _FORM else p for p in parts), 200)
    if cache_control:
        resp.headers["Cache-Control"] = cache_control
    return resp


def keep(resp, *, form_token: str | None = None):
    """Keep the page just rendered for the next first visits (when ``serve`` asked for it and nothing of
    this visitor is in it). Returns ``resp`` unchanged."""
    key = g.pop("_hesk_page_key", None)
    if key is None or resp.status_code != 200 or resp.direct_passthrough or resp.is_streamed:
        return resp
    # the CSRF token, and Flask-Login's note that a new session has no remember-me cookie to keep
    if set(session.keys()) - {"csrf_token", "_remember"} or session.get("_remember", "clear") != "clear" \
            or resp.headers.getlist("Set-Cookie"):
        return resp
    html = resp.get_data(as_text=True)
    pieces = [(_CSRF, g.get("csrf_token"))]
    if form_token:
        pieces.append((_FORM, form_token))
    parts = [html]
    for marker, value in pieces:
        if not value:
            continue
        if value not in html:  # the token is not where a replacement would find it: keep nothing
            return resp
        parts = [q for p in parts for q in _split(p, value, marker)]
    if any(value and value in p for p in parts for _m, value in pieces) or len(parts) > _MAX_PARTS:
        return resp
    c = shared_cache.cache()
    if c is not None:
        c.put(key, (tuple(parts), resp.headers.get("Cache-Control")))
    return resp


def _split(text: str, value: str, marker: str) -> list[str]:
    if text in (_CSRF, _FORM):
        return [text]
    out: list[str] = []
    for i, chunk in enumerate(text.split(value)):
        if i:
            out.append(marker)
        if chunk:
            out.append(chunk)
    return out
