"""Every customer route that changes something answers only POST, and only with the session's CSRF
token (reference/PEERS.md §4.5). Routes come from the URL map, so new ones are walked too."""
from __future__ import annotations

from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import OutboxMessage, Reply, Ticket, TicketEvent
from tests.public.conftest import ANSWER, hidden_fields

READ_ONLY = {"GET", "HEAD", "OPTIONS"}


def _state(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Ticket, Reply, OutboxMessage, TicketEvent))


def test_posts_without_a_token_change_nothing(app, client, quick_form, make_ticket, admin):
    trackid = make_ticket(email="walk@example.com")
    client.get(f"/ticket?track={trackid}&e=walk@example.com")  # this browser may act on the ticket
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    form = {k: v for k, v in hidden_fields(html).items() if k != "csrf_token"}
    payload = {**form, "track": trackid, "name": "W", "email": "w@example.com", "subject": "s", "message": "m",
               "question": ANSWER, "reply_id": "1", "rating": "5", "language": "uk", "open_only": "1"}
    before = _state(app)
    walked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("public.") or rule.arguments:
            continue
        methods = set(rule.methods or ()) - READ_ONLY
        if not methods:
            continue
        walked.append(rule.rule)
        for method in methods:
            resp = client.open(rule.rule, method=method, data=payload)
            assert resp.status_code in (302, 303, 400, 403), (rule.rule, method, resp.status_code)
            if resp.status_code in (302, 303):
                assert "/submit_ticket/done" not in resp.headers.get("Location", ""), rule.rule
        if "GET" not in (rule.methods or ()):
            assert client.get(rule.rule).status_code == 405, rule.rule
    assert _state(app) == before
    assert client.get_cookie("hesk_language") is None
    assert {"/submit_ticket", "/ticket/reply", "/ticket/resolve", "/ticket/reopen", "/ticket/rate",
            "/forgot_tracking_id", "/language"} <= set(walked)
