"""Customers' two-factor authentication (the staff MFA rules, the customer's own tables): an authenticator app
or codes by email, backup codes, the password asked again before the page (secure area), and
``require_mfa_customers``."""
from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, CustomerMfaBackupCode, MfaBackupCode
from tests.public.accounts_helpers import (
    PASSWORD, accounts_on, deliver, form_fields, is_logged_in, login, logout, make_account, text_of,
)

_SECRET_RE = re.compile(r'id="mfa-secret">([A-Z2-7 ]+)<')
_BACKUP_RE = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")


def enrol_app(client) -> tuple[str, list[str]]:
    token = form_fields(client, "/mfa")["csrf_token"]
    assert client.post("/mfa/app/start", data={"csrf_token": token}).status_code == 302
    html = client.get("/mfa/app").get_data(as_text=True)
    assert "<svg" in html  # the QR code
    secret = _SECRET_RE.search(html).group(1).replace(" ", "")
    resp = client.post("/mfa/app", data={"csrf_token": token, "code": "000000"})
    assert resp.status_code == 400
    resp = client.post("/mfa/app", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    codes = _BACKUP_RE.findall(resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def code_from(mail) -> str:
    return re.search(r"(\d{6}) is your verification code", mail.get_content()).group(1)


def verify(client, code):
    return client.post("/login/verify", data={**form_fields(client, "/login/verify"), "code": code})


def test_authenticator_app_then_login_asks_for_a_code(app, client, smtp_server):
    accounts_on(app)
    make_account(app, client, smtp_server)
    secret, codes = enrol_app(client)
    with app.app_context():
        customer = db.session.scalar(select(Customer))
        assert customer.mfa_method == "totp" and secret not in (customer.mfa_secret or "")  # encrypted
        assert db.session.scalar(select(CustomerMfaBackupCode.id).limit(1)) is not None
        assert db.session.scalar(select(MfaBackupCode.id).limit(1)) is None  # not the staff table
    logout(client)
    resp = login(client)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/verify")
    assert not is_logged_in(client)  # half logged in
    assert verify(client, "123456").status_code == 401
    resp = verify(client, codes[0])  # a backup code
    assert resp.status_code == 302 and is_logged_in(client)
    logout(client)
    login(client)
    assert verify(client, codes[0]).status_code == 401  # used once
    with app.app_context():
        db.session.execute(Customer.__table__.update().values(mfa_last_step=None))
        db.session.commit()
    assert verify(client, pyotp.TOTP(secret).now()).status_code == 302
    assert "Authenticator app" in text_of(client.get("/profile").get_data(as_text=True))


def test_codes_by_email(app, client, smtp_server):
    accounts_on(app)
    make_account(app, client, smtp_server)
    token = form_fields(client, "/mfa")["csrf_token"]
    client.post("/mfa/email/start", data={"csrf_token": token})
    deliver(app)
    mail = smtp_server.wait_for(2)[1]
    assert mail["To"] == "casey@example.com" and "Casey Customer" in mail.get_content()
    resp = client.post("/mfa/email", data={"csrf_token": token, "code": code_from(mail)})
    assert resp.status_code == 200 and len(_BACKUP_RE.findall(resp.get_data(as_text=True))) == 10
    logout(client)
    login(client)
    deliver(app)
    assert verify(client, code_from(smtp_server.wait_for(3)[2])).status_code == 302
    assert is_logged_in(client)


def test_the_mfa_page_asks_for_the_password_again_after_a_while(app, client, smtp_server):
    accounts_on(app, elevator_duration="1M")
    make_account(app, client, smtp_server)
    assert client.get("/mfa").status_code == 200
    with client.session_transaction() as sess:
        sess["hesk_customer"] = {**sess["hesk_customer"], "auth": sess["hesk_customer"]["auth"] - 120}
    resp = client.get("/mfa")
    assert resp.status_code == 302 and "/elevate?next=" in resp.headers["Location"]
    page = client.get(resp.headers["Location"])
    data = {"csrf_token": form_fields(client, resp.headers["Location"])["csrf_token"]}
    assert client.post(resp.headers["Location"], data={**data, "password": "Wrong-passw0rd"}).status_code == 401
    done = client.post(resp.headers["Location"], data={**data, "password": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"].endswith("/mfa")
    assert page.status_code == 200 and client.get("/mfa").status_code == 200


def test_require_mfa_customers_makes_them_set_it_up(app, client, smtp_server):
    accounts_on(app, require_mfa_customers=True)
    make_account(app, client, smtp_server)
    resp = client.get("/my-tickets")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/mfa")
    assert "requires two-factor authentication" in text_of(client.get("/mfa").get_data(as_text=True))
    enrol_app(client)
    assert client.get("/my-tickets").status_code == 200
    # it cannot be turned off while required
    token = form_fields(client, "/mfa")["csrf_token"]
    client.post("/mfa/disable", data={"csrf_token": token})
    with app.app_context():
        assert db.session.scalar(select(Customer.mfa_method)) == "totp"
    with app.test_request_context():
        settings.save({"require_mfa_customers": False})
    client.post("/mfa/disable", data={"csrf_token": token})
    with app.app_context():
        assert db.session.scalar(select(Customer.mfa_method)) is None
