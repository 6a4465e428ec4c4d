"""Fixtures for the installer's tests.

* An app that is not installed yet, in a folder of its own (no SQLALCHEMY_DATABASE_URI, its own config file).
* Throw-away databases to install into: SQLite files always; when HESK_TEST_DATABASE_URL is set, also
  MariaDB databases ``hesk_test_inst_<random>`` on that server, dropped afterwards. ``DB_KINDS`` lists what
  this run covers, so a test parametrized with it runs on SQLite in the SQLite pass and on both in the
  MariaDB pass.
* MariaDB users with limited grants (``hesk_test_limited_<random>``, dropped afterwards).
* Folders nobody may write to, even root (``chattr +i``; plain permissions for other users).
* A database left at the first schema revision ('0001') with tickets in it, for the upgrade path.
"""
from __future__ import annotations

import datetime
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from hesk_py import create_app
from hesk_py.wsgi import ReloadingApp
from install.installer import DatabaseSettings
from tests.conftest import csrf_token_from

SERVER_URL = os.environ.get("HESK_TEST_DATABASE_URL") or None
DB_KINDS = ["sqlite"] + (["mariadb"] if SERVER_URL else [])

ADMIN_PASSWORD = "Inst4ll-pass-word"
DB_SECRET = "S3cret-db-pw!"


def uninstalled_config(folder: Path, **extra) -> dict:
    config = {
        "INSTANCE_PATH": str(folder),
        "HESK_CONFIG_FILE": str(folder / "config.ini"),
        "HESK_LOG_LEVEL": "WARNING",
        "HESK_SEND_MAIL_AFTER_REQUEST": False,
    }
    config.update(extra)
    return config


def make_factory(folder: Path, **extra):
    """Builds the app the way production does: from the config file once the installer wrote it."""

    def factory():
        return create_app(uninstalled_config(folder, **extra))

    return factory


@pytest.fixture
def instance(tmp_path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


# --- databases -------------------------------------------------------------------------------------

def server_engine():
    return create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")


def server_host_port() -> tuple[str, int]:
    url = make_url(SERVER_URL)
    return url.host or "127.0.0.1", url.port or 3306


@pytest.fixture
def make_database(tmp_path):
    """``make_database(kind)`` -> DatabaseSettings of an empty database to install into."""
    created: list[str] = []

    def make(kind: str, *, charset: str = "utf8mb4") -> DatabaseSettings:
        if kind == "sqlite":
            return DatabaseSettings(kind="sqlite", sqlite_path=str(tmp_path / f"db-{secrets.token_hex(3)}" /
                                                                   "helpdesk.db"))
        assert SERVER_URL, "MariaDB cases run only when HESK_TEST_DATABASE_URL is set"
        name = f"hesk_test_inst_{secrets.token_hex(4)}"
        collation = "utf8mb4_unicode_ci" if charset == "utf8mb4" else "latin1_swedish_ci"
        with server_engine().connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}"))
        created.append(name)
        url = make_url(SERVER_URL)
        host, port = server_host_port()
        return DatabaseSettings(kind="mysql", host=host, port=port, name=name, user=url.username or "root",
                                password=url.password or "")

    yield make
    if created:
        engine = server_engine()
        with engine.connect() as conn:
            for name in created:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()


@pytest.fixture
def limited_user():
    """``limited_user(database, "SELECT, INSERT")`` -> (user, password) of a MariaDB user with only those
    privileges on that database."""
    users: list[str] = []

    def make(database: str, privileges: str) -> tuple[str, str]:
        user = f"hesk_test_limited_{secrets.token_hex(3)}"
        password = "Lim1ted-" + secrets.token_hex(4)
        with server_engine().connect() as conn:
            conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
            users.append(user)
            conn.execute(text(f"GRANT {privileges} ON `{database}`.* TO '{user}'@'%'"))
        return user, password

    yield make
    if users:
        engine = server_engine()
        with engine.connect() as conn:
            for user in users:
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        engine.dispose()


def table_names(settings: DatabaseSettings) -> set[str]:
    from sqlalchemy import inspect

    from install.installer import make_engine

    if settings.kind == "sqlite" and not Path(settings.sqlite_path).exists():
        return set()
    engine = make_engine(settings.url())
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


# --- folders nobody may write ------------------------------------------------------------------------

@pytest.fixture
def unwritable():
    """``unwritable(path)`` makes an existing folder refuse new files, for root too (the tests run as
    root in CI): ``chattr +i`` there, plain permissions otherwise. Undone after the test."""
    undo = []

    def make(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=False))
        else:
            path.chmod(0o500)
            undo.append(lambda: path.chmod(0o755))
        with pytest.raises(OSError):  # really unwritable, or the test would prove nothing
            (path / "probe").touch()
        return path

    yield make
    for fn in reversed(undo):
        fn()


# --- a help desk at the first schema revision, with data ---------------------------------------------

def build_first_revision(settings: DatabaseSettings) -> dict:
    """Create the schema of revision '0001' only (Alembic), then put a help desk's data in it with plain
    SQL (today's models may have columns 0001 lacks). Returns what was stored."""
    from alembic import command

    from hesk_py.services import schema
    from install.installer import make_engine

    if settings.kind == "sqlite":
        Path(settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url())
    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    data = {"trackids": ["ABC-DEF-1234", "GHJ-KLM-5678"], "subjects": ["Printer on fire", "Кириличний запит 😀"],
            "reply": "We are on it.", "username": "olduser", "password": "0ld-user-pass"}
    try:
        with engine.begin() as conn:
            cfg = schema.alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        with engine.begin() as conn:
            meta = MetaData()

            def table(name):
                return Table(name, meta, autoload_with=conn)

            from hesk_py.services.accounts import hash_password

            conn.execute(table("hesk_priorities").insert(), [
                {"id": 1, "key": "critical", "name": "Critical", "color": "#e74441", "can_customers_select": False,
                 "sort_order": 1},
                {"id": 4, "key": "low", "name": "Low", "color": "#71a5ec", "can_customers_select": True,
                 "sort_order": 4}])
            conn.execute(table("hesk_statuses").insert(), [
                {"id": 1, "key": "new", "name": "New", "kind": "open", "color": "#dc3545",
                 "can_customers_change": False, "sort_order": 1},
                {"id": 3, "key": "replied", "name": "Replied", "kind": "waiting", "color": "#198754",
                 "can_customers_change": False, "sort_order": 3}])
            conn.execute(table("hesk_categories").insert(), [
                {"id": 1, "name": "General", "sort_order": 10, "is_public": True, "default_priority_id": 4,
                 "autoassign": False}])
            conn.execute(table("hesk_users").insert(), [
                {"id": 1, "username": data["username"], "email": "old@example.com", "name": "Old Admin",
                 "password_hash": hash_password(data["password"]), "is_admin": True, "active": True,
                 "signature": "", "autoassign": True, "session_version": 1, "created_at": now}])
            tickets = table("hesk_tickets")
            for i, (trackid, subject) in enumerate(zip(data["trackids"], data["subjects"]), start=1):
                conn.execute(tickets.insert(), [{
                    "id": i, "trackid": trackid, "name": "Casey Customer", "email": "casey@example.com",
                    "category_id": 1, "priority_id": 4, "status_id": 1 if i == 1 else 3, "subject": subject,
                    "message": f"Message {i}", "autoassigned": False, "ip": "127.0.0.1", "opened_by": "customer",
                    "created_at": now, "updated_at": now, "reopened_count": 0, "reply_count": 1 if i == 2 else 0,
                    "staff_reply_count": 1 if i == 2 else 0, "last_replier": "staff" if i == 2 else "customer",
                    "overdue_email_sent": False, "time_worked": 0, "locked": False, "tagged": False}])
            conn.execute(table("hesk_replies").insert(), [{
                "id": 1, "ticket_id": 2, "author_type": "staff", "staff_id": 1, "name": "Old Admin",
                "message": data["reply"], "created_at": now, "read": False}])
    finally:
        engine.dispose()
    return data


def upgrade_to(settings: DatabaseSettings, revision: str) -> None:
    """Apply the migrations up to ``revision`` (what an older release of hesk_py had done)."""
    from alembic import command

    from hesk_py.services import schema
    from install.installer import make_engine

    engine = make_engine(settings.url())
    try:
        with engine.begin() as conn:
            cfg = schema.alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def first_revision_data_intact(settings: DatabaseSettings, data: dict) -> None:
    """Assert the data stored by build_first_revision reads back the same after an upgrade."""
    from install.installer import make_engine

    engine = make_engine(settings.url())
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT trackid, subject FROM hesk_tickets ORDER BY id")).all()
            assert [tuple(r) for r in rows] == list(zip(data["trackids"], data["subjects"]))
            assert conn.execute(text("SELECT message FROM hesk_replies")).scalar_one() == data["reply"]
            assert data["username"] in conn.execute(text("SELECT username FROM hesk_users")).scalars().all()
    finally:
        engine.dispose()


# --- driving the wizard over HTTP ----------------------------------------------------------------------

class Wizard:
    """A browser without a browser: werkzeug's client on ReloadingApp, as production serves it."""

    def __init__(self, folder: Path, **extra):
        self.folder = folder
        self.app = ReloadingApp(make_factory(folder, **extra))
        self.client = Client(self.app)
        self.last = None

    def get(self, path, **kw):
        self.last = self.client.get(path, **kw)
        return self.last

    def token(self, path) -> str:
        resp = self.get(path)
        assert resp.status_code == 200, f"GET {path} answered {resp.status_code}"
        return csrf_token_from(resp.get_data(as_text=True))

    def post(self, path, data, **kw):
        data = dict(data)
        if "csrf_token" not in data:
            data["csrf_token"] = self.token(path)
        self.last = self.client.post(path, data=data, **kw)
        return self.last

    # the steps, each expected to move on

    def welcome(self, button="install", language="en"):
        resp = self.post("/install/", {"language": language, button: "x"})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        return resp

    def server(self):
        resp = self.post("/install/server", {"proceed": "x"})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/install/database"), \
            resp.get_data(as_text=True)[:3000]
        return resp

    def database(self, settings: DatabaseSettings, *, expect=302, **override):
        fields = database_fields(settings)
        fields.update(override)
        resp = self.post("/install/database", {**fields, "proceed": "x"})
        assert resp.status_code == expect, resp.get_data(as_text=True)[:3000]
        return resp

    def helpdesk(self, *, expect=302, **override):
        fields = helpdesk_fields()
        fields.update(override)
        resp = self.post("/install/helpdesk", {**fields, "proceed": "x"})
        assert resp.status_code == expect, resp.get_data(as_text=True)[:3000]
        return resp

    def install(self) -> str:
        resp = self.post("/install/install", {"install": "x"})
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    def until_install(self, settings: DatabaseSettings, **helpdesk_override):
        self.welcome()
        self.server()
        self.database(settings)
        self.helpdesk(**helpdesk_override)
        return self


def database_fields(settings: DatabaseSettings) -> dict:
    if settings.kind == "sqlite":
        return {"kind": "sqlite", "sqlite_path": settings.sqlite_path}
    return {"kind": "mysql", "host": settings.host, "port": str(settings.port), "name": settings.name,
            "user": settings.user, "password": settings.password}


def helpdesk_fields(**override) -> dict:
    fields = {"title": "Acme Support", "url": "http://localhost/helpdesk", "language": "en",
              "timezone": "Europe/Riga", "admin_name": "Ada Admin", "admin_email": "ada@acme.example",
              "admin_username": "ada", "admin_password": ADMIN_PASSWORD, "admin_password2": ADMIN_PASSWORD}
    fields.update(override)
    return fields


def input_value(html: str, name: str) -> str | None:
    """The value attribute of the input named ``name`` (None when it has none)."""
    match = re.search(r'<input[^>]*\bname="%s"[^>]*>' % re.escape(name), html)
    assert match, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else None


@pytest.fixture
def wizard(instance):
    return Wizard(instance)

