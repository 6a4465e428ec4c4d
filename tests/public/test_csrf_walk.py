"""Every customer route that changes something answers only POST, and only with the session's CSRF
token (reference/PEERS.md §4.5). Routes come from the URL map, so new ones are walked too. Customer accounts
are on, so their pages are walked as well: by a visitor and by a logged-in customer."""
from __future__ import annotations

from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import Customer, CustomerAuthToken, CustomerToken, OutboxMessage, Reply, Ticket, TicketEvent
from tests.public.accounts_helpers import accounts_on, make_account
from tests.public.conftest import ANSWER, hidden_fields

READ_ONLY = {"GET", "HEAD", "OPTIONS"}


def _state(app):
    with app.app_context():
        counts = tuple(db.session.scalar(select(func.count()).select_from(m))
                       for m in (Ticket, Reply, OutboxMessage, TicketEvent, CustomerToken, CustomerAuthToken))
        accounts = tuple(db.session.execute(
            select(Customer.email, Customer.name, Customer.account_status, Customer.password_hash,
                   Customer.session_version, Customer.mfa_method).order_by(Customer.id)).all())
        return counts, accounts


def _walk(app, client, trackid):
    client.get(f"/ticket?track={trackid}&e=walk@example.com")  # this browser may act on the ticket
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    form = {k: v for k, v in hidden_fields(html).items() if k != "csrf_token"}
    payload = {**form, "track": trackid, "name": "W", "email": "w@example.com", "subject": "s", "message": "m",
               "question": ANSWER, "reply_id": "1", "rating": "5", "language": "uk", "open_only": "1",
               "password": "Walk-passw0rd-1", "confirm": "Walk-passw0rd-1", "current": "Walk-passw0rd-1",
               "new_email": "walker@example.com", "current_password": "Walk-passw0rd-1", "code": "123456"}
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
    return set(walked)


def test_posts_without_a_token_change_nothing(app, client, quick_form, make_ticket, admin):
    accounts_on(app)
    trackid = make_ticket(email="walk@example.com")
    walked = _walk(app, client, trackid)
    assert {"/submit_ticket", "/ticket/reply", "/ticket/resolve", "/ticket/reopen", "/ticket/rate",
            "/forgot_tracking_id", "/language", "/login", "/register", "/verify", "/reset-password",
            "/logout"} <= walked


def test_a_logged_in_customers_posts_without_a_token_change_nothing(app, client, quick_form, make_ticket,
                                                                     smtp_server):
    accounts_on(app)
    trackid = make_ticket(email="walk@example.com")
    make_account(app, client, smtp_server, email="walk@example.com")
    walked = _walk(app, client, trackid)
    assert {"/profile", "/profile/password", "/profile/email", "/profile/sessions", "/mfa/app/start",
            "/mfa/email/start", "/mfa/disable", "/mfa/backup-codes", "/elevate", "/logout"} <= walked
    assert client.get("/my-tickets").status_code == 200  # still logged in: the walk proved something
