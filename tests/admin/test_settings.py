"""The settings pages (/admin/settings/<tab>) through HTTP, as a browser uses them: permissions, every
declared field with its [?] help, saving (one transaction, what changed, errors beside their fields,
values kept as typed), secrets never shown, the status box, "Test connection", and settings taking
effect on the pages, lists and emails they govern."""
from __future__ import annotations

import io
import re
import os
import platform
import socket
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from hesk_py import __version__, settings
from hesk_py.extensions import db
from hesk_py.models import JobRun, OutboxMessage, Setting
from hesk_py.models.types import utcnow

TABS = ("general", "help_desk", "look", "knowledgebase", "email", "ticket_list", "misc")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")


class SettingsFormReader(HTMLParser):
    """The fields a browser would send for the settings form: checked boxes and radios, selected options,
    textareas, text inputs (not file inputs, not buttons)."""

    def __init__(self):
        super().__init__()
        self.in_form = False
        self.fields: list[tuple[str, str]] = []
        self._select = None
        self._selected = None
        self._first = None
        self._textarea = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "settings-form" in (a.get("class") or ""):
            self.in_form = True
        if not self.in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            else:
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select":
            self._select, self._selected, self._first = name, None, None
        elif tag == "option" and self._select:
            if self._first is None:
                self._first = a.get("value")
            if "selected" in a:
                self._selected = a.get("value")
        elif tag == "textarea":
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._selected if self._selected is not None else self._first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def form_of(html: str) -> MultiDict:
    reader = SettingsFormReader()
    reader.feed(html)
    return MultiDict(reader.fields)


def field(key: str) -> str:
    return key.replace(".", "__")


def submit(client, tab: str, changes: dict | None = None, *, action: str | None = None, files: dict | None = None):
    """Open the tab, change some fields like a person would (None unticks a box), press a button."""
    data = form_of(client.get(f"/admin/settings/{tab}").get_data(as_text=True))
    for key, value in (changes or {}).items():
        name = field(key)
        if value is None:
            data.poplist(name)
        elif isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = value
    for name, value in (files or {}).items():
        data[name] = value
    return client.post(action or f"/admin/settings/{tab}", data=data, content_type="multipart/form-data")


def rows(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(select(Setting.key, Setting.value)).all())


def text_of(resp) -> str:
    return unescape(resp.get_data(as_text=True))


def words(resp) -> str:
    """The page's text as a person reads it: no tags, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", resp.get_data(as_text=True))).split())


@pytest.fixture
def admin_in(admin, login):
    login("admin")
    return admin


def _all_urls():
    return [f"/admin/settings/{t}" for t in TABS] + ["/admin/settings/", "/admin/settings/help"]


# --- who gets in -------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_the_login_page(client, csrf):
    for url in _all_urls():
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert "/admin/login" in resp.headers["Location"], url
    token = csrf(client, "/admin/login")
    for url in ("/admin/settings/general", "/admin/settings/email/test/smtp"):
        resp = client.post(url, data={"csrf_token": token, "hesk_title": "Hacked"})
        assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]


def test_staff_without_the_permission_get_403_everywhere(app, client, make_user, login, csrf):
    make_user("agent")  # the default permissions: no can_man_settings
    login("agent")
    for url in _all_urls():
        assert client.get(url).status_code == 403, url
    assert "/admin/settings" not in client.get("/admin/").get_data(as_text=True)  # no menu link
    token = csrf(client, "/admin/")
    for url in ("/admin/settings/general", "/admin/settings/email/test/smtp", "/admin/settings/look"):
        resp = client.post(url, data={"csrf_token": token, "hesk_title": "Hacked", "smtp_host_name": "127.0.0.1"})
        assert resp.status_code == 403, url
    assert rows(app) == {}


def test_staff_with_the_permission_may_change_settings(app, client, make_user, login):
    make_user("manager", features=["can_view_tickets", "can_man_settings"])
    login("manager")
    assert "/admin/settings/general" in client.get("/admin/").get_data(as_text=True)  # menu link
    resp = submit(client, "general", {"hesk_title": "Managed Desk"})
    assert resp.status_code == 302
    assert rows(app) == {"hesk_title": "Managed Desk"}


def test_every_settings_route_checks_the_permission(app, client, make_user, login, csrf):
    # walks the URL map, so a route added later without the check fails here
    make_user("agent")
    login("agent")
    token = csrf(client, "/admin/")
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.settings.")]
    assert len(rules) >= len(TABS) + 3
    for rule in rules:
        url = rule.rule.replace("<protocol>", "smtp")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = client.open(url, method=method, data={"csrf_token": token})
            assert resp.status_code == 403, (method, url, resp.status_code)


# --- the pages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tab", TABS)
def test_every_tab_shows_each_of_its_settings_with_help(client, admin_in, tab):
    resp = client.get(f"/admin/settings/{tab}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    defs = settings.definitions(tab)
    assert html.count('<details class="help">') == len(defs)
    for d in defs:
        name = field(d.key) + ("__file" if d.control == "logo" else "")
        assert f'name="{name}"' in html, d.key
        assert str(d.help) in unescape(html), d.key  # the [?] text, in place
        assert f"/admin/settings/help#{field(d.key)}" in html, d.key  # and the no-JS help page link
    assert 'aria-current="page"' in html
    assert "Status" in html


def test_the_help_page_explains_every_setting(client, admin_in):
    html = client.get("/admin/settings/help").get_data(as_text=True)
    for d in settings.definitions():
        assert f'id="{field(d.key)}"' in html, d.key
        assert str(d.help) in unescape(html), d.key


def test_settings_index_opens_the_general_tab(client, admin_in):
    resp = client.get("/admin/settings/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/settings/general")


@pytest.mark.parametrize("tab", TABS)
def test_saving_a_tab_as_shown_changes_nothing(app, client, admin_in, tab):
    # every value the form shows comes back as the same stored value
    resp = submit(client, tab)
    assert resp.status_code == 302, text_of(resp)[:2000]
    assert rows(app) == {}
    page = text_of(client.get(f"/admin/settings/{tab}"))
    assert "Settings saved." in page and "Nothing changed." in page


# --- saving ----------------------------------------------------------------------------------------

def test_saving_writes_the_tab_and_shows_what_changed(app, client, admin_in):
    with app.app_context():  # the admin reads the panel in English, whatever the help desk's language
        from hesk_py.models import User

        db.session.get(User, admin_in).language = "en"
        db.session.commit()
    resp = submit(client, "general", {"hesk_title": "Acme Help", "can_sel_lang": "1", "language": "uk"})
    assert resp.status_code == 302
    assert rows(app) == {"hesk_title": "Acme Help", "can_sel_lang": True, "language": "uk"}
    page = words(client.get("/admin/settings/general"))
    assert "Settings saved." in page
    assert "Help desk title: Help Desk → Acme Help" in page
    assert "Multiple languages: off → on" in page
    assert "Default language: English → Українська" in page
    # shown once: the next visit has no notice
    assert "Settings saved." not in text_of(client.get("/admin/settings/general"))


def test_lists_and_choices_save_from_their_controls(app, client, admin_in):
    resp = submit(client, "ticket_list", {"ticket_list": ["id", "subject", "priority"], "submittedformat": "4",
                                          "format_submitted": "%d.%m.%Y"})
    assert resp.status_code == 302, text_of(resp)[:2000]
    resp = submit(client, "help_desk", {"attachments.allowed_types": ".pdf\n.PNG, .txt", "new_top": "1"})
    assert resp.status_code == 302, text_of(resp)[:2000]
    stored = rows(app)
    assert stored["ticket_list"] == ["id", "subject", "priority"]
    assert stored["submittedformat"] == 4 and stored["format_submitted"] == "%d.%m.%Y"
    assert stored["attachments.allowed_types"] == [".pdf", ".png", ".txt"]
    assert stored["new_top"] == 1


def test_a_bad_value_on_one_field_leaves_every_setting_unchanged(app, client, admin_in):
    submit(client, "general", {"hesk_title": "Before"})
    submit(client, "help_desk", {"max_listings": "40"})
    before = rows(app)
    resp = submit(client, "help_desk", {
        "max_listings": "1000", "flood": "9", "attachments.allowed_types": ".pdf, .php", "question_ans": "Blue",
        "autologin": None,
    })
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert rows(app) == before  # nothing written, not even the good values
    # the errors sit beside their fields
    assert 'id="max_listings-error"' in html and "Must be at most 999." in html
    assert 'id="attachments__allowed_types-error"' in html and "never allowed: .php" in html
    assert "Nothing was saved." in html
    # every value comes back as typed
    form = form_of(html)
    assert form["max_listings"] == "1000"
    assert form["flood"] == "9"
    assert form["attachments__allowed_types"] == ".pdf, .php"
    assert form["question_ans"] == "Blue"
    assert "autologin" not in form  # the box stays unticked as sent


def test_anti_spam_rule_and_executable_types_through_the_form(app, client, admin_in):
    resp = submit(client, "help_desk", {"secimg_use": "0"})
    assert resp.status_code == 422
    assert 'id="secimg_use-error"' in resp.get_data(as_text=True)
    assert "anti-SPAM" in text_of(resp)
    resp = submit(client, "help_desk", {"secimg_use": "0", "question_use": "1"})
    assert resp.status_code == 302
    for types in (".exe", ".svg", ".html", ".js", ".sh", ".bat", ".phtml"):
        resp = submit(client, "help_desk", {"attachments.allowed_types": f".pdf, {types}"})
        assert resp.status_code == 422, types
        assert "never allowed" in text_of(resp)
    assert "attachments.allowed_types" not in rows(app)


def test_secrets_are_never_shown_back(app, client, admin_in):
    resp = submit(client, "email", {"smtp_user": "mailer", "smtp_password": "Secret-pw-1234"})
    assert resp.status_code == 302
    html = client.get("/admin/settings/email").get_data(as_text=True)
    assert "Secret-pw-1234" not in html
    assert form_of(html)["smtp_password"] == ""
    assert "A password is stored." in html
    # saving with the field empty keeps the stored password
    assert submit(client, "email", {"smtp_user": "mailer2"}).status_code == 302
    with app.app_context():
        assert settings.get("smtp_password") == "Secret-pw-1234"
    # a typed password does not come back with an error either
    resp = submit(client, "email", {"smtp_password": "Other-pw-5678", "smtp_host_port": "0"})
    assert resp.status_code == 422
    assert "Other-pw-5678" not in resp.get_data(as_text=True)
    # "remove" empties it (the default, so the row goes)
    assert submit(client, "email", {"smtp_password__clear": "1"}).status_code == 302
    assert "smtp_password" not in rows(app)


def test_logo_upload_replace_and_remove(app, client, admin_in):
    resp = submit(client, "look", files={"site_logo__file": (io.BytesIO(PNG), "logo.png")})
    assert resp.status_code == 302, text_of(resp)[:2000]
    name = rows(app)["site_logo"]
    home = client.get("/").get_data(as_text=True)
    assert f'src="/branding/logo/{name}"' in home
    logo = client.get(f"/branding/logo/{name}")
    assert logo.status_code == 200 and logo.mimetype == "image/png" and logo.data == PNG
    assert client.get("/branding/logo/0123456789abcdef0123456789abcdef.png").status_code == 404
    # not a picture: refused beside the field, the old logo stays
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    resp = submit(client, "look", {"custom_footer": "<p>kept as typed</p>"},
                  files={"site_logo__file": (io.BytesIO(svg), "logo.svg")})
    assert resp.status_code == 422
    assert 'id="site_logo-error"' in resp.get_data(as_text=True)
    assert form_of(resp.get_data(as_text=True))["custom_footer"] == "<p>kept as typed</p>"
    assert rows(app)["site_logo"] == name
    with app.app_context():
        folder = os.path.join(app.config["HESK_ATTACHMENTS_DIR"], "branding")
    assert os.listdir(folder) == [name]
    resp = submit(client, "look", {"site_logo__clear": "1"})
    assert resp.status_code == 302
    assert "site_logo" not in rows(app)
    assert os.listdir(folder) == []  # the old file is deleted
    assert client.get(f"/branding/logo/{name}").status_code == 404


# --- the status box ------------------------------------------------------------------------------

def test_status_box_shows_versions_database_and_folders(app, client, admin_in):
    from hesk_py.services import diagnostics

    page = words(client.get("/admin/settings/misc"))
    with app.app_context():
        kind, version = diagnostics.database_version()
    assert kind == ("MariaDB" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("mysql") else "SQLite")
    assert f"hesk_py version {__version__}" in page
    assert f"Python version {platform.python_version()}" in page
    assert f"Database {kind} {version}" in page
    assert "Attachments folder OK" in page
    assert "Email sending OK The mail server on this machine (localhost port 25)" in page
    assert "Email fetching Off" in page


def test_status_box_reports_an_attachments_folder_that_cannot_be_made(admin, database_url, tmp_path, csrf):
    from tests.conftest import ADMIN_PASSWORD, make_test_app

    blocker = tmp_path / "not-a-folder"  # a plain file: no folder can be made below it
    blocker.write_text("x")
    blocker.chmod(0o644)
    other = make_test_app(database_url, tmp_path / "other", HESK_ATTACHMENTS_DIR=str(blocker / "attachments"))
    client = other.test_client()
    token = csrf(client, "/admin/login")
    client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    page = words(client.get("/admin/settings/help_desk"))
    assert "Attachments folder Problem Missing" in page
    assert "files cannot be uploaded" in page
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_status_box_tells_whether_cron_ran_in_the_last_15_minutes(app, client, admin_in, runner):
    page = words(client.get("/admin/settings/general"))
    assert "Cron (background jobs) Problem Never run" in page
    assert "hesk-py cron" in page
    result = runner.invoke(args=["cron"])
    assert result.exit_code == 0, result.output
    page = words(client.get("/admin/settings/general"))
    assert "Cron (background jobs) OK Ran at" in page
    with app.app_context():
        db.session.execute(update(JobRun).values(started_at=utcnow() - timedelta(minutes=20)))
        db.session.commit()
    page = words(client.get("/admin/settings/general"))
    assert "Cron (background jobs) Problem Last run at" in page
    assert "Not in the last 15 minutes" in page


def test_status_box_reports_failing_email(app, client, admin_in, make_ticket):
    make_ticket()  # queues the confirmation email
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(attempts=2, last_error="ConnectionRefusedError: [Errno 111]"))
        db.session.commit()
    page = words(client.get("/admin/settings/email"))
    assert "Email sending Problem" in page
    assert "ConnectionRefusedError" in page


# --- test connection -----------------------------------------------------------------------------

def test_smtp_test_uses_the_values_as_typed_and_shows_the_answer(app, client, admin_in, smtp_server):
    with app.app_context():
        settings.save({"smtp_host_port": 1})  # stored: a port where nothing listens
    before = rows(app)
    resp = submit(client, "email", {"smtp_host_name": "127.0.0.1", "smtp_host_port": str(smtp_server.port),
                                    "smtp_enc": ""}, action="/admin/settings/email/test/smtp")
    assert resp.status_code == 200
    page = text_of(resp)
    assert "Connection works." in page
    assert f"Connected to 127.0.0.1 port {smtp_server.port}" in page
    assert "220 " in page and "250" in page  # the greeting and the EHLO answer
    assert form_of(resp.get_data(as_text=True))["smtp_host_port"] == str(smtp_server.port)  # as typed
    assert rows(app) == before  # a test saves nothing


def test_smtp_test_shows_the_server_refusing_a_login(client, admin_in, smtp_server):
    resp = submit(client, "email", {"smtp_host_name": "127.0.0.1", "smtp_host_port": str(smtp_server.port),
                                    "smtp_user": "someone", "smtp_password": "Typed-pw-999"},
                  action="/admin/settings/email/test/smtp")
    page = text_of(resp)
    assert "Connection failed." in page
    assert "does not support this" in page and "AUTH" in page
    assert "Typed-pw-999" not in page
    assert "used for this test but is not shown again" in page


@pytest.mark.parametrize("host", ["http://127.0.0.1/", "127.0.0.1:25", "mail.example.com/smtp", "a@b"])
def test_connection_tests_refuse_urls_paths_and_ports_in_the_host(client, admin_in, host):
    resp = submit(client, "email", {"smtp_host_name": host}, action="/admin/settings/email/test/smtp")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="smtp_host_name-error"' in html
    assert "Connection works." not in html and "Connection failed." not in html  # nothing was contacted


def _refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
def test_connection_refused_is_explained(client, admin_in, protocol):
    port = _refused_port()
    enc = {"imap": {"imap_enc": ""}, "pop3": {"pop3_tls": None}, "smtp": {"smtp_enc": ""}}[protocol]
    resp = submit(client, "email", {f"{protocol}_host_name": "127.0.0.1", f"{protocol}_host_port": str(port),
                                    f"{protocol}_user": "support@example.com", **enc},
                  action=f"/admin/settings/email/test/{protocol}")
    page = words(resp)
    assert "Connection failed." in page
    assert f"The connection to 127.0.0.1 port {port} was refused" in page
    assert "Check the host and the port." in page


def test_unknown_protocol_is_404(client, admin_in, csrf):
    token = csrf(client, "/admin/settings/email")
    assert client.post("/admin/settings/email/test/ftp", data={"csrf_token": token}).status_code == 404


# --- settings take effect ------------------------------------------------------------------------

def test_titles_and_site_link_appear_in_the_page_headers(client, admin_in):
    submit(client, "general", {"hesk_title": "Acme Help", "site_title": "Acme Inc", "site_url": "https://acme.test"})
    home = client.get("/").get_data(as_text=True)
    assert ">Acme Help</a>" in home and "<title>Acme Help</title>" in home
    assert '<a href="https://acme.test">Acme Inc</a>' in home
    assert ">Acme Help</a>" in client.get("/admin/settings/general").get_data(as_text=True)


def test_default_language_sets_the_page_language(client, admin_in):
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)
    submit(client, "general", {"language": "uk"})
    assert '<html lang="uk"' in client.get("/").get_data(as_text=True)


def test_max_listings_changes_the_length_of_the_staff_ticket_list(client, admin_in, make_ticket):
    tracks = [make_ticket() for _ in range(3)]
    html = client.get("/admin/").get_data(as_text=True)
    assert all(t in html for t in tracks)
    assert submit(client, "help_desk", {"max_listings": "2"}).status_code == 302
    html = client.get("/admin/").get_data(as_text=True)
    assert sum(t in html for t in tracks) == 2


def test_timezone_changes_displayed_times(app, client, admin_in):
    with app.app_context():
        db.session.add(JobRun(name="outbox", started_at=datetime(2024, 1, 15, 10, 30), ok=True, result="done"))
        db.session.commit()
    page = words(client.get("/admin/settings/misc"))
    assert "Last run at Jan 15, 2024, 10:30:00 AM" in page
    assert submit(client, "misc", {"timezone": "Asia/Tokyo"}).status_code == 302
    page = words(client.get("/admin/settings/misc"))
    assert "Last run at Jan 15, 2024, 7:30:00 PM" in page  # UTC+9


def test_theme_accent_and_custom_html_change_customer_pages(client, admin_in):
    home = client.get("/").get_data(as_text=True)
    assert "data-theme" not in home and "theme.css" not in home
    resp = submit(client, "look", {
        "customer_theme": "dark", "theme_overrides.primary": "#FFCC00",
        "custom_header": '<p class="x">Holiday hours<script>alert(1)</script></p>',
        "custom_footer": '<a href="https://acme.test/privacy" onclick="steal()">Privacy</a>',
    })
    assert resp.status_code == 302, text_of(resp)[:2000]
    home = client.get("/").get_data(as_text=True)
    assert 'data-theme="dark"' in home and "data-accent" in home
    assert "/branding/theme.css?v=ffcc00" in home
    assert "Holiday hours" in home and "<script>alert(1)" not in home
    assert 'href="https://acme.test/privacy"' in home and "steal()" not in home
    css = client.get("/branding/theme.css?v=ffcc00")
    assert css.mimetype == "text/css"
    assert "--accent: #ffcc00; --accent-fg: #000000;" in css.get_data(as_text=True)  # dark text on yellow
    # the staff panel keeps its own look
    assert 'data-theme="dark"' not in client.get("/admin/settings/look").get_data(as_text=True)


def test_notify_new_decides_whether_customers_get_a_confirmation(app, client, admin_in, make_ticket):
    def confirmations():
        with app.app_context():
            return len(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "new_ticket")).all())

    make_ticket()
    assert confirmations() == 1
    assert submit(client, "email", {"notify_new": None}).status_code == 302
    make_ticket()
    assert confirmations() == 1


# tab, a good change, a bad value on another field (and the field its message sits beside)
ONE_BAD_VALUE = [
    ("general", {"hesk_title": "Changed"}, {"hesk_url": "ftp://help.example.com"}),
    ("help_desk", {"flood": "9"}, {"max_listings": "0"}),
    ("look", {"custom_footer": "<p>Changed</p>"}, {"theme_overrides.primary": "blue-ish"}),
    ("knowledgebase", {"kb_search_limit": "5"}, {"kb_cols": "9"}),
    ("email", {"noreply_name": "Changed"}, {"smtp_host_port": "70000"}),
    ("ticket_list", {"email_column": "1"}, {"format_submitted": "no codes"}),
    ("misc", {"alink": None}, {"online_min": "0"}),
]


@pytest.mark.parametrize("tab,good,bad", ONE_BAD_VALUE, ids=[row[0] for row in ONE_BAD_VALUE])
def test_on_every_tab_one_bad_value_leaves_every_stored_setting_unchanged(app, client, admin_in, tab, good, bad):
    submit(client, "general", {"hesk_title": "Before"})
    before = rows(app)
    resp = submit(client, tab, {**good, **bad})
    assert resp.status_code == 422
    assert rows(app) == before  # not even the good change was written
    html = resp.get_data(as_text=True)
    (bad_key,) = bad
    assert f'id="{field(bad_key)}-error"' in html and "Nothing was saved." in html
    form = form_of(html)
    assert form.get(field(bad_key)) == bad[bad_key]  # as typed
    for key, value in good.items():
        assert form.get(field(key)) == (value if value is not None else None)
