"""The installer's steps as plain functions: the server check, the database check, the installation of a
new help desk, the upgrade of an existing database, and ``install_from_cli`` for ``hesk-py install``.

Nothing here reads the request, the session or flash: install/views.py (the web wizard) and the command
line call these functions and show what they return. Messages are translated with Flask-Babel, so they
are built while an app context is active.

The installation works on a plain SQLAlchemy engine built from the answers (the app is not configured
yet): it runs the Alembic migrations on it, then uses the services (defaults, settings, accounts) inside a
temporary app bound to that database, and writes the bootstrap config last. When a step fails, what the
installation created is removed again (the tables it made, or the SQLite file) and the error is returned.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata as metadata
import importlib.util
import logging
import os
import re
import secrets
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

from flask_babel import force_locale
from flask_babel import ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (Column, Index, Integer, MetaData, String, Table, Text, create_engine, inspect, select,
                        update)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from hesk_py import PROJECT_ROOT
from hesk_py import config as bootstrap
from install import state

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 11)
MIN_SQLITE = (3, 25)
MIN_MYSQL = (5, 7)
MIN_MARIADB = (10, 3)
DISK_FAIL_MB = 50
DISK_WARN_MB = 500
CONNECT_TIMEOUT = 5
SQLITE_FILE = "helpdesk.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
# Same rule as accounts.create_user, checked early so the form can say so beside the field.
USERNAME_RE = re.compile(r"^[\w.@+-]{1,50}$")

STEP_LABELS = {
    "database": _l("Checking the database"),
    "tables": _l("Creating the tables"),
    "migrations": _l("Applying the schema migrations"),
    "defaults": _l("Adding the General category, statuses and priorities"),
    "settings": _l("Saving the help desk settings"),
    "admin": _l("Creating the administrator account"),
    "attachments": _l("Preparing the attachments folder"),
    "config": _l("Writing the configuration file"),
    "restart": _l("Telling the web server to reload"),
    "rollback": _l("Removing what was created"),
}


# --- server check ------------------------------------------------------------------------------------

@dataclass
class CheckLine:
    """One line of the server check: ``status`` is ok, warn (works, but read this) or fail (blocks)."""

    key: str
    status: str
    label: str
    detail: str = ""
    fix: str = ""


def blocking(lines: list[CheckLine]) -> bool:
    return any(line.status == FAIL for line in lines)


def _try_write(folder: Path) -> None:
    """Create and delete a file in ``folder``: the only honest test (permissions, ACLs, read-only mounts,
    quotas). Raises OSError."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".hesk-write-test-"):
        pass


def _folder_line(key: str, label: str, path: Path) -> CheckLine:
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(str(path))
        _try_write(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return CheckLine(key, FAIL, label, _("%(path)s cannot be created or written (%(reason)s).",
                                             path=path, reason=reason),
                         _("Create the folder %(path)s and let the user the help desk runs as write to it "
                           "(in a file manager: permissions 755 and that user as owner; in a shell: "
                           "mkdir -p %(path)s, then chmod 755 %(path)s).", path=path))
    return CheckLine(key, OK, label, _("%(path)s is writable.", path=path))


def _python_line() -> CheckLine:
    version = ".".join(str(p) for p in sys.version_info[:3])
    label = _("Python version")
    if sys.version_info[:2] < MIN_PYTHON:
        return CheckLine("python", FAIL, label, _("Python %(v)s", v=version),
                         _("hesk_py needs Python %(min)s or newer. Choose a newer Python in your hosting "
                           "control panel (Setup Python App), or create the virtual environment with a "
                           "newer python3.", min="%d.%d" % MIN_PYTHON))
    return CheckLine("python", OK, label, _("Python %(v)s", v=version))


def _module_names(name: str, dist) -> tuple[str, ...]:
    """The top-level modules a distribution provides (its metadata does not always say)."""
    text = dist.read_text("top_level.txt")
    if text:
        return tuple(n for n in text.split() if n and not n.startswith("_"))
    guess = re.sub(r"[-.]", "_", name).lower()
    if importlib.util.find_spec(guess) is not None:
        return (guess,)
    names = set()
    for f in dist.files or ():
        parts = f.parts
        if len(parts) == 2 and parts[1] == "__init__.py" and not parts[0].endswith((".dist-info", ".data")):
            names.add(parts[0])
        elif len(parts) == 1 and f.suffix == ".py":
            names.add(f.stem)
    return tuple(sorted(names))


@functools.lru_cache(maxsize=1)
def _required() -> tuple:
    """hesk_py's own requirements (from its installed metadata), without the test-only extras."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for raw in metadata.requires("hesk_py") or []:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req)
    return tuple(out)


# name -> (version, modules) of the packages found. Reading a package's metadata parses its whole
# METADATA file, so what was found is remembered for the process (a package upgraded under a running
# process is not loaded before a restart anyway); what is missing is looked for again at every check.
_found: dict[str, tuple[str, tuple[str, ...]]] = {}


def _installed(name: str) -> tuple[str, tuple[str, ...]] | None:
    if name in _found:
        return _found[name]
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    info = (dist.version, _module_names(name, dist))
    _found[name] = info
    return info


_warm_started = False


def warm_up() -> None:
    """Import the required packages in the background while the Welcome page is read, so the server
    check (which imports each one to prove it loads) answers at once. Once per process."""
    global _warm_started
    if _warm_started:
        return
    _warm_started = True

    def work():
        with contextlib.suppress(Exception):
            for req in _required():
                with contextlib.suppress(Exception):
                    for module in (_installed(req.name) or ("", ()))[1]:
                        importlib.import_module(module)

    import threading

    threading.Thread(target=work, name="hesk-installer-warm-up", daemon=True).start()


def _package_lines() -> list[CheckLine]:
    try:
        requires = _required()
    except metadata.PackageNotFoundError:
        return [CheckLine("packages", FAIL, _("Python packages"), _("hesk_py itself is not installed."),
                          _("In the application folder, run: pip install -r requirements.txt"))]
    lines = []
    for req in requires:
        label = _("Package %(name)s", name=req.name)
        key = "package:" + req.name.lower()
        fix = _("In the application's virtual environment, run: pip install -r requirements.txt")
        found = _installed(req.name)
        if found is None:
            lines.append(CheckLine(key, FAIL, label, _("not installed (needs %(spec)s)", spec=str(req.specifier)),
                                   fix))
            continue
        version, modules = found
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            lines.append(CheckLine(key, FAIL, label,
                                   _("version %(v)s installed, %(spec)s needed", v=version,
                                     spec=str(req.specifier)), fix))
            continue
        try:
            for module in modules:
                importlib.import_module(module)
        except Exception as exc:  # a broken package can raise anything while importing
            lines.append(CheckLine(key, FAIL, label,
                                   _("version %(v)s cannot be imported: %(error)s", v=version,
                                     error=type(exc).__name__), fix))
            continue
        lines.append(CheckLine(key, OK, label, _("version %(v)s", v=version)))
    return lines


def _scrypt_line() -> CheckLine:
    label = _("Password hashing (scrypt)")
    try:
        hashlib.scrypt(b"hesk", salt=b"check", n=2, r=1, p=1, dklen=16)
    except (AttributeError, ValueError):
        return CheckLine("scrypt", FAIL, label, _("not available"),
                         _("Python's hashlib has no scrypt: use a Python built with OpenSSL 1.1 or newer."))
    return CheckLine("scrypt", OK, label, _("available"))


def _sqlite_line() -> CheckLine:
    label = _("SQLite")
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        return CheckLine("sqlite", WARN, label, _("version %(v)s is too old", v=sqlite3.sqlite_version),
                         _("SQLite %(min)s or newer is needed for the SQLite option; use MySQL or MariaDB, "
                           "or a newer Python.", min="%d.%d" % MIN_SQLITE))
    return CheckLine("sqlite", OK, label, _("version %(v)s", v=sqlite3.sqlite_version))


def _pymysql_line() -> CheckLine:
    label = _("MySQL/MariaDB driver (PyMySQL)")
    try:
        import pymysql  # noqa: F401
    except ImportError:
        return CheckLine("pymysql", WARN, label, _("not installed"),
                         _("Only SQLite can be used. For MySQL or MariaDB run: pip install \"PyMySQL[rsa]\""))
    found = _installed("PyMySQL")
    return CheckLine("pymysql", OK, label, _("version %(v)s", v=found[0] if found else "?"))


def _disk_line(path: Path) -> CheckLine:
    label = _("Free disk space")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
    except OSError as exc:
        return CheckLine("disk", WARN, label, _("unknown (%(reason)s)", reason=exc.strerror or exc),
                         _("Make sure the disk has a few hundred megabytes free for the database and "
                           "attachments."))
    detail = _("%(mb)s MB free", mb=f"{free_mb:,}")
    if free_mb < DISK_FAIL_MB:
        return CheckLine("disk", FAIL, label, detail,
                         _("At least %(mb)s MB are needed. Free some space or ask your host for more.",
                           mb=DISK_FAIL_MB))
    if free_mb < DISK_WARN_MB:
        return CheckLine("disk", WARN, label, detail,
                         _("Attachments and the database will fill this quickly; plan for more space."))
    return CheckLine("disk", OK, label, detail)


def server_check(*, instance_path: str | Path, attachments_dir: str | Path, config_file: str | Path
                 ) -> list[CheckLine]:
    """Everything the help desk needs from this server, one line each, with the fix in plain words."""
    instance_path, attachments_dir, config_file = Path(instance_path), Path(attachments_dir), Path(config_file)
    lines = [_python_line()]
    lines += _package_lines()
    lines.append(_folder_line("instance", _("Instance folder (database file, settings)"), instance_path))
    lines.append(_folder_line("attachments", _("Attachments folder"), attachments_dir))
    config_line = _folder_line("config", _("Configuration file location"), config_file.parent)
    if config_line.status == OK:
        config_line.detail = _("%(path)s can be written.", path=config_file)
        if config_file.exists():
            config_line.status = WARN
            config_line.detail = _("%(path)s exists but names no database.", path=config_file)
            config_line.fix = _("The installer will replace it with a complete one.")
    lines.append(config_line)
    lines.append(_scrypt_line())
    sqlite_line, pymysql_line = _sqlite_line(), _pymysql_line()
    lines += [sqlite_line, pymysql_line]
    if sqlite_line.status != OK and pymysql_line.status != OK:
        lines.append(CheckLine("drivers", FAIL, _("Database"), _("neither SQLite nor PyMySQL can be used"),
                               _("Install PyMySQL (pip install \"PyMySQL[rsa]\") to use MySQL or MariaDB.")))
    lines.append(_disk_line(instance_path))
    return lines


# --- the database --------------------------------------------------------------------------------------

@dataclass
class DatabaseSettings:
    """The database answers: SQLite (a file) or MySQL/MariaDB (host, port, name, user, password)."""

    kind: str = "sqlite"
    sqlite_path: str = ""
    host: str = "localhost"
    port: int = 3306
    name: str = ""
    user: str = ""
    password: str = field(default="", repr=False)

    def url(self) -> URL:
        if self.kind == "sqlite":
            return URL.create("sqlite", database=str(self.sqlite_path))
        return URL.create("mysql+pymysql", username=self.user, password=self.password or None,
                          host=self.host, port=int(self.port), database=self.name,
                          query={"charset": "utf8mb4"})

    def url_string(self) -> str:
        return self.url().render_as_string(hide_password=False)

    def describe(self) -> str:
        """For people: never shows the password."""
        if self.kind == "sqlite":
            return _("SQLite file %(path)s", path=self.sqlite_path)
        return _("MySQL/MariaDB database %(name)s on %(host)s:%(port)s as %(user)s",
                 name=self.name, host=self.host, port=self.port, user=self.user)

    @classmethod
    def from_url(cls, raw: str, *, base: Path | None = None) -> "DatabaseSettings":
        """From a URL given on the command line. Relative SQLite paths are taken from ``base`` (or the
        current folder). Raises ValueError with a message for people."""
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ValueError(_("%(url)s is not a database URL (sqlite:///path/helpdesk.db or "
                               "mysql+pymysql://user:password@host:3306/name).", url=raw)) from None
        backend = url.get_backend_name()
        if backend == "sqlite":
            if not url.database or url.database == ":memory:":
                raise ValueError(_("Give the SQLite file, like sqlite:///instance/helpdesk.db."))
            path = Path(url.database).expanduser()
            if not path.is_absolute():
                path = (base or Path.cwd()) / path
            return cls(kind="sqlite", sqlite_path=str(path.resolve()))
        if backend == "mysql":
            # whatever driver the URL names, hesk_py connects with PyMySQL
            if not url.database or not url.username:
                raise ValueError(_("The MySQL URL needs a user and a database name: "
                                   "mysql+pymysql://user:password@host:3306/name"))
            return cls(kind="mysql", host=url.host or "localhost", port=url.port or 3306, name=url.database,
                       user=url.username, password=url.password or "")
        raise ValueError(_("Only SQLite and MySQL/MariaDB are supported."))


class DatabaseProblem(Exception):
    """The database cannot be used; ``field`` names the form field the message belongs to (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class ExistingSchema:
    """A hesk_py help desk already in the database, at ``revision``."""

    revision: str
    head: str
    pending: list[tuple[str, str]]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


@dataclass
class DatabaseReport:
    server: str
    existing: ExistingSchema | None = None
    warnings: list[str] = field(default_factory=list)


def make_engine(url: URL | str):
    """A plain engine for the installer: no pool, a short connect timeout."""
    url = make_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "mysql":
        return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    return create_engine(url, poolclass=NullPool)


def _our_tables() -> set[str]:
    from hesk_py import models  # noqa: F401  (registers every table on the metadata)
    from hesk_py.extensions import db

    return set(db.metadata.tables)


def schema_state(conn) -> ExistingSchema | None:
    """The hesk_py schema in this database, None when it holds none. Raises DatabaseProblem for tables
    hesk_py cannot safely use (a half-finished install, a newer version)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    from hesk_py.services import schema

    names = set(inspect(conn).get_table_names())
    ours = names & _our_tables()
    revision = MigrationContext.configure(conn).get_current_revision() if "alembic_version" in names else None
    if revision is None:
        if ours:
            raise DatabaseProblem(_("This database holds hesk_py tables (%(tables)s) but no version stamp: an "
                                    "earlier installation probably stopped halfway. Empty the database, or "
                                    "choose another one.", tables=", ".join(sorted(ours)[:3]) + ", ..."), "name")
        return None
    script = schema.script()
    try:
        script.get_revision(revision)
        revs = list(script.iterate_revisions("heads", revision))
    except (CommandError, KeyError):
        revs = None
    if revs is None:
        raise DatabaseProblem(_("This database was set up by a newer version of hesk_py (schema revision "
                                "%(rev)s). Upload that version or a newer one, or choose another database.",
                                rev=revision), "name")
    revs.reverse()
    return ExistingSchema(revision, script.get_current_head(),
                          [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "") for r in revs])


def _mysql_problem(exc: DBAPIError, s: DatabaseSettings) -> DatabaseProblem:
    """Turn a driver error into a message that says what to change."""
    args = getattr(exc.orig, "args", ()) or ()
    code = args[0] if args and isinstance(args[0], int) else None
    said = str(args[1]) if len(args) > 1 else str(exc.orig)
    if code == 2003:
        if any(s_ in said for s_ in ("Name or service not known", "nodename nor servname", "getaddrinfo",
                                     "No address associated", "Temporary failure in name resolution")):
            return DatabaseProblem(_("The host name %(host)s is unknown. Check it for typos; your hosting "
                                     "control panel shows the database host (often localhost).", host=s.host),
                                   "host")
        if "timed out" in said:
            return DatabaseProblem(_("The database server at %(host)s:%(port)s did not answer within %(n)s "
                                     "seconds. Check the host and port, and that a firewall lets this server "
                                     "connect.", host=s.host, port=s.port, n=CONNECT_TIMEOUT), "host")
        return DatabaseProblem(_("Cannot reach a database server at %(host)s:%(port)s. Check the host name and "
                                 "port (often localhost and 3306) and that the database server is running.",
                                 host=s.host, port=s.port), "host")
    if code == 1045:
        return DatabaseProblem(_("The database server refused the user %(user)s with this password. Check the "
                                 "user name and the password (both are case sensitive).", user=s.user),
                               "password")
    if code == 1049:
        return DatabaseProblem(_("The database %(name)s does not exist on this server. Create it first (in your "
                                 "hosting control panel, or with: CREATE DATABASE `%(name)s` CHARACTER SET "
                                 "utf8mb4 COLLATE utf8mb4_unicode_ci;), then try again.", name=s.name), "name")
    if code == 1044:
        return DatabaseProblem(_("The user %(user)s may not use the database %(name)s. Give this user all "
                                 "privileges on the database in your hosting control panel.",
                                 user=s.user, name=s.name), "name")
    if code == 1130:
        return DatabaseProblem(_("The database server does not accept the user %(user)s from this computer. "
                                 "Allow the user to connect from this host, or use localhost.", user=s.user),
                               "host")
    if code in (1251, 2059) or "cryptography" in said:
        return DatabaseProblem(_("The server asks for a login method PyMySQL cannot use here (%(said)s). "
                                 "Run: pip install \"PyMySQL[rsa]\"", said=said), "user")
    return DatabaseProblem(_("The database server said: %(said)s", said=f"{code} {said}" if code else said))


def _version_tuple(text: str) -> tuple[int, ...]:
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


# The privilege test, in the order a migration needs them. Each step names the privilege it needs.
_PROBE_TEXT = "hesk ✓ Київ 😀"


def _privilege_test(conn, s: DatabaseSettings) -> list[str]:
    """Create, fill, change, index and drop a scratch table. Raises DatabaseProblem naming the first
    privilege that is missing. Returns warnings."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    warnings: list[str] = []
    name = f"hesk_install_check_{secrets.token_hex(4)}"
    meta = MetaData()
    table = Table(name, meta,
                  Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("word", String(100), nullable=False),
                  Column("body", Text, nullable=True),
                  mysql_engine="InnoDB", mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci")
    ops = Operations(MigrationContext.configure(conn))

    def step(privilege, action):
        try:
            return action()
        except DBAPIError as exc:
            args = getattr(exc.orig, "args", ()) or ()
            code = args[0] if args and isinstance(args[0], int) else None
            said = str(args[1]) if len(args) > 1 else str(exc.orig)
            if code in (1142, 1044, 1227, 1045, 1143):
                raise DatabaseProblem(_(
                    "The database user %(user)s lacks the %(privilege)s privilege on the database %(name)s "
                    "(the server said: %(said)s). Give the user ALL PRIVILEGES on this database in your "
                    "hosting control panel, or run as a database administrator: GRANT ALL PRIVILEGES ON "
                    "`%(name)s`.* TO '%(user)s'@'%(host)s';",
                    user=s.user, privilege=privilege, name=s.name, said=said,
                    host="localhost" if s.host in ("localhost", "127.0.0.1") else "%"), "user") from None
            raise DatabaseProblem(_("The database refused a %(privilege)s test (%(said)s).",
                                    privilege=privilege, said=f"{code} {said}" if code else said)) from None

    created = False
    try:
        step("CREATE", lambda: table.create(conn))
        created = True
        step("INSERT", lambda: conn.execute(table.insert().values(word=_PROBE_TEXT, body="probe")))
        word = step("SELECT", lambda: conn.execute(select(table.c.word)).scalar_one())
        if word != _PROBE_TEXT:
            raise DatabaseProblem(_("The database changed the text it stored (emoji and other 4-byte "
                                    "characters were lost). Use a database with the utf8mb4 character set."),
                                  "name")
        step("UPDATE", lambda: conn.execute(update(table).values(body="changed")))
        step("DELETE", lambda: conn.execute(table.delete()))
        step("ALTER", lambda: ops.add_column(name, Column("extra", Integer, nullable=True)))
        step("INDEX", lambda: Index(f"ix_{name}_word", table.c.word).create(conn))
        # full-text indexes serve the knowledgebase search
        step("INDEX", lambda: Index(f"ft_{name}_body", table.c.body, mysql_prefix="FULLTEXT").create(conn))
        step("DROP", lambda: table.drop(conn))
        created = False
    finally:
        if created:
            try:
                table.drop(conn, checkfirst=True)
            except SQLAlchemyError:
                warnings.append(_("The test table %(table)s could not be removed; delete it by hand.",
                                  table=name))
    return warnings


def _check_mysql(s: DatabaseSettings) -> DatabaseReport:
    for key, value in (("host", s.host), ("name", s.name), ("user", s.user)):
        if not str(value or "").strip():
            raise DatabaseProblem(_("This field is required."), key)
    try:
        import pymysql  # noqa: F401
    except ImportError:
        raise DatabaseProblem(_("PyMySQL is not installed: run pip install \"PyMySQL[rsa]\", or use SQLite."),
                              "kind") from None
    engine = make_engine(s.url())
    try:
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise _mysql_problem(exc, s) from None
        with conn:
            version_text = str(conn.exec_driver_sql("SELECT VERSION()").scalar() or "")
            is_mariadb = "mariadb" in version_text.lower()
            version = _version_tuple(version_text)
            product = "MariaDB" if is_mariadb else "MySQL"
            minimum = MIN_MARIADB if is_mariadb else MIN_MYSQL
            server = f"{product} {'.'.join(str(p) for p in version)}"
            if version < minimum:
                raise DatabaseProblem(_("%(server)s is too old: hesk_py needs MySQL %(mysql)s or newer, or "
                                        "MariaDB %(mariadb)s or newer. Ask your host for a newer server.",
                                        server=server, mysql="%d.%d" % MIN_MYSQL,
                                        mariadb="%d.%d" % MIN_MARIADB), "host")
            if not conn.exec_driver_sql("SHOW CHARACTER SET LIKE 'utf8mb4'").first():
                raise DatabaseProblem(_("This server does not support the utf8mb4 character set, which hesk_py "
                                        "needs for every language and emoji."), "host")
            warnings = []
            charset = conn.exec_driver_sql("SELECT @@character_set_database").scalar()
            if charset and charset != "utf8mb4":
                warnings.append(_("The database's default character set is %(charset)s. hesk_py creates its "
                                  "own tables with utf8mb4 anyway.", charset=charset))
            existing = schema_state(conn)
            # an upgrade needs the same privileges as an installation (its migrations alter tables)
            warnings += _privilege_test(conn, s)
            conn.commit()
        return DatabaseReport(server=server, existing=existing, warnings=warnings)
    except DBAPIError as exc:
        raise _mysql_problem(exc, s) from None
    finally:
        engine.dispose()


def _check_sqlite(s: DatabaseSettings) -> DatabaseReport:
    raw = str(s.sqlite_path or "").strip()
    if not raw:
        raise DatabaseProblem(_("This field is required."), "sqlite_path")
    path = Path(raw)
    if not path.is_absolute():
        raise DatabaseProblem(_("Give the full path of the database file, like %(example)s.",
                                example=Path("/var/www/helpdesk/instance") / SQLITE_FILE), "sqlite_path")
    if path.is_dir():
        raise DatabaseProblem(_("%(path)s is a folder. Give a file name, like %(example)s.",
                                path=path, example=path / SQLITE_FILE), "sqlite_path")
    # Only database-like names: whoever reaches an uninstalled installer must not be able to write a file
    # like shell.php (SQLite stores the typed text verbatim) where a web server would run it.
    if path.suffix.lower() not in SQLITE_SUFFIXES:
        raise DatabaseProblem(_("Give the file a name ending in %(suffixes)s, like %(example)s.",
                                suffixes=", ".join(SQLITE_SUFFIXES), example=path.with_name(SQLITE_FILE)),
                              "sqlite_path")
    if path.resolve().is_relative_to(PROJECT_ROOT / "static"):
        raise DatabaseProblem(_("The static folder is public: keep the database file out of it."), "sqlite_path")
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise DatabaseProblem(_("SQLite %(v)s is too old (%(min)s or newer is needed). Use MySQL or MariaDB.",
                                v=sqlite3.sqlite_version, min="%d.%d" % MIN_SQLITE), "kind")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _try_write(folder)
    except OSError as exc:
        raise DatabaseProblem(_("The folder %(folder)s cannot be written (%(reason)s), so the database file "
                                "cannot be created there. Make the folder writable by the user the help desk "
                                "runs as, or choose another place.",
                                folder=folder, reason=exc.strerror or type(exc).__name__), "sqlite_path") from None
    report = DatabaseReport(server=f"SQLite {sqlite3.sqlite_version}")
    if path.exists() and path.stat().st_size > 0:
        if not os.access(path, os.R_OK | os.W_OK):
            raise DatabaseProblem(_("%(path)s exists but cannot be read and written by the help desk.",
                                    path=path), "sqlite_path")
        engine = make_engine(s.url())
        try:
            with engine.connect() as conn:
                try:
                    report.existing = schema_state(conn)
                except DatabaseProblem as exc:
                    raise DatabaseProblem(exc.message, "sqlite_path") from None
                if report.existing is None and inspect(conn).get_table_names():
                    raise DatabaseProblem(_("%(path)s already holds other tables. hesk_py never writes into "
                                            "someone else's data: choose another file name.", path=path),
                                          "sqlite_path")
        except DBAPIError:
            raise DatabaseProblem(_("%(path)s exists and is not a SQLite database. Choose another file name.",
                                    path=path), "sqlite_path") from None
        finally:
            engine.dispose()
    return report


def check_database(s: DatabaseSettings) -> DatabaseReport:
    """Connect, check the version and character set, look for an existing help desk, and (for an empty
    MySQL/MariaDB database) test every privilege the migrations need. Raises DatabaseProblem."""
    if s.kind == "mysql":
        return _check_mysql(s)
    if s.kind == "sqlite":
        return _check_sqlite(s)
    raise DatabaseProblem(_("Choose SQLite or MySQL/MariaDB."), "kind")


def default_sqlite_path(instance_path: str | Path) -> Path:
    return Path(instance_path).resolve() / SQLITE_FILE


def find_existing(instance_path: str | Path) -> ExistingSchema | None:
    """A help desk in the default SQLite file (the Welcome page offers "Upgrade" when there is one)."""
    path = default_sqlite_path(instance_path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    engine = make_engine(DatabaseSettings(kind="sqlite", sqlite_path=str(path)).url())
    try:
        with engine.connect() as conn:
            return schema_state(conn)
    except (SQLAlchemyError, DatabaseProblem):
        return None
    finally:
        engine.dispose()


def upgrade_pending(s: DatabaseSettings) -> ExistingSchema | None:
    """The existing schema with its pending migrations (for the installer's Upgrade page)."""
    engine = make_engine(s.url())
    try:
        with engine.connect() as conn:
            return schema_state(conn)
    finally:
        engine.dispose()


# --- the help desk answers -----------------------------------------------------------------------------

def noreply_address(admin_email: str) -> str:
    domain = admin_email.rsplit("@", 1)[-1].strip() if "@" in admin_email else ""
    return f"noreply@{domain}" if domain else "noreply@example.com"


def helpdesk_problems(*, title: str, url: str, language: str, timezone: str, admin_name: str,
                      admin_email: str, admin_username: str, admin_password: str | None = None,
                      admin_password2: str | None = None) -> dict[str, str]:
    """What is wrong with the help desk and administrator answers, by field (the same rules as the
    settings pages and accounts.create_user). ``admin_password`` None: not being changed."""
    from hesk_py import settings
    from hesk_py.services import accounts

    errors: dict[str, str] = {}
    to_field = {"hesk_title": "title", "hesk_url": "url", "language": "language", "timezone": "timezone",
                "webmaster_mail": "admin_email", "noreply_mail": "admin_email"}
    try:
        settings.validate({"hesk_title": title, "hesk_url": url, "language": language, "timezone": timezone,
                           "webmaster_mail": admin_email, "noreply_mail": noreply_address(admin_email)})
    except settings.SettingsError as exc:
        for key, message in exc.errors.items():
            errors.setdefault(to_field.get(key, key), str(message))
    if not admin_name.strip():
        errors["admin_name"] = _("Enter a name.")
    if not USERNAME_RE.match(admin_username.strip()):
        errors["admin_username"] = _("Use 1 to 50 letters, digits and . @ + - _")
    if admin_password is not None:
        problem = accounts.password_problem(admin_password, username=admin_username.strip(),
                                            email=admin_email.strip())
        if problem:
            errors["admin_password"] = problem
        elif admin_password2 is not None and admin_password2 != admin_password:
            errors["admin_password2"] = _("The two passwords do not match.")
    return errors


def spam_question(rng: secrets.SystemRandom | None = None) -> tuple[str, str]:
    """A random anti-spam question and its answer, like HESK's installer makes one per help desk (so a
    robot cannot learn one answer for every installation). Call it under the help desk's language."""
    rng = rng or secrets.SystemRandom()
    kind = rng.randrange(7)
    if kind == 0:
        n = rng.randint(1, 20)
        return _("What is the next number after %(n)s?", n=n), str(n + 1)
    if kind == 1:
        thing, colour = rng.choice([(_("snow"), _("white")), (_("grass"), _("green")),
                                    (_("a clear sky"), _("blue"))])
        return _("What colour is %(thing)s?", thing=thing), colour
    if kind == 2:
        code = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _i in range(5))
        return _("Type <i>%(code)s</i> here to fight SPAM:", code=code), code
    if kind == 3:
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        return _("What is %(a)s plus %(b)s?", a=a, b=b), str(a + b)
    if kind == 4:
        animal = rng.choice([_("dog"), _("cat"), _("horse"), _("cow")])
        things = [animal, rng.choice([_("chair"), _("table")]), rng.choice([_("book"), _("spoon")])]
        rng.shuffle(things)
        return _("Which of these is an animal: %(things)s?", things=", ".join(things)), animal
    if kind == 5:
        a, b = rng.sample(range(1, 100), 2)
        return _("Which number is higher, %(a)s or %(b)s?", a=a, b=b), str(max(a, b))
    return _("Are you a robot? Answer yes or no."), _("no")


def signal_restart(project_root: str | Path = PROJECT_ROOT) -> bool:
    """Passenger restarts the app when tmp/restart.txt changes; touch it when that folder exists."""
    folder = Path(project_root) / "tmp"
    if not folder.is_dir():
        return False
    (folder / "restart.txt").touch()
    return True


def command_path() -> str:
    """How cron and the mail server start ``hesk-py`` for this installation."""
    exe = Path(sys.prefix) / "bin" / "hesk-py"
    if exe.exists():
        return shlex.quote(str(exe))
    return f"{shlex.quote(sys.executable)} -m hesk_py"


def _config_env(config_file: str | Path) -> str:
    default = bootstrap.default_instance_path() / "config.ini"
    if Path(config_file).resolve() == default.resolve():
        return ""
    return f"HESK_PY_CONFIG={shlex.quote(str(Path(config_file).resolve()))} "


def cron_line(config_file: str | Path) -> str:
    """The crontab line that runs the background jobs every 5 minutes."""
    return f"*/5 * * * * {_config_env(config_file)}{command_path()} cron"


def pipe_command(config_file: str | Path) -> str:
    """The program the mail server pipes incoming email to."""
    return f"{_config_env(config_file)}{command_path()} pipe"


def pipe_available() -> bool:
    """Whether ``hesk-py pipe`` files email in this version (the Finish page offers piping only then)."""
    from hesk_py import cli

    return cli.PIPE_AVAILABLE


# --- installing ----------------------------------------------------------------------------------------

@dataclass
class InstallPlan:
    """Everything an installation needs. The web wizard and ``hesk-py install`` both build one."""

    database: DatabaseSettings
    config_file: Path
    instance_path: Path
    attachments_dir: Path
    title: str = "Help Desk"
    url: str = "http://localhost:8080"
    language: str = "en"
    timezone: str = "UTC"
    admin_name: str = ""
    admin_email: str = ""
    admin_username: str = ""
    # The password (command line) or its scrypt hash (the web wizard never keeps the password).
    admin_password: str | None = field(default=None, repr=False)
    admin_password_hash: str | None = field(default=None, repr=False)
    secret_key: str = field(default_factory=bootstrap.new_secret_key, repr=False)
    secure_cookies: bool = False
    # When set, the Finish page may log the new administrator in once (hesk_py/services/first_login.py).
    first_login_token: str | None = field(default=None, repr=False)
    project_root: Path = PROJECT_ROOT
    # Config for the temporary app the services run in (logging like the running app).
    app_config: dict = field(default_factory=dict)


@dataclass
class Event:
    """Progress: a step ``start``s, then is ``done``, ``skipped`` or ``failed`` (with a message)."""

    step: str
    status: str
    message: str = ""
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return str(STEP_LABELS.get(self.step, self.step))


class StepFailed(Exception):
    pass


class Installation:
    """One run of the installer. Iterate ``run()`` to the end (it yields progress), then read ``ok``,
    ``error`` and ``admin_id``. ``upgrade=True`` connects to an existing help desk instead: it applies the
    pending migrations and writes the config, and never creates an administrator."""

    INSTALL_STEPS = ("database", "tables", "defaults", "settings", "admin", "attachments", "config", "restart")
    UPGRADE_STEPS = ("database", "migrations", "attachments", "config", "restart")

    def __init__(self, plan: InstallPlan, *, upgrade: bool = False):
        self.plan = plan
        self.upgrade = upgrade
        self.ok = False
        self.error: str | None = None
        self.failed_step: str | None = None
        self.admin_id: int | None = None
        self.report: DatabaseReport | None = None
        self.revision: str | None = None
        self._app = None
        self._file_existed = True
        self._tables_before: set[str] = set()
        self._granted = False
        self._changed = False

    @property
    def steps(self) -> tuple[str, ...]:
        return self.UPGRADE_STEPS if self.upgrade else self.INSTALL_STEPS

    # The steps ------------------------------------------------------------------------------------

    def _step_database(self) -> str:
        s = self.plan.database
        if s.kind == "sqlite":
            path = Path(s.sqlite_path)
            self._file_existed = path.exists()
        try:
            self.report = check_database(s)
        except DatabaseProblem as exc:
            raise StepFailed(exc.message) from None
        if self.upgrade and self.report.existing is None:
            raise StepFailed(_("This database holds no hesk_py help desk to upgrade."))
        if not self.upgrade and self.report.existing is not None:
            raise StepFailed(_("This database already holds a hesk_py help desk. hesk_py never overwrites "
                               "one: upgrade it instead, or choose another database."))
        if s.kind == "mysql":
            engine = make_engine(s.url())
            try:
                with engine.connect() as conn:
                    self._tables_before = set(inspect(conn).get_table_names())
            finally:
                engine.dispose()
        return self.report.server

    def _migrate(self) -> str:
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        from hesk_py.services import schema

        engine = make_engine(self.plan.database.url())
        try:
            with engine.begin() as conn:
                cfg = schema.alembic_config()
                cfg.attributes["connection"] = conn
                self._changed = True
                command.upgrade(cfg, "head")
            with engine.connect() as conn:
                self.revision = MigrationContext.configure(conn).get_current_revision()
        finally:
            engine.dispose()
        return _("schema revision %(rev)s", rev=self.revision)

    def _step_tables(self) -> str:
        return self._migrate()

    def _step_migrations(self) -> str | None:
        existing = self.report.existing if self.report else None
        if existing is not None and existing.up_to_date:
            self.revision = existing.revision
            return None
        before = existing.revision if existing else "?"
        self._migrate()
        return _("from revision %(a)s to %(b)s", a=before, b=self.revision)

    @contextlib.contextmanager
    def _services(self):
        """An app context of a temporary app bound to the new database, for the services."""
        if self._app is None:
            from hesk_py import create_app

            cfg = {
                "SQLALCHEMY_DATABASE_URI": self.plan.database.url_string(),
                "SECRET_KEY": self.plan.secret_key,  # settings secrets and MFA keys derive from it
                "INSTANCE_PATH": str(self.plan.instance_path),
                "HESK_CONFIG_FILE": str(self.plan.config_file),
                "HESK_IGNORE_CONFIG_FILE": True,
                "HESK_ATTACHMENTS_DIR": str(self.plan.attachments_dir),
                "HESK_SEND_MAIL_AFTER_REQUEST": False,
            }
            cfg.update(self.plan.app_config)
            self._app = create_app(cfg)
        with self._app.app_context():
            yield

    def _step_defaults(self) -> str:
        from hesk_py.services.defaults import seed_defaults

        with self._services():
            seed_defaults()
        return ""

    def _step_settings(self) -> str:
        from hesk_py import settings

        p = self.plan
        origin = urlsplit(p.url)
        with self._services():
            with force_locale(p.language):
                ask, answer = spam_question()
                site_title = str(_("Website"))  # the main website's name until the admin sets it
            try:
                settings.save({
                    "hesk_title": p.title,
                    "site_title": site_title,
                    "hesk_url": p.url,
                    "site_url": f"{origin.scheme}://{origin.netloc}",
                    "language": p.language,
                    "timezone": p.timezone,
                    "webmaster_mail": p.admin_email,
                    "noreply_mail": noreply_address(p.admin_email),
                    "noreply_name": p.title,
                    "question_ask": ask,
                    "question_ans": answer,
                })
            except settings.SettingsError as exc:
                raise StepFailed("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
        return ""

    def _step_admin(self) -> str:
        from hesk_py.extensions import db
        from hesk_py.services import accounts

        p = self.plan
        with self._services():
            # The wizard only kept the password's hash: create the account with a throw-away password
            # and put the real hash in before anything is committed.
            password = p.admin_password if p.admin_password is not None else secrets.token_urlsafe(24) + "a1"
            try:
                user = accounts.create_user(username=p.admin_username, email=p.admin_email, name=p.admin_name,
                                            password=password, is_admin=True, language=p.language,
                                            commit=False)
            except accounts.AccountError as exc:
                db.session.rollback()
                raise StepFailed("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
            if p.admin_password is None:
                if not p.admin_password_hash:
                    db.session.rollback()
                    raise StepFailed(_("The administrator's password is missing."))
                user.password_hash = p.admin_password_hash
            db.session.commit()
            self.admin_id = user.id
        return p.admin_username

    def _step_attachments(self) -> str:
        folder = self.plan.attachments_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _try_write(folder)
        except OSError as exc:
            raise StepFailed(_("%(path)s cannot be created or written (%(reason)s).", path=folder,
                               reason=exc.strerror or type(exc).__name__)) from None
        return str(folder)

    def _step_config(self) -> str:
        from hesk_py.services import first_login

        p = self.plan
        values: dict[tuple[str, str], object] = {
            ("database", "url"): p.database.url_string(),
            ("security", "secret_key"): p.secret_key,
            ("security", "secure_cookies"): p.secure_cookies,
        }
        default_attachments = Path(bootstrap.defaults(p.instance_path)["HESK_ATTACHMENTS_DIR"])
        if p.attachments_dir.resolve() != default_attachments.resolve():
            values[("paths", "attachments")] = str(p.attachments_dir)
        try:
            if p.first_login_token and self.admin_id:
                first_login.grant(p.config_file, self.admin_id, p.first_login_token)
                self._granted = True
            bootstrap.write_file(p.config_file, values)
        except OSError as exc:
            raise StepFailed(_("%(path)s cannot be written (%(reason)s). Make its folder writable by the user "
                               "the help desk runs as.", path=p.config_file,
                               reason=exc.strerror or type(exc).__name__)) from None
        return str(p.config_file)

    def _step_restart(self) -> str | None:
        try:
            return str(Path(self.plan.project_root) / "tmp" / "restart.txt") if signal_restart(
                self.plan.project_root) else None
        except OSError as exc:
            # the help desk is installed; the app reloads on its own (hesk_py.wsgi), so only say so
            log.warning("could not touch tmp/restart.txt: %s", exc)
            return None

    # Running, and undoing -------------------------------------------------------------------------

    def _explain(self, exc: Exception) -> str:
        if isinstance(exc, StepFailed):
            return str(exc)
        if isinstance(exc, DBAPIError):
            orig = getattr(exc, "orig", None)
            args = getattr(orig, "args", ()) or ()
            said = " ".join(str(a) for a in args) if args else str(orig or exc)
            return _("The database said: %(said)s", said=said)
        if isinstance(exc, OSError):
            return _("%(path)s: %(reason)s", path=exc.filename or "", reason=exc.strerror or exc)
        return _("Unexpected error: %(name)s: %(error)s", name=type(exc).__name__, error=exc)

    def _dispose_app(self) -> None:
        if self._app is not None:
            from hesk_py.extensions import db

            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._app = None

    def _rollback(self) -> str:
        """Remove what this installation created. Returns what was done, for people."""
        from hesk_py.services import first_login

        if self._granted:
            first_login.revoke(self.plan.config_file)
        self._dispose_app()
        s = self.plan.database
        if self.upgrade:
            return _("Nothing was removed: the help desk's data stays. If a migration stopped halfway, restore "
                     "the database from your backup before trying again.")
        if not self._changed:
            return _("Nothing was created.")
        if s.kind == "sqlite":
            path = Path(s.sqlite_path)
            if not self._file_existed:
                for extra in ("", "-wal", "-shm", "-journal"):
                    Path(str(path) + extra).unlink(missing_ok=True)
                return _("The database file %(path)s was deleted.", path=path)
        engine = make_engine(s.url())
        try:
            with engine.begin() as conn:
                created = set(inspect(conn).get_table_names()) - self._tables_before
                if conn.dialect.name == "mysql":
                    conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
                else:
                    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                meta = MetaData()
                for name in sorted(created):
                    Table(name, meta).drop(conn, checkfirst=True)
                if conn.dialect.name == "mysql":
                    conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        finally:
            engine.dispose()
        return ngettext("The table it created was removed; the database is as it was.",
                        "The %(n)s tables it created were removed; the database is as it was.", len(created),
                        n=len(created))

    def run(self) -> Iterator[Event]:
        try:
            with state.install_lock(self.plan.config_file):
                yield from self._run_steps()
        except state.InstallBusy:
            self.failed_step = "database"
            self.error = _("Another installation is running right now. Wait for it to finish, then reload "
                           "this page.")
            yield Event("database", "failed", self.error)
        except OSError as exc:  # the lock folder cannot be written
            self.failed_step = "database"
            self.error = self._explain(exc)
            yield Event("database", "failed", self.error)
        finally:
            self._dispose_app()

    def _run_steps(self) -> Iterator[Event]:
        for key in self.steps:
            yield Event(key, "start")
            started = time.perf_counter()
            try:
                detail = getattr(self, f"_step_{key}")()
            except Exception as exc:
                if not isinstance(exc, StepFailed):
                    log.exception("installer step %s failed", key)
                self.failed_step = key
                self.error = self._explain(exc)
                yield Event(key, "failed", self.error, time.perf_counter() - started)
                if key != "database":
                    yield Event("rollback", "start")
                    try:
                        message = self._rollback()
                        yield Event("rollback", "done", message)
                    except Exception as exc2:
                        log.exception("installer rollback failed")
                        yield Event("rollback", "failed", self._explain(exc2))
                return
            status = "skipped" if detail is None else "done"
            yield Event(key, status, detail or "", time.perf_counter() - started)
        self.ok = True


# --- the command line ---------------------------------------------------------------------------------

_MARKS = {OK: "[ok]  ", WARN: "[warn]", FAIL: "[FAIL]"}


def install_from_cli(*, db_url, admin_user, admin_email, admin_password, admin_name, title, url, language,
                     timezone, echo: Callable[[str], None]) -> None:
    """``hesk-py install``: the web installer's steps without a browser, printed one by one. Raises
    click.ClickException (exit status 1) with the reason when the help desk is not installed."""
    import click
    from flask import current_app

    cfg = current_app.config
    config_file = Path(cfg["HESK_CONFIG_FILE"])
    instance_path = Path(current_app.instance_path)
    attachments_dir = Path(cfg["HESK_ATTACHMENTS_DIR"])

    errors = helpdesk_problems(title=title, url=url, language=language, timezone=timezone, admin_name=admin_name,
                               admin_email=admin_email, admin_username=admin_user, admin_password=admin_password)
    if errors:
        options = {"title": "--title", "url": "--url", "language": "--language", "timezone": "--timezone",
                   "admin_name": "--admin-name", "admin_email": "--admin-email", "admin_username": "--admin-user",
                   "admin_password": "--admin-password-file"}
        raise click.ClickException("\n".join(f"{options.get(k, k)}: {v}" for k, v in errors.items()))
    try:
        database = DatabaseSettings.from_url(db_url)
    except ValueError as exc:
        raise click.ClickException(f"--db-url: {exc}") from None

    echo(_("Checking the server"))
    lines = server_check(instance_path=instance_path, attachments_dir=attachments_dir, config_file=config_file)
    for line in lines:
        if line.status != OK or not line.key.startswith("package:"):
            echo(f"  {_MARKS[line.status]} {line.label}: {line.detail}")
        if line.status != OK and line.fix:
            echo(f"         {line.fix}")
    if blocking(lines):
        raise click.ClickException(_("The server check failed; fix the lines marked FAIL and run again."))

    plan = InstallPlan(
        database=database, config_file=config_file, instance_path=instance_path,
        attachments_dir=attachments_dir, title=title, url=url.rstrip("/"), language=language, timezone=timezone,
        admin_name=admin_name, admin_email=admin_email.strip(), admin_username=admin_user.strip(),
        admin_password=admin_password, secure_cookies=url.lower().startswith("https://"),
        app_config={"HESK_LOG_LEVEL": cfg.get("HESK_LOG_LEVEL", "INFO"), "HESK_LOG_FILE": cfg.get("HESK_LOG_FILE", "")},
    )
    job = Installation(plan)
    total = len(job.steps)
    for event in job.run():
        number = job.steps.index(event.step) + 1 if event.step in job.steps else None
        prefix = f"[{number}/{total}] " if number else ""
        if event.status == "start":
            echo(f"{prefix}{event.label}")
        elif event.status == "done":
            echo("      " + _("done") + (f": {event.message}" if event.message else "")
                 + f" ({event.seconds:.2f} s)")
        elif event.status == "skipped":
            echo("      " + _("not needed"))
        else:
            echo("      " + _("FAILED") + f": {event.message}")
    if not job.ok:
        raise click.ClickException(_("The help desk was not installed: %(error)s", error=job.error))
    state.forget(config_file)  # the installer's own key and lock (the app made them when it started)
    echo(_("The help desk is installed. Configuration: %(path)s", path=config_file))
    echo(_("Log in at %(url)s/admin/ as %(user)s.", url=plan.url, user=plan.admin_username))
    echo(_("Add this line to the crontab (crontab -e) to send email and run the background jobs:"))
    echo("  " + cron_line(config_file))


__all__ = [
    "CheckLine", "DatabaseProblem", "DatabaseReport", "DatabaseSettings", "Event", "ExistingSchema",
    "InstallPlan", "Installation", "STEP_LABELS", "blocking", "check_database", "command_path", "cron_line",
    "default_sqlite_path", "find_existing", "helpdesk_problems", "install_from_cli", "make_engine",
    "noreply_address", "pipe_available", "pipe_command", "schema_state", "server_check", "signal_restart",
    "spam_question", "upgrade_pending",
]
