"""The customer pages run a fixed, small number of SQL statements (no query per reply or attachment)."""
from __future__ import annotations

import io

from hesk_py.extensions import db
from hesk_py.models import User
from hesk_py.services import attachments, tickets
from tests.public.test_attachments import PDF


def _queries(count_queries, client, url):
    client.get(url)  # warm: the first request of a client sets up its session
    with client.application.app_context(), count_queries() as q:
        resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return q.count, q.statements


def test_home_and_form(app, client, count_queries, quick_form):
    home, stmts = _queries(count_queries, client, "/")
    # the settings, the service messages, and with the knowledgebase on its categories and top articles
    # (kb_index_popart; kb_index_latest is off by default)
    assert home <= 4, stmts
    form, stmts = _queries(count_queries, client, "/submit_ticket?category=1")
    assert form <= 4, stmts  # settings, categories, priorities, custom fields


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
    assert many <= 8, stmts
