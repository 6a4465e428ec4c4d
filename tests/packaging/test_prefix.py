"""The help desk mounted under /helpdesk (issue 11): every link, form action, redirect and cookie stays
under the prefix, whether the server passes it as SCRIPT_NAME (Passenger, ``hesk-py serve --url-prefix``)
or a trusted proxy sends ``X-Forwarded-Prefix``. In-process, so the walk can cover every page a customer
and an administrator reach by following links; tests/packaging/test_package.py proves the same through
the unpacked zip and real servers."""
from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest

from hesk_py import settings
from hesk_py.extensions import db
from tests.conftest import ADMIN_PASSWORD, csrf_token_from
from tests.packaging.links import addresses, cookie_outside, cookie_paths, outside
from tests.public.conftest import ANSWER, hidden_fields

PREFIX = "/helpdesk"
BASE = "http://localhost/helpdesk/"
# links the walk must not follow: they end the session or hand over a file
SKIP = re.compile(r"/logout|/attachment|/download|/export|\.(png|jpg|svg|ico|js)$")


class Mounted:
    """The test client as a browser sees the help desk at http://localhost/helpdesk/; checks every
    answer for addresses and cookies outside the prefix."""

    def __init__(self, client, base=BASE, host="localhost", prefix=PREFIX, **environ):
        self.client, self.base, self.host, self.prefix, self.environ = client, base, host, prefix, environ
        self.seen: list[tuple[str, str, str]] = []  # (page, where, address) outside the prefix
        self.pages = 0

    def open(self, path, method="GET", **kw):
        resp = self.client.open(path, method=method, base_url=self.base, environ_overrides=self.environ, **kw)
        self.check(path, resp)
        return resp

    def get(self, path, **kw):
        return self.open(path, **kw)

    def post(self, path, data, **kw):
        return self.open(path, method="POST", data=data, **kw)

    def check(self, path, resp):
        self.pages += 1
        if "Location" in resp.headers and outside(resp.headers["Location"], self.prefix, self.host):
            self.seen.append((path, "Location", resp.headers["Location"]))
        for name, cookie_path in cookie_paths(resp.headers):
            if cookie_outside(cookie_path, self.prefix):
                self.seen.append((path, f"cookie {name} Path", cookie_path))
        if resp.mimetype in ("text/html", "text/css"):
            for where, address in addresses(resp.get_data(as_text=True), resp.mimetype):
                if outside(address, self.prefix, self.host):
                    self.seen.append((path, where, address))

    def inside(self, address: str) -> str | None:
        """The app path (without the prefix) of an address of ours worth following, else None."""
        parts = urlsplit(address)
        if parts.scheme and parts.netloc != self.host:
            return None
        if not parts.path.startswith(self.prefix + "/") or SKIP.search(parts.path):
            return None
        return parts.path[len(self.prefix):] + (f"?{parts.query}" if parts.query else "")

    def walk(self, start: list[str], limit: int) -> set[str]:
        """Follow every link of ours from ``start`` (GET only), at most ``limit`` pages."""
        queue, done = deque(start), set()
        while queue and len(done) < limit:
            path = queue.popleft()
            # one page of each kind: /tickets/N, ?page=N, one email template's languages
            key = re.sub(r"/(bg|en|lv|ru|uk)$", "/L", re.sub(r"[A-Z0-9-]*\d[A-Z0-9-]*", "N", path.split("?")[0]))
            if key in done:
                continue
            done.add(key)
            resp = self.get(path)
            assert resp.status_code < 500, (path, resp.status_code)
            if resp.mimetype != "text/html":
                continue
            for where, address in addresses(resp.get_data(as_text=True)):
                if where.endswith(" href>") and (inner := self.inside(address)):
                    queue.append(inner)
        return done


@pytest.fixture
def world(app, admin, make_ticket):
    from hesk_py.services import knowledgebase, tickets
    from hesk_py.models import Ticket, User

    with app.app_context():
        settings.save({"spam_min_fill_seconds": 0, "secimg_use": 0, "question_use": True, "flood": 0,
                       "hesk_url": "https://example.com/helpdesk", "can_sel_lang": True, "autologin": True})
        knowledgebase.create_article(title="Reset the printer", content="Hold **Reset** for 5 seconds.")
    trackid = make_ticket(email="casey@example.com")
    with app.app_context():
        from sqlalchemy import select

        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        tickets.add_reply(ticket, message="Try turning it off and on.",
                          actor=tickets.Actor.staff(db.session.get(User, admin)))
    return trackid


def test_every_page_link_redirect_and_cookie_stays_under_the_prefix(app, client, world):
    browser = Mounted(client)
    trackid = world

    # a customer: home, the knowledgebase, the ticket form, a ticket of theirs, the language menu
    public = browser.walk(["/", "/submit_ticket?category=1", f"/ticket?track={trackid}&e=casey@example.com",
                           "/forgot_tracking_id", "/knowledgebase"], limit=40)
    assert len(public) >= 6, public
    html = browser.get("/submit_ticket?category=1").get_data(as_text=True)
    resp = browser.post("/submit_ticket", {**hidden_fields(html), "name": "Pat Prefix", "email": "pat@example.com",
                                           "subject": "Under a sub-path", "message": "Hello", "question": ANSWER})
    assert resp.status_code in (302, 303) and resp.headers["Location"].startswith(PREFIX + "/submit_ticket/done")
    done = browser.get(resp.headers["Location"][len(PREFIX):])
    assert done.status_code == 200 and "Your ticket has been submitted" in done.get_data(as_text=True)
    # the language menu brings the customer back to the page it was on
    html = browser.get(f"/knowledgebase?x={trackid}").get_data(as_text=True)
    form = re.search(r'<form class="lang-picker".*?</form>', html, re.S).group(0)
    resp = browser.post("/language", {**hidden_fields(form), "language": "en"})
    assert resp.headers["Location"] == f"{PREFIX}/knowledgebase?x={trackid}"
    assert ("hesk_language", PREFIX) in cookie_paths(resp.headers)

    # staff: a page that needs a login sends to the login page and, after it, back to that page
    resp = browser.get(f"/admin/tickets/{trackid}")
    assert resp.status_code == 302
    login_url = resp.headers["Location"]
    assert login_url.startswith(PREFIX + "/admin/login?next=")
    html = browser.get(login_url[len(PREFIX):]).get_data(as_text=True)
    resp = browser.post(login_url[len(PREFIX):], {"username": "admin", "password": ADMIN_PASSWORD, "remember": "y",
                                                  "csrf_token": csrf_token_from(html)})
    assert resp.headers["Location"] == f"{PREFIX}/admin/tickets/{trackid}", resp.headers.get("Location")
    cookies = dict(cookie_paths(resp.headers))
    assert cookies["hesk_session"] == PREFIX
    assert cookies["hesk_remember"] == PREFIX + "/admin/"

    # then every page of the staff panel an administrator can reach by following links
    admin_pages = browser.walk(["/admin/", f"/admin/tickets/{trackid}", "/admin/settings/general"], limit=150)
    assert len(admin_pages) >= 30, admin_pages
    html = browser.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert f'action="{PREFIX}/admin/tickets/{trackid}/' in html

    # a bulk action on the ticket list comes back to the list it was sent from
    html = browser.get("/admin/?sort=subject").get_data(as_text=True)
    back = re.search(r'name="back" value="([^"]*)"', html).group(1)
    assert back.startswith(PREFIX + "/admin/")

    assert browser.seen == [], "\n".join(f"{page}: {where} {address}" for page, where, address in browser.seen)
    assert browser.pages > 50


def test_trusted_proxy_headers_mount_the_help_desk(database_url, _schema, tmp_path, client):
    """``[server] trusted_proxies = 1``: X-Forwarded-Prefix, -Proto and -Host from the proxy decide the
    links; without it the same headers change nothing (a client cannot move the help desk)."""
    from tests.conftest import make_test_app

    headers = {"X-Forwarded-Prefix": PREFIX, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "help.example.com",
               "X-Forwarded-For": "203.0.113.9"}
    trusted = make_test_app(database_url, tmp_path / "trusted", HESK_TRUSTED_PROXIES=1)
    try:
        browser = Mounted(trusted.test_client(), base="http://127.0.0.1:8080/", host="help.example.com")
        resp = browser.get("/admin/", headers=headers)
        assert resp.headers["Location"].startswith(PREFIX + "/admin/login")
        page = browser.get("/admin/login", headers=headers)
        html = page.get_data(as_text=True)
        assert f'href="{PREFIX}/static/css/hesk.css' in html and f'href="{PREFIX}/admin/forgot_password' in html
        assert dict(cookie_paths(page.headers))["hesk_session"] == PREFIX
        # not trusted (the default): the same headers are ignored
        html = client.get("/admin/login", headers=headers).get_data(as_text=True)
        assert 'href="/static/css/hesk.css' in html and PREFIX not in html

        # https and the host come from the proxy too: with "Use SSL" on, a request the proxy received over
        # https is served, one it received over http is sent to https at the proxy's host, under the prefix
        with trusted.app_context():
            settings.save({"hesk_url": "https://help.example.com/helpdesk", "force_ssl": True})
        assert browser.get("/knowledgebase", headers=headers).status_code == 200
        resp = browser.get("/knowledgebase", headers={**headers, "X-Forwarded-Proto": "http"})
        assert resp.status_code == 301
        assert resp.headers["Location"] == "https://help.example.com/helpdesk/knowledgebase"
        assert browser.seen == []
    finally:
        with trusted.app_context():
            db.engine.dispose()



def test_hesk_py_serve_with_a_trusted_proxy_reads_its_headers(app, database_url, tmp_path):
    """``hesk-py serve --url-prefix /helpdesk`` with ``[server] trusted_proxies = 1``: waitress lets the
    proxy's X-Forwarded-* through to ProxyFix (it drops them when no proxy is trusted)."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from hesk_py import config as bootstrap
    from tests.packaging.conftest import deployed_env, free_port, wait_for_port

    with app.app_context():
        settings.save({"hesk_url": "https://help.example.com/helpdesk", "force_ssl": True})
    config = tmp_path / "config.ini"
    bootstrap.write_file(config, {("database", "url"): database_url, ("security", "secret_key"): "p" * 48,
                                  ("server", "trusted_proxies"): 1, ("paths", "attachments"): str(tmp_path),
                                  ("logging", "level"): "WARNING"})
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "hesk_py", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--processes", "1", "--url-prefix", PREFIX], stdout=log, stderr=subprocess.STDOUT,
                            env=deployed_env(HESK_PY_CONFIG=str(config)))
    log.close()
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))

    def get(proto):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{PREFIX}/knowledgebase", headers={
            "X-Forwarded-Proto": proto, "X-Forwarded-Host": "help.example.com", "X-Forwarded-For": "203.0.113.9"})
        try:
            with opener.open(req, timeout=15) as r:
                return r.status, r.headers.get("Location")
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Location")

    try:
        wait_for_port(port, proc)
        # (before the fix, on SQLite, the request waited for a lock the startup message's database read held)
        assert get("https") == (200, None), (tmp_path / "serve.log").read_text()[-3000:]
        assert get("http") == (301, "https://help.example.com/helpdesk/knowledgebase")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
