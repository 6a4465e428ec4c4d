"""The installer's pages (HTTP only); the steps themselves are plain functions in install/installer.py.

Install:  Welcome -> Server check -> Database -> Help desk -> Install -> Finish
Upgrade:  Welcome -> Server check -> Database -> Upgrade -> Finish (an existing hesk_py database)

Answers are kept as install/state.py describes (never a password in the cookie). Each page sends the
visitor back to the first step not done yet. The Install and Upgrade buttons answer with a page that
streams each step as it happens and ends with the Finish step; the work runs in its own thread, so a
browser that goes away does not stop an installation halfway.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, session,
                   stream_template, url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from install import installer, state
from install.forms import DatabaseForm, HelpdeskForm, InstallForm, ResetForm, ServerForm, UpgradeForm, WelcomeForm

bp = Blueprint("install", __name__)

KEY = "install"  # the session key holding the wizard's answers (never a password)
FIRST_LOGIN = "hesk_first_login"  # the session key with the Finish page's one-time login token

INSTALL_STEPS = (("index", _l("Welcome")), ("server", _l("Server check")), ("database", _l("Database")),
                 ("helpdesk", _l("Help desk")), ("install", _l("Install")), ("finish", _l("Finish")))
UPGRADE_STEPS = (("index", _l("Welcome")), ("server", _l("Server check")), ("database", _l("Database")),
                 ("upgrade", _l("Upgrade")), ("finish", _l("Finish")))
# What must be done before each page opens.
_NEEDS = {"server": "mode", "database": "server_ok", "helpdesk": "db_ok", "upgrade": "db_ok",
          "install": "helpdesk_ok"}
_ORDER = ("mode", "server_ok", "db_ok", "helpdesk_ok")
_PAGE_FOR = {"mode": "index", "server_ok": "server", "db_ok": "database", "helpdesk_ok": "helpdesk"}
# waitress sends a streamed response in pieces of 18000 bytes: pad each progress line to that size.
_PAD = Markup("<!--" + " " * 18000 + "-->")


# --- the wizard's state ------------------------------------------------------------------------------

def _wizard() -> dict:
    return dict(session.get(KEY) or {})


def _save(**values) -> dict:
    data = _wizard()
    data.update(values)
    session[KEY] = data
    return data


def _config_file() -> Path:
    return Path(current_app.config["HESK_CONFIG_FILE"])


def _wizard_id() -> str:
    wid = _wizard().get("id")
    if not wid:
        wid = state.new_id()
        _save(id=wid)
    return wid


def _secrets() -> dict:
    return state.load_secrets(_config_file(), _wizard().get("id"))


def _mode() -> str:
    return _wizard().get("mode") or "install"


def _guard(page: str):
    """A redirect to the first step not done yet, or None when ``page`` may open."""
    need = _NEEDS.get(page)
    if need is None:
        return None
    data = _wizard()
    for flag in _ORDER[: _ORDER.index(need) + 1]:
        if not data.get(flag):
            return redirect(url_for(f"install.{_PAGE_FOR[flag]}"))
    if page in ("helpdesk", "install"):
        if data.get("mode") == "upgrade":
            return redirect(url_for("install.upgrade"))
        if data.get("existing"):  # never a second administrator in a database that has a help desk
            return redirect(url_for("install.database"))
    if page == "upgrade":
        if data.get("mode") != "upgrade":
            return redirect(url_for("install.helpdesk"))
        if not data.get("existing"):
            return redirect(url_for("install.database"))
    return None


def _indicator(current: str, *, links: bool = True) -> list[dict]:
    steps = UPGRADE_STEPS if _mode() == "upgrade" else INSTALL_STEPS
    keys = [k for k, _label in steps]
    here = keys.index(current) if current in keys else 0
    out = []
    for i, (key, label) in enumerate(steps):
        link = None
        if links and i < here and key not in ("finish", "install", "upgrade"):
            link = url_for(f"install.{key}")
        out.append({"key": key, "label": label, "number": i + 1, "link": link,
                    "state": "done" if i < here else ("current" if i == here else "todo")})
    return out


def _render(template: str, current: str, status: int = 200, **ctx):
    return render_template(template, steps=_indicator(current), current=current, mode=_mode(), **ctx), status


# --- Welcome -----------------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
def index():
    form = WelcomeForm(language=session.get("language") or str(get_locale()))
    existing = installer.find_existing(current_app.instance_path)
    if form.validate_on_submit():
        session["language"] = form.language.data
        if form.apply_language.data:
            return redirect(url_for("install.index"))
        # "Upgrade" only for an older schema: an up-to-date help desk lacks its config, not migrations
        mode = "upgrade" if form.upgrade.data and existing is not None and existing.pending else "install"
        data = _wizard()
        if data.get("mode") != mode:
            data.update(mode=mode, db_ok=False, helpdesk_ok=False)
        data["mode"] = mode
        if mode == "upgrade" and not data.get("db"):
            data["db"] = {"kind": "sqlite", "sqlite_path": str(installer.default_sqlite_path(
                current_app.instance_path))}
        session[KEY] = data
        return redirect(url_for("install.server"))
    installer.warm_up()
    return _render("install/index.html", "index", form=form, existing=existing,
                   sqlite_path=installer.default_sqlite_path(current_app.instance_path),
                   config_file=_config_file())


@bp.post("/reset")
def reset():
    """Start over: forget every answer (and the saved passwords)."""
    form = ResetForm()
    if form.validate_on_submit():
        state.drop_secrets(_config_file(), _wizard().get("id"))
        session.pop(KEY, None)
        flash(_("Every answer was forgotten. Start again."), "success")
    return redirect(url_for("install.index"))


# --- Server check ------------------------------------------------------------------------------------

def _server_lines():
    cfg = current_app.config
    return installer.server_check(instance_path=current_app.instance_path,
                                  attachments_dir=cfg["HESK_ATTACHMENTS_DIR"], config_file=cfg["HESK_CONFIG_FILE"])


@bp.route("/server", methods=["GET", "POST"])
def server():
    if (redirect_to := _guard("server")) is not None:
        return redirect_to
    form = ServerForm()
    if form.is_submitted() and form.back.data:
        return redirect(url_for("install.index"))
    lines = _server_lines()
    blocked = installer.blocking(lines)
    error = None
    if form.validate_on_submit():
        if not blocked:
            _save(server_ok=True)
            return redirect(url_for("install.database"))
        error = _("Fix the lines marked in red first, then press Test again.")
    if blocked and _wizard().get("server_ok"):
        _save(server_ok=False)
    packages = [line for line in lines if line.key.startswith("package:")]
    others = [line for line in lines if not line.key.startswith("package:")]
    return _render("install/server.html", "server", 200 if error is None else 409, form=form, lines=lines,
                   packages=packages, others=others, blocked=blocked, error=error)


# --- Database ----------------------------------------------------------------------------------------

def _fingerprint(db: dict) -> str:
    """Which connection a saved password belongs to."""
    if db.get("kind") != "mysql":
        return "sqlite"
    return "|".join(str(db.get(k, "")) for k in ("host", "port", "name", "user"))


def _database_settings(db: dict, password: str = "") -> installer.DatabaseSettings:
    return installer.DatabaseSettings(
        kind=db.get("kind", "sqlite"), sqlite_path=db.get("sqlite_path", ""), host=db.get("host", ""),
        port=int(db.get("port") or 3306), name=db.get("name", ""), user=db.get("user", ""), password=password)


def _typed_database(form: DatabaseForm) -> dict:
    kind = form.kind.data if form.kind.data in ("sqlite", "mysql") else "sqlite"
    return {"kind": kind, "sqlite_path": (form.sqlite_path.data or "").strip(),
            "host": (form.host.data or "").strip(), "port": form.port.data or 3306,
            "name": (form.name.data or "").strip(), "user": (form.user.data or "").strip()}


@bp.route("/database", methods=["GET", "POST"])
def database():
    if (redirect_to := _guard("database")) is not None:
        return redirect_to
    data = _wizard()
    saved = dict(data.get("db") or {})
    saved.setdefault("sqlite_path", str(installer.default_sqlite_path(current_app.instance_path)))
    form = DatabaseForm(data=saved) if request.method == "GET" else DatabaseForm()
    secrets_ = _secrets()
    has_saved_password = bool(secrets_.get("db_for")) and secrets_.get("db_for") == _fingerprint(saved)
    ctx = {"form": form, "has_saved_password": has_saved_password, "existing": None, "report": None,
           "error": None}
    if request.method == "POST":
        typed = _typed_database(form)
        if form.back.data:
            _save(db=typed)
            return redirect(url_for("install.server"))
        if form.use_existing.data or form.install_here.data:
            if data.get("db_ok"):
                mode = "upgrade" if form.use_existing.data else "install"
                _save(mode=mode, helpdesk_ok=False)
                return redirect(url_for("install.upgrade" if mode == "upgrade" else "install.helpdesk"))
            return redirect(url_for("install.database"))
        _save(db=typed, db_ok=False, existing=None)
        if not form.validate():
            return _render("install/database.html", "database", 422, **ctx)
        password = form.password.data or ""
        if not password and secrets_.get("db_for") == _fingerprint(typed):
            password = secrets_.get("db_password", "")
        settings_ = _database_settings(typed, password)
        try:
            report = installer.check_database(settings_)
        except installer.DatabaseProblem as exc:
            target = getattr(form, exc.field, None) if exc.field else None
            if target is not None and exc.field != "kind":
                target.errors = list(target.errors) + [exc.message]
            else:
                ctx["error"] = exc.message
            ctx["has_saved_password"] = False
            return _render("install/database.html", "database", 422, **ctx)
        state.save_secrets(_config_file(), _wizard_id(), db_password=password, db_for=_fingerprint(typed))
        existing = report.existing
        _save(db_ok=True, existing=None if existing is None else {"revision": existing.revision,
                                                                  "pending": len(existing.pending)})
        for warning in report.warnings:
            flash(warning, "warning")
        mode = _mode()
        if (mode == "install" and existing is not None) or (mode == "upgrade" and existing is None):
            ctx.update(existing=existing, report=report, has_saved_password=True)
            return _render("install/database.html", "database", **ctx)
        return redirect(url_for("install.upgrade" if mode == "upgrade" else "install.helpdesk"))
    return _render("install/database.html", "database", **ctx)


# --- Help desk and first administrator ---------------------------------------------------------------

def _suggested_url() -> str:
    """Where this installer is reached, minus /install/: works under a sub-path like /helpdesk."""
    return (request.host_url.rstrip("/") + request.script_root).rstrip("/")


def _password_owner(values: dict) -> str:
    """A saved password hash only stands while the username and email it was checked against stand."""
    return f"{values.get('admin_username', '').strip().lower()}|{values.get('admin_email', '').strip().lower()}"


@bp.route("/helpdesk", methods=["GET", "POST"])
def helpdesk():
    if (redirect_to := _guard("helpdesk")) is not None:
        return redirect_to
    from hesk_py import settings
    from hesk_py.services import accounts

    data = _wizard()
    saved = dict(data.get("helpdesk") or {})
    saved.setdefault("url", _suggested_url())
    saved.setdefault("language", session.get("language") or str(get_locale()))
    form = HelpdeskForm(data=saved) if request.method == "GET" else HelpdeskForm()
    form.timezone.choices = list(settings.time_zones())
    secrets_ = _secrets()
    has_saved_password = bool(secrets_.get("admin_password_hash")) and \
        secrets_.get("admin_password_for") == _password_owner(saved)
    ctx = {"form": form, "has_saved_password": has_saved_password, "timezone_guess": "timezone" not in saved}
    if request.method == "POST":
        typed = {k: (getattr(form, k).data or "").strip()
                 for k in ("title", "url", "language", "timezone", "admin_name", "admin_email", "admin_username")}
        if form.back.data:
            _save(helpdesk=typed)
            return redirect(url_for("install.database"))
        _save(helpdesk=typed, helpdesk_ok=False)
        form_ok = form.validate()
        keep_saved = (not form.admin_password.data and not form.admin_password2.data and
                      secrets_.get("admin_password_hash") and
                      secrets_.get("admin_password_for") == _password_owner(typed))
        password = None if keep_saved else (form.admin_password.data or "")
        problems = installer.helpdesk_problems(
            **typed, admin_password=password, admin_password2=None if keep_saved else form.admin_password2.data or "")
        for name, message in problems.items():
            field_ = getattr(form, name)
            if message not in field_.errors:
                field_.errors = list(field_.errors) + [message]
        if not form_ok or problems:
            ctx["has_saved_password"] = bool(keep_saved)
            return _render("install/helpdesk.html", "helpdesk", 422, **ctx)
        if not keep_saved:
            state.save_secrets(_config_file(), _wizard_id(), admin_password_hash=accounts.hash_password(password),
                               admin_password_for=_password_owner(typed))
        _save(helpdesk_ok=True)
        return redirect(url_for("install.install"))
    return _render("install/helpdesk.html", "helpdesk", **ctx)


# --- Install / Upgrade (streamed progress, then Finish) ----------------------------------------------

def _plan(*, upgrade: bool) -> installer.InstallPlan | None:
    cfg = current_app.config
    data, secrets_ = _wizard(), _secrets()
    db = data.get("db") or {}
    if secrets_.get("db_for") != _fingerprint(db) or "db_password" not in secrets_:
        return None
    hd = data.get("helpdesk") or {}
    if not upgrade and not secrets_.get("admin_password_hash"):
        return None
    return installer.InstallPlan(
        database=_database_settings(db, secrets_.get("db_password", "")),
        config_file=_config_file(),
        instance_path=Path(current_app.instance_path),
        attachments_dir=Path(cfg["HESK_ATTACHMENTS_DIR"]),
        title=hd.get("title", "Help Desk"), url=hd.get("url", _suggested_url()), language=hd.get("language", "en"),
        timezone=hd.get("timezone", "UTC"), admin_name=hd.get("admin_name", ""),
        admin_email=hd.get("admin_email", ""), admin_username=hd.get("admin_username", ""),
        admin_password_hash=secrets_.get("admin_password_hash"),
        # The installer's key becomes the help desk's key (install/state.py says why).
        secret_key=cfg["SECRET_KEY"],
        secure_cookies=request.is_secure,
        app_config={"HESK_LOG_LEVEL": cfg.get("HESK_LOG_LEVEL", "INFO"), "HESK_LOG_FILE": cfg.get("HESK_LOG_FILE", "")},
    )


def _events(job: installer.Installation):
    """Run the installation in a thread of its own; yield its progress events as they come."""
    events: queue.Queue = queue.Queue()
    app = current_app._get_current_object()
    language = str(get_locale())

    def work():
        # a request context of its own, so messages come out in the installer's language
        with app.test_request_context("/install/", query_string={"language": language}):
            try:
                for event in job.run():
                    events.put(event)
            except Exception:  # run() reports step failures itself; this is a last resort
                app.logger.exception("the installation thread failed")
                if job.error is None:
                    job.error = _("Unexpected error; see the log.")
            finally:
                if job.ok:
                    state.forget(app.config["HESK_CONFIG_FILE"])
                events.put(None)

    threading.Thread(target=work, name="hesk-installer", daemon=False).start()
    while (event := events.get()) is not None:
        yield event


def _stream(job: installer.Installation, current: str, **ctx) -> Response:
    generate_csrf()  # the Finish page's form needs the token in the session before the headers go out
    session.modified = True
    # no links back and no "Start over": once it has run, the installer's pages are gone
    body = stream_template("install/progress.html", events=_events(job), job=job, pad=_PAD,
                           steps=_indicator(current, links=False), finish_steps=_indicator("finish", links=False),
                           current=current, mode=_mode(), config_file=str(_config_file()), running=True,
                           cron_line=installer.cron_line(_config_file()),
                           pipe_command=(installer.pipe_command(_config_file()) if installer.pipe_available()
                                         else None), **ctx)
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each piece on at once
    return response


def _summary() -> list[tuple[str, str]]:
    data = _wizard()
    db = _database_settings(data.get("db") or {})
    hd = data.get("helpdesk") or {}
    rows = [(_("Database"), db.describe())]
    if _mode() != "upgrade":
        rows += [(_("Help desk title"), hd.get("title", "")), (_("Help desk URL"), hd.get("url", "")),
                 (_("Default language"), hd.get("language", "")), (_("Time zone"), hd.get("timezone", "")),
                 (_("Administrator"), f"{hd.get('admin_name', '')} <{hd.get('admin_email', '')}> "
                                      f"({hd.get('admin_username', '')})")]
    rows.append((_("Configuration file"), str(_config_file())))
    return rows


@bp.route("/install", methods=["GET", "POST"])
def install():
    if (redirect_to := _guard("install")) is not None:
        return redirect_to
    form = InstallForm()
    if form.is_submitted() and form.back.data:
        return redirect(url_for("install.helpdesk"))
    if form.validate_on_submit():
        plan = _plan(upgrade=False)
        if plan is None:
            flash(_("The saved passwords were lost (the installer folder was emptied). Enter them again."),
                  "error")
            _save(db_ok=False, helpdesk_ok=False)
            return redirect(url_for("install.database"))
        from hesk_py.services import first_login

        plan.first_login_token = first_login.new_token()
        session[FIRST_LOGIN] = plan.first_login_token
        username = plan.admin_username
        return _stream(installer.Installation(plan), "install", admin_username=username)
    return _render("install/install.html", "install", form=form, summary=_summary())


@bp.route("/upgrade", methods=["GET", "POST"])
def upgrade():
    if (redirect_to := _guard("upgrade")) is not None:
        return redirect_to
    form = UpgradeForm()
    if form.is_submitted() and form.back.data:
        return redirect(url_for("install.database"))
    plan = _plan(upgrade=True)
    if plan is None:
        _save(db_ok=False)
        return redirect(url_for("install.database"))
    if form.validate_on_submit():
        if form.old_secret_key.data:
            # the old key keeps what was encrypted with it readable (mail passwords, two-factor secrets)
            plan.secret_key = form.old_secret_key.data.strip()
        return _stream(installer.Installation(plan, upgrade=True), "upgrade")
    try:
        existing = installer.upgrade_pending(plan.database)
    except Exception as exc:  # the database went away since the Database step
        flash(_("The database cannot be read any more: %(error)s", error=type(exc).__name__), "error")
        _save(db_ok=False)
        return redirect(url_for("install.database"))
    if existing is None:
        _save(db_ok=False)
        return redirect(url_for("install.database"))
    db = plan.database
    return _render("install/upgrade.html", "upgrade", 200 if request.method == "GET" else 422, form=form,
                   existing=existing, database=db, summary=_summary())
