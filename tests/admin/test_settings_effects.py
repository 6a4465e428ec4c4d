"""Settings taking effect, one test per setting: set it (through the settings form or ``settings.save``),
then observe what changes for a browser: headers, cookies, redirects, pages, the cron run.

Also the registry of every declared key: each one either takes effect (listed in ``TAKES_EFFECT`` with
where) or is marked pending in hesk_py/settings.py and shown disabled on its tab with a note.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Reply, Ticket
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import STATUS_REPLIED, STATUS_RESOLVED
from tests.admin.test_settings import field, form_of, submit, words
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD

# Every declared setting that has an effect today, and where. A new setting must be added here (with a
# test of its effect) or be declared pending; test_every_setting_takes_effect_or_is_pending enforces it.
TAKES_EFFECT = {
    # General
    "site_title": "customer page header", "site_url": "customer page header", "hesk_title": "every page",
    "hesk_url": "links in emails", "webmaster_mail": "error pages", "language": "page language",
    "can_sel_lang": "language menu",
    # Help desk
    "max_listings": "staff list", "print_font_size": "print view", "autoclose": "hesk-py cron",
    "max_open": "customer form", "due_soon": "staff list", "new_top": "ticket view", "reply_top": "ticket view",
    "hide_replies": "ticket view", "limit_width": "ticket view stylesheet", "autologin": "login form",
    "autoassign": "new tickets", "require_email": "customer form", "require_owner": "staff reply",
    "require_subject": "customer form", "require_message": "customer form", "custclose": "customer ticket",
    "custopen": "customer ticket", "rating": "customer ticket", "cust_urgency": "customer form",
    "sequential": "ticket view", "time_worked": "reply form", "spam_notice": "confirmation page",
    "list_users": "login form", "short_link": "messages",
    "submitting_wait": "customer form", "remember_custom_field_values": "customer form",
    "disable_autofill_customer": "customer form", "disable_autofill_admin": "staff new ticket form",
    "select_cat": "forms", "select_pri": "forms", "cat_show_select": "customer form",
    "staff_nicknames": "customer ticket",
    "barcode.print": "print view", "barcode.staff_only": "print view", "barcode.format": "print view",
    "barcode.width": "print view", "barcode.height": "print view", "barcode.color": "print view",
    "barcode.bg": "print view",
    "secimg_use": "customer form", "question_use": "customer form", "question_ask": "customer form",
    "question_ans": "customer form", "spam_min_fill_seconds": "customer form",
    "spam_tickets_per_hour": "customer form",
    "attempt_limit": "logins", "attempt_banmin": "logins", "flood": "replies", "reset_pass": "login page",
    "email_view_ticket": "customer ticket", "x_frame_opt": "response headers", "samesite": "cookies",
    "force_ssl": "redirect and cookies", "require_mfa": "staff login", "elevator_duration": "secure area",
    "attachments.use": "forms", "attachments.max_number": "forms", "attachments.max_size": "forms",
    "attachments.allowed_types": "forms",
    # Look & feel
    "customer_theme": "customer pages", "theme_overrides.primary": "customer pages", "site_logo": "customer pages",
    "custom_header": "customer pages", "custom_footer": "customer pages",
    # Knowledgebase
    "kb_enable": "customer pages", "kb_recommendanswers": "customer form", "kb_rating": "articles",
    "kb_views": "articles", "kb_date": "articles", "kb_search": "knowledgebase", "kb_search_limit": "search",
    "kb_substrart": "lists", "kb_cols": "knowledgebase", "kb_numshow": "knowledgebase",
    "kb_index_popart": "home page", "kb_popart": "knowledgebase", "kb_index_latest": "home page",
    "kb_latest": "knowledgebase", "kb_related": "articles",
    # Email
    "noreply_mail": "emails", "noreply_name": "emails", "smtp": "sending", "smtp_host_name": "sending",
    "smtp_host_port": "sending", "smtp_timeout": "sending", "smtp_enc": "sending", "smtp_noval_cert": "sending",
    "smtp_user": "sending", "smtp_password": "sending",
    "imap_host_name": "Test connection", "imap_host_port": "Test connection", "imap_enc": "Test connection",
    "imap_noval_cert": "Test connection", "imap_user": "Test connection", "imap_password": "Test connection",
    "imap_mailbox": "Test connection", "pop3_host_name": "Test connection", "pop3_host_port": "Test connection",
    "pop3_tls": "Test connection", "pop3_user": "Test connection", "pop3_password": "Test connection",
    "notify_new": "emails", "notify_closed": "emails", "confirm_email": "customer form",
    "open_only": "forgot tracking ID",
    # email piping (tests/hesk_py/services/test_inbound.py, tests/hesk_py/test_cli_pipe.py)
    "email_piping": "hesk-py pipe", "strip_quoted": "email piping", "eml_req_msg": "email piping",
    "save_embedded": "email piping", "pipe_block_noreply": "email piping", "pipe_block_returned": "email piping",
    "pipe_block_duplicate": "email piping", "loop_hits": "email piping", "loop_time": "email piping",
    "notify_skip_spam": "email piping", "notify_spam_tags": "email piping",
    # IMAP/POP3 fetching and the cron URL (tests/email/test_fetch.py, tests/email/test_cron_jobs.py)
    "imap": "hesk-py cron", "imap_job_wait": "hesk-py cron", "imap_keep": "hesk-py cron", "pop3": "hesk-py cron",
    "pop3_job_wait": "hesk-py cron", "pop3_keep": "hesk-py cron", "url_key": "/cron",
    # Ticket list
    "ticket_list": "staff list", "submittedformat": "staff list", "format_submitted": "staff list",
    "updatedformat": "staff list", "format_updated": "staff list", "email_column": "staff list",
    # Misc
    "timezone": "every date", "format_time": "staff list (today)", "format_date": "dates",
    "format_timestamp": "ticket view", "time_display": "ticket view", "ip_whois": "ticket view",
    "maintenance_mode": "customer pages", "alink": "home page", "submit_notice": "customer form",
}


def test_every_setting_takes_effect_or_is_pending():
    declared = {d.key for d in settings.definitions()}
    pending = set(settings.pending_keys())
    assert not (set(TAKES_EFFECT) - declared), "listed here but not declared"
    assert not (set(TAKES_EFFECT) & pending), "listed as taking effect but marked pending"
    assert declared - set(TAKES_EFFECT) - pending == set(), "declared but neither taking effect nor pending"


@pytest.fixture
def admin_in(admin, login):
    login("admin")
    return admin


def _save(app, **values):
    with app.test_request_context():
        settings.save({k.replace("__", "."): v for k, v in values.items()})


# --- pending settings on their tabs ----------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(settings.pending_keys()))
def test_pending_settings_are_shown_disabled_with_a_note(app, client, admin_in, key):
    d = settings.definition(key)
    html = client.get(f"/admin/settings/{d.tab}").get_data(as_text=True)
    block = html[html.index(f'id="setting-{d.field_name}"'):]
    block = block[:block.index('<div class="setting field', 10)] if '<div class="setting field' in block[10:] else block
    assert re.search(r"<fieldset disabled", block), f"{key} is editable"
    assert f"Takes effect when {d.pending} is available." in unescape(block)


def test_a_pending_setting_keeps_its_stored_value_when_its_tab_is_saved(app, client, admin_in):
    _save(app, multi_eml=True)
    # a browser sends nothing for disabled fields: the stored value must survive the save
    data = form_of(client.get("/admin/settings/help_desk").get_data(as_text=True))
    data.poplist(field("multi_eml"))
    assert client.post("/admin/settings/help_desk", data=data).status_code == 302
    with app.test_request_context():
        assert settings.get("multi_eml") is True


# --- security: frames, cookies, https --------------------------------------------------------------

def test_x_frame_opt_decides_whether_other_sites_may_frame_the_help_desk(app, client, admin_in):
    resp = client.get("/")
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert submit(client, "help_desk", {"x_frame_opt": None}).status_code == 302
    for url in ("/", "/admin/settings/help_desk"):
        resp = client.get(url)
        assert "X-Frame-Options" not in resp.headers
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors" not in csp and "default-src 'self'" in csp and "script-src 'self'" in csp


def _cookie_headers(resp) -> list[str]:
    return resp.headers.getlist("Set-Cookie")


@pytest.mark.parametrize("value", ["Strict", "Lax"])
def test_samesite_applies_to_the_session_and_remember_me_cookies(app, client, admin, csrf, value):
    _save(app, samesite=value)
    token = csrf(client, "/admin/login")
    login_page_cookies = _cookie_headers(client.get("/admin/login"))
    resp = client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                             "csrf_token": token, "remember": "y"})
    cookies = _cookie_headers(resp) + login_page_cookies
    assert cookies, "no cookie was set"
    for header in cookies:
        assert f"SameSite={value}" in header, header


def test_samesite_none_makes_every_cookie_secure(app, client):
    _save(app, hesk_url="https://help.example.com", samesite="None")
    resp = client.get("/admin/login")
    cookies = _cookie_headers(resp)
    assert cookies and all("SameSite=None" in c and "Secure" in c for c in cookies), cookies


def test_force_ssl_redirects_http_to_https_and_secures_cookies(app, client):
    resp = client.get("/knowledgebase?x=1")
    assert resp.status_code != 301
    _save(app, hesk_url="https://help.example.com", force_ssl=True)
    resp = client.get("/submit_ticket?category=1")
    assert resp.status_code == 301
    assert resp.headers["Location"] == "https://localhost/submit_ticket?category=1"
    secure = client.get("/admin/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert all("Secure" in c for c in _cookie_headers(secure))


def test_force_ssl_ignores_forwarded_proto_without_a_trusted_proxy(app, client):
    _save(app, hesk_url="https://help.example.com", force_ssl=True)
    resp = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert resp.status_code == 301


# --- auto-close ------------------------------------------------------------------------------------

def _staff_reply(app, trackid, user_id, days_ago):
    from hesk_py.models import User
    from hesk_py.services import tickets

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        reply = tickets.add_reply(ticket, message="Did that help?",
                                  actor=tickets.Actor.staff(db.session.get(User, user_id)))
        when = utcnow() - timedelta(days=days_ago)
        db.session.execute(update(Reply).where(Reply.id == reply.id).values(created_at=when))
        db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=when))
        db.session.commit()


def _status(app, trackid):
    with app.app_context():
        return db.session.scalar(select(Ticket.status_id).where(Ticket.trackid == trackid))


def test_autoclose_resolves_tickets_waiting_on_the_customer_for_n_days(app, client, admin_in, make_ticket, runner):
    old, recent, customer_last = make_ticket(), make_ticket(), make_ticket()
    _staff_reply(app, old, admin_in, days_ago=8)
    _staff_reply(app, recent, admin_in, days_ago=2)
    _staff_reply(app, customer_last, admin_in, days_ago=30)
    from hesk_py.services import tickets

    with app.app_context():  # the customer answered: the ticket waits for staff, not for the customer
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == customer_last))
        tickets.add_reply(t, message="No, it did not.", actor=tickets.Actor.customer("Casey Customer"))

    result = runner.invoke(args=["cron"])  # off by default
    assert "autoclose: off" in result.output
    assert _status(app, old) == STATUS_REPLIED

    assert submit(client, "help_desk", {"autoclose": "7"}).status_code == 302
    result = runner.invoke(args=["cron"])
    assert result.exit_code == 0, result.output
    assert "autoclose: 1 ticket resolved" in result.output
    assert _status(app, old) == STATUS_RESOLVED
    assert _status(app, recent) == STATUS_REPLIED
    assert _status(app, customer_last) != STATUS_RESOLVED
    history = words(client.get(f"/admin/tickets/{old}/history"))
    assert "automatically" in history
    # the customer is told, as for any resolved ticket (notify_closed)
    from hesk_py.models import OutboxMessage

    with app.app_context():
        templates = db.session.scalars(select(OutboxMessage.template)).all()
    assert "ticket_closed" in templates


# --- staff pages -----------------------------------------------------------------------------------

def test_list_users_shows_a_username_drop_down_on_the_login_page(app, client, admin, make_user):
    make_user("bob")
    page = client.get("/admin/login").get_data(as_text=True)
    assert '<select id="username"' not in page and 'name="username"' in page
    _save(app, list_users=True)
    page = client.get("/admin/login").get_data(as_text=True)
    assert '<select id="username" name="username"' in page
    assert '<option value="admin"' in page and '<option value="bob"' in page
    # logging in from the list works
    from tests.conftest import csrf_token_from

    resp = client.post("/admin/login", data={"username": "bob", "password": STAFF_PASSWORD,
                                             "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 302


def test_disable_autofill_admin_turns_off_autocomplete_on_the_staff_new_ticket_form(app, client, admin_in):
    form = re.compile(r'<form method="post" action="/admin/tickets/new"[^>]*>')
    page = client.get("/admin/tickets/new").get_data(as_text=True)
    assert 'autocomplete="off"' not in form.search(page).group(0)
    assert submit(client, "help_desk", {"disable_autofill_admin": "1"}).status_code == 302
    page = client.get("/admin/tickets/new").get_data(as_text=True)
    assert 'autocomplete="off"' in form.search(page).group(0)


def test_ip_whois_links_the_ticket_ip_address(app, client, admin_in, make_ticket):
    trackid = make_ticket(ip="203.0.113.7")
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert 'href="https://whois.domaintools.com/203.0.113.7"' in page
    assert submit(client, "misc", {"ip_whois": "https://ipinfo.example/lookup?q={IP}"}).status_code == 302
    page = unescape(client.get(f"/admin/tickets/{trackid}").get_data(as_text=True))
    assert 'href="https://ipinfo.example/lookup?q=203.0.113.7" rel="noreferrer noopener"' in page


def test_time_display_shows_time_ago_or_the_exact_time(app, client, admin_in, make_ticket):
    trackid = make_ticket()
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.trackid == trackid).values(
            created_at=utcnow().replace(microsecond=0) - timedelta(hours=5)))
        db.session.commit()
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    head = page[page.index('id="original-message"'):page.index("</header>", page.index('id="original-message"'))]
    assert "5 hours ago" in head and 'title="' in head
    assert submit(client, "misc", {"time_display": "0", "format_timestamp": "%d.%m.%Y at %H:%M"}).status_code == 302
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    head = page[page.index('id="original-message"'):page.index("</header>", page.index('id="original-message"'))]
    assert "hours ago" not in head
    assert re.search(r">\d\d\.\d\d\.\d{4} at \d\d:\d\d</time>", head)


def test_format_time_shows_todays_times_in_the_staff_list(app, client, admin_in, make_ticket):
    make_ticket()
    page = words(client.get("/admin/"))
    assert re.search(r"\b\d\d:\d\d\b", page)
    assert submit(client, "misc", {"format_time": "%H.%M h"}).status_code == 302
    page = words(client.get("/admin/"))
    assert re.search(r"\b\d\d\.\d\d h\b", page)


def test_limit_width_sets_the_widest_ticket_message(app, client, admin_in, make_ticket):
    trackid = make_ticket()
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert 'href="/admin/display.css"' in page
    assert ".message-text { max-width: 800px; }" in client.get("/admin/display.css").get_data(as_text=True)
    assert submit(client, "help_desk", {"limit_width": "0"}).status_code == 302
    assert ".message-text { max-width: none; }" in client.get("/admin/display.css").get_data(as_text=True)
    assert submit(client, "help_desk", {"limit_width": "640"}).status_code == 302
    assert ".message-text { max-width: 640px; }" in client.get("/admin/display.css").get_data(as_text=True)
