"""The bans and mutes pages (/admin/bans/..., ``can_ban_emails`` / ``can_unban_emails`` / ``can_ban_ips`` /
``can_unban_ips`` / ``can_mute_emails`` / ``can_unmute_emails``) through HTTP: banned emails and @domains,
banned IPs in every form (single, range, CIDR, wildcard), the temporary bans after failed logins with
"ban permanently" and "lift", muted emails that get no mail; bad input and duplicates kept beside the
field; what each ban does on the customer side; the permission of each action and the menu."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import BannedEmail, BannedIP, FailedAttempt, MutedEmail, OutboxMessage, Ticket
from tests.admin.ticket_helpers import act, in_db, logged_in, post, text_of
from tests.public.conftest import file_ticket, open_form, quick_form  # noqa: F401  (fixtures)

BASE = "/admin/bans"


def _rows(app, model, column):
    return in_db(app, lambda: sorted(db.session.scalars(select(column))))


def _ban_email(client, value):
    return post(client, BASE + "/emails", {"email": value}, token_url=BASE + "/emails")


def _ban_ip(client, value):
    return post(client, BASE + "/ips", {"ip": value}, token_url=BASE + "/ips")


def _mute(client, value):
    return post(client, BASE + "/mutes", {"email": value}, token_url=BASE + "/mutes")


def _error_beside(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error" role="alert">(.*?)</p>', html, re.S)
    assert match, f"no error beside #{field_id}"
    return unescape(match.group(1))


def _tickets(app) -> int:
    return len(in_db(app, lambda: list(db.session.scalars(select(Ticket.id)))))


# --- banned emails ----------------------------------------------------------------------------------------

def test_ban_addresses_and_domains_with_who_and_when(app, admin):
    client = logged_in(app, "admin")
    resp = _ban_email(client, "  Spammer@Example.COM ")
    assert resp.status_code == 303
    assert _ban_email(client, "@Junk.example").status_code == 303
    assert _rows(app, BannedEmail, BannedEmail.email) == ["@junk.example", "spammer@example.com"]
    assert in_db(app, lambda: set(db.session.scalars(select(BannedEmail.banned_by_id)))) == {admin}
    page = client.get(BASE + "/emails")
    html = unescape(text_of(page))
    assert "@junk.example is banned: it can no longer submit tickets." in html  # the last one's message
    table = html[html.index('id="banned-emails"'):]
    assert "spammer@example.com" in table and "@junk.example" in table
    assert table.count("Ada Admin") == 2 and table.count("<time datetime=") == 2


@pytest.mark.parametrize("value, message", [
    ("not-an-email", "Enter an email address or a domain written as @example.com."),
    ("two@@example.com", "Enter an email address or a domain written as @example.com."),
    ("@nodot", "Enter an email address or a domain written as @example.com."),
    ("", "Enter an email address or a domain written as @example.com."),
])
def test_a_bad_email_comes_back_beside_the_field(app, admin, value, message):
    client = logged_in(app, "admin")
    resp = _ban_email(client, value)
    assert resp.status_code == 400
    html = text_of(resp)
    assert _error_beside(html, "email") == message
    assert f'value="{value}"' in html or value == ""
    assert _rows(app, BannedEmail, BannedEmail.email) == []


def test_duplicate_email_bans_are_refused(app, admin):
    client = logged_in(app, "admin")
    _ban_email(client, "spammer@example.com")
    _ban_email(client, "@junk.example")
    resp = _ban_email(client, "SPAMMER@example.com")
    assert resp.status_code == 400
    assert _error_beside(text_of(resp), "email") == "spammer@example.com is already banned."
    assert 'value="SPAMMER@example.com"' in text_of(resp)
    resp = _ban_email(client, "anyone@junk.example")
    assert resp.status_code == 400
    assert _error_beside(text_of(resp), "email") == "anyone@junk.example is already banned by the entry @junk.example."
    assert _rows(app, BannedEmail, BannedEmail.email) == ["@junk.example", "spammer@example.com"]


def test_a_banned_domain_is_refused_on_the_public_form(app, admin, client, quick_form, file_ticket):
    staff = logged_in(app, "admin")
    assert _ban_email(staff, "@junk.example").status_code == 303
    resp = file_ticket(client, email="Someone@Junk.example")
    assert resp.status_code == 403
    assert "You have been banned from submitting new support tickets." in text_of(resp)
    assert _tickets(app) == 0
    assert file_ticket(client, email="someone@fine.example").status_code == 303
    assert _tickets(app) == 1


def test_unban_email_is_a_post(app, admin, client, quick_form, file_ticket):
    staff = logged_in(app, "admin")
    _ban_email(staff, "casey@example.com")
    ban_id = in_db(app, lambda: db.session.scalar(select(BannedEmail.id)))
    assert f"{BASE}/emails/{ban_id}/delete" in text_of(staff.get(BASE + "/emails"))
    assert staff.get(f"{BASE}/emails/{ban_id}/delete").status_code == 405
    assert file_ticket(client).status_code == 403
    resp = post(staff, f"{BASE}/emails/{ban_id}/delete", token_url=BASE + "/emails")
    assert resp.status_code == 303
    assert "The email ban is removed." in text_of(staff.get(BASE + "/emails"))
    assert _rows(app, BannedEmail, BannedEmail.email) == []
    assert file_ticket(client).status_code == 303
    # removing it twice: gone
    assert post(staff, f"{BASE}/emails/{ban_id}/delete", token_url=BASE + "/emails").status_code == 404


# --- banned IPs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, shown, inside, outside", [
    ("203.0.113.9", "203.0.113.9", "203.0.113.9", "203.0.113.10"),
    ("203.0.113.1 - 203.0.113.20", "203.0.113.1 - 203.0.113.20", "203.0.113.15", "203.0.113.21"),
    ("203.0.113.0/28", "203.0.113.0/28", "203.0.113.15", "203.0.113.16"),
    ("10.0.*", "10.0.*.*", "10.0.200.3", "10.1.0.1"),
    ("2001:db8::/32", "2001:db8::/32", "2001:db8:1::5", "2001:db9::1"),
])
def test_ip_bans_in_every_form_refuse_the_public_form(app, admin, client, quick_form, open_form,
                                                      typed, shown, inside, outside):
    staff = logged_in(app, "admin")
    resp = _ban_ip(staff, typed)
    assert resp.status_code == 303
    html = unescape(text_of(staff.get(BASE + "/ips")))
    assert f"{shown} is banned." in html
    table = html[html.index('id="banned-ips"'):]
    assert shown in table and "Ada Admin" in table

    def submit(ip):
        env = {"REMOTE_ADDR": ip}
        page = client.get("/submit_ticket?category=1", environ_base=env)
        from tests.public.conftest import ANSWER, hidden_fields

        data = {**hidden_fields(text_of(page)), "name": "Casey", "email": "casey@example.com", "subject": "Hi",
                "message": "Hello", "question": ANSWER}
        return client.post("/submit_ticket", data=data, environ_base=env)

    resp = submit(inside)
    assert resp.status_code == 403
    assert "You have been banned from submitting new support tickets." in text_of(resp)
    assert _tickets(app) == 0
    assert submit(outside).status_code == 303
    assert _tickets(app) == 1


@pytest.mark.parametrize("value, message", [
    ("300.1.1.1", '"300.1.1.1" is not an IP address, range, CIDR block or wildcard.'),
    ("10.0.0.0/33", '"10.0.0.0/33" is not an IP address, range, CIDR block or wildcard.'),
    ("10.0.0.1-2001:db8::1", '"10.0.0.1-2001:db8::1" is not an IP address, range, CIDR block or wildcard.'),
    ("10.*.0.1", '"10.*.0.1" is not an IP address, range, CIDR block or wildcard.'),
    ("10.0.0.1-", '"10.0.0.1-" is not an IP address, range, CIDR block or wildcard.'),
    ("", "Enter an IP address, a range, a CIDR block or a wildcard."),
])
def test_a_bad_ip_comes_back_beside_the_field(app, admin, value, message):
    client = logged_in(app, "admin")
    resp = _ban_ip(client, value)
    assert resp.status_code == 400
    html = text_of(resp)
    assert _error_beside(html, "ip") == message
    assert f'value="{value}"' in html or value == ""
    assert _rows(app, BannedIP, BannedIP.ip_display) == []


def test_an_ip_already_covered_is_refused(app, admin):
    client = logged_in(app, "admin")
    assert _ban_ip(client, "10.0.*").status_code == 303
    for value in ("10.0.5.5", "10.0.0.0/24", "10.0.1.1-10.0.2.2", "10.0.*.*"):
        resp = _ban_ip(client, value)
        assert resp.status_code == 400, value
        assert "is already banned" in _error_beside(text_of(resp), "ip")
        assert f'value="{value}"' in text_of(resp)
    # a wider range is a new ban
    assert _ban_ip(client, "10.0.0.0/8").status_code == 303
    assert _rows(app, BannedIP, BannedIP.ip_display) == ["10.0.*.*", "10.0.0.0/8"]


def test_unban_ip(app, admin, client, make_ticket):
    trackid = make_ticket()
    lookup = f"/ticket?track={trackid}&e=casey@example.com"
    staff = logged_in(app, "admin")
    _ban_ip(staff, "127.0.0.1")
    assert client.get(lookup).status_code == 403  # a banned address may not look tickets up
    ban_id = in_db(app, lambda: db.session.scalar(select(BannedIP.id)))
    resp = post(staff, f"{BASE}/ips/{ban_id}/delete", token_url=BASE + "/ips")
    assert resp.status_code == 303
    assert "The IP ban is removed." in text_of(staff.get(BASE + "/ips"))
    assert _rows(app, BannedIP, BannedIP.id) == []
    assert client.get(lookup).status_code == 200


# --- temporary bans -------------------------------------------------------------------------------------

def _fail_logins(app, ip, times):
    from tests.conftest import csrf_token_from

    browser = app.test_client()
    env = {"REMOTE_ADDR": ip}
    token = csrf_token_from(browser.get("/admin/login", environ_base=env).get_data(as_text=True))
    last = None
    for _ in range(times):
        last = browser.post("/admin/login", data={"username": "mallory", "password": "guess",
                                                  "csrf_token": token}, environ_base=env)
    return browser, last


def test_temporary_bans_listed_with_time_left_and_banned_permanently(app, admin, make_ticket):
    trackid = make_ticket()
    _fail_logins(app, "198.51.100.66", 6)
    _fail_logins(app, "198.51.100.77", 2)  # under the limit: not banned
    staff = logged_in(app, "admin")
    html = text_of(staff.get(BASE + "/ips"))
    temporary = html[html.index('id="temporary-bans"'):]
    assert "198.51.100.66" in temporary and "198.51.100.77" not in temporary
    assert "mallory" not in temporary  # the account's counter is no address
    left = re.search(r'<td class="time-left">(\d+) minutes</td>', temporary)
    assert left and 59 <= int(left.group(1)) <= 60
    attempt_id = in_db(app, lambda: db.session.scalar(select(FailedAttempt.id).where(
        FailedAttempt.ip == "198.51.100.66")))
    resp = post(staff, f"{BASE}/temporary/{attempt_id}/ban", token_url=BASE + "/ips")
    assert resp.status_code == 303
    html = unescape(text_of(staff.get(BASE + "/ips")))
    assert "198.51.100.66 is banned permanently." in html
    assert "198.51.100.66" in html[html.index('id="banned-ips"'):html.index("Temporary bans")]
    assert 'id="temporary-bans"' not in html  # the list is empty now
    assert in_db(app, lambda: db.session.scalar(select(BannedIP.banned_by_id))) == admin
    # the address is banned for good: no ticket pages, whatever the failed-attempt counters say
    lookup = f"/ticket?track={trackid}&e=casey@example.com"
    assert app.test_client().get(lookup, environ_base={"REMOTE_ADDR": "198.51.100.66"}).status_code == 403
    assert app.test_client().get(lookup, environ_base={"REMOTE_ADDR": "198.51.100.67"}).status_code == 200


def test_lifting_a_temporary_ban_lets_the_address_try_again(app, admin, make_user):
    make_user("walter")
    browser, last = _fail_logins(app, "198.51.100.88", 7)
    assert last.status_code == 429  # the limit (6) reached: blocked
    staff = logged_in(app, "admin")
    attempt_id = in_db(app, lambda: db.session.scalar(select(FailedAttempt.id).where(
        FailedAttempt.ip == "198.51.100.88")))
    resp = post(staff, f"{BASE}/temporary/{attempt_id}/delete", token_url=BASE + "/ips")
    assert resp.status_code == 303
    assert "198.51.100.88 may try again now." in text_of(staff.get(BASE + "/ips"))
    from tests.conftest import STAFF_PASSWORD, csrf_token_from

    env = {"REMOTE_ADDR": "198.51.100.88"}
    token = csrf_token_from(browser.get("/admin/login", environ_base=env).get_data(as_text=True))
    resp = browser.post("/admin/login", data={"username": "walter", "password": STAFF_PASSWORD,
                                              "csrf_token": token}, environ_base=env)
    assert resp.status_code == 302
    # an ended or unknown temporary ban: a message, nothing else
    resp = post(staff, f"{BASE}/temporary/{attempt_id}/ban", token_url=BASE + "/ips")
    assert resp.status_code == 303
    assert "That temporary ban has ended meanwhile." in text_of(staff.get(BASE + "/ips"))
    assert _rows(app, BannedIP, BannedIP.id) == []


# --- muted emails ---------------------------------------------------------------------------------------

def test_a_muted_address_files_tickets_but_gets_no_mail(app, admin, client, quick_form, file_ticket, smtp_server):
    from hesk_py.services import mailer

    staff = logged_in(app, "admin")
    assert _mute(staff, "Quiet@Example.com").status_code == 303
    assert _mute(staff, "@hush.example").status_code == 303
    html = unescape(text_of(staff.get(BASE + "/mutes")))
    assert "@hush.example is muted: its tickets are accepted, no email is sent to it." in html
    table = html[html.index('id="muted-emails"'):]
    assert "quiet@example.com" in table and "@hush.example" in table and table.count("Ada Admin") == 2

    assert file_ticket(client, email="quiet@example.com", subject="Muted one").status_code == 303
    assert file_ticket(app.test_client(), email="who@hush.example", subject="Muted two").status_code == 303
    assert file_ticket(app.test_client(), email="loud@example.com", subject="Heard").status_code == 303
    assert _tickets(app) == 3
    # a staff reply to the muted customer, with "notify the customer" ticked
    trackid = in_db(app, lambda: db.session.scalar(select(Ticket.trackid).where(Ticket.subject == "Muted one")))
    resp = act(staff, trackid, "reply", {"message": "We are on it.", "notify": "y", "status": "3",
                                         "priority": "0", "time_spent": "0:00:00", "submit": "Submit reply"})
    assert resp.status_code == 302
    assert in_db(app, lambda: db.session.scalar(select(Ticket.reply_count).where(Ticket.trackid == trackid))) == 1
    with app.app_context():
        mailer.deliver_due()
    smtp_server.wait_for(1)
    recipients = sorted(str(m["To"]) for m in smtp_server.messages)
    assert "loud@example.com" in recipients
    assert not [r for r in recipients if r in ("quiet@example.com", "who@hush.example")], recipients
    queued = in_db(app, lambda: set(db.session.scalars(select(OutboxMessage.recipient))))
    assert not queued & {"quiet@example.com", "who@hush.example"}

    # unmuted, the address gets mail again
    mute_id = in_db(app, lambda: db.session.scalar(select(MutedEmail.id).where(MutedEmail.email == "quiet@example.com")))
    assert post(staff, f"{BASE}/mutes/{mute_id}/delete", token_url=BASE + "/mutes").status_code == 303
    assert "The address is no longer muted." in text_of(staff.get(BASE + "/mutes"))
    before = len(smtp_server.messages)
    assert file_ticket(client, email="quiet@example.com", subject="Heard now").status_code == 303
    with app.app_context():
        mailer.deliver_due()
    messages = smtp_server.wait_for(before + 1)
    assert "quiet@example.com" in [str(m["To"]) for m in messages[before:]]


def test_mute_input_is_checked_and_duplicates_refused(app, admin):
    client = logged_in(app, "admin")
    resp = _mute(client, "nobody")
    assert resp.status_code == 400
    assert _error_beside(text_of(resp), "mute-email") == "Enter an email address or a domain written as @example.com."
    assert 'value="nobody"' in text_of(resp)
    _mute(client, "@hush.example")
    resp = _mute(client, "someone@HUSH.example")
    assert resp.status_code == 400
    assert _error_beside(text_of(resp), "mute-email") == "someone@hush.example is already muted by the entry @hush.example."
    resp = _mute(client, "@hush.example")
    assert _error_beside(text_of(resp), "mute-email") == "@hush.example is already muted."
    assert _rows(app, MutedEmail, MutedEmail.email) == ["@hush.example"]


# --- permissions and the menu ---------------------------------------------------------------------------

def test_each_action_needs_its_own_key(app, admin, make_user):
    make_user("clerk")
    make_user("banner", features=["can_ban_emails", "can_ban_ips", "can_mute_emails"])
    make_user("unbanner", features=["can_unban_emails", "can_unban_ips", "can_unmute_emails"])
    make_user("mailonly", features=["can_ban_emails"])
    clerk = logged_in(app, "clerk")
    for url in (BASE + "/", BASE + "/emails", BASE + "/ips", BASE + "/mutes"):
        assert clerk.get(url).status_code == 403, url
    assert 'href="/admin/bans/"' not in text_of(clerk.get("/admin/profile"))

    admin_client = logged_in(app, "admin")
    _ban_email(admin_client, "one@example.com")
    _ban_ip(admin_client, "192.0.2.1")
    _mute(admin_client, "two@example.com")
    ids = in_db(app, lambda: (db.session.scalar(select(BannedEmail.id)), db.session.scalar(select(BannedIP.id)),
                              db.session.scalar(select(MutedEmail.id))))

    banner = logged_in(app, "banner")
    assert 'href="/admin/bans/"' in text_of(banner.get("/admin/profile"))
    assert _ban_email(banner, "three@example.com").status_code == 303
    assert _ban_ip(banner, "192.0.2.2").status_code == 303
    assert _mute(banner, "four@example.com").status_code == 303
    page = text_of(banner.get(BASE + "/emails"))
    assert "/delete" not in page  # no remove buttons without can_unban_emails
    for url in (f"{BASE}/emails/{ids[0]}/delete", f"{BASE}/ips/{ids[1]}/delete", f"{BASE}/mutes/{ids[2]}/delete"):
        assert post(banner, url, token_url=BASE + "/emails").status_code == 403, url

    unbanner = logged_in(app, "unbanner")
    assert 'name="email"' not in text_of(unbanner.get(BASE + "/emails"))  # no add form
    assert _ban_email(unbanner, "five@example.com").status_code == 403
    assert post(unbanner, BASE + "/ips", {"ip": "192.0.2.3"}, token_url=BASE + "/ips").status_code == 403
    assert post(unbanner, BASE + "/mutes", {"email": "six@example.com"}, token_url=BASE + "/mutes").status_code == 403
    for url in (f"{BASE}/emails/{ids[0]}/delete", f"{BASE}/ips/{ids[1]}/delete", f"{BASE}/mutes/{ids[2]}/delete"):
        assert post(unbanner, url, token_url=BASE + "/emails").status_code == 303, url

    mailonly = logged_in(app, "mailonly")
    resp = mailonly.get(BASE + "/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(BASE + "/emails")
    assert mailonly.get(BASE + "/ips").status_code == 403
    assert mailonly.get(BASE + "/mutes").status_code == 403
    tabs = text_of(mailonly.get(BASE + "/emails"))
    assert f'href="{BASE}/ips"' not in tabs and f'href="{BASE}/mutes"' not in tabs
    assert sorted(_rows(app, BannedEmail, BannedEmail.email)) == ["three@example.com"]
    assert _rows(app, MutedEmail, MutedEmail.email) == ["four@example.com"]
