"""Staff login, lockout, remember me, logout, password reset, session endings and re-authentication
(reference/PEERS.md §4.5, §4.7, §4.10)."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text, update

from hesk_py.extensions import db
from hesk_py.models import AuthToken, OutboxMessage, PasswordReset, User
from hesk_py.models.types import utcnow
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD, csrf_token_from

REMEMBER = "hesk_remember"


def post_login(client, csrf, username, password, *, remember=False, next_url=None):
    url = "/admin/login" + (f"?next={next_url}" if next_url is not None else "")
    data = {"username": username, "password": password, "csrf_token": csrf(client, "/admin/login")}
    if remember:
        data["remember"] = "y"
    return client.post(url, data=data)


def location(resp) -> str:
    return resp.headers["Location"]


def is_logged_in(client) -> bool:
    resp = client.get("/admin/profile")
    return resp.status_code == 200


def remember_cookie(client):
    cookie = client.get_cookie(REMEMBER, path="/admin/")
    return cookie.value if cookie else None


# --- login ------------------------------------------------------------------------------------------

def test_login_page_has_the_interface_field_names(client):
    html = client.get("/admin/login").get_data(as_text=True)
    for name in ("username", "password", "remember", "csrf_token"):
        assert f'name="{name}"' in html
    assert "Forgot your password?" in html


def test_login_with_username_or_email(client, csrf, admin):
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD)
    assert resp.status_code == 302 and location(resp) == "/admin/"
    assert is_logged_in(client)
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/profile")})
    assert not is_logged_in(client)
    resp = post_login(client, csrf, "ADMIN@example.com", ADMIN_PASSWORD)
    assert resp.status_code == 302
    assert is_logged_in(client)


def test_wrong_password_keeps_the_username_and_says_why(client, csrf, admin):
    resp = post_login(client, csrf, "admin", "wrong-Passw0rd")
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert "Wrong username or password." in html
    assert 'value="admin"' in html  # what was typed stays
    assert "wrong-Passw0rd" not in html  # but never the password
    assert not is_logged_in(client)


def test_empty_form_answers_with_a_message(client, csrf):
    resp = client.post("/admin/login", data={"csrf_token": csrf(client, "/admin/login")})
    assert resp.status_code == 400
    assert "Enter your username and password." in resp.get_data(as_text=True)


def test_no_user_enumeration_by_message_or_status(client, csrf, admin, make_user, app):
    off = make_user("gone")
    with app.app_context():
        db.session.get(User, off).active = False
        db.session.commit()
    answers = []
    for username, password in [("admin", "Wrong-passw0rd"), ("nobody-here", "Wrong-passw0rd"),
                               ("gone", STAFF_PASSWORD), ("nobody@example.com", STAFF_PASSWORD)]:
        resp = post_login(client, csrf, username, password)
        body = resp.get_data(as_text=True).replace(f'value="{username}"', "")
        body = re.sub(r'name="csrf_token"[^>]*>', "", body)
        answers.append((resp.status_code, body))
    assert len(set(answers)) == 1
    assert answers[0][0] == 401


def test_lockout_per_ip_after_attempt_limit(client, csrf, admin, app):
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 3, "attempt_banmin": 15})
    for _ in range(3):
        assert post_login(client, csrf, "admin", "Wrong-passw0rd").status_code == 401
    # even the right password is refused while the address is blocked
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD)
    assert resp.status_code == 429
    assert "Try again in 15 minutes" in resp.get_data(as_text=True)
    assert not is_logged_in(client)
    # once the block is over, the right password works and clears the count
    with app.app_context():
        db.session.execute(text("UPDATE hesk_failed_attempts SET last_attempt_at = :t"),
                           {"t": utcnow() - timedelta(minutes=16)})
        db.session.commit()
    assert post_login(client, csrf, "admin", ADMIN_PASSWORD).status_code == 302


def test_lockout_per_account_from_any_address(app, csrf, admin):
    """Failures against one username from several addresses block that username (the same answer
    whether it exists or not)."""
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 3})
    for n in range(3):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
        assert post_login(other, csrf, "admin", "Wrong-passw0rd").status_code == 401
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    assert post_login(fresh, csrf, "admin", ADMIN_PASSWORD).status_code == 429
    for n in range(3):
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = f"10.0.1.{n + 1}"
        post_login(other, csrf, "ghost", "Wrong-passw0rd")
    ghost = app.test_client()
    ghost.environ_base["REMOTE_ADDR"] = "10.0.1.99"
    assert post_login(ghost, csrf, "ghost", "Wrong-passw0rd").status_code == 429


def test_session_is_renewed_at_login(app, client, csrf, admin):
    """Session fixation: a session cookie planted before the login does not become a logged-in one."""
    client.get("/admin/login")
    before = client.get_cookie("hesk_session").value
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD)
    assert resp.status_code == 302
    after = client.get_cookie("hesk_session").value
    assert after != before
    attacker = app.test_client()
    attacker.set_cookie("hesk_session", before)
    assert attacker.get("/admin/profile").status_code == 302


def test_logout_only_by_post_with_csrf(client, csrf, admin, login):
    login("admin")
    assert client.get("/admin/logout").status_code == 405
    assert is_logged_in(client)
    resp = client.post("/admin/logout", data={})
    assert resp.status_code == 400  # no CSRF token: refused
    assert is_logged_in(client)
    resp = client.post("/admin/logout", data={"csrf_token": "forged"})
    assert resp.status_code == 400
    assert is_logged_in(client)
    resp = client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/profile")})
    assert resp.status_code == 302 and location(resp) == "/admin/login"
    assert not is_logged_in(client)


BAD_NEXT = [
    "//evil.com", "/\\evil.com", "https:evil.com", "https://evil.com/", "%09//evil.com", "/%09/evil.com",
    "javascript:alert(1)", "%2F%2Fevil.com", "/%5Cevil.com", "//evil%E3%80%82com", "///evil.com",
    "\u3002evil.com", "%0d%0aLocation:%20http://evil.com",
]


@pytest.mark.parametrize("next_url", BAD_NEXT)
def test_open_redirect_in_next_is_refused(client, csrf, admin, next_url):
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD, next_url=next_url)
    assert resp.status_code == 302
    target = urlsplit(location(resp))
    assert not target.netloc and not target.scheme
    assert location(resp) == "/admin/"


def test_next_to_a_local_page_is_followed(client, csrf, admin):
    resp = client.get("/admin/profile")
    assert resp.status_code == 302
    assert location(resp) == "/admin/login?next=/admin/profile"
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD, next_url="/admin/profile")
    assert location(resp) == "/admin/profile"


def test_anonymous_post_is_sent_to_login_without_next(client, csrf):
    token = csrf(client, "/admin/login")
    resp = client.post("/admin/profile/password", data={"csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/login"


# --- sessions end ---------------------------------------------------------------------------------------

def test_deactivated_users_session_ends(app, client, login, make_user):
    uid = make_user("staff")
    login("staff")
    assert is_logged_in(client)
    with app.app_context():
        from hesk_py.services import accounts

        accounts.set_active(db.session.get(User, uid), False)
    resp = client.get("/admin/profile")
    assert resp.status_code == 302 and location(resp).startswith("/admin/login")


def test_deactivated_flag_alone_ends_the_session(app, client, login, make_user):
    """Whatever turns the account off (the team page, the database), the next request is refused."""
    uid = make_user("staff")
    login("staff")
    with app.app_context():
        db.session.execute(update(User).where(User.id == uid).values(active=False))
        db.session.commit()
    assert client.get("/admin/profile").status_code == 302


def test_password_change_ends_other_sessions_only(app, csrf, make_user):
    make_user("staff")
    laptop, phone = app.test_client(), app.test_client()
    for c in (laptop, phone):
        assert post_login(c, csrf, "staff", STAFF_PASSWORD).status_code == 302
    resp = laptop.post("/admin/profile/password", data={
        "old_password": STAFF_PASSWORD, "new_password": "Brand-new-pass9", "confirm_password": "Brand-new-pass9",
        "csrf_token": csrf(laptop, "/admin/profile")})
    assert resp.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone)
    assert post_login(phone, csrf, "staff", STAFF_PASSWORD).status_code == 401
    assert post_login(phone, csrf, "staff", "Brand-new-pass9").status_code == 302


def test_log_out_everywhere_else(app, csrf, make_user):
    make_user("staff")
    laptop, phone = app.test_client(), app.test_client()
    for c in (laptop, phone):
        post_login(c, csrf, "staff", STAFF_PASSWORD, remember=True)
    phone_cookie = remember_cookie(phone)
    assert phone_cookie
    resp = laptop.post("/admin/profile/sessions", data={"csrf_token": csrf(laptop, "/admin/profile")})
    assert resp.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone)
    thief = app.test_client()
    thief.set_cookie(REMEMBER, phone_cookie, path="/admin/")
    assert not is_logged_in(thief)


# --- remember me ------------------------------------------------------------------------------------------

def test_remember_me_logs_in_a_new_browser_session_and_rotates(app, client, csrf, admin):
    resp = post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    header = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(f"{REMEMBER}=")]
    assert len(header) == 1
    assert "HttpOnly" in header[0] and "SameSite=Lax" in header[0] and "Path=/admin/" in header[0]
    first = remember_cookie(client)
    selector, validator = first.split(":")
    with app.app_context():
        row = db.session.scalar(select(AuthToken).where(AuthToken.selector == selector))
        # only the hash of the validator is stored
        assert row.validator_hash == hashlib.sha256(validator.encode()).hexdigest()
        assert validator not in row.validator_hash
    # a browser restart: no session cookie, only the remember cookie
    browser = app.test_client()
    browser.set_cookie(REMEMBER, first, path="/admin/")
    assert browser.get("/admin/profile").status_code == 200
    second = remember_cookie(browser)
    assert second and second != first and second.split(":")[0] == selector


def test_remembered_login_is_not_a_password_entry(app, client, csrf, admin):
    """A cookie login must type the password before a secure area."""
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    browser = app.test_client()
    browser.set_cookie(REMEMBER, remember_cookie(client), path="/admin/")
    resp = browser.get("/admin/mfa")
    assert resp.status_code == 302 and location(resp).startswith("/admin/elevator")


def test_stolen_old_remember_token_revokes_every_token(app, client, csrf, admin):
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    stolen = remember_cookie(client)
    owner = app.test_client()
    owner.set_cookie(REMEMBER, stolen, path="/admin/")
    assert is_logged_in(owner)  # the owner used it: rotated
    rotated = remember_cookie(owner)
    with app.app_context():
        db.session.execute(update(AuthToken).values(rotated_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    thief = app.test_client()
    thief.set_cookie(REMEMBER, stolen, path="/admin/")
    assert not is_logged_in(thief)
    with app.app_context():
        assert db.session.scalar(select(AuthToken)) is None
    # the owner's newer token died with it, and their sessions ended (the thief may have had one)
    again = app.test_client()
    again.set_cookie(REMEMBER, rotated, path="/admin/")
    assert not is_logged_in(again)
    assert not is_logged_in(client)


def test_two_requests_with_the_same_cookie_at_once_are_not_theft(app, client, csrf, admin):
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    cookie = remember_cookie(client)
    tab1, tab2 = app.test_client(), app.test_client()
    for tab in (tab1, tab2):
        tab.set_cookie(REMEMBER, cookie, path="/admin/")
    assert is_logged_in(tab1)
    assert is_logged_in(tab2)  # within the grace period the replaced validator still works once rotated


def test_logout_revokes_this_browsers_token(app, client, csrf, admin):
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    cookie = remember_cookie(client)
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/profile")})
    assert remember_cookie(client) is None
    browser = app.test_client()
    browser.set_cookie(REMEMBER, cookie, path="/admin/")
    assert not is_logged_in(browser)


def test_expired_or_garbage_remember_cookie_is_refused(app, client, csrf, admin):
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    cookie = remember_cookie(client)
    with app.app_context():
        db.session.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    for value in (cookie, "garbage", "a:b:c", ":", "x" * 500 + ":y"):
        browser = app.test_client()
        browser.set_cookie(REMEMBER, value, path="/admin/")
        assert not is_logged_in(browser)


def test_no_remember_cookie_when_autologin_is_off(app, client, csrf, admin):
    with app.app_context():
        from hesk_py import settings

        settings.save({"autologin": False})
    assert 'name="remember"' not in client.get("/admin/login").get_data(as_text=True)
    post_login(client, csrf, "admin", ADMIN_PASSWORD, remember=True)
    assert remember_cookie(client) is None
    with app.app_context():
        assert db.session.scalar(select(AuthToken)) is None


def test_remember_token_of_deactivated_user_is_refused(app, client, csrf, make_user):
    uid = make_user("staff")
    post_login(client, csrf, "staff", STAFF_PASSWORD, remember=True)
    cookie = remember_cookie(client)
    with app.app_context():
        db.session.execute(update(User).where(User.id == uid).values(active=False))
        db.session.commit()
    browser = app.test_client()
    browser.set_cookie(REMEMBER, cookie, path="/admin/")
    assert not is_logged_in(browser)


# --- password reset ----------------------------------------------------------------------------------------

def ask_reset(client, csrf, login_name, **environ):
    return client.post("/admin/forgot_password", data={
        "username": login_name, "csrf_token": csrf(client, "/admin/forgot_password")}, **environ)


def reset_link_from(mail) -> str:
    body = mail.get_content()
    match = re.search(r"https?://\S+/admin/reset_password/(\S+)", body)
    assert match, body
    return match.group(0), match.group(1)


def test_forgot_password_emails_a_single_use_link(app, client, csrf, make_user, smtp_server):
    uid = make_user("staff", email="staff@example.com")
    resp = ask_reset(client, csrf, "staff")
    assert resp.status_code == 200
    assert "we have sent it a link" in resp.get_data(as_text=True)
    with app.app_context():
        from hesk_py.services import mailer

        assert mailer.deliver_due()["sent"] == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == "staff@example.com"
    assert mail["Subject"] == "Reset your help desk password"
    url, token = reset_link_from(mail)
    assert url.startswith("https://www.example.com/helpdesk/admin/reset_password/")  # the configured URL
    with app.app_context():
        row = db.session.scalar(select(PasswordReset))
        assert row.user_id == uid
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # hashed at rest
        assert row.expires_at - row.created_at <= timedelta(hours=1)
        stored = db.session.execute(text("SELECT * FROM hesk_password_resets")).all()
        assert token not in repr(stored)

    page = client.get(f"/admin/reset_password/{token}")
    assert page.status_code == 200
    resp = client.post(f"/admin/reset_password/{token}", data={
        "password": "Fresh-passw0rd", "confirm": "Fresh-passw0rd",
        "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert resp.status_code == 302 and location(resp) == "/admin/login"
    assert not is_logged_in(client)  # a reset is not a login
    assert post_login(client, csrf, "staff", "Fresh-passw0rd").status_code == 302

    other = app.test_client()
    assert other.get(f"/admin/reset_password/{token}").status_code == 404  # single use
    resp = other.post(f"/admin/reset_password/{token}", data={
        "password": "Another-passw0rd", "confirm": "Another-passw0rd",
        "csrf_token": csrf(other, "/admin/login")})
    assert resp.status_code == 404
    assert post_login(other, csrf, "staff", "Another-passw0rd").status_code == 401


def test_forgot_password_same_answer_whether_or_not_the_account_exists(app, client, csrf, make_user):
    uid = make_user("staff")
    make_user("gone")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "gone").values(active=False))
        db.session.commit()
    answers = set()
    for login_name in ("staff", "staff@example.com", "nobody", "nobody@example.com", "gone"):
        resp = ask_reset(client, csrf, login_name)
        body = re.sub(r'name="csrf_token"[^>]*>', "", resp.get_data(as_text=True))
        answers.add((resp.status_code, body.replace(f'value="{login_name}"', "")))
    assert len(answers) == 1
    with app.app_context():
        rows = db.session.scalars(select(PasswordReset)).all()
        assert {r.user_id for r in rows} == {uid}
        assert db.session.scalar(select(OutboxMessage.recipient)) == "staff@example.com"


def test_reset_link_expires(app, client, csrf, make_user, smtp_server):
    make_user("staff")
    ask_reset(client, csrf, "staff")
    with app.app_context():
        from hesk_py.services import mailer

        mailer.deliver_due()
        db.session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    _url, token = reset_link_from(smtp_server.wait_for(1)[0])
    resp = client.get(f"/admin/reset_password/{token}")
    assert resp.status_code == 404
    assert "expired or was already used" in resp.get_data(as_text=True)


def test_reset_link_dies_when_the_password_changes(app, client, csrf, make_user, smtp_server, login):
    make_user("staff")
    ask_reset(client, csrf, "staff")
    with app.app_context():
        from hesk_py.services import mailer

        mailer.deliver_due()
    _url, token = reset_link_from(smtp_server.wait_for(1)[0])
    login("staff")
    client.post("/admin/profile/password", data={
        "old_password": STAFF_PASSWORD, "new_password": "Changed-passw0rd", "confirm_password": "Changed-passw0rd",
        "csrf_token": csrf(client, "/admin/profile")})
    assert app.test_client().get(f"/admin/reset_password/{token}").status_code == 404


def test_reset_form_keeps_errors_beside_the_fields(app, client, csrf, make_user, smtp_server):
    make_user("staff")
    ask_reset(client, csrf, "staff")
    with app.app_context():
        from hesk_py.services import mailer

        mailer.deliver_due()
    _url, token = reset_link_from(smtp_server.wait_for(1)[0])
    page = client.get(f"/admin/reset_password/{token}").get_data(as_text=True)
    resp = client.post(f"/admin/reset_password/{token}", data={
        "password": "short", "confirm": "short", "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 400
    assert 'id="password-error"' in resp.get_data(as_text=True)
    resp = client.post(f"/admin/reset_password/{token}", data={
        "password": "Fresh-passw0rd", "confirm": "Fresh-passw0rd-typo", "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 400
    assert "do not match" in resp.get_data(as_text=True)
    # the link still works after a refused try
    assert client.get(f"/admin/reset_password/{token}").status_code == 200


def test_reset_link_uses_the_configured_url_not_the_host_header(app, client, csrf, make_user, smtp_server):
    """Password-reset poisoning: a forged Host header must not end up in the emailed link."""
    make_user("staff")
    evil = {"Host": "evil.example"}
    page = client.get("/admin/forgot_password", headers=evil).get_data(as_text=True)
    resp = client.post("/admin/forgot_password", headers=evil, data={
        "username": "staff", "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 200
    with app.app_context():
        from hesk_py.services import mailer

        mailer.deliver_due()
    body = smtp_server.wait_for(1)[0].get_content()
    assert "https://www.example.com/helpdesk/admin/reset_password/" in body
    assert "evil.example" not in body


def test_reset_requests_are_throttled(app, client, csrf, make_user):
    make_user("staff")
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 10})
    for _ in range(5):
        assert ask_reset(client, csrf, "staff").status_code == 200
    with app.app_context():
        # at most three links an hour for one account, whatever the number of requests
        assert len(db.session.scalars(select(PasswordReset)).all()) == 3
    for _ in range(5):
        ask_reset(client, csrf, "nobody")
    assert ask_reset(client, csrf, "staff").status_code == 429


def test_reset_can_be_turned_off(app, client):
    with app.app_context():
        from hesk_py import settings

        settings.save({"reset_pass": False})
    assert client.get("/admin/forgot_password").status_code == 404
    assert "Forgot your password?" not in client.get("/admin/login").get_data(as_text=True)


def test_reset_ends_sessions_and_remember_tokens(app, csrf, make_user, smtp_server):
    make_user("staff")
    laptop = app.test_client()
    post_login(laptop, csrf, "staff", STAFF_PASSWORD, remember=True)
    cookie = remember_cookie(laptop)
    anon = app.test_client()
    ask_reset(anon, csrf, "staff")
    with app.app_context():
        from hesk_py.services import mailer

        mailer.deliver_due()
    _url, token = reset_link_from(smtp_server.wait_for(1)[0])
    page = anon.get(f"/admin/reset_password/{token}").get_data(as_text=True)
    anon.post(f"/admin/reset_password/{token}", data={
        "password": "Fresh-passw0rd", "confirm": "Fresh-passw0rd", "csrf_token": csrf_token_from(page)})
    assert not is_logged_in(laptop)
    browser = app.test_client()
    browser.set_cookie(REMEMBER, cookie, path="/admin/")
    assert not is_logged_in(browser)


# --- re-authentication (secure areas) ---------------------------------------------------------------------

def age_password_entry(client, seconds):
    with client.session_transaction() as sess:
        sess["hesk_auth_at"] = int(time.time()) - seconds


def test_secure_area_asks_for_the_password_after_elevator_duration(app, client, csrf, admin, login):
    with app.app_context():
        from hesk_py import settings

        settings.save({"elevator_duration": "10M"})
    login("admin")
    assert client.get("/admin/mfa").status_code == 200  # just logged in: fresh
    age_password_entry(client, 11 * 60)
    resp = client.get("/admin/mfa")
    assert resp.status_code == 302 and location(resp) == "/admin/elevator?next=/admin/mfa"
    page = client.get(location(resp))
    assert "Entering a secure area" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    resp = client.post("/admin/elevator?next=/admin/mfa", data={"password": "Wrong-passw0rd", "csrf_token": token})
    assert resp.status_code == 401
    assert "Wrong password." in resp.get_data(as_text=True)
    resp = client.post("/admin/elevator?next=/admin/mfa", data={"password": ADMIN_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/mfa"
    assert client.get("/admin/mfa").status_code == 200
    # within the duration it is not asked again
    age_password_entry(client, 9 * 60)
    assert client.get("/admin/mfa").status_code == 200


def test_elevator_duration_in_hours(app, client, admin, login):
    with app.app_context():
        from hesk_py import settings

        settings.save({"elevator_duration": "2H"})
    login("admin")
    age_password_entry(client, 90 * 60)
    assert client.get("/admin/mfa").status_code == 200
    age_password_entry(client, 121 * 60)
    assert client.get("/admin/mfa").status_code == 302


def test_expired_post_goes_back_to_the_form_page(client, csrf, admin, login):
    login("admin")
    token = csrf(client, "/admin/mfa")
    age_password_entry(client, 24 * 3600)
    resp = client.post("/admin/mfa/app/start", data={"csrf_token": token},
                       headers={"Referer": "http://localhost/admin/mfa"})
    assert resp.status_code == 302 and location(resp) == "/admin/elevator?next=/admin/mfa"
    resp = client.post("/admin/mfa/app/start", data={"csrf_token": token},
                       headers={"Referer": "https://evil.example/phish"})
    assert location(resp) == "/admin/elevator"


@pytest.mark.parametrize("next_url", ["//evil.com", "https://evil.com", "/\\evil.com"])
def test_elevator_refuses_foreign_next(client, csrf, admin, login, next_url):
    login("admin")
    token = csrf(client, "/admin/elevator")
    resp = client.post(f"/admin/elevator?next={next_url}", data={"password": ADMIN_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/"


def test_elevator_wrong_passwords_log_out(app, client, csrf, admin, login):
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 2})
    login("admin")
    token = csrf(client, "/admin/elevator")
    for _ in range(2):
        client.post("/admin/elevator", data={"password": "Wrong-passw0rd", "csrf_token": token})
    resp = client.post("/admin/elevator", data={"password": ADMIN_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/login"
    assert not is_logged_in(client)


def test_require_recent_auth_protects_any_view(app):
    """The decorator other areas use (settings, team): a view behind it answers only after a fresh password."""
    from admin.security import require_recent_auth

    calls = []

    @require_recent_auth
    def view():
        calls.append(1)
        return "secret"

    with app.test_request_context("/admin/settings/general"):
        from flask import session

        session["hesk_auth_at"] = int(time.time())
        assert view() == "secret"
        session["hesk_auth_at"] = int(time.time()) - 7200
        resp = view()
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/admin/elevator?next=/admin/settings/general"
    assert calls == [1]
