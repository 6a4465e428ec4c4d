"""Per-process caches of what every visitor sees alike, and how they stay correct across processes and machines.

What is cached (each entry is loaded on first use, per app object, and shared by its threads):

=====================================  ============================================  =====================================
entry                                  what                                          loaded by
=====================================  ============================================  =====================================
``settings``                           the settings overrides (``hesk_settings``)    ``hesk_py/settings.py``
``settings.html:<key>``                an html setting, sanitised                    ``hesk_py/settings.py``
``public.categories``                  public ticket categories                      ``hesk_py/services/public.py``
``public.priorities``                  priorities customers may choose               ``hesk_py/services/public.py``
``service_messages:<language>``        published service messages, rendered          ``hesk_py/services/service_messages.py``
``kb.home:<popular>:<latest>``         the home page's knowledgebase lists           ``hesk_py/services/knowledgebase.py``
``custom_fields.public`` / ``.staff``  enabled custom fields                         ``hesk_py/services/custom_fields.py``
``bans.ips`` / ``bans.emails``         the ban lists, while short (2,000 rows)       ``hesk_py/services/bans.py``
``bans.muted``                         muted addresses and domains                   ``hesk_py/services/bans.py``
``kb.catalogue``                       the knowledgebase's categories                ``hesk_py/services/knowledgebase.py``
``kb.terms``                           word counts for planning searches             ``hesk_py/services/knowledgebase.py``
``public.staff_names``                 staff names and nicknames (replies' authors)  ``hesk_py/services/public.py``
``staff.statuses``, ``.priorities``,   statuses, priorities, categories for staff    ``admin/tickets.py``
``staff.categories``
``page:<name>:...``                    the home page and the ticket form of a first  ``hesk_py/public/page_cache.py``
                                       visit (no cookie), tokens cut out
``staff.canned``                       canned responses (id, title) for the picker   ``admin/tickets.py``
=====================================  ============================================  =====================================

Never anything of one customer (tickets, replies, sessions, failed look-up counters, rate limits, one-time form
tokens): those are read per request. The ban lists are rules, the same for every visitor.
Cached rows are transient model instances (built from the columns read, they belong to no session) or plain
tuples: read them, never change them or attach them to a session.

Invalidation. Every change to a table a cache is built from (``WATCHED``) is noticed by the ORM session
events below, whichever code makes it (the settings page, ``hesk-py settings set``, the staff pages for
categories, priorities, custom fields, service messages and the knowledgebase): in the same transaction it
writes a new random *generation token* into ``hesk_cache_generation`` (one row, migration 0020), so the token
changes exactly when the change commits. Then:

* the process that committed drops its caches at once (``after_commit``);
* other processes on the same machine see it at once: the committing process also writes a fresh random
  value into a small memory-mapped file shared by every process of the same user and database
  (``<temp>/hesk_py-<uid>/<hash of the database URL>.stamp``), and each request compares its 8 bytes (no
  system call, no query) before using a cache; on a change it reads the generation token from the database;
* every other process (another app server, or a process that cannot open that file) reads the generation
  token from the database at most ``HESK_CACHE_CHECK_SECONDS`` after the previous read (``[cache]
  check_seconds``, default 1 second): a change shows everywhere within that bound;
* whatever happens, an entry is loaded again after ``HESK_CACHE_MAX_AGE`` seconds (``[cache] max_age``,
  default 60): the bound for a change made outside the app (a row edited by hand in the database) and for
  the knowledgebase's view counts, which order the "Top articles" list but do not change the token (a view
  is not an edit).

Changes that do not count: counters (``COUNTERS``: an article's views and votes) and, for ``ONLY_COLUMNS``
tables, the columns no cache holds (a staff account's last visit, password or preferences).

Consistency: the token is read in the request's own transaction before anything is loaded from it, so a
cache is never tagged with a token newer than its data; a transaction that changed a watched table reads
from the database (its own changes) until it commits. With ``check_seconds = 0`` the token is read on every
request (one primary-key read). ``HESK_CACHE_ENABLED`` false loads everything per request again (and a
database older than migration 0020, without the token's table, is treated the same until ``hesk-py
upgrade``).

Which knowledgebase articles a customer may see is never cached: every article query checks the article's
type, so an article made private or a draft is refused by the next request everywhere (and leaves the home
page lists with the commit, on this machine at once). A category made private is a cached change like the
others: at once on this machine, within ``check_seconds`` on other app servers.
"""
from __future__ import annotations

import hashlib
import logging
import mmap
import os
import secrets
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from flask import current_app, g, has_app_context

log = logging.getLogger(__name__)

GENERATION_KEY = "shared"  # the row of hesk_cache_generation (migration 0020)
EXTENSION = "hesk_shared_cache"
# Tables the caches are built from; a change to one of them changes the generation token.
WATCHED = frozenset({
    "hesk_settings", "hesk_categories", "hesk_priorities", "hesk_custom_fields", "hesk_service_messages",
    "hesk_kb_categories", "hesk_kb_articles", "hesk_statuses", "hesk_banned_ips", "hesk_banned_emails",
    "hesk_muted_emails", "hesk_canned_responses",
    # the customer side's own (keep when adding tables above)
    "hesk_kb_terms", "hesk_users",
})
# Columns that are counters, not content: changing only these does not change the token (max_age bounds them).
COUNTERS = {"hesk_kb_articles": frozenset({"views", "votes", "helpful_votes"})}
# Tables of which only these columns are cached: a change to others does not change the token (a staff
# account's last visit, password, preferences).
ONLY_COLUMNS = {"hesk_users": frozenset({"name", "nickname"})}
_CHANGED = "hesk_cache_changed"  # session.info flag: this transaction changed a watched table
_MISSING = object()


class _NoTable:
    """The token of a database without ``hesk_cache_generation``: equal to nothing, not even another one."""


class _Stamp:
    """8 bytes in a memory-mapped file shared by the processes of one database on this machine."""

    def __init__(self, path: Path | None):
        self._mm = None
        if path is None:
            return
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            folder = os.lstat(path.parent)
            # our own folder, not a link, nobody else may write in it (a shared temp folder)
            if not stat.S_ISDIR(folder.st_mode) or folder.st_uid != os.getuid() or folder.st_mode & 0o022:
                raise PermissionError(str(path.parent))
            fd = os.open(str(path), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                if os.fstat(fd).st_size < 8:
                    os.ftruncate(fd, 8)
                self._mm = mmap.mmap(fd, 8)
            finally:
                os.close(fd)
        except (OSError, ValueError) as exc:  # read-only folder, another user's file: the timed check remains
            log.info("shared cache stamp %s unavailable (%s): changes from other processes show within "
                     "the check interval", path, type(exc).__name__)
            self._mm = None

    def read(self) -> bytes | None:
        return self._mm[:8] if self._mm is not None else None

    def touch(self) -> None:
        if self._mm is not None:
            self._mm[:8] = os.urandom(8)


_STAMPS: dict[Path, _Stamp] = {}
_STAMPS_LOCK = threading.Lock()


def _stamp_for(path: Path | None) -> _Stamp:
    """One stamp per file and process, shared by every app object on that database: a mapping holds a file
    descriptor for as long as it lives, and a process may build many apps (Passenger reloads, tests)."""
    if path is None:
        return _Stamp(None)
    with _STAMPS_LOCK:
        stamp = _STAMPS.get(path)
        if stamp is None:
            stamp = _STAMPS[path] = _Stamp(path)
        return stamp


class SharedCache:
    """The caches of one app object (``app.extensions["hesk_shared_cache"]``)."""

    def __init__(self, app):
        self.enabled = bool(app.config.get("HESK_CACHE_ENABLED", True)) and bool(app.config.get("HESK_INSTALLED"))
        self.check_seconds = float(app.config.get("HESK_CACHE_CHECK_SECONDS", 1.0))
        self.max_age = float(app.config.get("HESK_CACHE_MAX_AGE", 60.0))
        self._entries: dict[str, Any] = {}
        self._token: Any = _MISSING  # the generation token the entries were loaded under
        self._check_at = 0.0  # monotonic time of the next database read of the token
        self._expire_at = 0.0
        self._lock = threading.Lock()
        self._stamp = _stamp_for(self._stamp_path(app) if self.enabled else None)
        self._stamp_seen = self._stamp.read()

    @staticmethod
    def _stamp_path(app) -> Path | None:
        """``<temp>/hesk_py-<uid>/<hash of the database URL>.stamp``: the same file for every process of this
        user on this machine that uses the same database (the web server's, ``hesk-py`` commands)."""
        uri = str(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
        if not app.config.get("HESK_CACHE_SHARED_STAMP", True) or not hasattr(os, "getuid") \
                or not uri or uri in ("sqlite://", "sqlite:///:memory:"):
            return None
        from sqlalchemy.engine import make_url

        try:
            name = make_url(uri).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001  (an odd URL: no shared stamp, the timed check remains)
            return None
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]
        return Path(tempfile.gettempdir()) / f"hesk_py-{os.getuid()}" / f"{digest}.stamp"

    # --- reading ---------------------------------------------------------------------------------

    def get(self, name: str, loader: Callable[[], Any]) -> Any:
        """The cached value of ``name``, loading it with ``loader()`` when missing or out of date. Within one
        app context (a request) the value stays the same, as when it was loaded per request."""
        memo = g.get("_hesk_cache_memo")
        if memo is None:
            memo = g._hesk_cache_memo = {}
        else:
            value = memo.get(name, _MISSING)
            if value is not _MISSING:
                return value
        if not self.enabled:
            value = memo[name] = loader()
            return value
        if _changed_here():  # this transaction changed a watched table: read its own changes, cache nothing
            return loader()
        self._validate()
        value = self._entries.get(name, _MISSING)
        if value is _MISSING:
            value = loader()
            with self._lock:
                if g.get("_hesk_cache_token", _MISSING) is self._token:  # nothing changed while loading
                    self._entries[name] = value
        memo[name] = value
        return value

    def peek(self, name: str) -> Any:
        """The cached value of ``name`` or None, loading nothing (with ``put``: values a request builds)."""
        if not self.enabled or _changed_here():
            return None
        self._validate()
        return self._entries.get(name)

    def put(self, name: str, value: Any) -> None:
        """Keep ``value`` under ``name``, unless the caches were dropped since this request began using them."""
        if not self.enabled or _changed_here():
            return
        with self._lock:
            if g.get("_hesk_cache_token", _MISSING) is self._token:
                self._entries[name] = value

    def _validate(self) -> None:
        """Once per app context: compare the shared stamp, read the database token when due."""
        if g.get("_hesk_cache_token", _MISSING) is not _MISSING:
            return
        now = time.monotonic()
        stamp = self._stamp.read()
        due = now >= self._check_at or self._token is _MISSING
        if stamp != self._stamp_seen:
            self._stamp_seen = stamp
            due = True
        if due:
            token = read_token()
            # without the token's table (before migration 0020) nothing stays valid past this request
            self._check_at = 0.0 if isinstance(token, _NoTable) else time.monotonic() + self.check_seconds
            with self._lock:
                if token != self._token or now >= self._expire_at:
                    self._entries = {}
                    self._token = token
                    self._expire_at = now + self.max_age
        elif now >= self._expire_at:
            with self._lock:
                self._entries = {}
                self._expire_at = now + self.max_age
        g._hesk_cache_token = self._token

    # --- writing ---------------------------------------------------------------------------------

    def changed(self) -> None:
        """This process committed a change to a watched table: drop the caches, tell the other processes."""
        with self._lock:
            self._entries = {}
            self._token = _MISSING
        self._check_at = 0.0
        g.pop("_hesk_cache_token", None)
        g.pop("_hesk_cache_memo", None)
        self._stamp.touch()
        self._stamp_seen = self._stamp.read()


def read_token() -> Any:
    """The generation token now (None before the first change). A database older than migration 0020 has no
    marker table: then nothing can be trusted to stay valid, and each call answers a new object (the caches
    are loaded again on every request until ``hesk-py upgrade``)."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from hesk_py.extensions import db
    from hesk_py.models.settings import CacheGeneration

    try:
        return db.session.scalar(select(CacheGeneration.token).where(CacheGeneration.name == GENERATION_KEY))
    except (OperationalError, ProgrammingError) as exc:
        if "hesk_cache_generation" not in str(exc):
            raise
        return _NoTable()


def cache() -> SharedCache | None:
    if not has_app_context():
        return None
    return current_app.extensions.get(EXTENSION)


def cached(name: str, loader: Callable[[], Any]) -> Any:
    """``loader()``, cached in this process until a watched table changes (see the module docstring)."""
    c = cache()
    return loader() if c is None else c.get(name, loader)


def forget_context() -> None:
    """Forget what this app context (request) has read from the caches (after a change to a watched table its
    reads go to the database until the commit, which drops the caches)."""
    if has_app_context():
        g.pop("_hesk_cache_memo", None)


def forget() -> None:
    """Drop this process's caches and tell the others (after writing watched tables outside the session)."""
    c = cache()
    if c is not None:
        c.changed()
    elif has_app_context():
        g.pop("_hesk_cache_memo", None)


def transient_rows(model, stmt=None) -> tuple:
    """Rows of ``model`` as transient instances that belong to no session (safe to share between threads and
    requests as long as nobody changes them): ``stmt`` is a select of the model filtered and ordered as
    wanted (``select(Model).where(...)``); only its columns are read, through Core."""
    import copy

    from sqlalchemy import inspect, select

    from hesk_py.extensions import db

    labels = [a.columns[0].label(a.key) for a in inspect(model).column_attrs]
    core = (stmt if stmt is not None else select(model)).with_only_columns(*labels)
    out = []
    for row in db.session.execute(core):
        values = {k: (copy.deepcopy(v) if isinstance(v, (dict, list)) else v) for k, v in row._mapping.items()}
        out.append(model(**values))
    return tuple(out)


# --- noticing changes: ORM session events -------------------------------------------------------------

def _changed_here() -> bool:
    from hesk_py.extensions import db

    return bool(db.session.info.get(_CHANGED))


def _bump(session) -> None:
    """Write a new generation token in the session's transaction (once more per watched change)."""
    from hesk_py.models.settings import CacheGeneration

    table = CacheGeneration.__table__
    token = secrets.token_hex(8)
    conn = session.connection()
    if conn.dialect.name == "mysql":
        from sqlalchemy.dialects.mysql import insert as upsert

        stmt = upsert(table).values(name=GENERATION_KEY, token=token)
        stmt = stmt.on_duplicate_key_update(token=stmt.inserted.token)
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert

        stmt = upsert(table).values(name=GENERATION_KEY, token=token)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"token": stmt.excluded.token})
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        conn.execute(stmt)
    except (OperationalError, ProgrammingError) as exc:  # before migration 0020: see read_token
        if "hesk_cache_generation" not in str(exc):
            raise
    session.info[_CHANGED] = True
    forget_context()


def _only_counters(table_name: str, columns) -> bool:
    """The change touches nothing a cache holds (counters, or columns of ``ONLY_COLUMNS`` tables not cached)."""
    only = ONLY_COLUMNS.get(table_name)
    if only is not None:
        return bool(columns) and not any(c in only for c in columns)
    counters = COUNTERS.get(table_name)
    return bool(counters) and bool(columns) and all(c in counters for c in columns)


def _statement_columns(stmt) -> list[str]:
    values = getattr(stmt, "_values", None) or {}
    names = []
    for key in values:
        names.append(getattr(key, "key", None) or getattr(key, "name", None) or str(key))
    for key, _value in getattr(stmt, "_ordered_values", None) or ():
        names.append(getattr(key, "key", None) or str(key))
    return names


def _before_flush(session, _flush_context, _instances) -> None:
    from sqlalchemy import inspect

    for obj in list(session.new) + list(session.deleted) + list(session.dirty):
        table = getattr(type(obj), "__tablename__", None)
        if table not in WATCHED:
            continue
        if obj in session.dirty and obj not in session.new and obj not in session.deleted:
            state = inspect(obj)
            changed = [a.key for a in state.attrs if a.history.has_changes()]
            if not changed or _only_counters(table, changed):
                continue
        _bump(session)
        return


def _do_orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in WATCHED:
        return
    if state.is_update and _only_counters(table, _statement_columns(state.statement)):
        return
    _bump(state.session)


def _after_commit(session) -> None:
    if session.info.pop(_CHANGED, False):
        c = cache()
        if c is not None:
            c.changed()


def _after_rollback(session) -> None:
    session.info.pop(_CHANGED, None)


_LISTENING = False


def init_app(app) -> None:
    global _LISTENING
    app.extensions[EXTENSION] = SharedCache(app)
    if not _LISTENING:
        from sqlalchemy import event

        from hesk_py.extensions import db

        event.listen(db.session, "before_flush", _before_flush)
        event.listen(db.session, "do_orm_execute", _do_orm_execute)
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)
        _LISTENING = True
