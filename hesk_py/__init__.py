"""hesk_py: a self-hosted help desk in the spirit of HESK.

``create_app`` builds the Flask app. Configuration is layered: code defaults (``hesk_py/config.py``),
then the bootstrap file (``instance/config.ini`` or ``HESK_PY_CONFIG``), then ``test_config``.
"""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None):
    from flask import Flask

    from hesk_py import config as bootstrap

    instance_path = str((test_config or {}).get("INSTANCE_PATH") or bootstrap.default_instance_path())
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(bootstrap.defaults(instance_path))
    cfg_file = Path((test_config or {}).get("HESK_CONFIG_FILE") or bootstrap.config_path(instance_path))
    app.config["HESK_CONFIG_FILE"] = str(cfg_file)
    if cfg_file.exists() and not (test_config or {}).get("HESK_IGNORE_CONFIG_FILE"):
        app.config.update(bootstrap.read_file(cfg_file, instance_path))
    if test_config:
        app.config.update(test_config)
    _finish_config(app)

    from hesk_py import logs

    logs.init_app(app)

    from hesk_py.extensions import babel, csrf, db, login_manager, migrate, talisman

    db.init_app(app)
    _init_sqlite(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    from hesk_py.extensions import limiter
    from hesk_py.services import ratelimit  # noqa: F401  (registers the heskdb:// rate-limit storage)

    limiter.init_app(app)
    from hesk_py import i18n

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(i18n.compile_catalogs(app.instance_path)))
    babel.init_app(app, locale_selector=_parsed_once(i18n.select_locale), timezone_selector=i18n.select_timezone)
    i18n.init_app(app)
    from hesk_py import settings as hesk_settings

    hesk_settings.init_app(app)
    from hesk_py import shared_cache

    shared_cache.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.auth.login"
    login_manager.session_protection = "strong"
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=app.config["HESK_SECURE_COOKIES"],
        session_cookie_secure=app.config["HESK_SECURE_COOKIES"],
        content_security_policy={
            "default-src": "'self'",
            "img-src": "'self' data:",
            "style-src": "'self'",
            "script-src": "'self'",
            "object-src": "'none'",
            "base-uri": "'self'",
            "form-action": "'self'",
            "frame-ancestors": "'self'",
        },
        referrer_policy="same-origin",
        frame_options="SAMEORIGIN",
    )

    from hesk_py import web_security

    web_security.init_app(app)

    from hesk_py.services.accounts import load_user

    login_manager.user_loader(load_user)
    login_manager.login_message = None

    from hesk_py import errors, health, models  # noqa: F401  (models register their tables)
    from hesk_py.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(health.bp)
    from hesk_py import cron_url

    app.register_blueprint(cron_url.bp)
    from hesk_py import branding

    app.register_blueprint(branding.bp)
    errors.init_app(app)

    from admin import bp as admin_bp
    from install import bp as install_bp

    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(install_bp, url_prefix="/install")

    from install import gate

    gate.init_app(app)

    from hesk_py import cli

    cli.init_app(app)
    _init_mail_after_request(app)
    _init_proxy(app)
    _init_template_urls(app)
    return app


def _init_template_urls(app) -> None:
    """Templates' ``url_for`` without arguments or for a static file (the page skeleton: stylesheets, scripts,
    menu links) is worked out once per URL prefix: the URL map does not change once the app runs. Anything
    else (arguments, external URLs, anchors) goes through Flask's url_for as before."""
    from flask import has_request_context, request

    plain = app.jinja_env.globals["url_for"]
    known: dict = {}

    def url_for(endpoint, **values):
        if app.url_default_functions or endpoint.startswith(".") or not has_request_context():
            return plain(endpoint, **values)
        if values and not (endpoint == "static" and len(values) == 1 and isinstance(values.get("filename"), str)):
            return plain(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        found = known.get(key)
        if found is None:
            found = plain(endpoint, **values)
            if len(known) < 1000:
                known[key] = found
        return found

    app.jinja_env.globals["url_for"] = url_for


def _parsed_once(selector):
    """The locale selector, answering babel Locale objects parsed once per language (Flask-Babel would
    parse the code again on every request)."""
    from babel import Locale

    parsed: dict = {}

    def select():
        code = selector()
        if code is None:
            return None
        locale = parsed.get(code)
        if locale is None:
            locale = parsed[code] = Locale.parse(code)
        return locale

    return select


def _finish_config(app) -> None:
    """Derived settings: installed or not, engine options, secret key."""
    import secrets

    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    app.config["HESK_INSTALLED"] = bool(uri)
    if not uri:
        # Not installed: an empty in-memory database keeps the extensions happy until the installer runs.
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        uri = "sqlite://"
    if not app.config.get("SECRET_KEY"):
        if app.config["HESK_INSTALLED"]:
            raise RuntimeError("The bootstrap config has no [security] secret_key.")
        # The installer's own session only lives as long as this process.
        app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("mysql"):
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_recycle", app.config["HESK_DB_POOL_RECYCLE"])
        options.setdefault("pool_size", app.config["HESK_DB_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["HESK_DB_POOL_SIZE"])
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("charset", "utf8mb4")
        connect_args.setdefault("connect_timeout", 5)
        options["connect_args"] = connect_args
    elif uri.startswith("sqlite"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", 30)
        options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    app.config["SESSION_COOKIE_SECURE"] = app.config["HESK_SECURE_COOKIES"]
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["HESK_SECURE_COOKIES"]
    app.config["SESSION_COOKIE_NAME"] = "hesk_session"


def _init_sqlite(app) -> None:
    """SQLite: enforce foreign keys, wait instead of failing when another thread writes, use WAL."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from hesk_py.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so SAVEPOINTs and
        # rollbacks behave as on MySQL (the sqlite3 module's own handling would commit a released savepoint).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # IMMEDIATE: take the write lock at the start, so a transaction that reads and then writes
        # waits its turn (busy_timeout) instead of failing with "database is locked" when another
        # thread wrote in between. SQLite has one writer at a time anyway.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _init_mail_after_request(app) -> None:
    """After a request that queued mail, send it once the response has gone out."""
    from flask import g

    @app.after_request
    def _send_queued(response):
        if g.pop("_hesk_outbox_pending", False) and app.config.get("HESK_SEND_MAIL_AFTER_REQUEST"):
            from hesk_py.services import mailer

            real_app = app

            def after_close():
                mailer.send_after_request(real_app)

            response.call_on_close(after_close)
        return response


def _init_proxy(app) -> None:
    hops = int(app.config.get("HESK_TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
