"""Shared fixtures: the same suite runs on SQLite (default) and on MariaDB/MySQL.

Set HESK_TEST_DATABASE_URL to a server URL (``mysql+pymysql://root@127.0.0.1:3306/``) to run on MariaDB:
each test run creates its own database there and drops it at the end.

Fixtures: ``app``, ``client``, ``runner``, ``admin`` (an administrator), ``make_user``, ``login`` (through the
real login form), ``make_ticket`` (through the ticket service), ``smtp_server`` (aiosmtpd, really receiving
mail), ``live_server`` (waitress in a thread), ``count_queries``, ``other_app`` (a second app object on the same
database: another server process).
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from email import message_from_bytes, policy

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, delete, event, text
from sqlalchemy.engine import make_url

from hesk_py import create_app
from hesk_py.extensions import db

ADMIN_PASSWORD = "Adm1n-pass-word"
STAFF_PASSWORD = "Staff-pass-w0rd"


def _server_url() -> str | None:
    return os.environ.get("HESK_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A throw-away database for this test run."""
    server = _server_url()
    if not server:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"
        return
    name = f"hesk_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(server).set(database=name).set(query={"charset": "utf8mb4"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin_engine.dispose()


class _SharedBytecodeCache(BytecodeCache):
    """Every test builds its own app; compiled templates are shared between them (keyed by source checksum,
    so an edited template is compiled again)."""

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE_CACHE = _SharedBytecodeCache()


def make_test_app(database_url: str, instance_path, **extra):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "HESK_IGNORE_CONFIG_FILE": True,
        "HESK_CONFIG_FILE": str(instance_path / "config.ini"),
        "INSTANCE_PATH": str(instance_path),
        "HESK_ATTACHMENTS_DIR": str(instance_path / "attachments"),
        "HESK_SEND_MAIL_AFTER_REQUEST": False,
        "HESK_LOG_LEVEL": "WARNING",
        # scrypt at a low cost: the suite logs in hundreds of times (production keeps werkzeug's default)
        "HESK_PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    }
    config.update(extra)
    app = create_app(config)
    app.jinja_env.bytecode_cache = _BYTECODE_CACHE
    return app


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    """Run the real migrations once per test run."""
    app = make_test_app(database_url, tmp_path_factory.mktemp("schema"))
    with app.app_context():
        from hesk_py.services import schema

        schema.upgrade()
        db.engine.dispose()
    return True


def _empty_all_tables() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(delete(table))
    db.session.commit()


@pytest.fixture
def app_config():
    """Override in a test module to add config keys to the ``app`` fixture."""
    return {}


@pytest.fixture
def app(database_url, _schema, tmp_path, app_config):
    app = make_test_app(database_url, tmp_path, **app_config)
    with app.app_context():
        from hesk_py.services.defaults import seed_defaults

        _empty_all_tables()
        seed_defaults()
    yield app
    with app.app_context():
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def csrf():
    """``csrf(client, url)``: GET the page and return its form's CSRF token, as a browser would."""

    def get(client, url):
        resp = client.get(url)
        assert resp.status_code == 200, f"GET {url} answered {resp.status_code}"
        return csrf_token_from(resp.get_data(as_text=True))

    return get


@pytest.fixture
def make_user(app):
    from hesk_py.services import accounts

    def make(username="staff", *, password=STAFF_PASSWORD, is_admin=False, email=None, name=None, **kw):
        with app.app_context():
            user = accounts.create_user(
                username=username, email=email or f"{username}@example.com", name=name or username.title(),
                password=password, is_admin=is_admin, **kw,
            )
            return user.id

    return make


@pytest.fixture
def admin(make_user):
    """The id of an administrator called ``admin``."""
    return make_user("admin", password=ADMIN_PASSWORD, is_admin=True, name="Ada Admin")


@pytest.fixture
def login(client, csrf):
    """Log in through the real login form. ``login("admin")`` uses the admin password."""

    def do(username="admin", password=None):
        password = password or (ADMIN_PASSWORD if username == "admin" else STAFF_PASSWORD)
        token = csrf(client, "/admin/login")
        resp = client.post("/admin/login", data={"username": username, "password": password,
                                                  "csrf_token": token})
        assert resp.status_code == 302, f"login as {username} failed: {resp.status_code}"
        return resp

    return do


@pytest.fixture
def make_ticket(app):
    """Create a ticket through the ticket service (the one door). Returns the tracking ID."""
    from hesk_py.services import tickets

    counter = {"n": 0}

    def make(**kw):
        counter["n"] += 1
        data = {
            "name": "Casey Customer",
            "email": "casey@example.com",
            "subject": f"Printer on fire #{counter['n']}",
            "message": "It started smoking this morning.",
            "category_id": 1,
            "actor": tickets.Actor.customer("Casey Customer"),
        }
        data.update(kw)
        with app.app_context():
            return tickets.create_ticket(**data).trackid

    return make


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(
                ("SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA", "BEGIN", "COMMIT")):
            self.statements.append(statement)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as q: ...`` then ``q.count`` is the number of SQL statements run."""

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()
        engine = db.engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting


# --- a real SMTP server --------------------------------------------------------------------------

class _Inbox:
    def __init__(self):
        self.messages = []
        self.envelopes = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._cond:
            self.messages.append(msg)
            self.envelopes.append(envelope)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, n: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.messages)


@pytest.fixture
def smtp_server(app):
    """aiosmtpd on a free loopback port, with the help desk's SMTP settings pointing at it.
    ``smtp_server.stop()`` / ``.start()`` take the server down and bring it back on the same port."""
    from aiosmtpd.controller import Controller

    import socket

    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it can connect, so 0 will not do)
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    inbox.controller = None

    def start():
        inbox.controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
        inbox.controller.start()

    def stop():
        if inbox.controller is not None:
            inbox.controller.stop()
            inbox.controller = None

    inbox.start, inbox.stop = start, stop
    start()
    port = inbox.port
    with app.app_context():
        from hesk_py import settings

        settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": port, "smtp_enc": ""})
    yield inbox
    stop()


# --- the app served by waitress ------------------------------------------------------------------

class LiveServer:
    def __init__(self, wsgi_app):
        from waitress.server import create_server

        self.server = create_server(wsgi_app, host="127.0.0.1", port=0, threads=4, ident="hesk_py-test")
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def other_app(database_url, tmp_path):
    """``other_app(**config)``: a second app object on the same database, with caches of its own (another
    server process, hesk_py/shared_cache.py); disposed at the end."""
    made = []

    def make(**config):
        other = make_test_app(database_url, tmp_path / f"other{len(made)}", **config)
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
