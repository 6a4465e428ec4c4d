"""Staff pages of customer accounts: the list, creating an account (the customer chooses a password from
the emailed link), approving and rejecting registrations (mail received over SMTP), editing, deactivating,
resending the link, resetting the second factor, deleting with the choice about the tickets, permissions."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import Attachment, Customer, Reply, Ticket, User
from tests.conftest import STAFF_PASSWORD, csrf_token_from
from tests.public.accounts_helpers import (
    accounts_on, confirm, deliver, form_fields, is_logged_in, link_in, mails_to, make_account, register, text_of,
)
from tests.public.accounts_helpers import login as customer_login


def page(resp) -> str:
    return text_of(resp.get_data(as_text=True))


def token_of(client, url="/admin/customers/") -> str:
    return csrf_token_from(client.get(url).get_data(as_text=True))


def customer_row(app, email="casey@example.com"):
    with app.app_context():
        row = db.session.scalar(select(Customer).where(Customer.email == email))
        if row is not None:
            db.session.expunge(row)
        return row


@pytest.fixture
def staff_in(app, admin, login):
    accounts_on(app)
    login("admin")
    return app


def test_list_and_search(app, client, staff_in, make_ticket, smtp_server):
    make_account(app, app.test_client(), smtp_server, email="casey@example.com")
    make_account(app, app.test_client(), smtp_server, email="dana@example.com", name="Dana Doe")
    make_ticket(email="contact@example.com", name="Only Tickets")
    body = page(client.get("/admin/customers/"))
    assert "Casey Customer" in body and "Dana Doe" in body and "Only Tickets" not in body
    found = page(client.get("/admin/customers/?q=dana"))
    assert "Dana Doe" in found and "Casey Customer" not in found
    assert "Only Tickets" in page(client.get("/admin/customers/?status=contacts"))
    assert "Customers" in page(client.get("/admin/"))  # the menu


def test_staff_create_an_account_and_the_customer_chooses_a_password(app, client, staff_in, make_ticket,
                                                                        smtp_server):
    trackid = make_ticket(email="new@example.com", name="New Person")  # an address that filed tickets before
    resp = client.post("/admin/customers/new", data={"csrf_token": token_of(client, "/admin/customers/new"),
                                                     "name": "New Person", "email": "new@example.com",
                                                     "language": ""})
    assert resp.status_code == 303
    again = client.post("/admin/customers/new", data={"csrf_token": token_of(client, "/admin/customers/new"),
                                                      "name": "Twice", "email": "NEW@example.com", "language": ""})
    assert again.status_code == 400 and "exists already" in page(again)
    deliver(app)
    mail = [m for m in mails_to(smtp_server, "new@example.com") if "choose a password" in m["Subject"]][0]
    assert mail["Subject"] == "Your help desk account: choose a password"
    path, _t = link_in(mail)
    assert path.startswith("/reset-password/")
    with app.app_context():  # the invitation link works for 72 hours
        from hesk_py.models import CustomerToken

        row = db.session.scalar(select(CustomerToken).where(CustomerToken.purpose == "invite"))
        assert row.expires_at - row.created_at == timedelta(hours=72)
    customer_client = app.test_client()
    assert "Choose your password" in page(customer_client.get(path))
    resp = customer_client.post(path, data={**form_fields(customer_client, path), "password": "Chosen-passw0rd",
                                            "confirm": "Chosen-passw0rd"})
    assert resp.status_code == 303
    assert customer_login(customer_client, "new@example.com", "Chosen-passw0rd").status_code == 302
    assert trackid in page(customer_client.get("/my-tickets"))
    assert customer_client.get(path).status_code == 404  # the link worked once


def test_approval_flow_with_the_mails(app, client, admin, login, make_user, smtp_server):
    accounts_on(app, registration=1)
    make_user("manager", email="manager@example.com", features=["can_man_customers"])
    make_user("quiet", email="quiet@example.com", features=["can_man_customers"])
    make_user("plain", email="plain@example.com")  # may not manage customers: not told
    with app.app_context():
        quiet = db.session.scalar(select(User).where(User.username == "quiet"))
        quiet.preferences = {"notify_customer_approval": False}
        db.session.commit()
    customer_client = app.test_client()
    register(customer_client)
    deliver(app)
    path, _t = link_in(mails_to(smtp_server, "casey@example.com")[0])
    confirm(customer_client, path)
    deliver(app)
    told = {str(m["To"]) for m in smtp_server.messages if m["Subject"] == "You have customer accounts pending approval"}
    assert told == {"admin@example.com", "manager@example.com"}
    staff_mail = mails_to(smtp_server, "manager@example.com")[0]
    assert "casey@example.com" in staff_mail.get_content()
    assert "/admin/customers/?status=pending" in staff_mail.get_content()
    assert customer_login(customer_client).status_code == 403

    login("manager")
    listing = page(client.get("/admin/customers/?status=pending"))
    assert "1 account is waiting for approval" in listing and "casey@example.com" in listing
    cid = customer_row(app).id
    resp = client.post(f"/admin/customers/{cid}/approve", data={"csrf_token": token_of(client)})
    assert resp.status_code == 303
    deliver(app)
    approved = [m for m in mails_to(smtp_server, "casey@example.com") if m["Subject"] == "Your account has been approved"]
    assert len(approved) == 1 and "https://www.example.com/helpdesk/login" in approved[0].get_content()
    assert customer_login(customer_client).status_code == 302


def test_reject_a_registration(app, client, staff_in, smtp_server):
    accounts_on(app, registration=1)
    customer_client = app.test_client()
    register(customer_client)
    deliver(app)
    confirm(customer_client, link_in(smtp_server.wait_for(1)[0])[0])
    cid = customer_row(app).id
    assert client.post(f"/admin/customers/{cid}/reject", data={"csrf_token": token_of(client)}).status_code == 303
    deliver(app)
    assert any(m["Subject"] == "Your account request was not approved" for m in mails_to(smtp_server, "casey@"))
    assert customer_row(app).account_status is None
    assert customer_login(customer_client).status_code == 401


def test_edit_deactivate_and_change_the_address(app, client, staff_in, make_ticket, smtp_server):
    trackid = make_ticket()
    customer_client = app.test_client()
    cid = make_account(app, customer_client, smtp_server)
    url = f"/admin/customers/{cid}"
    body = page(client.get(url))
    assert trackid in body and "Casey Customer" in body
    bad = client.post(url, data={"csrf_token": token_of(client, url), "name": "", "email": "nope",
                                 "language": "", "status": "active"})
    assert bad.status_code == 400 and 'value="nope"' in bad.get_data(as_text=True)
    resp = client.post(url, data={"csrf_token": token_of(client, url), "name": "Casey Renamed",
                                  "email": "casey@moved.example.com", "language": "", "status": "disabled"})
    assert resp.status_code == 303
    assert not is_logged_in(customer_client)  # deactivated: the session ends at once
    with app.app_context():
        assert db.session.scalar(select(Ticket.email).where(Ticket.trackid == trackid)) == "casey@moved.example.com"
    resp = customer_login(customer_client, "casey@moved.example.com")
    assert resp.status_code == 403 and "deactivated" in page(resp)
    client.post(url, data={"csrf_token": token_of(client, url), "name": "Casey Renamed",
                           "email": "casey@moved.example.com", "language": "", "status": "active"})
    assert customer_login(customer_client, "casey@moved.example.com").status_code == 302


def test_resend_ignores_the_cooldown(app, client, staff_in, smtp_server):
    register(app.test_client())
    cid = customer_row(app).id
    resp = client.post(f"/admin/customers/{cid}/resend", data={"csrf_token": token_of(client)})
    assert resp.status_code == 303
    deliver(app)
    links = [link_in(m)[0] for m in smtp_server.wait_for(2)]
    assert len(set(links)) == 2
    assert confirm(app.test_client(), links[1]).status_code == 302  # with the password chosen at registration


def test_reset_a_customers_second_factor(app, client, staff_in, smtp_server):
    from tests.public.test_accounts_mfa import enrol_app

    customer_client = app.test_client()
    cid = make_account(app, customer_client, smtp_server)
    enrol_app(customer_client)
    assert "Authenticator app" in page(client.get(f"/admin/customers/{cid}"))
    client.post(f"/admin/customers/{cid}/reset_mfa", data={"csrf_token": token_of(client)})
    assert customer_row(app).mfa_method is None
    assert not is_logged_in(customer_client)
    resp = customer_login(customer_client)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my-tickets")


@pytest.mark.parametrize("mode", ["keep", "anonymize", "delete"])
def test_delete_with_the_choice_about_the_tickets(app, client, staff_in, make_ticket, smtp_server, mode):
    import io

    from hesk_py.services import attachments, tickets

    trackid = make_ticket(subject="Secret subject", message="Secret message")
    other = make_ticket(email="someone@example.com")
    cid = make_account(app, app.test_client(), smtp_server)
    with app.app_context():
        ticket = tickets.get_ticket(trackid)
        saved = attachments.store([attachments.Upload(real_name="a.txt", extension=".txt", size=4,
                                                      content_type="text/plain", stream=io.BytesIO(b"data"))])
        tickets.add_reply(ticket, message="Customer reply text", actor=tickets.Actor.customer("Casey", cid),
                          attachments=saved)
        stored = attachments.storage().path(saved[0]["saved_name"])
    url = f"/admin/customers/{cid}/delete"
    assert "1 ticket" in page(client.get(url))
    resp = client.post(url, data={"csrf_token": token_of(client, url), "tickets": mode})
    assert resp.status_code == 303
    with app.app_context():
        row = db.session.get(Customer, cid)
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        if mode == "keep":
            assert row is not None and row.account_status is None
            assert ticket.subject == "Secret subject" and ticket.email == "casey@example.com"
            assert stored.exists()
        elif mode == "anonymize":
            assert row is None
            assert ticket.subject == "[anonymized]" and ticket.email == "" and ticket.customer_id is None
            assert "Secret message" not in ticket.message
            texts = db.session.scalars(select(Reply.message).where(Reply.ticket_id == ticket.id)).all()
            assert texts == ["[anonymized]"]
            assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0 and not stored.exists()
        else:
            assert row is None and ticket is None and not stored.exists()
        assert db.session.scalar(select(Ticket.id).where(Ticket.trackid == other)) is not None
    assert customer_login(app.test_client()).status_code == 401


def test_who_may_do_what(app, client, make_user, login, smtp_server, make_ticket):
    accounts_on(app)
    cid = make_account(app, app.test_client(), smtp_server)
    make_user("viewer", features=["can_view_customers"])
    make_user("nobody", features=["can_view_tickets"])
    login("nobody", STAFF_PASSWORD)
    assert client.get("/admin/customers/").status_code == 403
    assert client.get(f"/admin/customers/{cid}").status_code == 403
    assert "Customers" not in page(client.get("/admin/profile")).split("Profile")[0]
    viewer = app.test_client()
    html = viewer.get("/admin/login").get_data(as_text=True)
    viewer.post("/admin/login", data={"username": "viewer", "password": STAFF_PASSWORD,
                                      "csrf_token": csrf_token_from(html)})
    assert viewer.get("/admin/customers/").status_code == 200
    assert "Edit the account" not in page(viewer.get(f"/admin/customers/{cid}"))
    token = token_of(viewer)
    assert viewer.post(f"/admin/customers/{cid}", data={"csrf_token": token, "name": "x", "email": "x@example.com",
                                                        "status": "disabled"}).status_code == 403
    assert viewer.post(f"/admin/customers/{cid}/delete", data={"csrf_token": token,
                                                               "tickets": "delete"}).status_code == 403
    assert viewer.get("/admin/customers/new").status_code == 403
    assert customer_row(app).account_status == "active"


def test_the_customer_page_shows_only_tickets_the_staff_member_may_see(app, client, make_user, login, smtp_server,
                                                                       make_ticket):
    from hesk_py.models import Category

    accounts_on(app)
    with app.app_context():
        general = db.session.get(Category, 1)
        db.session.add(Category(name="Elsewhere", sort_order=2, is_public=True, autoassign=False,
                                default_priority_id=general.default_priority_id))
        db.session.commit()
        elsewhere = db.session.scalar(select(Category.id).where(Category.name == "Elsewhere"))
    make_ticket(subject="Visible subject")
    make_ticket(subject="Hidden subject", category_id=elsewhere)
    cid = make_account(app, app.test_client(), smtp_server)
    make_user("limited", features=["can_view_tickets", "can_man_customers", "can_view_unassigned"],
              category_ids=[1])
    login("limited", STAFF_PASSWORD)
    body = page(client.get(f"/admin/customers/{cid}"))
    assert "Visible subject" in body and "Hidden subject" not in body


def test_customer_pages_are_a_secure_area(app, client, staff_in):
    with client.session_transaction() as sess:
        sess["hesk_auth_at"] = int(sess["hesk_auth_at"]) - 2 * 3600
    resp = client.get("/admin/customers/")
    assert resp.status_code == 302 and "/admin/elevator" in resp.headers["Location"]
