"""The customer pages run a fixed, small number of SQL statements (no query per reply or attachment)."""
from __future__ import annotations

import io

import pytest

from hesk_py.extensions import db
from hesk_py.models import User
from hesk_py.services import attachments, service_messages, tickets
from hesk_py.services import knowledgebase as kb
from tests.public.test_attachments import PDF


@pytest.fixture
def app_config():
    # the generation token of the shared caches is read once here, not every second: fixed counts
    return {"HESK_CACHE_CHECK_SECONDS": 3600}


def _queries(count_queries, client, url):
    client.get(url)  # warm: the first request of a client sets up its session
    with client.application.app_context(), count_queries() as q:
        resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return q.count, q.statements


def test_home_and_form(app, client, count_queries, quick_form):
    # the settings, the service messages, the knowledgebase's lists, the categories, priorities and custom
    # fields are the same for every visitor: cached per process (hesk_py/shared_cache.py)
    with app.app_context():
        service_messages.create_message(title="Welcome", message="Hello", style="info", format="plain",
                                        published=True)
        kb.create_article(title="Printer jams", content="Open the tray.")
    home, stmts = _queries(count_queries, client, "/")
    assert home == 0, stmts
    assert "Welcome" in client.get("/").get_data(as_text=True)
    form, stmts = _queries(count_queries, client, "/submit_ticket?category=1")
    assert form == 0, stmts


def test_the_token_is_read_on_every_request_with_check_seconds_0(app, client, count_queries, other_app):
    other = other_app(HESK_CACHE_CHECK_SECONDS=0, HESK_CACHE_SHARED_STAMP=False)
    home, stmts = _queries(count_queries, other.test_client(), "/")
    assert home == 1 and "hesk_cache_generation" in stmts[0], stmts  # one primary-key read


def test_filing_a_ticket(app, client, count_queries, quick_form, open_form):
    from tests.public.conftest import ANSWER

    def post(n):
        _resp, hidden = open_form(client)
        data = {**hidden, "name": "Casey Customer", "email": f"casey{n}@example.com", "subject": "Printer on fire",
                "message": "It started smoking this morning.", "question": ANSWER}
        with client.application.app_context(), count_queries() as q:
            resp = client.post("/submit_ticket", data=data, content_type="multipart/form-data")
        assert resp.status_code == 303, resp.status_code
        return q.count, q.statements

    post(0)
    count, stmts = post(1)
    # the per-address ticket limit (its counter: UPDATE, SELECT), customer (look-up, insert), tracking ID check,
    # category, priority, auto-assign, ticket, history, outbox, the spent form token (one INSERT IGNORE): no
    # reload after the commit, nothing cached read again
    assert count <= 13, stmts


def test_ticket_page_does_not_grow_with_the_thread(app, client, count_queries, quick_form, make_ticket, admin):
    trackid = make_ticket(email="q@example.com")
    url = f"/ticket?track={trackid}&e=q@example.com"

    def add_posts(n):
        with app.app_context():
            t = tickets.get_ticket(trackid)
            staff = db.session.get(User, admin)
            for i in range(n):
                saved = attachments.storage().save(io.BytesIO(PDF))
                att = [{"saved_name": saved, "real_name": f"f{i}.pdf", "size": len(PDF),
                        "content_type": "application/pdf"}]
                actor = tickets.Actor.staff(staff) if i % 2 else tickets.Actor.customer("Q")
                tickets.add_reply(t, message=f"reply {i}", actor=actor, attachments=att)

    add_posts(2)
    client.get(url)
    few, _ = _queries(count_queries, client, url)
    add_posts(10)
    client.get(url)  # marks the new staff replies read
    many, stmts = _queries(count_queries, client, url)
    assert many == few, stmts
    # the failed look-ups counter of this address, the ticket, its replies, the attachments (the staff names
    # are cached, hesk_py/shared_cache.py)
    assert many <= 4, stmts

