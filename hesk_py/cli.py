"""The ``hesk-py`` command (also ``python -m hesk_py``): serve, install, upgrade, cron, pipe, settings,
create-admin. INTERFACE.md lists the verbs; their output is meant for people and is translatable."""
from __future__ import annotations

import os
import socket
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import gettext as _

EX_TEMPFAIL = 75  # sysexits.h: the mail server retries later
EX_UNAVAILABLE = 69  # sysexits.h: the mail server bounces the email back to its sender
# Whether "hesk-py pipe" files email. The installer's Finish page offers the piping line only when True.
PIPE_AVAILABLE = True


def _create_app():
    from hesk_py import create_app

    return create_app()


def _require_installed() -> None:
    if not current_app.config.get("HESK_INSTALLED"):
        raise click.ClickException(
            _("The help desk is not installed yet. Open /install/ in a browser or run \"hesk-py install\".")
        )


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
@click.version_option(package_name="hesk_py", prog_name="hesk-py")
def main():
    """hesk_py: a self-hosted help desk."""


def init_app(app) -> None:
    """Commands are also reachable as ``flask --app hesk_py <verb>``."""
    for command in (serve, install_cmd, upgrade, cron, pipe, settings_group, create_admin, reset_mfa, i18n_group):
        app.cli.add_command(command)


# --- serve -------------------------------------------------------------------------------------

def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default from config, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from config, 8080).")
@click.option("--threads", default=None, type=int, help="Worker threads per process.")
@click.option("--processes", default=None, type=int,
              help="Processes sharing the port (default: one per CPU core).")
@click.option("--url-prefix", default=None, help="Serve under this path, e.g. /helpdesk.")
@with_appcontext
def serve(host, port, threads, processes, url_prefix):
    """Serve the help desk with waitress (the installer until it is installed)."""
    from waitress import serve as waitress_serve

    from hesk_py.wsgi import ReloadingApp

    cfg = current_app.config
    host = host or cfg["HESK_SERVER_HOST"]
    port = port if port is not None else cfg["HESK_SERVER_PORT"]
    threads = threads or cfg["HESK_SERVER_THREADS"]
    processes = processes if processes is not None else cfg["HESK_SERVER_PROCESSES"]
    if not processes:
        processes = os.cpu_count() or 1
    url_prefix = (url_prefix if url_prefix is not None else cfg["HESK_URL_PREFIX"]).rstrip("/")
    installed = cfg.get("HESK_INSTALLED")
    where = f"http://{host}:{port}{url_prefix}/"
    click.echo(_("Serving the help desk at %(url)s (%(p)s processes, %(t)s threads each)",
                 url=where if installed else where + "install/", p=processes, t=threads))
    # That message's language was read from the database: end the read and close the connection before
    # serving (and forking). On SQLite the open transaction would hold the write lock for good, and every
    # request would wait for it.
    from hesk_py.extensions import db

    db.session.remove()
    db.engine.dispose()
    sock = _reuseport_socket(host, port)
    children = []
    for _i in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            children = []
            break
        children.append(pid)
    # X-Forwarded-* reach the app only when the config trusts a proxy ([server] trusted_proxies: ProxyFix reads
    # as many hops as it says); otherwise waitress drops them, so a client cannot claim https or another address.
    trusted = int(cfg.get("HESK_TRUSTED_PROXIES") or 0) > 0
    try:
        waitress_serve(ReloadingApp(), sockets=[sock], threads=threads, url_prefix=url_prefix,
                       ident="hesk_py", clear_untrusted_proxy_headers=not trusted, connection_limit=1000)
    finally:
        for pid in children:
            try:
                os.kill(pid, 15)
            except OSError:
                pass


# --- install / upgrade ---------------------------------------------------------------------------

@click.command("install")
@click.option("--db-url", required=True, help="sqlite:///path/helpdesk.db or mysql+pymysql://user:pass@host/db")
@click.option("--admin-user", required=True)
@click.option("--admin-email", required=True)
@click.option("--admin-password-file", required=True, type=click.Path(dir_okay=False),
              help="A file holding the administrator's password (use - for standard input).")
@click.option("--admin-name", default="Administrator")
@click.option("--title", default=None, help="Default: \"Help desk\" in the --language.")
@click.option("--url", default="http://localhost:8080")
@click.option("--language", default="en")
@click.option("--timezone", default="UTC")
@with_appcontext
def install_cmd(db_url, admin_user, admin_email, admin_password_file, admin_name, title, url, language,
                timezone):
    """Install without a browser: the web installer's steps, printed one by one."""
    from install import installer  # the installer package; hesk_py imports it only here

    if current_app.config.get("HESK_INSTALLED"):
        raise click.ClickException(_("The help desk is already installed (%(path)s exists).",
                                     path=current_app.config["HESK_CONFIG_FILE"]))
    if admin_password_file == "-":
        password = sys.stdin.readline().rstrip("\n")
    else:
        with open(admin_password_file, encoding="utf-8") as fh:
            password = fh.readline().rstrip("\n")
    from flask_babel import force_locale

    from hesk_py.i18n import LANGUAGES

    # the steps are printed in the help desk's language-to-be, and the title defaults to "Help desk" in it
    with force_locale(language if language in LANGUAGES else "en"):
        installer.install_from_cli(
            db_url=db_url, admin_user=admin_user, admin_email=admin_email, admin_password=password,
            admin_name=admin_name, title=title or _("Help desk"), url=url, language=language, timezone=timezone,
            echo=click.echo,
        )


@click.command("upgrade")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Apply the migrations without asking.")
@with_appcontext
def upgrade(assume_yes):
    """Apply pending schema migrations (after uploading a new version); asks first unless --yes."""
    _require_installed()
    from hesk_py.services import schema

    pending = schema.pending_revisions()
    if not pending:
        click.echo(_("The database is up to date (revision %(rev)s).", rev=schema.current_revision()))
        return
    click.echo(_("The database is at revision %(a)s; this version needs %(b)s. Migrations to apply:",
                 a=schema.current_revision() or "-", b=schema.head_revision()))
    for rev, doc in pending:
        click.echo(f"  {rev}  {doc}")
    click.echo(_("Back up the database before upgrading (and the instance folder): if a migration stops "
                 "halfway, only a backup brings the data back."))
    if not assume_yes and not click.confirm(_("Apply these migrations now?"), default=False):
        click.echo(_("Nothing was changed."), err=True)
        sys.exit(1)
    schema.upgrade(echo=click.echo)
    click.echo(_("Done: the database is at revision %(rev)s.", rev=schema.current_revision()))


# --- background work -----------------------------------------------------------------------------

@click.command("cron")
@click.option("--job", "job_name", default=None, help="Run only this job.")
@with_appcontext
def cron(job_name):
    """Run the background jobs that are due (safe to run from several places at once)."""
    _require_installed()
    from hesk_py.services import jobs

    names = [job_name] if job_name else list(jobs.JOBS)
    unknown = [n for n in names if n not in jobs.JOBS]
    if unknown:
        raise click.ClickException(_("Unknown job: %(name)s. Jobs: %(jobs)s",
                                     name=unknown[0], jobs=", ".join(jobs.JOBS)))
    failed = False
    for name in names:
        try:
            line = jobs.run(name)
        except Exception as exc:  # one failing job must not stop the others
            failed = True
            current_app.logger.exception("cron job %s failed", name)
            click.echo(f"{name}: " + _("failed: %(error)s", error=type(exc).__name__), err=True)
        else:
            click.echo(f"{name}: {line}")
    if failed:
        sys.exit(1)


@click.command("pipe")
@with_appcontext
def pipe():
    """Read one email on standard input and file it as a ticket or a reply."""
    from sqlalchemy.exc import DBAPIError

    from hesk_py import settings
    from hesk_py.extensions import db
    from hesk_py.services import inbound

    raw = sys.stdin.buffer.read()
    if not current_app.config.get("HESK_INSTALLED"):
        click.echo(_("The help desk is not installed yet; the email was not imported."), err=True)
        sys.exit(EX_TEMPFAIL)
    try:
        if not settings.get("email_piping"):
            click.echo(_("Email piping is turned off (Settings > Email); the email was not imported."), err=True)
            sys.exit(EX_UNAVAILABLE)
        result = inbound.import_message(raw, channel="pipe")
    except DBAPIError as exc:  # the database is down or unreachable: the mail server keeps the mail and retries
        db.session.rollback()
        current_app.logger.warning("email piping: database unavailable (%s)", type(exc).__name__)
        click.echo(_("The database is unavailable; the mail server will deliver the email again later."),
                   err=True)
        sys.exit(EX_TEMPFAIL)
    labels = {
        "created": _("created"), "replied": _("replied"), "ignored": _("ignored"),
        "quarantined": _("quarantined"), "refused": _("refused"),
    }
    click.echo(f"{labels[result.action]}: {result.reason}")


# --- settings ------------------------------------------------------------------------------------

@click.group("settings")
def settings_group():
    """Read and write help desk settings (same validation as the settings pages)."""


@settings_group.command("list")
@click.option("--tab", default=None, help="Only the settings of this tab.")
@with_appcontext
def settings_list(tab):
    _require_installed()
    from hesk_py import settings

    values = settings.all_values()
    for d in settings.definitions(tab):
        click.echo(f"{d.key}={settings.display(d.key, values[d.key])}")


@settings_group.command("get")
@click.argument("key")
@with_appcontext
def settings_get(key):
    _require_installed()
    from hesk_py import settings

    try:
        value = settings.get(key)
    except settings.UnknownSetting as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(settings.display(key, value))


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@with_appcontext
def settings_set(key, value):
    _require_installed()
    from hesk_py import settings

    try:
        changed = settings.save({key: value})
    except settings.UnknownSetting as exc:
        raise click.ClickException(str(exc)) from None
    except settings.SettingsError as exc:
        # a rule between settings may blame another key ("question_ask" when turning the question on)
        raise click.ClickException(
            "; ".join(f"{k}: {msg}" for k, msg in exc.errors.items()) + " " + _("Nothing was changed.")
        ) from None
    if changed:
        click.echo(_("%(key)s changed to %(value)s", key=key, value=settings.display(key, settings.get(key))))
    else:
        click.echo(_("%(key)s unchanged", key=key))


@click.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def create_admin(username, email, name, password):
    """Create another administrator (asks for the password)."""
    _require_installed()
    from hesk_py.services import accounts

    try:
        user = accounts.create_user(username=username, email=email, name=name, password=password, is_admin=True)
    except accounts.AccountError as exc:
        for field, message in exc.errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(_("Administrator %(name)s created.", name=user.username))


@click.command("reset-mfa")
@click.argument("username")
@with_appcontext
def reset_mfa(username):
    """Turn off a staff member's two-factor authentication (lost phone and backup codes); their sessions end."""
    _require_installed()
    from hesk_py.services import accounts, mfa

    user = accounts.find_user_by_login(username)
    if user is None:
        raise click.ClickException(_("No staff account has the username or email %(name)s.", name=username))
    if not user.mfa_method:
        click.echo(_("%(name)s has no two-factor authentication.", name=user.username))
        return
    mfa.disable(user)
    click.echo(_("Two-factor authentication of %(name)s has been reset.", name=user.username))


# --- translations --------------------------------------------------------------------------------

@click.group("i18n")
def i18n_group():
    """Maintain the translation catalogs in hesk_py/translations (extract, update, compile)."""


def _pybabel(*args: str) -> None:
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(["pybabel", "-q", *args])


def _source_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


@i18n_group.command("extract")
def i18n_extract():
    """Collect every translatable string from code and templates into hesk_py/translations/messages.pot."""
    from hesk_py.i18n import TRANSLATIONS

    root = _source_root()
    os.chdir(root)
    # --ignore-dirs: without it Babel skips every folder whose name starts with "_" (templates/_macros)
    _pybabel("extract", "-F", str(root / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext", "--ignore-dirs", ".*",
             "--no-location", "--sort-output", "--project", "hesk_py", "-o", str(TRANSLATIONS / "messages.pot"), ".")
    click.echo(_("Strings written to %(path)s.", path=TRANSLATIONS / "messages.pot"))


@i18n_group.command("update")
def i18n_update():
    """Merge new strings from messages.pot into every language's messages.po (new ones untranslated)."""
    from hesk_py.i18n import TRANSLATIONS

    _pybabel("update", "-i", str(TRANSLATIONS / "messages.pot"), "-d", str(TRANSLATIONS), "--no-fuzzy-matching",
             "--ignore-obsolete", "-w", "0")
    click.echo(_("Catalogs updated in %(path)s.", path=TRANSLATIONS))


@i18n_group.command("compile")
def i18n_compile():
    """Compile every .po catalog into the .mo file the help desk reads (the app also does this at start)."""
    from hesk_py.i18n import TRANSLATIONS, compile_catalogs

    compile_catalogs(force=True)
    click.echo(_("Catalogs compiled in %(path)s.", path=TRANSLATIONS))


# --- the install package -------------------------------------------------------------------------

@click.command("package")
@click.option("--dist-dir", default=None, type=click.Path(file_okay=False),
              help="Where to write the zip (default: dist/ in the project folder).")
def package(dist_dir):
    """Build the install package dist/hesk_py-<version>.zip (python setup.py sdist --formats=zip; MANIFEST.in
    says what goes in) and print its size."""
    import subprocess
    import zipfile
    from pathlib import Path

    from hesk_py import __version__

    root = _source_root()
    if not (root / "setup.py").is_file():
        raise click.ClickException(_("setup.py is missing: build the package from the project's source folder."))
    out = Path(dist_dir).resolve() if dist_dir else root / "dist"
    done = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--formats=zip", "--dist-dir", str(out)],
                          cwd=root, capture_output=True, text=True)
    target = out / f"hesk_py-{__version__}.zip"
    if done.returncode != 0 or not target.is_file():
        click.echo(done.stdout + done.stderr, err=True)
        raise click.ClickException(_("The package could not be built."))
    with zipfile.ZipFile(target) as zf:
        files = sum(1 for info in zf.infolist() if not info.is_dir())
    click.echo(_("Built %(path)s: %(kb)s KB, %(n)s files.", path=target, kb=f"{target.stat().st_size / 1024:,.0f}",
                 n=files))


main.add_command(package)  # needs no app: it works on the source folder
