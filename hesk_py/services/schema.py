"""The database schema: Alembic revisions in hesk_py/migrations, applied by install and upgrade."""
from __future__ import annotations

from pathlib import Path
from typing import Callable


from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory


from hesk_py.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# app.extensions key: this process saw the database at the newest revision (admin/upgrade.py sets it; it
# cannot fall behind while the code stays the same)
SCHEMA_AT_HEAD = "hesk_schema_at_head"


def alembic_config() -> Config:
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return script().get_current_head()


def current_revision(engine=None) -> str | None:
    engine = engine or db.engine
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending_revisions(engine=None) -> list[tuple[str, str]]:
    """(revision, description) of every migration not yet applied, oldest first."""
    current = current_revision(engine)
    revs = list(script().iterate_revisions("heads", current))
    revs.reverse()
    return [(r.revision, (r.doc or "").strip()) for r in revs]


def upgrade(target: str = "head", echo: Callable[[str], None] | None = None) -> None:
    """Apply migrations up to ``target`` on the app's database (Flask-Migrate's env.py)."""
    from flask_migrate import upgrade as fm_upgrade

    # End the session's transaction first: the migrations run on a connection of their own, and an open
    # transaction here (even a settings read) would hold SQLite's write lock or MySQL's metadata locks.
    db.session.close()
    if echo:
        echo(f"alembic upgrade {target}")
    fm_upgrade(directory=str(MIGRATIONS), revision=target)
    db.session.remove()


def is_hesk_database(engine) -> bool:
    from sqlalchemy import inspect

    return "alembic_version" in inspect(engine).get_table_names() and current_revision(engine) is not None


__all__ = ["alembic_config", "current_revision", "head_revision",
           "is_hesk_database", "pending_revisions", "upgrade"]
