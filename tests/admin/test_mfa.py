"""Two-factor authentication: enrolment (app, email), the second step of the login, backup codes,
replays, throttling, require_mfa, an administrator's reset (reference/PEERS.md §4.7)."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
from sqlalchemy import select, update

from hesk_py.extensions import db
from hesk_py.models import AuthToken, MfaBackupCode, MfaEmailCode, User
from hesk_py.models.types import utcnow
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD, csrf_token_from

_SECRET_RE = re.compile(r'<code id="mfa-secret">([A-Z2-7 ]+)</code>')
_BACKUP_RE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def location(resp) -> str:
    return resp.headers["Location"]


def is_logged_in(client) -> bool:
    return client.get("/admin/profile").status_code == 200


def post_password(client, csrf, username, password, *, remember=False, next_url=None):
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    data = {"username": username, "password": password, "csrf_token": csrf(client, "/admin/login")}
    if remember:
        data["remember"] = "y"
    return client.post(url, data=data)


def post_code(client, code):
    page = client.get("/admin/login/verify")
    assert page.status_code == 200, page.status_code
    return client.post("/admin/login/verify", data={"code": code,
                                                    "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def next_code(secret: str) -> str:
    """The code of the next 30-second step (an app whose clock runs a little ahead): the step used at
    enrolment is spent, so the first login needs a later one without waiting."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def enrol_app(client, csrf) -> tuple[str, list[str]]:
    token = csrf(client, "/admin/mfa")
    resp = client.post("/admin/mfa/app/start", data={"csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/mfa/app"
    page = client.get("/admin/mfa/app").get_data(as_text=True)
    secret = _SECRET_RE.search(page).group(1).replace(" ", "")
    resp = client.post("/admin/mfa/app", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert resp.status_code == 200
    codes = _BACKUP_RE.findall(resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def deliver(app):
    with app.app_context():
        from hesk_py.services import mailer

        return mailer.deliver_due()


def code_from(mail) -> str:
    return re.search(r"(\d{6}) is your verification code", mail.get_content()).group(1)


def logout(client, csrf):
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/profile")})


# --- enrolment -------------------------------------------------------------------------------------------

def test_enrol_authenticator_app(app, client, csrf, login, make_user):
    uid = make_user("staff")
    login("staff")
    page = client.get("/admin/mfa").get_data(as_text=True)
    assert "Off." in page
    token = csrf_token_from(page)
    client.post("/admin/mfa/app/start", data={"csrf_token": token})
    setup = client.get("/admin/mfa/app")
    html = setup.get_data(as_text=True)
    assert '<svg' in html and 'class="qr-code"' in html  # the QR code, inline, no script
    assert "<script>" not in html and "style=" not in html
    secret = _SECRET_RE.search(html).group(1).replace(" ", "")
    # a wrong code: the page comes back with the QR code and a message beside the field
    resp = client.post("/admin/mfa/app", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                               else "111111", "csrf_token": token})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'id="code-error"' in body and "<svg" in body
    with app.app_context():
        assert db.session.get(User, uid).mfa_method is None
    resp = client.post("/admin/mfa/app", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert resp.status_code == 200
    codes = _BACKUP_RE.findall(resp.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        user = db.session.get(User, uid)
        assert user.mfa_method == "totp"
        assert secret not in (user.mfa_secret or "")  # encrypted at rest
        hashes = db.session.scalars(select(MfaBackupCode.code_hash).where(MfaBackupCode.user_id == uid)).all()
        assert len(hashes) == 10
        assert not any(c.replace("-", "") in h for c in codes for h in hashes)  # hashed at rest
    # shown once: the set-up page is gone, and no page shows the secret again
    assert client.get("/admin/mfa/app").status_code == 302
    for url in ("/admin/mfa", "/admin/profile"):
        assert secret not in client.get(url).get_data(as_text=True)
    assert is_logged_in(client)  # the enrolling browser stays logged in


def test_setup_start_is_post_only(client, login, admin):
    login("admin")
    assert client.get("/admin/mfa/app/start").status_code == 405
    assert client.get("/admin/mfa/app").status_code == 302  # nothing started: back to the overview


def test_enrolment_ends_other_sessions(app, csrf, make_user):
    make_user("staff")
    laptop, other = app.test_client(), app.test_client()
    for c in (laptop, other):
        post_password(c, csrf, "staff", STAFF_PASSWORD)
    enrol_app(laptop, csrf)
    assert is_logged_in(laptop)
    assert not is_logged_in(other)


# --- the second step of the login -----------------------------------------------------------------------

def test_login_asks_for_the_code_and_the_half_login_grants_nothing(app, client, csrf, make_user, make_ticket):
    make_user("staff")
    make_ticket(subject="Half-login secret subject")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    secret, _codes = enrol_app(client, csrf)
    logout(client, csrf)

    resp = post_password(client, csrf, "staff", STAFF_PASSWORD)
    assert resp.status_code == 302 and location(resp) == "/admin/login/verify"
    for url in ("/admin/", "/admin/profile", "/admin/mfa", "/admin/elevator"):
        resp = client.get(url)
        assert resp.status_code == 302 and location(resp).startswith("/admin/login"), url
        assert "Half-login secret" not in resp.get_data(as_text=True)
    page = client.get("/admin/login/verify").get_data(as_text=True)
    assert "authenticator app" in page
    resp = post_code(client, next_code(secret))
    assert resp.status_code == 302 and location(resp) == "/admin/"
    assert is_logged_in(client)


def test_wrong_code_says_so_and_keeps_the_half_login(client, csrf, make_user):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(client, csrf)
    logout(client, csrf)
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    wrong = "123456" if next_code(secret) != "123456" else "654321"
    resp = post_code(client, wrong)
    assert resp.status_code == 401
    assert "This code is not valid" in resp.get_data(as_text=True)
    assert post_code(client, next_code(secret)).status_code == 302


def test_totp_replay_of_the_same_code_is_refused(app, csrf, make_user):
    make_user("staff")
    first = app.test_client()
    post_password(first, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(first, csrf)
    enrol_code = pyotp.TOTP(secret).now()
    logout(first, csrf)

    code = next_code(secret)
    post_password(first, csrf, "staff", STAFF_PASSWORD)
    assert post_code(first, code).status_code == 302
    # someone who watched the code being typed tries it from another browser
    second = app.test_client()
    post_password(second, csrf, "staff", STAFF_PASSWORD)
    assert post_code(second, code).status_code == 401
    # an older code (the one typed at enrolment) is refused as well
    assert post_code(second, enrol_code).status_code == 401
    assert not is_logged_in(second)


def test_backup_code_works_once(app, csrf, make_user):
    make_user("staff")
    c = app.test_client()
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    _secret, codes = enrol_app(c, csrf)
    logout(c, csrf)
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    assert post_code(c, codes[0].upper().replace("-", " ")).status_code == 302  # typed loosely: still fine
    with app.app_context():
        assert db.session.scalar(select(MfaBackupCode).where(MfaBackupCode.used_at.is_not(None))) is not None
    logout(c, csrf)
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    assert post_code(c, codes[0]).status_code == 401
    assert post_code(c, codes[1]).status_code == 302
    page = c.get("/admin/mfa").get_data(as_text=True)
    assert "8 backup codes left." in page


def test_new_backup_codes_replace_the_old_ones(app, client, csrf, make_user):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    _secret, old = enrol_app(client, csrf)
    resp = client.post("/admin/mfa/backup_codes", data={"csrf_token": csrf(client, "/admin/mfa")})
    new = _BACKUP_RE.findall(resp.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    logout(client, csrf)
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    assert post_code(client, old[0]).status_code == 401
    assert post_code(client, new[0]).status_code == 302


def test_wrong_codes_are_throttled(app, client, csrf, make_user):
    make_user("staff")
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 3})
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(client, csrf)
    logout(client, csrf)
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    wrong = "000000" if next_code(secret) != "000000" else "999999"
    for _ in range(3):
        assert post_code(client, wrong).status_code == 401
    token = csrf(client, "/admin/login/verify")
    resp = client.post("/admin/login/verify", data={"code": next_code(secret), "csrf_token": token})
    assert resp.status_code == 302 and location(resp) == "/admin/login"
    assert "Too many failed attempts" in client.get("/admin/login").get_data(as_text=True)
    assert not is_logged_in(client)


def test_throttle_follows_the_account_not_the_address(app, csrf, make_user):
    """An intruder who knows the password cannot try codes from many addresses."""
    make_user("staff")
    with app.app_context():
        from hesk_py import settings

        settings.save({"attempt_limit": 3})
    owner = app.test_client()
    post_password(owner, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(owner, csrf)
    wrong = "000000" if next_code(secret) != "000000" else "999999"
    for n in range(3):
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = f"10.1.0.{n + 1}"
        post_password(c, csrf, "staff", STAFF_PASSWORD)
        assert post_code(c, wrong).status_code == 401
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.1.0.50"
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    token = csrf(c, "/admin/login/verify")
    resp = c.post("/admin/login/verify", data={"code": next_code(secret), "csrf_token": token})
    assert location(resp) == "/admin/login"


def test_half_login_expires(client, csrf, make_user):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(client, csrf)
    logout(client, csrf)
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    with client.session_transaction() as sess:
        sess["hesk_mfa_pending"] = {**sess["hesk_mfa_pending"], "at": int(time.time()) - 3600}
    resp = client.get("/admin/login/verify")
    assert resp.status_code == 302 and location(resp) == "/admin/login"
    assert "expired" in client.get("/admin/login").get_data(as_text=True)


def test_verify_without_a_password_step_goes_to_login(client):
    resp = client.get("/admin/login/verify")
    assert resp.status_code == 302 and location(resp) == "/admin/login"


def test_next_and_remember_me_survive_the_second_step(app, client, csrf, make_user):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(client, csrf)
    logout(client, csrf)
    resp = post_password(client, csrf, "staff", STAFF_PASSWORD, remember=True, next_url="/admin/profile")
    # no remember-me token before the second factor
    assert client.get_cookie("hesk_remember", path="/admin/") is None
    with app.app_context():
        assert db.session.scalar(select(AuthToken)) is None
    resp = post_code(client, next_code(secret))
    assert location(resp) == "/admin/profile"
    assert client.get_cookie("hesk_remember", path="/admin/") is not None


# --- codes by email --------------------------------------------------------------------------------------

def test_codes_by_email(app, client, csrf, make_user, smtp_server):
    uid = make_user("staff", email="staff@example.com")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    resp = client.post("/admin/mfa/email/start", data={"csrf_token": csrf(client, "/admin/mfa")})
    assert location(resp) == "/admin/mfa/email"
    assert deliver(app)["sent"] == 1
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == "staff@example.com"
    assert mail["Subject"] == "Your help desk verification code"
    code = code_from(mail)
    with app.app_context():
        stored = db.session.scalars(select(MfaEmailCode.code_hash)).all()
        assert stored and all(code not in h for h in stored)  # hashed at rest
    page = client.get("/admin/mfa/email").get_data(as_text=True)
    token = csrf_token_from(page)
    resp = client.post("/admin/mfa/email", data={"code": "999999" if code != "999999" else "111111",
                                                 "csrf_token": token})
    assert resp.status_code == 400 and 'id="code-error"' in resp.get_data(as_text=True)
    resp = client.post("/admin/mfa/email", data={"code": code, "csrf_token": token})
    assert resp.status_code == 200 and len(_BACKUP_RE.findall(resp.get_data(as_text=True))) == 10
    with app.app_context():
        assert db.session.get(User, uid).mfa_method == "email"

    logout(client, csrf)
    resp = post_password(client, csrf, "staff", STAFF_PASSWORD)
    assert location(resp) == "/admin/login/verify"
    assert "We sent a 6-digit code" in client.get("/admin/login/verify").get_data(as_text=True)
    deliver(app)
    login_code = code_from(smtp_server.wait_for(2)[1])
    assert post_code(client, code).status_code == 401  # the enrolment code is spent
    assert post_code(client, login_code).status_code == 302
    assert is_logged_in(client)
    # the same emailed code does not work twice
    other = app.test_client()
    post_password(other, csrf, "staff", STAFF_PASSWORD)
    assert post_code(other, login_code).status_code == 401


def test_email_code_expires(app, client, csrf, make_user, smtp_server):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    client.post("/admin/mfa/email/start", data={"csrf_token": csrf(client, "/admin/mfa")})
    deliver(app)
    code = code_from(smtp_server.wait_for(1)[0])
    with app.app_context():
        db.session.execute(update(MfaEmailCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = client.get("/admin/mfa/email").get_data(as_text=True)
    resp = client.post("/admin/mfa/email", data={"code": code, "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)


def test_resend_code_at_login(app, client, csrf, make_user, smtp_server):
    make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    client.post("/admin/mfa/email/start", data={"csrf_token": csrf(client, "/admin/mfa")})
    deliver(app)
    page = client.get("/admin/mfa/email").get_data(as_text=True)
    client.post("/admin/mfa/email", data={"code": code_from(smtp_server.wait_for(1)[0]),
                                          "csrf_token": csrf_token_from(page)})
    logout(client, csrf)
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    token = csrf(client, "/admin/login/verify")
    resp = client.post("/admin/login/verify/resend", data={"csrf_token": token})
    assert location(resp) == "/admin/login/verify"
    # a second code moments after the first is not sent (no mail bombing by clicking)
    assert "Wait a little" in client.get("/admin/login/verify").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(MfaEmailCode).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    client.post("/admin/login/verify/resend", data={"csrf_token": token})
    assert "We sent you a new code." in client.get("/admin/login/verify").get_data(as_text=True)
    deliver(app)
    mails = smtp_server.wait_for(3)
    assert len(mails) == 3
    # both codes of this login work (a late email is not wasted); each once
    assert post_code(client, code_from(mails[1])).status_code == 302


# --- turning it off, require_mfa, the administrator's reset ----------------------------------------------

def test_turn_off(app, client, csrf, make_user):
    uid = make_user("staff")
    post_password(client, csrf, "staff", STAFF_PASSWORD)
    enrol_app(client, csrf)
    resp = client.post("/admin/mfa/disable", data={"csrf_token": csrf(client, "/admin/mfa")})
    assert location(resp) == "/admin/mfa"
    with app.app_context():
        user = db.session.get(User, uid)
        assert user.mfa_method is None and user.mfa_secret is None
        assert db.session.scalar(select(MfaBackupCode)) is None
    logout(client, csrf)
    assert location(post_password(client, csrf, "staff", STAFF_PASSWORD)) == "/admin/"


def test_require_mfa_forces_enrolment(app, client, csrf, make_user):
    make_user("staff")
    with app.app_context():
        from hesk_py import settings

        settings.save({"require_mfa": True})
    resp = post_password(client, csrf, "staff", STAFF_PASSWORD)
    assert resp.status_code == 302
    for url in ("/admin/", "/admin/profile"):
        resp = client.get(url)
        assert resp.status_code == 302 and location(resp) == "/admin/mfa", url
    page = client.get("/admin/mfa").get_data(as_text=True)
    assert "requires two-factor authentication" in page
    secret, _ = enrol_app(client, csrf)
    assert client.get("/admin/profile").status_code == 200
    page = client.get("/admin/mfa").get_data(as_text=True)
    assert "Turn off two-factor authentication" not in page
    client.post("/admin/mfa/disable", data={"csrf_token": csrf_token_from(page)})
    with app.app_context():
        assert db.session.scalar(select(User.mfa_method).where(User.username == "staff")) == "totp"
    # logging out still works while enrolment is pending for someone else
    logout(client, csrf)
    assert not is_logged_in(client)


def test_administrator_resets_a_staff_members_mfa(app, csrf, admin, make_user):
    uid = make_user("staff")
    staff = app.test_client()
    post_password(staff, csrf, "staff", STAFF_PASSWORD)
    enrol_app(staff, csrf)

    boss = app.test_client()
    post_password(boss, csrf, "admin", ADMIN_PASSWORD)
    page = boss.get(f"/admin/mfa/users/{uid}")
    assert page.status_code == 200 and "Authenticator app" in page.get_data(as_text=True)
    assert boss.get(f"/admin/mfa/users/{uid}/reset").status_code == 405
    resp = boss.post(f"/admin/mfa/users/{uid}/reset", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).mfa_method is None
        assert db.session.scalar(select(MfaBackupCode)) is None
    assert not is_logged_in(staff)  # their sessions ended
    assert location(post_password(staff, csrf, "staff", STAFF_PASSWORD)) == "/admin/"
    assert boss.get("/admin/mfa/users/999999").status_code == 404


def test_reset_needs_manage_users_and_cannot_touch_an_administrator(app, csrf, admin, make_user):
    plain = make_user("plain")
    make_user("manager", features=["can_man_users"])
    c = app.test_client()
    post_password(c, csrf, "plain", STAFF_PASSWORD)
    assert c.get(f"/admin/mfa/users/{admin}").status_code == 403
    token = csrf(c, "/admin/profile")
    assert c.post(f"/admin/mfa/users/{admin}/reset", data={"csrf_token": token}).status_code == 403
    m = app.test_client()
    post_password(m, csrf, "manager", STAFF_PASSWORD)
    assert m.get(f"/admin/mfa/users/{plain}").status_code == 200
    assert m.get(f"/admin/mfa/users/{admin}").status_code == 403
    assert m.post(f"/admin/mfa/users/{admin}/reset", data={"csrf_token": csrf(m, "/admin/profile")}).status_code == 403


def test_reset_from_the_command_line(app, runner, csrf, make_user):
    uid = make_user("staff")
    c = app.test_client()
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    enrol_app(c, csrf)
    result = runner.invoke(args=["reset-mfa", "staff"])
    assert result.exit_code == 0, result.output
    assert "has been reset" in result.output
    with app.app_context():
        assert db.session.get(User, uid).mfa_method is None
    result = runner.invoke(args=["reset-mfa", "nobody"])
    assert result.exit_code != 0 and "No staff account" in result.output
    result = runner.invoke(args=["reset-mfa", "staff"])
    assert result.exit_code == 0 and "has no two-factor authentication" in result.output


def test_a_password_reset_does_not_skip_the_second_factor(app, csrf, make_user, smtp_server):
    make_user("staff")
    c = app.test_client()
    post_password(c, csrf, "staff", STAFF_PASSWORD)
    secret, _ = enrol_app(c, csrf)
    logout(c, csrf)
    c.post("/admin/forgot_password", data={"username": "staff", "csrf_token": csrf(c, "/admin/forgot_password")})
    deliver(app)
    token = re.search(r"/admin/reset_password/(\S+)", smtp_server.wait_for(1)[0].get_content()).group(1)
    page = c.get(f"/admin/reset_password/{token}").get_data(as_text=True)
    c.post(f"/admin/reset_password/{token}", data={"password": "Fresh-passw0rd", "confirm": "Fresh-passw0rd",
                                                   "csrf_token": csrf_token_from(page)})
    resp = post_password(c, csrf, "staff", "Fresh-passw0rd")
    assert location(resp) == "/admin/login/verify"
    assert not is_logged_in(c)
    assert post_code(c, next_code(secret)).status_code == 302
