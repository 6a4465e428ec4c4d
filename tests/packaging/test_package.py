"""The install package, deployed as the INSTALL guide says (issue 11): the zip built by ``hesk-py package``,
unpacked into an empty folder, a fresh virtualenv with its requirements.txt, and then

* Passenger's way: ``passenger_wsgi.application`` served with SCRIPT_NAME=/helpdesk; the installer, a
  customer's ticket and the staff panel over HTTP, and no answer points outside /helpdesk/;
* a VPS's way: Debian's nginx proxying /helpdesk/ to ``hesk-py serve --url-prefix /helpdesk``, the same walk
  in Chromium, with screenshots;
* an upgrade: the previous release (at the first schema revision, with data), the new zip unpacked over it
  keeping instance/, ``hesk-py upgrade --yes``, and every ticket is still there.

SQLite, or MariaDB when HESK_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from hesk_py import __version__
from install.installer import DatabaseSettings
from tests.install.conftest import build_first_revision, database_fields, first_revision_data_intact
from tests.packaging.conftest import DB_KIND, PREFIX, Browser, deployed_env, extract, free_port
from tests.public.conftest import hidden_fields

ADMIN = {"admin_name": "Ada Admin", "admin_email": "ada@acme.example", "admin_username": "ada",
         "admin_password": "Z1p-package-pass", "admin_password2": "Z1p-package-pass"}
TRACKID_RE = re.compile(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4}")

# Stands in for Passenger: loads the startup file by its path (from another working directory) and serves
# its ``application`` with SCRIPT_NAME=/helpdesk, as Passenger does for an app mounted at /helpdesk.
PASSENGER = """
import importlib.util, sys
from waitress.server import create_server
spec = importlib.util.spec_from_file_location("passenger_wsgi", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
create_server(module.application, host="127.0.0.1", port=int(sys.argv[2]), url_prefix="/helpdesk", threads=4,
              ident="passenger-stand-in").run()
"""


def _csrf(html: str) -> str:
    return hidden_fields(html)["csrf_token"]


def _database(make_database, app_dir: Path) -> DatabaseSettings:
    if DB_KIND == "sqlite":  # the installer's default place: instance/ of the application folder
        return DatabaseSettings(kind="sqlite", sqlite_path=str(app_dir / "instance" / "helpdesk.db"))
    return make_database("mariadb")


def _hesk_py(venv: Path, app_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """``hesk-py`` of this application folder (``python -m hesk_py`` run in it: the virtualenv's own
    ``hesk-py`` script belongs to the folder pip installed from)."""
    return subprocess.run([str(venv / "bin" / "python"), "-m", "hesk_py", *args], cwd=app_dir, env=deployed_env(),
                          capture_output=True, text=True, timeout=120)


def _spam_question_instead_of_captcha(hesk_py) -> str:
    """Turn on the anti-SPAM question, turn off the image CAPTCHA; return the question's answer."""
    for args in (("settings", "set", "question_use", "1"), ("settings", "set", "secimg_use", "0"),
                 ("settings", "get", "question_ans")):
        done = hesk_py(*args)
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def _serve_passenger(processes, venv: Path, app_dir: Path, tmp_path: Path) -> str:
    launcher = tmp_path / "passenger_stand_in.py"
    launcher.write_text(PASSENGER)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    port = free_port()
    processes.start([str(venv / "bin" / "python"), str(launcher), str(app_dir / "passenger_wsgi.py"), str(port)],
                    port=port, log=tmp_path / "passenger.log", cwd=elsewhere, env=deployed_env())
    return f"http://127.0.0.1:{port}"


def _walk(browser: Browser, start: str, limit: int) -> int:
    """Follow the links of ours from ``start`` (one page of each kind), checking each answer."""
    queue, seen = [start], set()
    while queue and len(seen) < limit:
        url = queue.pop(0)
        key = re.sub(r"[A-Z0-9-]*\d[A-Z0-9-]*", "N", url.split("?")[0])
        if key in seen or re.search(r"/logout|/attachment", url):
            continue
        seen.add(key)
        resp = browser.get(url)
        assert resp.status < 500, (url, resp.status)
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            queue += browser.links(resp)
    return len(seen)


def test_the_zip_holds_what_a_deployment_needs_and_nothing_else(package_zip):
    with zipfile.ZipFile(package_zip) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist() if not n.endswith("/")}
    for needed in ("passenger_wsgi.py", "INSTALL.md", "README.md", "requirements.txt", "setup.py", "babel.cfg",
                   "config.example.ini", "hesk_py/__init__.py", "hesk_py/wsgi.py", "hesk_py/cli.py",
                   "hesk_py/migrations/env.py", "hesk_py/migrations/versions/0001_initial_schema.py",
                   "hesk_py/translations/GLOSSARY.md", "admin/__init__.py", "install/installer.py",
                   "templates/layout.html", "templates/install/index.html", "templates/email/new_ticket.txt",
                   "static/css/hesk.css", "static/js/install.js"):
        assert needed in names, needed
    assert any(n.startswith("hesk_py/translations/") and n.endswith(".po") for n in names)
    unwanted = [n for n in names if re.search(r"^(tests|bench|instance|dist|build|tmp|test-results|\.venv|\.git|\.ci)/"
                                              r"|__pycache__|\.(pyc|mo|pot|db|log)$", n)]
    assert unwanted == []
    migrations = {p.name for p in (Path(__file__).resolve().parents[2] / "hesk_py/migrations/versions").glob("*.py")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("hesk_py/migrations/versions/")} == migrations
    size = package_zip.stat().st_size
    print(f"{package_zip.name}: {size / 1024:,.0f} KB, {len(names)} files")
    assert size < 1024 * 1024
    # requirements.txt pins every package (a deployment installs what was tested), then hesk_py itself
    lines = [ln.strip() for ln in (zipfile.Path(package_zip) / f"hesk_py-{__version__}" / "requirements.txt")
             .read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[-1] == "-e ." and all("==" in ln for ln in lines[:-1]), lines


def test_passenger_serves_the_unpacked_zip_under_helpdesk(venv, unpack, make_database, processes, tmp_path):
    app_dir = unpack("helpdesk")
    (app_dir / "tmp").mkdir()  # the control panel makes it: Passenger restarts the app when tmp/restart.txt changes
    base = _serve_passenger(processes, venv, app_dir, tmp_path)
    root = base + PREFIX
    admin = Browser(base)

    # not installed: everything leads to the installer, under the prefix
    resp = admin.get(PREFIX + "/")
    assert resp.status == 302 and resp.location.endswith(PREFIX + "/install/")
    html = admin.follow(resp).text
    resp = admin.post(PREFIX + "/install/", {"csrf_token": _csrf(html), "language": "en", "install": "x"})
    assert resp.location.endswith(PREFIX + "/install/server"), resp.location

    # the server check in this layout: the virtualenv's packages, a writable instance/ in the folder
    check = admin.follow(resp).text
    assert "This server can run the help desk." in check, check[-3000:]
    assert str(app_dir / "instance") in check and "not installed" not in check
    resp = admin.post(PREFIX + "/install/server", {"csrf_token": _csrf(check), "proceed": "x"})
    assert resp.location.endswith(PREFIX + "/install/database")
    page = admin.follow(resp).text
    settings = _database(make_database, app_dir)
    assert str(app_dir / "instance" / "helpdesk.db") in page  # the SQLite file's suggested place
    resp = admin.post(PREFIX + "/install/database", {"csrf_token": _csrf(page), **database_fields(settings),
                                                     "proceed": "x"})
    assert resp.location.endswith(PREFIX + "/install/helpdesk"), admin.follow(resp).text[-3000:]
    page = admin.follow(resp).text
    assert f'value="{root}"' in page  # the help desk's address, prefix included, from the request
    resp = admin.post(PREFIX + "/install/helpdesk", {"csrf_token": _csrf(page), "title": "Zip Desk", "url": root,
                                                     "language": "en", "timezone": "UTC", **ADMIN, "proceed": "x"})
    assert resp.location.endswith(PREFIX + "/install/install"), admin.follow(resp).text[-3000:]
    page = admin.follow(resp).text
    done = admin.post(PREFIX + "/install/install", {"csrf_token": _csrf(page), "install": "x"}, timeout=120).text
    assert "Your help desk is ready" in done, done[-3000:]
    assert (app_dir / "instance" / "config.ini").is_file()
    assert (app_dir / "tmp" / "restart.txt").is_file()  # Passenger is told to restart
    assert admin.get(PREFIX + "/install/").status == 404  # the same process serves the installed help desk now

    # the image CAPTCHA cannot be read by a test: the anti-SPAM question (the installer made one up) instead,
    # set from the command line in the application folder
    answer = _spam_question_instead_of_captcha(lambda *args: _hesk_py(venv, app_dir, *args))

    # a customer files a ticket at /helpdesk/submit_ticket
    customer = Browser(base, website=base)
    form_page = customer.get(PREFIX + "/submit_ticket?category=1")
    assert form_page.status == 200
    opened = time.monotonic()

    # meanwhile staff log in at /helpdesk/admin/ and come back to the page they asked for
    resp = admin.get(PREFIX + "/admin/")
    assert resp.status == 302 and PREFIX + "/admin/login" in resp.location
    login = admin.follow(resp)
    resp = admin.post(login.url, {"csrf_token": _csrf(login.text), "username": ADMIN["admin_username"],
                                  "password": ADMIN["admin_password"]})
    assert resp.status == 302 and resp.location.endswith(PREFIX + "/admin/"), resp.location

    time.sleep(max(0.0, 3.2 - (time.monotonic() - opened)))  # the form's minimum fill time (3 s)
    resp = customer.post(PREFIX + "/submit_ticket", {
        **hidden_fields(form_page.text), "name": "Casey Customer", "email": "casey@example.com",
        "subject": "Printed under a sub-path", "message": "The printer smokes.", "question": answer})
    assert resp.status in (302, 303) and PREFIX + "/submit_ticket/done" in resp.location, resp.text[-2000:]
    done = customer.follow(resp).text
    trackid = TRACKID_RE.search(done).group(0)
    ticket = customer.get(f"{PREFIX}/ticket?track={trackid}&e=casey@example.com")
    assert ticket.status == 200 and "Printed under a sub-path" in ticket.text

    listing = admin.follow(admin.get(PREFIX + "/admin/")).text
    assert trackid in listing and "Printed under a sub-path" in listing
    assert _walk(admin, f"{PREFIX}/admin/tickets/{trackid}", limit=25) >= 15
    assert _walk(customer, PREFIX + "/", limit=10) >= 4
    assert admin.get(PREFIX + "/healthz").status == 200

    assert admin.outside + customer.outside == [], admin.outside + customer.outside
    assert admin.requests + customer.requests > 40


@pytest.mark.browser
def test_nginx_proxies_helpdesk_to_hesk_py_serve_in_chromium(venv, make_database, processes, page, screenshot,
                                                            tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "Debian's nginx is needed (scripts/test.sh installs it)"
    app_dir = venv.parent / "app"  # the folder the virtualenv's hesk-py belongs to (pip install -e .)
    hesk_py = str(venv / "bin" / "hesk-py")
    app_port, web_port = free_port(), free_port()
    processes.start([hesk_py, "serve", "--host", "127.0.0.1", "--port", str(app_port), "--processes", "1",
                     "--threads", "4", "--url-prefix", PREFIX], port=app_port, log=tmp_path / "serve.log",
                    cwd=tmp_path, env=deployed_env())
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, web_port=web_port, app_port=app_port))
    processes.start([nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                    port=web_port, log=tmp_path / "nginx.out")
    base = f"http://127.0.0.1:{web_port}"
    root = base + PREFIX
    escaped = []

    def check_page():
        """Every link, source and form of the page, as Chromium resolved them, stays under /helpdesk/ (but for
        the link to the business's website, site_url, which the installer set to this origin)."""
        for url in page.evaluate("""() => Array.from(document.querySelectorAll('[href],[src],form[action]'))
                                     .map(e => e.href || e.src || e.action)"""):
            if url.startswith(base) and not url.startswith(root + "/") and url != base + "/":
                escaped.append((page.url, url))

    page.on("response", lambda r: r.status in (301, 302, 303) and not (r.headers.get("location") or "")
            .startswith((PREFIX + "/", root + "/")) and escaped.append((r.url, r.headers.get("location"))))

    # the installer, through nginx
    page.goto(root + "/")
    assert page.url == root + "/install/"
    check_page()
    screenshot("1-installer")
    page.click("input[name=install]")
    page.wait_for_selector("text=This server can run the help desk.")
    check_page()
    screenshot("2-server-check")
    page.click("input[name=proceed]")
    page.wait_for_selector("h1:has-text('Database')")
    settings = _database(make_database, app_dir)
    if settings.kind == "sqlite":
        page.fill("#sqlite_path", settings.sqlite_path)
    else:
        page.check("#kind-1")
        for field in ("host", "name", "user", "password"):
            page.fill(f"#{field}", str(getattr(settings, field)))
        page.fill("#port", str(settings.port))
    page.click("input[name=proceed]")
    page.wait_for_selector("#title")
    assert page.input_value("#url") == root
    page.fill("#title", "Nginx Desk")
    for field, value in ADMIN.items():
        page.fill(f"#{field}", value)
    page.click("input[name=proceed]")
    page.click("input[name=install]")
    page.wait_for_selector("#finish h1:has-text('Your help desk is ready')", timeout=90_000)
    check_page()
    screenshot("3-installed")

    answer = _spam_question_instead_of_captcha(lambda *args: subprocess.run(
        [hesk_py, *args], cwd=tmp_path, env=deployed_env(), capture_output=True, text=True, timeout=120))

    # a customer files a ticket (a new visitor: no cookies of the installing administrator)
    page.context.clear_cookies()
    page.goto(root + "/submit_ticket?category=1")
    page.fill("#name", "Casey Customer")
    page.fill("#email", "casey@example.com")
    page.fill("#subject", "Proxied by nginx")
    page.fill("#message", "Hello from behind the proxy.")
    page.fill("#question", answer)
    check_page()
    screenshot("4-customer-form")
    page.wait_for_timeout(3100)  # the form's minimum fill time
    page.click("button:has-text('Submit ticket')")
    page.wait_for_url(root + "/submit_ticket/done*")
    trackid = page.inner_text("strong.trackid")
    check_page()
    screenshot("5-ticket-filed")

    # staff log in at /helpdesk/admin/
    page.context.clear_cookies()
    page.goto(root + "/admin/")
    assert page.url.startswith(root + "/admin/login")
    check_page()
    screenshot("6-staff-login")
    page.fill("#username", ADMIN["admin_username"])
    page.fill("#password", ADMIN["admin_password"])
    page.click("button[type=submit]")
    page.wait_for_selector(f"text={trackid}")
    check_page()
    screenshot("7-ticket-list")
    page.click(f"a:has-text('{trackid}')")
    page.wait_for_selector("h1:has-text('Proxied by nginx')")
    assert page.url == f"{root}/admin/tickets/{trackid}"
    check_page()
    screenshot("8-ticket")

    assert escaped == []
    assert all(c["path"] == PREFIX or c["path"].startswith(PREFIX + "/") for c in page.context.cookies()), \
        page.context.cookies()
    # and the browser never asked nginx for anything outside /helpdesk/ (but the site's /favicon.ico, which
    # browsers fetch on their own: the pages name no icon)
    requested = re.findall(r'"[A-Z]+ (\S+) HTTP', (tmp_path / "access.log").read_text())
    assert len(requested) > 20
    assert [r for r in requested if not r.startswith(PREFIX + "/") and r != "/favicon.ico"] == []


NGINX_CONF = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{web_port};
        # the site INSTALL.md describes: /helpdesk/ goes to hesk-py serve --url-prefix /helpdesk
        location = /helpdesk {{ return 301 /helpdesk/; }}
        location /helpdesk/ {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
        }}
    }}
}}
"""


def test_upgrade_by_unpacking_the_new_zip_over_the_old_keeps_every_ticket(venv, unpack, package_zip, make_database,
                                                                          processes, tmp_path):
    from hesk_py import config as bootstrap
    from hesk_py.services import schema

    # the previous release: a help desk at the first schema revision, with tickets, replies and staff
    app_dir = unpack("helpdesk")
    versions = app_dir / "hesk_py" / "migrations" / "versions"
    for migration in versions.glob("*.py"):
        if not migration.name.startswith("0001_"):
            migration.unlink()
    settings = _database(make_database, app_dir)
    data = build_first_revision(settings)
    bootstrap.write_file(app_dir / "instance" / "config.ini", {("database", "url"): settings.url_string(),
                                                               ("security", "secret_key"): "u" * 48})
    (app_dir / "instance" / "attachments").mkdir()
    (app_dir / "instance" / "attachments" / "kept.bin").write_bytes(b"an attachment")
    old = _hesk_py(venv, app_dir, "upgrade", "--yes")
    assert old.returncode == 0 and "up to date (revision 0001)" in old.stdout, old.stdout + old.stderr

    # the new zip over the old files; instance/ (config, SQLite file, attachments) is not in the zip
    extract(package_zip, app_dir)
    assert (app_dir / "instance" / "attachments" / "kept.bin").read_bytes() == b"an attachment"
    new = _hesk_py(venv, app_dir, "upgrade", "--yes")
    head = schema.head_revision()
    assert new.returncode == 0, new.stdout + new.stderr
    assert f"Done: the database is at revision {head}" in new.stdout, new.stdout
    first_revision_data_intact(settings, data)
    again = _hesk_py(venv, app_dir, "upgrade", "--yes")
    assert f"up to date (revision {head})" in again.stdout

    # the upgraded help desk serves the old tickets to the old administrator
    base = _serve_passenger(processes, venv, app_dir, tmp_path)
    staff = Browser(base)
    login = staff.follow(staff.get(PREFIX + "/admin/"))
    resp = staff.post(login.url, {"csrf_token": _csrf(login.text), "username": data["username"],
                                  "password": data["password"]})
    assert resp.status == 302, resp.text[-2000:]
    listing = staff.follow(resp).text
    for trackid in data["trackids"]:
        assert trackid in listing
    ticket = staff.get(f"{PREFIX}/admin/tickets/{data['trackids'][1]}").text
    assert data["subjects"][1] in ticket and data["reply"] in ticket
    assert staff.outside == []
