"""The staff member's own profile: information, language, password, preferences and notifications."""
from __future__ import annotations

from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import User
from tests.conftest import STAFF_PASSWORD, csrf_token_from


def location(resp) -> str:
    return resp.headers["Location"]


def profile_data(**overrides):
    data = {"name": "Sam Staff", "email": "staff@example.com", "nickname": "", "signature": "",
            "language": "", "current_password": ""}
    data.update(overrides)
    return data


def post(client, url, data):
    page = client.get("/admin/profile")
    assert page.status_code == 200
    data = {**data, "csrf_token": csrf_token_from(page.get_data(as_text=True))}
    return client.post(url, data=data)


def test_profile_page_shows_the_users_data(client, login, make_user):
    make_user("staff", name="Sam Staff", email="sam@example.com")
    login("staff")
    html = client.get("/admin/profile").get_data(as_text=True)
    assert 'value="Sam Staff"' in html and 'value="sam@example.com"' in html
    for lang in ("en", "uk", "ru", "bg", "lv"):
        assert f'value="{lang}"' in html
    assert "Two-factor authentication is off." in html


def test_update_name_nickname_signature_language(app, client, login, make_user):
    uid = make_user("staff")
    login("staff")
    resp = post(client, "/admin/profile", profile_data(
        name="Sam Q. Staff", nickname="Sammy", signature="Best,\r\nSam\r\n<b>not html</b>", language="uk"))
    assert resp.status_code == 302 and location(resp) == "/admin/profile"
    with app.app_context():
        user = db.session.get(User, uid)
        assert (user.name, user.nickname, user.language) == ("Sam Q. Staff", "Sammy", "uk")
        assert user.signature == "Best,\nSam\n<b>not html</b>"
    html = client.get("/admin/profile").get_data(as_text=True)
    assert '<html lang="uk">' in html  # the staff member's own language from now on
    assert "&lt;b&gt;not html&lt;/b&gt;" in html  # shown escaped
    resp = post(client, "/admin/profile", profile_data(name="Sam Q. Staff", language=""))
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).language is None


def test_errors_keep_what_was_typed_beside_each_field(app, client, login, make_user):
    uid = make_user("staff")
    login("staff")
    resp = post(client, "/admin/profile", profile_data(
        name="", email="not-an-email", nickname="Typed nickname", signature="x" * 1001, language="xx"))
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    for field in ("name", "email", "signature", "language"):
        assert f'id="{field}-error"' in html, field
    assert 'value="not-an-email"' in html and 'value="Typed nickname"' in html
    assert "x" * 1001 in html
    with app.app_context():
        assert db.session.get(User, uid).name == "Staff"  # nothing saved


def test_changing_the_email_needs_the_current_password(app, client, login, make_user):
    uid = make_user("staff")
    make_user("other", email="other@example.com")
    login("staff")
    resp = post(client, "/admin/profile", profile_data(email="new@example.com"))
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'id="current_password-error"' in html and 'value="new@example.com"' in html
    resp = post(client, "/admin/profile", profile_data(email="new@example.com", current_password="Wrong-pass1"))
    assert resp.status_code == 400
    resp = post(client, "/admin/profile", profile_data(email="other@example.com", current_password=STAFF_PASSWORD))
    assert resp.status_code == 400
    assert "Another staff account uses this email" in resp.get_data(as_text=True)
    resp = post(client, "/admin/profile", profile_data(email="new@example.com", current_password=STAFF_PASSWORD))
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, uid).email == "new@example.com"


def test_password_change_needs_the_current_password(app, client, csrf, login, make_user):
    uid = make_user("staff")
    login("staff")
    with app.app_context():
        old_hash = db.session.get(User, uid).password_hash
    resp = post(client, "/admin/profile/password", {
        "old_password": "Wrong-passw0rd", "new_password": "Brand-new-pass9", "confirm_password": "Brand-new-pass9"})
    assert resp.status_code == 400
    assert 'id="old_password-error"' in resp.get_data(as_text=True)
    resp = post(client, "/admin/profile/password", {
        "old_password": STAFF_PASSWORD, "new_password": "short", "confirm_password": "short"})
    assert resp.status_code == 400 and 'id="new_password-error"' in resp.get_data(as_text=True)
    resp = post(client, "/admin/profile/password", {
        "old_password": STAFF_PASSWORD, "new_password": "Brand-new-pass9", "confirm_password": "Brand-new-pass8"})
    assert resp.status_code == 400 and 'id="confirm_password-error"' in resp.get_data(as_text=True)
    resp = post(client, "/admin/profile/password", {
        "old_password": STAFF_PASSWORD, "new_password": STAFF_PASSWORD, "confirm_password": STAFF_PASSWORD})
    assert resp.status_code == 400 and "different from the current one" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, uid).password_hash == old_hash
    resp = post(client, "/admin/profile/password", {
        "old_password": STAFF_PASSWORD, "new_password": "Brand-new-pass9", "confirm_password": "Brand-new-pass9"})
    assert resp.status_code == 302
    assert "Your other sessions have been logged out" in client.get("/admin/profile").get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, uid)
        assert user.password_hash != old_hash and user.password_hash.startswith("scrypt:")
        assert user.password_changed_at is not None


def test_preferences_and_notifications(app, client, login, make_user):
    uid = make_user("staff")
    login("staff")
    html = client.get("/admin/profile").get_data(as_text=True)
    # HESK's defaults: every notification on
    assert html.count('type="checkbox"') >= 20
    assert '<input checked id="notify_assigned" name="notify_assigned" type="checkbox"' in html
    with app.app_context():
        from hesk_py.services import outbox

        assert outbox.wants(db.session.get(User, uid), "notify_assigned")
    # untick "assigned to me", keep "new ticket unassigned"; after reply: back to the list
    resp = post(client, "/admin/profile/preferences", {
        "afterreply": "1", "autoreload": "60", "notify_new_unassigned": "y", "autostart": "y"})
    assert resp.status_code == 302
    with app.app_context():
        from hesk_py.services import accounts, outbox

        user = db.session.get(User, uid)
        assert not outbox.wants(user, "notify_assigned")
        assert outbox.wants(user, "notify_new_unassigned")
        prefs = accounts.preferences(user)
        assert prefs["afterreply"] == 1 and prefs["autoreload"] == 60 and prefs["autostart"] is True
        assert prefs["notify_customer_reply"] is False
    html = client.get("/admin/profile").get_data(as_text=True)
    assert '<option selected value="1">' in html
    assert '<input id="notify_assigned" name="notify_assigned" type="checkbox"' in html  # now unticked


def test_preferences_errors_keep_what_was_typed(app, client, login, make_user):
    uid = make_user("staff")
    login("staff")
    resp = post(client, "/admin/profile/preferences", {"afterreply": "7", "autoreload": "-5",
                                                         "notify_pm": "y"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'id="afterreply-error"' in html and 'id="autoreload-error"' in html
    assert 'value="-5"' in html
    with app.app_context():
        assert db.session.get(User, uid).preferences is None  # nothing saved


def test_an_assignment_respects_the_notification_preference(app, client, login, make_user, make_ticket):
    """The preference is read where notifications are queued: on by default, off once unticked."""
    staff = make_user("staff")
    boss = make_user("boss", is_admin=True)
    first, second = make_ticket(), make_ticket()

    def assign_and_count(trackid):
        with app.app_context():
            from hesk_py.models import OutboxMessage, Ticket
            from hesk_py.services import tickets

            ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
            tickets.assign(ticket, staff, actor=tickets.Actor.staff(db.session.get(User, boss)))
            db.session.commit()
            return len(db.session.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient == "staff@example.com",
                OutboxMessage.template == "ticket_assigned_to_you")).all())

    assert assign_and_count(first) == 1
    login("staff")
    post(client, "/admin/profile/preferences", {"afterreply": "0", "autoreload": "0"})  # everything off
    assert assign_and_count(second) == 1  # no new mail
