"""The outbox page (/admin/outbox): queued, sent and failed mails, the error kind without its text, and
"retry" for failed ones; only for administrators (it lists mail about tickets of every category)."""
from __future__ import annotations

from sqlalchemy import select, update

from hesk_py.extensions import db
from hesk_py.models import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
from hesk_py.services import mailer
from tests.admin.test_settings import words


def _fail_all(app, error="SMTPAuthenticationError: (535, b'5.7.8 bad password for secret-user')"):
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(status=OUTBOX_FAILED, attempts=mailer.MAX_ATTEMPTS,
                                                        last_error=error))
        db.session.commit()


def test_failed_mail_is_listed_with_the_error_kind_only_and_can_be_retried(app, client, admin, login, csrf,
                                                                           make_ticket, smtp_server):
    trackid = make_ticket(email="olga@example.org", subject="Printer on fire", autoassign=False)
    _fail_all(app)  # the customer's confirmation and the note to the admin (the ticket is unassigned)
    login("admin")
    page = words(client.get("/admin/outbox?status=failed"))
    assert "Failed (2)" in page and "Queued (0)" in page
    assert "olga@example.org" in page and f"[#{trackid}] Printer on fire" in page
    assert "SMTPAuthenticationError" in page
    assert "secret-user" not in page and "535" not in page  # the error's text stays out of the page
    assert f"{mailer.MAX_ATTEMPTS}" in page

    token = csrf(client, "/admin/outbox?status=failed")
    with app.app_context():
        row_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.recipient == "olga@example.org"))
    resp = client.post(f"/admin/outbox/{row_id}/retry", data={"csrf_token": token})
    assert resp.status_code == 303
    assert "queued again" in words(client.get(resp.headers["Location"]))
    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        assert (row.status, row.attempts) == (OUTBOX_QUEUED, 0)
        assert mailer.deliver_due()["sent"] == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "olga@example.org"
    page = words(client.get("/admin/outbox?status=sent"))
    assert "Sent (1)" in page and "Failed (1)" in page and "olga@example.org" in page
    # retrying a mail that is no longer failed changes nothing
    resp = client.post(f"/admin/outbox/{row_id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "not among the failed ones" in words(resp)
    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).status == OUTBOX_SENT


def test_retry_all_failed(app, client, admin, login, csrf, make_ticket):
    for n in range(3):
        make_ticket(email=f"c{n}@example.org", autoassign=False)
    _fail_all(app)
    login("admin")
    token = csrf(client, "/admin/outbox?status=failed")
    resp = client.post("/admin/outbox/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "6 failed emails are queued again." in words(resp)  # 3 confirmations, 3 notes to the admin
    assert "Queued (6)" in words(resp) and "Failed (0)" in words(resp)


def test_retry_needs_the_csrf_token_and_post(app, client, admin, login, make_ticket):
    make_ticket(autoassign=False)
    _fail_all(app)
    login("admin")
    with app.app_context():
        row_id = db.session.scalar(select(OutboxMessage.id))
    assert client.post(f"/admin/outbox/{row_id}/retry").status_code == 400
    assert client.get(f"/admin/outbox/{row_id}/retry").status_code == 405
    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).status == OUTBOX_FAILED


def test_only_administrators_see_the_outbox(app, client, make_user, login, make_ticket):
    make_ticket(email="private@example.org", autoassign=False)
    # even with every permission: the outbox shows mail about tickets of categories they may not see
    from hesk_py.services.permissions import FEATURES

    make_user("manager", features=list(FEATURES), category_ids=[])
    login("manager")
    assert client.get("/admin/outbox").status_code == 403
    assert client.get("/admin/outbox?status=failed").status_code == 403
    assert "Outbox" not in words(client.get("/admin/profile"))


def test_the_menu_links_to_the_outbox_for_admins(client, admin, login):
    login("admin")
    page = client.get("/admin/profile").get_data(as_text=True)
    assert 'href="/admin/outbox"' in page and 'href="/admin/quarantine"' in page


def test_unknown_status_is_404_and_pages_are_paged(app, client, admin, login, make_ticket):
    login("admin")
    assert client.get("/admin/outbox?status=nope").status_code == 404
    for n in range(51):  # and as many notes to the admin
        make_ticket(email=f"p{n}@example.org", autoassign=False)
    page = words(client.get("/admin/outbox"))
    assert "Queued (102)" in page and "Page 1 of 3" in page
    assert "p0@example.org" not in page  # newest first: the first one is on page 2
    assert "p0@example.org" in words(client.get("/admin/outbox?page=3"))
