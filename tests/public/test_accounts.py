"""Customer accounts on the customer side: registration with email verification, login and lockout, remember
me, forgotten password, My tickets, the ticket form and ticket access, the modes that require an account.
Mail is received by a real SMTP server; the clock is moved by editing the stored times."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, CustomerAuthToken, CustomerToken, OutboxMessage, Ticket
from hesk_py.models.types import utcnow
from tests.public.accounts_helpers import (
    PASSWORD, accounts_on, confirm, deliver, form_fields, is_logged_in, link_in, login, logout, mails_to,
    make_account, path_of, register, text_of,
)
from tests.public.conftest import ANSWER

REMEMBER = "hesk_customer_remember"


@pytest.fixture
def on(app):
    accounts_on(app)
    return app


def page(resp) -> str:
    return text_of(resp.get_data(as_text=True))


def customer(app, email="casey@example.com") -> Customer | None:
    with app.app_context():
        row = db.session.scalar(select(Customer).where(Customer.email == email))
        if row is not None:
            db.session.expunge(row)
        return row


def outbox_count(app, template=None) -> int:
    with app.app_context():
        stmt = select(func.count()).select_from(OutboxMessage)
        if template:
            stmt = stmt.where(OutboxMessage.template == template)
        return db.session.scalar(stmt)


# --- off by default -------------------------------------------------------------------------------------

def test_account_pages_do_not_exist_while_accounts_are_off(app, client):
    for url in ("/login", "/register", "/my-tickets", "/profile", "/reset-password", "/verify", "/mfa"):
        assert client.get(url).status_code == 404, url
    assert "Log in" not in page(client.get("/"))


# --- registration and the verification link -------------------------------------------------------------

def test_register_confirm_with_the_emailed_link_and_log_in(app, client, on, smtp_server):
    resp = register(client)
    assert resp.status_code == 200
    assert "Check your email" in page(resp)
    account = customer(app)
    assert account.account_status == "unverified" and account.password_hash is None
    assert not is_logged_in(client)
    deliver(app)
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == "casey@example.com" and mail["Subject"] == "Verify your registration"
    path, token = link_in(mail)
    assert mail.get_content().count("https://www.example.com/helpdesk/verify/") == 1
    with app.app_context():
        row = db.session.scalar(select(CustomerToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # hashed at rest
        assert row.expires_at - row.created_at <= timedelta(hours=24)
        assert token not in repr(db.session.execute(text("SELECT * FROM hesk_customer_tokens")).all())

    form = client.get(path)
    assert form.status_code == 200 and "enter the password you chose" in page(form)
    wrong = confirm(client, path, "Not-the-passw0rd")
    assert wrong.status_code == 401 and "not the password you chose" in page(wrong)
    assert customer(app).account_status == "unverified"
    resp = confirm(client, path)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my-tickets")
    assert is_logged_in(client)
    assert customer(app).account_status == "active"
    # the link works once
    other = app.test_client()
    assert other.get(path).status_code == 404
    assert "expired or was already used" in page(other.get(path))
    logout(client)
    assert not is_logged_in(client)
    assert login(client).status_code == 302 and is_logged_in(client)


def test_register_form_keeps_what_was_typed_and_says_what_is_wrong(app, client, on):
    resp = register(client, name="", email="not-an-address", password="short", question="wrong")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'value="not-an-address"' in html
    body = text_of(html)
    for message in ("Please enter your name.", "Please enter a valid email address.", "Use at least 8 characters.",
                    "Wrong answer to the anti-spam question."):
        assert message in body
    assert 'value="short"' not in html  # passwords are never sent back
    assert customer(app, "not-an-address") is None
    resp = register(client, confirm="Other-passw0rd")
    assert resp.status_code == 400 and "The two passwords do not match." in page(resp)


def test_register_answers_the_same_whatever_the_address(app, client, on, make_ticket, smtp_server):
    make_ticket(email="contact@example.com", name="Contact Only")  # filed tickets, no account
    make_account(app, app.test_client(), smtp_server, email="taken@example.com")
    register(app.test_client(), email="waiting@example.com")  # registered, not confirmed
    deliver(app)
    with app.app_context():  # the account's own confirmation mail is older than the cooldown
        db.session.execute(update(Customer).where(Customer.email == "taken@example.com").values(
            mail_sent_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    before = len(smtp_server.messages)
    answers = set()
    for email in ("new@example.com", "contact@example.com", "taken@example.com", "waiting@example.com"):
        resp = register(app.test_client(), email=email, password="Other-passw0rd-1")
        body = re.sub(r"\S+@example\.com", "ADDRESS", page(resp))
        answers.add((resp.status_code, body))
    assert len(answers) == 1, answers
    deliver(app)
    new_mail = smtp_server.messages[before:]
    subjects = {str(m["To"]): m["Subject"] for m in new_mail}
    assert subjects["new@example.com"] == "Verify your registration"
    assert subjects["contact@example.com"] == "Verify your registration"
    assert subjects["taken@example.com"] == "You already have an account"
    assert "waiting@example.com" not in subjects  # within the cooldown: no second link
    # nothing changed on the existing account: its password still logs in
    assert login(app.test_client(), "taken@example.com").status_code == 302
    assert login(app.test_client(), "taken@example.com", "Other-passw0rd-1").status_code == 401


def test_someone_registering_your_address_cannot_take_the_account_over(app, on, smtp_server):
    attacker, owner = app.test_client(), app.test_client()
    register(attacker, email="victim@example.com", password="Attacker-passw0rd")
    with app.app_context():  # the cooldown has passed
        db.session.execute(update(Customer).values(mail_sent_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    register(owner, email="victim@example.com", password=PASSWORD)
    deliver(app)
    first, second = smtp_server.wait_for(2)
    attacker_link, _t = link_in(first)
    owner_link, _t = link_in(second)
    # the owner opens the link the attacker caused: their own password does not fit it
    assert confirm(owner, attacker_link, PASSWORD).status_code == 401
    assert confirm(owner, owner_link, PASSWORD).status_code == 302
    assert login(app.test_client(), "victim@example.com", "Attacker-passw0rd").status_code == 401
    assert login(app.test_client(), "victim@example.com", PASSWORD).status_code == 302


def test_the_verification_link_expires(app, client, on, smtp_server):
    register(client)
    deliver(app)
    path, _token = link_in(smtp_server.wait_for(1)[0])
    with app.app_context():
        db.session.execute(update(CustomerToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    resp = client.get(path)
    assert resp.status_code == 404 and "expired or was already used" in page(resp)
    token = form_fields(client, "/login")["csrf_token"]
    assert client.post(path, data={"csrf_token": token, "password": PASSWORD}).status_code == 404
    assert customer(app).account_status == "unverified"


def test_resend_the_link_waits_for_the_cooldown(app, client, smtp_server):
    accounts_on(app, customer_accounts_verify_email_cooldown=15)
    register(client)
    resp = client.post("/verify", data={**form_fields(client, "/verify"), "email": "casey@example.com"})
    assert resp.status_code == 303
    assert outbox_count(app, "customer_verify_registration") == 1  # the first link went out moments ago
    with app.app_context():
        db.session.execute(update(Customer).values(mail_sent_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    answer = client.post("/verify", data={**form_fields(client, "/verify"), "email": "casey@example.com"})
    unknown = client.post("/verify", data={**form_fields(client, "/verify"), "email": "nobody@example.com"})
    assert answer.status_code == unknown.status_code == 303
    assert outbox_count(app, "customer_verify_registration") == 2
    deliver(app)
    links = [link_in(m)[0] for m in smtp_server.wait_for(2)]
    assert links[0] != links[1]
    assert confirm(client, links[1]).status_code == 302  # the new link carries the same password


def test_login_says_why_only_with_the_right_password(app, client, on, smtp_server):
    register(client, email="waiting@example.com")
    wrong = login(client, "waiting@example.com", "Wrong-passw0rd")
    unknown = login(client, "nobody@example.com", "Wrong-passw0rd")
    assert wrong.status_code == unknown.status_code == 401
    assert page(wrong).replace("waiting", "X") == page(unknown).replace("nobody", "X")
    resp = login(client, "waiting@example.com")
    assert resp.status_code == 403 and "not confirmed yet" in page(resp)
    assert "Send the confirmation link again" in page(resp)
    assert not is_logged_in(client)


def test_registration_waits_for_staff_approval(app, client, smtp_server):
    accounts_on(app, registration=1)
    resp = register(client)
    assert "our staff will review your account" in page(resp)
    deliver(app)
    path, _t = link_in(smtp_server.wait_for(1)[0])
    resp = confirm(client, path)
    assert resp.status_code == 200 and "Our staff will now review your account" in page(resp)
    assert customer(app).account_status == "pending"
    resp = login(client)
    assert resp.status_code == 403 and "waiting for approval" in page(resp)


def test_only_staff_create_accounts_in_registration_mode_2(app, client):
    accounts_on(app, registration=2)
    resp = client.get("/register")
    assert resp.status_code == 404 and "Accounts are created by our staff" in page(resp)
    assert "Register" not in page(client.get("/login")).split("Log in", 1)[1]


# --- login, lockout, remember me -------------------------------------------------------------------------

def test_lockout_after_attempt_limit(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    with app.test_request_context():
        settings.save({"attempt_limit": 3, "attempt_banmin": 10})
    for _ in range(3):
        assert login(client, password="Wrong-passw0rd").status_code == 401
    resp = login(client)  # the right password, too late
    assert resp.status_code == 429 and "Too many failed attempts" in page(resp)
    # from another address the same account is locked too (counted per account as well)
    other = app.test_client()
    resp = other.post("/login", data={**form_fields(other, "/login"), "email": "casey@example.com",
                                      "password": PASSWORD}, environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 429
    with app.app_context():
        from hesk_py.models import FailedAttempt

        db.session.execute(update(FailedAttempt).values(last_attempt_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    assert login(client).status_code == 302


def remember_cookie(client):
    cookie = client.get_cookie(REMEMBER)
    return cookie.value if cookie else None


def test_remember_me_logs_in_again_and_rotates(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    assert login(client, remember=True).status_code == 302
    first = remember_cookie(client)
    assert first and ":" in first
    browser = app.test_client()  # a browser restart: only the remember cookie
    browser.set_cookie(REMEMBER, first)
    assert is_logged_in(browser)
    second = remember_cookie(browser)
    assert second and second != first
    with app.app_context():
        row = db.session.scalar(select(CustomerAuthToken))
        assert row.validator_hash == hashlib.sha256(second.split(":")[1].encode()).hexdigest()
    # the old cookie, copied by someone, is refused once the grace period is over, and ends every login
    with app.app_context():
        db.session.execute(update(CustomerAuthToken).values(rotated_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    thief = app.test_client()
    thief.set_cookie(REMEMBER, first)
    assert not is_logged_in(thief)
    assert not is_logged_in(browser)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerAuthToken)) == 0


def test_no_remember_cookie_without_automatic_login(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    with app.test_request_context():
        settings.save({"customer_autologin": False})
    assert "Remember my email address" in page(client.get("/login"))
    login(client, remember=True)
    assert remember_cookie(client) is None
    assert client.get_cookie("hesk_customer_username").value == "casey@example.com"
    logout(client)
    assert 'value="casey@example.com"' in client.get("/login").get_data(as_text=True)


def test_logout_only_by_post_with_csrf(app, client, on, smtp_server):
    make_account(app, client, smtp_server)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={}).status_code == 400
    assert is_logged_in(client)
    logout(client)
    assert not is_logged_in(client)


def test_login_redirects_only_to_local_pages(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    resp = login(client, next_url="https://evil.example.com/")
    assert resp.headers["Location"].endswith("/my-tickets")
    logout(client)
    resp = login(client, next_url="/profile")
    assert resp.headers["Location"].endswith("/profile")


def test_a_session_ends_after_idle_time_unless_kept_alive(app, client, on, smtp_server):
    make_account(app, client, smtp_server)
    assert 'class="keepalive"' not in client.get("/").get_data(as_text=True)
    assert client.get("/keepalive").status_code == 404
    with client.session_transaction() as sess:
        sess["hesk_customer"] = {**sess["hesk_customer"], "seen": sess["hesk_customer"]["seen"] - 31 * 60}
    assert not is_logged_in(client)


# --- forgotten password ---------------------------------------------------------------------------------

def ask_reset(client, email):
    return client.post("/reset-password", data={**form_fields(client, "/reset-password"), "email": email})


def test_forgot_password_same_answer_and_a_single_use_link(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    deliver(app)
    before = len(smtp_server.messages)
    answers = set()
    for email in ("casey@example.com", "nobody@example.com"):
        resp = ask_reset(app.test_client(), email)
        answers.add((resp.status_code, re.sub(r"\S+@example\.com", "X", page(resp))))
    assert len(answers) == 1
    deliver(app)
    mail = smtp_server.wait_for(before + 1)[before]
    assert mail["To"] == "casey@example.com" and mail["Subject"] == "Reset your help desk password"
    assert len(smtp_server.messages) == before + 1
    path, token = link_in(mail)
    with app.app_context():
        row = db.session.scalar(select(CustomerToken).where(CustomerToken.purpose == "reset"))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.expires_at - row.created_at == timedelta(hours=1)
    logged_in = app.test_client()
    login(logged_in)
    resp = client.post(path, data={**form_fields(client, path), "password": "Fresh-passw0rd",
                                   "confirm": "Fresh-passw0rd"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
    assert not is_logged_in(client)  # a reset is not a login
    assert not is_logged_in(logged_in)  # other sessions end
    assert login(client, password="Fresh-passw0rd").status_code == 302
    assert app.test_client().get(path).status_code == 404  # single use


def test_reset_link_expires_after_an_hour(app, client, on, smtp_server):
    make_account(app, app.test_client(), smtp_server)
    ask_reset(client, "casey@example.com")
    deliver(app)
    path, _t = link_in(smtp_server.wait_for(2)[1])
    with app.app_context():
        db.session.execute(update(CustomerToken).where(CustomerToken.purpose == "reset").values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(path).status_code == 404


def test_reset_confirms_an_unverified_address(app, client, on, smtp_server):
    register(client)
    ask_reset(client, "casey@example.com")
    deliver(app)
    path, _t = link_in(smtp_server.wait_for(2)[1])
    client.post(path, data={**form_fields(client, path), "password": "Fresh-passw0rd", "confirm": "Fresh-passw0rd"})
    assert customer(app).account_status == "active"
    assert login(client, password="Fresh-passw0rd").status_code == 302


# --- my tickets and ticket access -------------------------------------------------------------------------

def test_tickets_filed_before_registering_are_in_my_tickets(app, client, on, make_ticket, smtp_server):
    old = make_ticket(subject="Filed before the account")
    make_ticket(email="someone-else@example.com", subject="Not mine")
    make_account(app, client, smtp_server)
    resp = client.get("/my-tickets")
    body = page(resp)
    assert old in body and "Filed before the account" in body and "Not mine" not in body
    # opened without typing the email
    resp = client.get(f"/ticket?track={old}")
    assert resp.status_code == 200 and "Filed before the account" in page(resp)


def test_my_tickets_search_filter_sort_and_pages(app, client, on, make_ticket, smtp_server):
    from hesk_py.services import tickets

    ids = [make_ticket(subject=f"Subject {n}", message=f"body text {n}") for n in range(5)]
    make_ticket(subject="About the invoice", message="Invoice 42 is wrong")
    make_account(app, client, smtp_server)
    with app.app_context():
        t = tickets.get_ticket(ids[0])
        tickets.resolve(t, actor=tickets.Actor.system(), notify=False)
        a, b = tickets.get_ticket(ids[1]), tickets.get_ticket(ids[2])
        tickets.merge_tickets([a, b], actor=tickets.Actor.system())
    body = page(client.get("/my-tickets?q=invoice"))
    assert "About the invoice" in body and "Subject 3" not in body
    assert "About the invoice" in page(client.get("/my-tickets?q=42+is+wrong"))  # in the message
    assert "Subject 4" in page(client.get(f"/my-tickets?q={ids[4]}"))  # the tracking ID
    merged = page(client.get(f"/my-tickets?q={ids[2]}"))  # a merged ticket's old ID finds where it went
    assert ids[1] in merged
    resolved = page(client.get("/my-tickets?status=resolved"))
    assert "Subject 0" in resolved and "Subject 3" not in resolved
    assert "Subject 0" not in page(client.get("/my-tickets?status=open"))
    html = client.get("/my-tickets?sort=subject&dir=asc").get_data(as_text=True)
    order = [s for s in re.findall(r">(About the invoice|Subject \d)<", html)]
    assert order == sorted(order)
    with app.test_request_context():
        settings.save({"max_listings": 2})
    first = page(client.get("/my-tickets"))
    assert "Page 1 of 3" in first
    assert "Page 3 of 3" in page(client.get("/my-tickets?page=3"))


def test_a_customer_never_sees_another_customers_ticket(app, on, make_ticket, smtp_server):
    theirs = make_ticket(email="other@example.com", name="Other Person", subject="Private matter")
    client = app.test_client()
    make_account(app, client, smtp_server)
    assert "Private matter" not in page(client.get("/my-tickets"))
    # guessing the URL: optional accounts ask for the email as before
    resp = client.get(f"/ticket?track={theirs}")
    assert "Private matter" not in page(resp)
    # accounts required: not even with the right email, nor by posting to it
    accounts_on(app, mode=2)
    resp = client.get(f"/ticket?track={theirs}&e=other@example.com")
    assert resp.status_code == 404 and "Private matter" not in page(resp)
    token = form_fields(client, "/my-tickets")["csrf_token"]
    resp = client.post("/ticket/reply", data={"track": theirs, "message": "hi", "csrf_token": token})
    assert resp.status_code in (302, 303) and "/ticket?" in resp.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(Ticket).where(Ticket.trackid == theirs)).reply_count == 0
    with app.test_request_context():
        settings.save({"email_view_ticket": False})
    assert "Private matter" not in page(client.get(f"/ticket?track={theirs}"))
    assert "Private matter" not in page(client.get(f"/ticket/print?track={theirs}"))


def test_the_ticket_form_is_filled_in_and_locked_to_the_account(app, client, on, smtp_server):
    cid = make_account(app, client, smtp_server)
    html = client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert re.search(r'id="name"[^>]*readonly|readonly[^>]*id="name"', html)
    assert 'value="Casey Customer"' in html and 'value="casey@example.com"' in html
    data = {**form_fields(client, "/submit_ticket?category=1"), "name": "Somebody Else",
            "email": "somebody@example.com", "subject": "From my account", "message": "Hello", "question": ANSWER}
    resp = client.post("/submit_ticket", data=data)
    assert resp.status_code == 303
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "From my account"))
        assert (ticket.name, ticket.email, ticket.customer_id) == ("Casey Customer", "casey@example.com", cid)
    assert "From my account" in page(client.get("/my-tickets"))


# --- the modes that require an account -----------------------------------------------------------------

def test_mode_2_tickets_need_a_login_the_knowledgebase_does_not(app, client, smtp_server, make_ticket):
    accounts_on(app, mode=2)
    trackid = make_ticket()
    resp = client.get("/submit_ticket?category=1")
    assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]
    assert "Please log in to continue" in page(client.get(resp.headers["Location"]))
    resp = client.post("/submit_ticket", data={"name": "x", "email": "x@example.com", "subject": "s",
                                               "message": "m"})
    assert resp.status_code == 403
    assert "You need an account to submit a ticket" in page(resp)
    assert client.get(f"/ticket?track={trackid}&e=casey@example.com").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/knowledgebase").status_code in (200, 404)  # public (404: no knowledgebase)
    assert client.get("/knowledgebase").status_code != 302
    make_account(app, client, smtp_server, email="casey@example.com")
    assert client.get("/submit_ticket?category=1").status_code == 200
    assert client.get(f"/ticket?track={trackid}").status_code == 200


def test_mode_3_every_page_needs_a_login(app, client, smtp_server):
    accounts_on(app, mode=3)
    for url in ("/", "/knowledgebase", "/submit_ticket", "/ticket", "/forgot_tracking_id"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    for url in ("/login", "/register", "/verify", "/reset-password"):
        assert client.get(url).status_code == 200, url
    make_account(app, client, smtp_server)
    assert client.get("/").status_code == 200


# --- the profile -----------------------------------------------------------------------------------------

def test_profile_name_and_password_change_ending_other_sessions(app, client, on, smtp_server):
    make_account(app, client, smtp_server)
    other = app.test_client()
    login(other)
    fields = form_fields(client, "/profile")
    resp = client.post("/profile/password", data={"csrf_token": fields["csrf_token"], "current": "Wrong-passw0rd",
                                                  "password": "Brand-new-passw0rd", "confirm": "Brand-new-passw0rd"})
    assert resp.status_code == 400 and "This is not your current password." in page(resp)
    resp = client.post("/profile/password", data={"csrf_token": fields["csrf_token"], "current": PASSWORD,
                                                  "password": "Brand-new-passw0rd", "confirm": "Brand-new-passw0rd"})
    assert resp.status_code == 303
    assert is_logged_in(client) and not is_logged_in(other)
    resp = client.post("/profile", data={"csrf_token": fields["csrf_token"], "name": "Casey C. Customer"})
    assert resp.status_code == 303 and customer(app).name == "Casey C. Customer"
    resp = client.post("/profile", data={"csrf_token": fields["csrf_token"], "name": ""})
    assert resp.status_code == 400 and "Please enter your name." in page(resp)


def test_change_email_with_a_link_to_the_new_address(app, client, on, make_ticket, smtp_server):
    trackid = make_ticket()
    make_account(app, client, smtp_server)
    token = form_fields(client, "/profile")["csrf_token"]
    resp = client.post("/profile/email", data={"csrf_token": token, "new_email": "casey@new.example.com",
                                               "current_password": "Wrong-passw0rd"})
    assert resp.status_code == 400 and "This is not your current password." in page(resp)
    resp = client.post("/profile/email", data={"csrf_token": token, "new_email": "casey@new.example.com",
                                               "current_password": PASSWORD})
    assert resp.status_code == 303
    assert customer(app).email == "casey@example.com"  # not before the new address is confirmed
    deliver(app)
    mail = mails_to(smtp_server, "casey@new.example.com")[0]
    assert mail["Subject"] == "Verify your new email address"
    path, _t = link_in(mail)
    resp = client.post(path, data={"csrf_token": form_fields(client, path)["csrf_token"]})
    assert resp.status_code == 303
    assert customer(app, "casey@new.example.com") is not None
    with app.app_context():
        assert db.session.scalar(select(Ticket.email).where(Ticket.trackid == trackid)) == "casey@new.example.com"
    logout(client)
    assert login(client, "casey@new.example.com").status_code == 302


def test_email_changes_can_be_turned_off(app, client, on, smtp_server):
    make_account(app, client, smtp_server)
    with app.test_request_context():
        settings.save({"customer_accounts_allow_email_changes": False})
    assert "Change your email address" not in page(client.get("/profile"))
    token = form_fields(client, "/profile")["csrf_token"]
    resp = client.post("/profile/email", data={"csrf_token": token, "new_email": "x@example.com",
                                               "current_password": PASSWORD})
    assert resp.status_code == 403


def test_profile_pages_need_a_login(app, client, on):
    for url in ("/my-tickets", "/profile", "/mfa"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], url
