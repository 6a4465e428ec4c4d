"""Viewing a ticket with its tracking ID (and email): access, the brute-force limit, replies, resolve,
reopen, ratings, print view."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import FailedAttempt, OutboxMessage, Reply, Ticket, TicketEvent, User
from hesk_py.models.types import utcnow
from hesk_py.services import bans, tickets
from tests.public.conftest import hidden_fields, text_of

EMAIL = "casey@example.com"


@pytest.fixture
def trackid(make_ticket, quick_form):
    return make_ticket(subject="Broken printer", message="It prints only blank pages.", email=EMAIL)


def _staff_reply(app, trackid, user_id, message="Have you tried new toner?"):
    with app.app_context():
        t = tickets.get_ticket(trackid)
        r = tickets.add_reply(t, message=message, actor=tickets.Actor.staff(db.session.get(User, user_id)))
        return r.id


def _ticket(app, trackid):
    with app.app_context():
        t = tickets.get_ticket(trackid)
        db.session.expunge(t)
        return t


def _open(client, trackid, email=EMAIL):
    resp = client.get(f"/ticket?track={trackid}&e={email}")
    assert resp.status_code == 200
    return resp


def test_the_look_up_form(app, client, quick_form):
    resp = client.get("/ticket")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'name="track"' in html and 'name="e"' in html and 'name="r"' in html
    assert "/forgot_tracking_id" in html


def test_the_ticket_with_its_details(app, client, trackid, admin):
    _staff_reply(app, trackid, admin)
    resp = _open(client, trackid)
    html = resp.get_data(as_text=True)
    text = text_of(html)
    assert resp.headers["Cache-Control"] == "private, no-store"
    for expected in ("Broken printer", "It prints only blank pages.", trackid, "Replied", "General", "Low",
                     "Have you tried new toner?", "Ada Admin", "Created on", "Updated"):
        assert expected in text, expected
    assert 'action="/ticket/reply"' in html
    assert "Was this reply helpful?" in text


def test_the_email_is_asked_for_and_a_wrong_one_reveals_nothing(app, client, trackid):
    resp = client.get(f"/ticket?track={trackid}")
    assert resp.status_code == 200
    assert "Enter the email address you used for this ticket." in resp.get_data(as_text=True)
    assert "Broken printer" not in resp.get_data(as_text=True)
    wrong_email = client.get(f"/ticket?track={trackid}&e=someone@example.com")
    wrong_id = client.get("/ticket?track=AAA-BBB-CCCC&e=casey@example.com")
    for resp in (wrong_email, wrong_id):
        html = resp.get_data(as_text=True)
        assert resp.status_code == 404
        assert "Ticket not found." in html
        assert "Broken printer" not in html and "blank pages" not in html
    # the two failures look the same to the visitor
    strip = lambda h: re.sub(r'value="[^"]*"|name="csrf_token"[^>]*', "", h)  # noqa: E731
    assert strip(wrong_email.get_data(as_text=True)).replace(trackid, "X") == \
        strip(wrong_id.get_data(as_text=True)).replace("AAA-BBB-CCCC", "X")


def test_without_email_view_ticket_the_tracking_id_is_enough(app, client, trackid):
    with app.app_context():
        settings.save({"email_view_ticket": False})
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "Broken printer" in html
    assert 'name="e"' not in client.get("/ticket").get_data(as_text=True)


def test_the_sixth_wrong_try_is_blocked_for_attempt_banmin(app, client, trackid):
    for i in range(5):
        resp = client.get(f"/ticket?track={trackid}&e=guess{i}@example.com")
        assert resp.status_code == 404, i
    sixth = client.get(f"/ticket?track={trackid}&e=guess5@example.com")
    assert sixth.status_code == 429
    assert "Too many failed attempts. Please try again in 60 minutes." in sixth.get_data(as_text=True)
    # now even the right email is refused from this address ...
    right = client.get(f"/ticket?track={trackid}&e={EMAIL}")
    assert right.status_code == 429 and "Broken printer" not in right.get_data(as_text=True)
    # ... but not from another one
    other = app.test_client()
    resp = other.get(f"/ticket?track={trackid}&e={EMAIL}", environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert resp.status_code == 200
    # after attempt_banmin minutes the address may try again
    with app.app_context():
        db.session.execute(update(FailedAttempt).values(last_attempt_at=utcnow() - timedelta(minutes=61)))
        db.session.commit()
    assert client.get(f"/ticket?track={trackid}&e={EMAIL}").status_code == 200


def test_attempt_limit_follows_the_setting(app, client, trackid):
    with app.app_context():
        settings.save({"attempt_limit": 2, "attempt_banmin": 5})
    assert client.get(f"/ticket?track={trackid}&e=a@example.com").status_code == 404
    resp = client.get(f"/ticket?track={trackid}&e=b@example.com")
    assert resp.status_code == 429
    assert "try again in 5 minutes" in resp.get_data(as_text=True)


def test_remember_my_email(app, client, trackid):
    resp = client.get(f"/ticket?track={trackid}&e={EMAIL}&r=y&lookup=1")
    cookie = client.get_cookie("hesk_myemail")
    assert cookie is not None and cookie.value == EMAIL
    assert cookie.http_only
    assert f'value="{EMAIL}"' in client.get("/ticket").get_data(as_text=True)
    client.get(f"/ticket?track={trackid}&e={EMAIL}&lookup=1")  # the box unticked: forgotten
    assert client.get_cookie("hesk_myemail") is None
    assert resp.status_code == 200


def test_staff_nicknames(app, client, trackid, make_user):
    uid = make_user("sam", name="Samantha Smith")
    with app.app_context():
        db.session.get(User, uid).nickname = "Sam from Support"
        db.session.commit()
    _staff_reply(app, trackid, uid)
    assert "Samantha Smith" in _open(client, trackid).get_data(as_text=True)
    with app.app_context():
        settings.save({"staff_nicknames": True})
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "Sam from Support" in html and "Samantha Smith" not in html


def test_staff_replies_are_marked_read_when_the_customer_views(app, client, trackid, admin):
    rid = _staff_reply(app, trackid, admin)
    with app.app_context():
        assert db.session.get(Reply, rid).read is False
    _open(client, trackid)
    with app.app_context():
        assert db.session.get(Reply, rid).read is True


def _reply_form(client, trackid):
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    return hidden_fields(html)


def test_the_customer_replies(app, client, trackid, admin):
    _staff_reply(app, trackid, admin)
    _open(client, trackid)
    data = {**_reply_form(client, trackid), "message": "Still blank <b>pages</b>\nhttps://example.com/photo"}
    resp = client.post("/ticket/reply", data=data)
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your reply has been sent." in page
    assert "Still blank &lt;b&gt;pages&lt;/b&gt;" in page
    assert '<a href="https://example.com/photo" rel="nofollow noopener noreferrer">' in page
    t = _ticket(app, trackid)
    assert t.status_id == 2 and t.last_replier == "customer" and t.reply_count == 2
    with app.app_context():
        reply = db.session.scalars(select(Reply).where(Reply.author_type == "customer")).one()
        assert reply.message == "Still blank <b>pages</b>\nhttps://example.com/photo"
        # the owner or the category's staff hear about it
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.template == "new_reply_by_customer")) >= 1
    # the same form again (double click): no second reply
    client.post("/ticket/reply", data=data)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reply).where(Reply.author_type == "customer")) == 1


def test_script_and_onerror_payloads_in_a_reply_show_as_text(app, client, trackid, admin, login):
    _open(client, trackid)
    payload = '<script>alert("r")</script><img src=x onerror=alert(1)>"><svg onload=alert(2)>'
    resp = client.post("/ticket/reply", data={**_reply_form(client, trackid), "message": payload})
    assert resp.status_code == 303
    page = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(&#34;r&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert payload in text_of(page)  # shown exactly as typed, as text
    with app.app_context():  # stored exactly as typed
        assert db.session.scalars(select(Reply.message).where(Reply.author_type == "customer")).one() == payload
    login()  # and staff see it as text too
    staff_page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert "<script>alert" not in staff_page and "<img src=x" not in staff_page
    assert "&lt;img src=x onerror=alert(1)&gt;" in staff_page


def test_a_reply_with_an_attachment(app, client, trackid):
    _open(client, trackid)
    data = {**_reply_form(client, trackid), "message": "Here is the log",
            "attachments": [(io.BytesIO(b"error 42\n"), "printer.log.txt")]}
    resp = client.post("/ticket/reply", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303
    page = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "printer.log.txt" in page
    att = re.search(r'href="(/ticket/attachment/\d+\?track=[^"]+)"', page).group(1)
    assert client.get(att.replace("&amp;", "&")).data == b"error 42\n"


def test_a_bad_reply_comes_back_as_typed(app, client, trackid):
    _open(client, trackid)
    data = {**_reply_form(client, trackid), "message": "  ",
            "attachments": [(io.BytesIO(b"<?php ?>"), "x.php")]}
    resp = client.post("/ticket/reply", data=data, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Please write your message." in html
    assert "files of type .php are not allowed" in text_of(html)
    data = {**_reply_form(client, trackid), "message": "My long reply", "csrf_token": "stale"}
    resp = client.post("/ticket/reply", data=data)
    assert resp.status_code == 400
    assert "My long reply</textarea>" in resp.get_data(as_text=True)
    assert _ticket(app, trackid).reply_count == 0


def test_posting_needs_access_to_the_ticket(app, client, trackid):
    stranger = app.test_client()
    html = stranger.get("/ticket").get_data(as_text=True)
    resp = stranger.post("/ticket/reply", data={"track": trackid, "message": "hijack",
                                                **{k: v for k, v in hidden_fields(html).items()}})
    assert resp.status_code == 302
    assert f"/ticket?track={trackid}" in resp.headers["Location"]
    for action in ("resolve", "reopen", "rate"):
        resp = stranger.post(f"/ticket/{action}", data={"track": trackid})
        assert resp.status_code in (302, 400)  # no access, or no CSRF token: nothing happens
    assert _ticket(app, trackid).reply_count == 0 and _ticket(app, trackid).status_id == 1


def test_actions_only_by_post_with_a_csrf_token(app, client, trackid):
    _open(client, trackid)
    for action in ("reply", "resolve", "reopen", "rate"):
        assert client.get(f"/ticket/{action}?track={trackid}").status_code == 405
    resp = client.post("/ticket/resolve", data={"track": trackid})
    assert resp.status_code == 400
    assert _ticket(app, trackid).status_id == 1


def test_resolve_and_reopen(app, client, trackid, admin):
    _staff_reply(app, trackid, admin)
    _open(client, trackid)
    form = _reply_form(client, trackid)
    resp = client.post("/ticket/resolve", data={"csrf_token": form["csrf_token"], "track": trackid})
    assert resp.status_code == 303
    t = _ticket(app, trackid)
    assert t.status_id == 4 and t.closed_by == "customer" and not t.locked
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "Reopen ticket" in html and "Mark as resolved" not in html
    resp = client.post("/ticket/reopen", data={"csrf_token": form["csrf_token"], "track": trackid})
    assert resp.status_code == 303
    t = _ticket(app, trackid)
    assert t.status_id == 3  # staff wrote last: Replied (HESK's rule)
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id))]
    assert actions.count("status") >= 3


def test_reopen_goes_back_to_new_without_staff_replies(app, client, trackid):
    _open(client, trackid)
    token = _reply_form(client, trackid)["csrf_token"]
    client.post("/ticket/resolve", data={"csrf_token": token, "track": trackid})
    client.post("/ticket/reopen", data={"csrf_token": token, "track": trackid})
    assert _ticket(app, trackid).status_id == 1


def test_custclose_and_custopen_settings(app, client, trackid):
    with app.app_context():
        settings.save({"custclose": False})
    _open(client, trackid)
    earlier = _reply_form(client, trackid)
    token = earlier["csrf_token"]
    assert "Mark as resolved" not in client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert client.post("/ticket/resolve", data={"csrf_token": token, "track": trackid}).status_code == 403
    with app.app_context():
        settings.save({"custclose": True, "custopen": False})
    client.post("/ticket/resolve", data={"csrf_token": token, "track": trackid})
    t = _ticket(app, trackid)
    assert t.status_id == 4 and t.locked  # without custopen, HESK locks it
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "Reopen ticket" not in html and 'action="/ticket/reply"' not in html
    assert client.post("/ticket/reopen", data={"csrf_token": token, "track": trackid}).status_code == 403
    resp = client.post("/ticket/reply", data={**earlier, "message": "hello?"})
    assert resp.status_code == 403
    assert "This ticket is locked" in resp.get_data(as_text=True)
    assert _ticket(app, trackid).reply_count == 0


def test_rate_a_staff_reply_once(app, client, trackid, admin):
    rid = _staff_reply(app, trackid, admin)
    _open(client, trackid)
    token = _reply_form(client, trackid)["csrf_token"]
    resp = client.post("/ticket/rate", data={"csrf_token": token, "track": trackid, "reply_id": rid, "rating": 5})
    assert resp.status_code == 303
    assert "Thank you for your feedback." in client.get(resp.headers["Location"]).get_data(as_text=True)
    resp = client.post("/ticket/rate", data={"csrf_token": token, "track": trackid, "reply_id": rid, "rating": 1})
    assert "You have already rated this reply." in client.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Reply, rid).rating == 5
    html = client.get(f"/ticket?track={trackid}").get_data(as_text=True)
    assert "You rated this reply as helpful." in html
    assert client.post("/ticket/rate", data={"csrf_token": token, "track": trackid, "reply_id": rid,
                                             "rating": 3}).status_code in (303, 400)
    with app.app_context():
        settings.save({"rating": False})
    assert client.post("/ticket/rate", data={"csrf_token": token, "track": trackid, "reply_id": rid,
                                             "rating": 1}).status_code == 403


def test_a_reply_of_another_ticket_cannot_be_rated(app, client, trackid, admin, make_ticket):
    other = make_ticket(email="other@example.com")
    rid = _staff_reply(app, other, admin)
    _open(client, trackid)
    token = _reply_form(client, trackid)["csrf_token"]
    resp = client.post("/ticket/rate", data={"csrf_token": token, "track": trackid, "reply_id": rid, "rating": 1})
    assert resp.status_code == 404
    with app.app_context():
        assert db.session.get(Reply, rid).rating is None


def test_print_view(app, client, trackid, admin):
    _staff_reply(app, trackid, admin)
    resp = client.get(f"/ticket/print?track={trackid}&e={EMAIL}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Broken printer" in html and "blank pages" in html and "new toner" in html
    assert 'action="/ticket/reply"' not in html
    assert app.test_client().get(f"/ticket/print?track={trackid}&e=x@example.com").status_code == 404


def test_banned_ips_cannot_view_tickets(app, client, trackid):
    with app.app_context():
        bans.ban_ip("127.0.0.1")
    resp = client.get(f"/ticket?track={trackid}&e={EMAIL}")
    assert resp.status_code == 403
    assert "Broken printer" not in resp.get_data(as_text=True)


def test_reply_flood_protection(app, client, trackid):
    with app.app_context():
        settings.save({"flood": 60})
    _open(client, trackid)
    first = client.post("/ticket/reply", data={**_reply_form(client, trackid), "message": "one"})
    assert first.status_code == 303
    second = client.post("/ticket/reply", data={**_reply_form(client, trackid), "message": "two"})
    assert second.status_code == 429
    assert "two</textarea>" in second.get_data(as_text=True)
    assert _ticket(app, trackid).reply_count == 1


def test_print_view_barcode(app, client, trackid):
    html = client.get(f"/ticket/print?track={trackid}&e={EMAIL}").get_data(as_text=True)
    assert "barcode" not in html
    with app.app_context():
        settings.save({"barcode.print": True})
    html = client.get(f"/ticket/print?track={trackid}").get_data(as_text=True)
    assert '<svg' in html and 'class="barcode"' in html and f"<title>{trackid}</title>" in html
    with app.app_context():
        settings.save({"barcode.format": "png"})
    html = client.get(f"/ticket/print?track={trackid}").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in html
    with app.app_context():
        settings.save({"barcode.staff_only": True})
    assert "barcode" not in client.get(f"/ticket/print?track={trackid}").get_data(as_text=True)
