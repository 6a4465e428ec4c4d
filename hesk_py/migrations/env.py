"""Alembic environment for hesk_py.

Runs inside the Flask app (``hesk-py upgrade``, Flask-Migrate) or on a connection handed over in
``config.attributes["connection"]`` (the installer, which works before the app is configured).
Logging is left as the app set it up (no fileConfig: it would silence the app's loggers).
"""
from alembic import context

from hesk_py.extensions import db

config = context.config
target_metadata = db.metadata


def _configure(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from flask import current_app

    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as conn:
        _configure(conn)


if context.is_offline_mode():
    raise SystemExit("hesk_py migrations run online only (hesk-py upgrade).")
run_migrations_online()
