"""What the settings pages show about the running help desk: the status box (versions, database,
attachments folder, cron, email) and the "Test connection" checks for SMTP, IMAP and POP3.

Connection tests use the values as the admin typed them (before saving), validated by the settings
declarations first (host names only: no URL, path, user or port can reach a socket). They return the
server's answers, never the password.
"""
from __future__ import annotations

import os
import platform
import poplib
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, select, text

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models.types import utcnow

CRON_FRESH = timedelta(minutes=15)

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"


@dataclass
class StatusLine:
    label: str
    state: str  # ok / warn / fail / info
    value: str
    detail: str = ""


@dataclass
class ConnectionTest:
    protocol: str
    ok: bool
    message: str
    # what the server said, line by line (greeting, EHLO, login answer, ...)
    answers: list[str] = field(default_factory=list)


# --- the status box ------------------------------------------------------------------------------

def database_version() -> tuple[str, str]:
    """(kind, version): ("SQLite", "3.40.1"), ("MariaDB", "10.11.6"), ("MySQL", "8.0.36")."""
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        return "SQLite", str(db.session.scalar(text("SELECT sqlite_version()")))
    version = str(db.session.scalar(text("SELECT VERSION()")))
    kind = "MariaDB" if "mariadb" in version.lower() else ("MySQL" if dialect in ("mysql", "mariadb") else dialect)
    return kind, version.split("-")[0]


def _attachments_line() -> StatusLine:
    folder = Path(current_app.config["HESK_ATTACHMENTS_DIR"])
    label = _("Attachments folder")
    if folder.is_dir():
        if os.access(folder, os.W_OK | os.X_OK):
            return StatusLine(label, OK, _("Writable"), str(folder))
        state = FAIL if settings.get("attachments.use") else WARN
        return StatusLine(label, state, _("Not writable"),
                          _("%(path)s: files cannot be uploaded. Make the folder writable for the help desk, or "
                            "turn attachments off.", path=folder))
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is not None and os.access(parent, os.W_OK | os.X_OK):
        return StatusLine(label, OK, _("Not created yet"),
                          _("%(path)s will be created with the first upload.", path=folder))
    state = FAIL if settings.get("attachments.use") else WARN
    return StatusLine(label, state, _("Missing"),
                      _("%(path)s does not exist and cannot be created: files cannot be uploaded.", path=folder))


def _cron_line(runs: dict) -> StatusLine:
    from flask_babel import format_datetime

    label = _("Cron (background jobs)")
    how = _("Run \"hesk-py cron\" every few minutes from cron (for example */5 * * * *), in the help desk "
            "folder.")
    if not runs:
        return StatusLine(label, FAIL, _("Never run"), how)
    last = max(runs.values(), key=lambda r: r.started_at)
    when = format_datetime(last.started_at)
    if utcnow() - last.started_at <= CRON_FRESH:
        failed = sorted(r.name for r in runs.values() if r.started_at == last.started_at and not r.ok)
        if failed:
            return StatusLine(label, WARN, _("Ran at %(when)s", when=when),
                              _("These jobs failed: %(jobs)s.", jobs=", ".join(failed)))
        return StatusLine(label, OK, _("Ran at %(when)s", when=when), _("In the last 15 minutes."))
    return StatusLine(label, FAIL, _("Last run at %(when)s", when=when),
                      _("Not in the last 15 minutes: email is not sent and tickets are not auto-closed. ") + how)


def _sending_line() -> StatusLine:
    from hesk_py.models import OUTBOX_FAILED, OUTBOX_QUEUED, OutboxMessage

    label = _("Email sending")
    if settings.get("smtp"):
        how = _("SMTP server %(host)s port %(port)s", host=settings.get("smtp_host_name"),
                port=settings.get("smtp_host_port"))
    else:
        how = _("The mail server on this machine (localhost port 25)")
    since = utcnow() - timedelta(days=1)
    waiting, retrying = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((OutboxMessage.attempts > 0, 1), else_=0)), 0))
        .where(OutboxMessage.status == OUTBOX_QUEUED)
    ).one()
    failed = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OUTBOX_FAILED, OutboxMessage.created_at >= since)) or 0
    if failed or retrying:
        last_error = db.session.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc()).limit(1)
        ) or ""
        return StatusLine(label, FAIL, how,
                          _("%(waiting)s emails waiting (%(retrying)s after failed attempts), %(failed)s failed in "
                            "the last day. Last error: %(error)s", waiting=waiting, retrying=int(retrying),
                            failed=failed, error=last_error[:300]))
    return StatusLine(label, OK, how, _("%(waiting)s emails waiting to be sent.", waiting=waiting))


def _fetching_line(runs: dict) -> StatusLine:
    label = _("Email fetching")
    on = [name for key, name in (("imap", "IMAP"), ("pop3", "POP3"), ("email_piping", _("piping")))
          if settings.get(key)]
    if not on:
        return StatusLine(label, INFO, _("Off"), _("Tickets are not created from email."))
    fetch_runs = [r for name, r in runs.items() if name in ("imap", "pop3", "fetch") or name.startswith("fetch")]
    value = ", ".join(on)
    if (settings.get("imap") or settings.get("pop3")) and fetch_runs:
        last = max(fetch_runs, key=lambda r: r.started_at)
        from flask_babel import format_datetime

        if not last.ok:
            return StatusLine(label, FAIL, value, _("The last fetch at %(when)s failed: %(result)s",
                                                     when=format_datetime(last.started_at), result=last.result))
        return StatusLine(label, OK, value, _("Last fetch at %(when)s: %(result)s",
                                              when=format_datetime(last.started_at), result=last.result))
    if settings.get("imap") or settings.get("pop3"):
        return StatusLine(label, WARN, value, _("No fetch has run yet: it runs with \"hesk-py cron\"."))
    return StatusLine(label, OK, value, _("Your mail server passes emails to \"hesk-py pipe\"."))


def status() -> list[StatusLine]:
    from hesk_py import __version__
    from hesk_py.services import jobs

    kind, version = database_version()
    runs = jobs.last_runs()
    lines = [
        StatusLine(_("hesk_py version"), INFO, __version__),
        StatusLine(_("Python version"), INFO, platform.python_version()),
        StatusLine(_("Database"), INFO, f"{kind} {version}"),
        _attachments_line(),
        _cron_line(runs),
        _sending_line(),
        _fetching_line(runs),
    ]
    lost = settings.unreadable_secrets()
    if lost:
        lines.append(StatusLine(_("Stored passwords"), FAIL, ", ".join(str(settings.definition(k).label) for k in lost),
                                _("They were saved with another secret key and cannot be read: type them again.")))
    return lines


# --- connection tests ----------------------------------------------------------------------------

PROTOCOL_KEYS = {
    "smtp": ("smtp_host_name", "smtp_host_port", "smtp_enc", "smtp_timeout", "smtp_user", "smtp_password",
             "smtp_noval_cert"),
    "imap": ("imap_host_name", "imap_host_port", "imap_enc", "imap_user", "imap_password", "imap_noval_cert",
             "imap_mailbox"),
    "pop3": ("pop3_host_name", "pop3_host_port", "pop3_tls", "pop3_user", "pop3_password"),
}


def test_connection(protocol: str, typed: dict[str, Any]) -> ConnectionTest:
    """Try ``protocol`` with the values as typed (a blank password means the stored one).

    Raises settings.SettingsError when a value is invalid (nothing is contacted then).
    """
    keys = PROTOCOL_KEYS[protocol]
    values = settings.validate({k: typed.get(k, settings.get(k)) for k in keys})
    password_key = f"{protocol}_password"
    if not values[password_key]:
        values[password_key] = settings.get(password_key)
    if protocol == "smtp":
        if not values["smtp_host_name"]:
            raise settings.SettingsError({"smtp_host_name": _("Type the server's host name.")})
        return _test_smtp(values)
    if not values[f"{protocol}_host_name"]:
        raise settings.SettingsError({f"{protocol}_host_name": _("Type the server's host name.")})
    return _test_imap(values) if protocol == "imap" else _test_pop3(values)


def _tls_context(no_verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if no_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _text(answer: Any) -> str:
    if isinstance(answer, (bytes, bytearray)):
        answer = answer.decode("utf-8", "replace")
    return " ".join(str(answer).split())[:500]


def _reply(code: int, msg: Any) -> str:
    return f"{code} {_text(msg)}"


def _timeout() -> int:
    return int(settings.get("smtp_timeout"))


def _explain(exc: BaseException, host: str, port: int, timeout: int) -> str:
    """A plain sentence for what went wrong, with the server's own answer when there is one."""
    if isinstance(exc, ConnectionRefusedError):
        return _("The connection to %(host)s port %(port)s was refused: nothing listens on that port, or a firewall "
                 "blocks it. Check the host and the port.", host=host, port=port)
    if isinstance(exc, socket.gaierror):
        return _("The host name %(host)s could not be found. Check it for typos.", host=host)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _("No answer from %(host)s port %(port)s within %(n)s seconds. Check the host, the port and the "
                 "firewall.", host=host, port=port, n=timeout)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("The server's certificate could not be verified (%(reason)s). Fix the certificate, or tick \"Do "
                 "not validate the certificate\" for a server you control.", reason=exc.verify_message or exc.reason)
    if isinstance(exc, ssl.SSLError):
        return _("The encrypted connection failed (%(reason)s). Check that the encryption setting matches the port "
                 "(SSL: usually 465, 993 or 995).", reason=exc.reason or exc.__class__.__name__)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("The server refused the username or password: %(answer)s",
                 answer=_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _("The server does not support this: %(answer)s. Try another encryption setting.",
                 answer=_text(exc))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _("The server closed the connection (%(answer)s). The port may expect SSL, or the server may "
                 "refuse this address.", answer=_text(exc) or _("no answer"))
    if isinstance(exc, smtplib.SMTPResponseException):
        return _("The server answered with an error: %(answer)s", answer=_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPException):
        return _("The SMTP conversation failed: %(answer)s", answer=_text(exc))
    if isinstance(exc, poplib.error_proto):
        return _("The server answered with an error: %(answer)s", answer=_text(exc.args[0] if exc.args else exc))
    if isinstance(exc, OSError):
        return _("Could not connect to %(host)s port %(port)s: %(reason)s", host=host, port=port,
                 reason=exc.strerror or exc.__class__.__name__)
    return _("The test failed: %(answer)s", answer=_text(exc) or exc.__class__.__name__)


def _test_smtp(v: dict[str, Any]) -> ConnectionTest:
    host, port, timeout = v["smtp_host_name"], int(v["smtp_host_port"]), int(v["smtp_timeout"])
    answers: list[str] = []
    context = _tls_context(v["smtp_noval_cert"])
    server: smtplib.SMTP | None = None
    try:
        if v["smtp_enc"] == "ssl":
            server = smtplib.SMTP_SSL(timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(timeout=timeout)
        answers.append(_reply(*server.connect(host, port)))
        answers.append(_reply(*server.ehlo()))
        if v["smtp_enc"] == "tls":
            answers.append(_reply(*server.starttls(context=context)))
            answers.append(_reply(*server.ehlo()))
        if v["smtp_user"]:
            answers.append(_reply(*server.login(v["smtp_user"], v["smtp_password"])))
        answers.append(_reply(*server.quit()))
        server = None
    except Exception as exc:  # every failure becomes a sentence for the admin
        return ConnectionTest("smtp", False, _explain(exc, host, port, timeout), answers)
    finally:
        if server is not None:
            try:
                server.close()
            except OSError:
                pass
    if v["smtp_user"]:
        message = _("Connected to %(host)s port %(port)s and logged in.", host=host, port=port)
    else:
        message = _("Connected to %(host)s port %(port)s (no login).", host=host, port=port)
    return ConnectionTest("smtp", True, message, answers)


def _test_imap(v: dict[str, Any]) -> ConnectionTest:
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    host, port, timeout = v["imap_host_name"], int(v["imap_host_port"]), _timeout()
    answers: list[str] = []
    context = _tls_context(v["imap_noval_cert"])
    client = None
    try:
        client = IMAPClient(host, port=port, ssl=v["imap_enc"] == "ssl", ssl_context=context, timeout=timeout)
        answers.append(_text(client.welcome))
        if v["imap_enc"] == "tls":
            answers.append(_text(client.starttls(context)))
        if not v["imap_user"]:
            client.logout()
            client = None
            return ConnectionTest("imap", True, _("Connected to %(host)s port %(port)s. Type a username to test the "
                                                  "login too.", host=host, port=port), answers)
        answers.append(_text(client.login(v["imap_user"], v["imap_password"])))
        info = client.select_folder(v["imap_mailbox"], readonly=True)
        count = info.get(b"EXISTS", 0)
        answers.append(f"{v['imap_mailbox']}: EXISTS {count}")
        client.logout()
        client = None
    except IMAPClientError as exc:
        return ConnectionTest("imap", False, _("The server answered with an error: %(answer)s",
                                               answer=_text(exc)), answers)
    except Exception as exc:  # every failure becomes a sentence for the admin
        return ConnectionTest("imap", False, _explain(exc, host, port, timeout), answers)
    finally:
        if client is not None:
            try:
                client.shutdown()
            except (OSError, IMAPClientError):
                pass
    return ConnectionTest("imap", True, _("Connected to %(host)s port %(port)s, logged in and opened %(mailbox)s "
                                          "(%(n)s messages).", host=host, port=port, mailbox=v["imap_mailbox"],
                                          n=count), answers)


def _test_pop3(v: dict[str, Any]) -> ConnectionTest:
    host, port, timeout = v["pop3_host_name"], int(v["pop3_host_port"]), _timeout()
    answers: list[str] = []
    conn = None
    try:
        if v["pop3_tls"]:
            conn = poplib.POP3_SSL(host, port, timeout=timeout, context=_tls_context(False))
        else:
            conn = poplib.POP3(host, port, timeout=timeout)
        answers.append(_text(conn.getwelcome()))
        if not v["pop3_user"]:
            answers.append(_text(conn.quit()))
            conn = None
            return ConnectionTest("pop3", True, _("Connected to %(host)s port %(port)s. Type a username to test the "
                                                  "login too.", host=host, port=port), answers)
        answers.append(_text(conn.user(v["pop3_user"])))
        answers.append(_text(conn.pass_(v["pop3_password"])))
        count, size = conn.stat()
        answers.append(f"STAT {count} {size}")
        answers.append(_text(conn.quit()))
        conn = None
    except Exception as exc:  # every failure becomes a sentence for the admin
        return ConnectionTest("pop3", False, _explain(exc, host, port, timeout), answers)
    finally:
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
    return ConnectionTest("pop3", True, _("Connected to %(host)s port %(port)s and logged in (%(n)s messages).",
                                          host=host, port=port, n=count), answers)
