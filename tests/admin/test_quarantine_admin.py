"""The mail quarantine page (/admin/quarantine): the mails piping or fetching could not import, the reason,
download as .eml, import again, delete; only for administrators."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select

from hesk_py.extensions import db
from hesk_py.models import Category, QuarantinedMail, Ticket
from hesk_py.services import workflow
from hesk_py.services.inbound import import_message
from tests.admin.test_settings import words

CORPUS = Path(__file__).resolve().parents[1] / "email" / "corpus"


def _quarantine(app, name: str = "no_sender") -> int:
    with app.app_context():
        result = import_message((CORPUS / f"{name}.eml").read_bytes(), channel="pipe")
        assert result.action == "quarantined"
        return db.session.scalar(select(func.max(QuarantinedMail.id)))


def test_list_shows_the_reason_and_download_gives_the_raw_mail(app, client, admin, login):
    mail_id = _quarantine(app)
    login("admin")
    page = words(client.get("/admin/quarantine"))
    assert "1 emails in the quarantine." in page
    assert "The email has no valid sender address." in page
    resp = client.get(f"/admin/quarantine/{mail_id}.eml")
    assert resp.status_code == 200
    assert resp.data == (CORPUS / "no_sender.eml").read_bytes()
    assert resp.headers["Content-Disposition"] == f'attachment; filename="quarantine-{mail_id}.eml"'
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.mimetype == "message/rfc822"
    assert client.get(f"/admin/quarantine/{mail_id + 1}.eml").status_code == 404


def test_import_again_after_fixing_the_cause_files_the_ticket(app, client, admin, login, csrf):
    # no category to file email into: the mail cannot become a ticket, so it is kept
    with app.app_context():
        db.session.execute(delete(Category))
        db.session.commit()
    mail_id = _quarantine(app, "koi8r_body")
    login("admin")
    assert "polina@mail.example" in words(client.get("/admin/quarantine"))
    with app.app_context():  # the admin adds a category again
        workflow.save_category(None, name="Email", is_public=True, default_priority_id=3, autoassign="off")
    token = csrf(client, "/admin/quarantine")
    resp = client.post(f"/admin/quarantine/{mail_id}/import", data={"csrf_token": token}, follow_redirects=True)
    page = words(resp)
    assert f"Email #{mail_id} imported: new ticket" in page
    assert "The quarantine is empty." in page
    with app.app_context():
        (ticket,) = db.session.scalars(select(Ticket)).all()
        assert (ticket.email, ticket.subject) == ("polina@mail.example", "Не приходят письма")


def test_import_again_and_delete(app, client, admin, login, csrf):
    mail_id = _quarantine(app)
    login("admin")
    token = csrf(client, "/admin/quarantine")
    # still without a sender: it stays in the quarantine, under a new number, with the reason
    resp = client.post(f"/admin/quarantine/{mail_id}/import", data={"csrf_token": token}, follow_redirects=True)
    page = words(resp)
    assert f"Email #{mail_id} still cannot be imported" in page
    with app.app_context():
        ids = db.session.scalars(select(QuarantinedMail.id)).all()
        assert len(ids) == 1 and ids[0] != mail_id
    new_id = ids[0]
    resp = client.post(f"/admin/quarantine/{new_id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert f"Email #{new_id} deleted from the quarantine." in words(resp)
    assert "The quarantine is empty." in words(resp)
    assert client.post(f"/admin/quarantine/{new_id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/quarantine/{new_id}/import", data={"csrf_token": token}).status_code == 404


def test_actions_need_post_and_the_csrf_token(app, client, admin, login):
    mail_id = _quarantine(app)
    login("admin")
    assert client.post(f"/admin/quarantine/{mail_id}/delete").status_code == 400
    assert client.get(f"/admin/quarantine/{mail_id}/delete").status_code == 405
    with app.app_context():
        assert db.session.get(QuarantinedMail, mail_id) is not None


def test_staff_see_nothing_even_with_every_permission(app, client, make_user, login):
    from hesk_py.services.permissions import FEATURES

    mail_id = _quarantine(app)
    make_user("manager", features=list(FEATURES))
    login("manager")
    assert "Mail quarantine" not in words(client.get("/admin/profile"))
    assert client.get("/admin/quarantine").status_code == 403
    assert client.get(f"/admin/quarantine/{mail_id}.eml").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id))) == 0
