"""The collision notice: two staff members with the same ticket open each see the other, and a reply sent
after someone else replied comes back with its text kept and a notice, before anything is sent."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Reply, TicketViewer, User
from hesk_py.models.types import utcnow
from hesk_py.services import ticket_work
from tests.admin.test_tickets_view import ALL_FEATURES
from tests.admin.ticket_helpers import in_db, logged_in, text_of, ticket_row


@pytest.fixture
def two(app, make_user):
    make_user("olena", name="Olena First", features=ALL_FEATURES)
    make_user("maksym", name="Maksym Second", features=ALL_FEATURES)
    return logged_in(app, "olena"), logged_in(app, "maksym")


def _form(html: str) -> dict:
    """The reply form's hidden values, as the page rendered them."""
    form = html.split('id="reply"', 1)[1]
    return {
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1),
        "last_reply_id": re.search(r'name="last_reply_id"[^>]*value="(\d*)"', form).group(1),
    }


def test_each_sees_the_other_viewing(app, two, make_ticket):
    olena, maksym = two
    t = make_ticket()
    first = text_of(olena.get(f"/admin/tickets/{t}"))
    assert "Also viewing this ticket" not in first
    second = text_of(maksym.get(f"/admin/tickets/{t}"))
    assert "Also viewing this ticket" in second and "Olena First" in second
    again = text_of(olena.get(f"/admin/tickets/{t}"))
    assert "Maksym Second" in again and "Olena First" not in again.split("Also viewing", 1)[1].split("</table>")[0]
    data = olena.get(f"/admin/tickets/{t}/viewers").json
    assert [v["name"] for v in data["viewers"]] == ["Maksym Second"] and data["new_replies"] == []


def test_old_viewers_drop_off(app, two, make_ticket):
    olena, maksym = two
    t = make_ticket()
    maksym.get(f"/admin/tickets/{t}")

    def age():
        uid = db.session.scalar(select(User.id).where(User.username == "maksym"))
        row = db.session.scalar(select(TicketViewer).where(TicketViewer.user_id == uid))
        row.seen_at = utcnow() - ticket_work.VIEWING_WINDOW * 2
        db.session.commit()

    in_db(app, age)
    assert "Also viewing this ticket" not in text_of(olena.get(f"/admin/tickets/{t}"))


def test_a_reply_after_someone_elses_comes_back_with_the_text(app, two, make_ticket):
    olena, maksym = two
    t = make_ticket()
    olena_form = _form(text_of(olena.get(f"/admin/tickets/{t}")))
    maksym_form = _form(text_of(maksym.get(f"/admin/tickets/{t}")))
    # Maksym answers first
    resp = maksym.post(f"/admin/tickets/{t}/reply", data={**maksym_form, "message": "Maksym's answer",
                                                          "status": "3", "priority": "0"})
    assert resp.status_code == 302
    # the polling script would now tell Olena
    news = olena.get(f"/admin/tickets/{t}/viewers?since={olena_form['last_reply_id']}").json
    assert [r["name"] for r in news["new_replies"]] == ["Maksym Second"]
    # Olena sends hers from the page she loaded before: it comes back, text kept, nothing sent
    resp = olena.post(f"/admin/tickets/{t}/reply", data={**olena_form, "message": "Olena's answer",
                                                         "status": "3", "priority": "0"})
    html = text_of(resp)
    assert resp.status_code == 409
    assert "New replies were added since you opened this ticket" in html and "Maksym Second" in html
    assert "Olena&#39;s answer</textarea>" in html
    assert "Maksym&#39;s answer" in html  # the reply she missed is on the page
    assert ticket_row(app, t).reply_count == 1
    # sending again from that page (which knows about Maksym's reply) goes through
    resp = olena.post(f"/admin/tickets/{t}/reply", data={**_form(html), "message": "Olena's answer",
                                                         "status": "3", "priority": "0"})
    assert resp.status_code == 302
    replies = in_db(app, lambda: db.session.scalars(select(Reply.message).order_by(Reply.id)).all())
    assert replies == ["Maksym's answer", "Olena's answer"]


def test_a_customer_reply_meanwhile_also_counts(app, two, make_ticket):
    from hesk_py.models import Ticket
    from hesk_py.services import tickets as svc

    olena, _maksym = two
    t = make_ticket()
    form = _form(text_of(olena.get(f"/admin/tickets/{t}")))
    in_db(app, lambda: svc.add_reply(db.session.scalar(select(Ticket).where(Ticket.trackid == t)),
                                     message="Customer: any news?", actor=svc.Actor.customer("Casey")))
    resp = olena.post(f"/admin/tickets/{t}/reply", data={**form, "message": "We are on it", "status": "3",
                                                         "priority": "0"})
    assert resp.status_code == 409 and "Customer: any news?" in text_of(resp)
