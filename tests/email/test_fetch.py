"""IMAP and POP3 fetching against a real Dovecot (tests/email/conftest.py): what ``hesk-py cron`` imports,
what it leaves on the server (keep a copy or delete), SSL/STARTTLS/none, duplicates, the job lease, and a
fetch killed halfway through 50 messages."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import InboundMail, JobRun, OutboxMessage, QuarantinedMail, Ticket
from hesk_py.models.types import utcnow
from hesk_py.services import fetch, jobs, tickets

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"


def eml(name: str, **replace: str) -> bytes:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def simple(n: int, *, sender: str | None = None, message_id: str | None = None) -> bytes:
    sender = sender or f"customer{n}@example.org"
    message_id = message_id or f"<fetch-{n}-{os.getpid()}@example.org>"
    return (f"From: Customer {n} <{sender}>\r\nTo: helpdesk@example.com\r\nSubject: Question number {n}\r\n"
            f"Message-ID: {message_id}\r\nDate: Mon, 10 Jun 2024 10:00:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello, this is question {n}.\r\n").encode()


def cron(runner, job: str) -> str:
    result = runner.invoke(args=["cron", "--job", job])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    return line


def configure(app, values: dict) -> None:
    with app.app_context():
        settings.save(values)


def ticket_rows(app) -> list[Ticket]:
    with app.app_context():
        rows = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        db.session.expunge_all()
        return rows


# --- IMAP --------------------------------------------------------------------------------------------

def test_imap_imports_each_message_and_deletes_it_after(app, runner, mailbox):
    mailbox.deliver(eml("outlook_html_only"), eml("koi8r_body"), eml("cyrillic_subject"))
    configure(app, mailbox.imap_settings())
    line = cron(runner, "imap")
    assert line == "imap: 3 emails: 3 new tickets, 0 replies, 0 ignored, 0 quarantined, 0 refused"
    rows = ticket_rows(app)
    assert {t.email for t in rows} == {"olga.nowak@contoso.example", "polina@mail.example",
                                       "ivan.petrov@yandex.example"}
    assert {t.opened_by for t in rows} == {"imap"}
    assert any(t.subject == "Не приходят письма" for t in rows)  # KOI8-R decoded
    assert mailbox.messages() == {}  # deleted and expunged
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.template == "new_ticket")) == 3
        run = db.session.get(JobRun, "imap")
        assert run.ok and run.result.startswith("3 emails") and run.lease_owner is None
    # nothing left: the next run finds nothing
    assert cron(runner, "imap") == "imap: 0 emails: 0 new tickets, 0 replies, 0 ignored, 0 quarantined, 0 refused"


def test_imap_keep_a_copy_marks_imported_mail_read_and_skips_it_next_time(app, runner, mailbox):
    from imapclient import SEEN

    mailbox.deliver(simple(1), simple(2))
    configure(app, mailbox.imap_settings(keep=True))
    assert cron(runner, "imap").startswith("imap: 2 emails: 2 new tickets")
    left = mailbox.messages()
    assert len(left) == 2 and all(SEEN in flags for _mid, flags in left.values())
    assert cron(runner, "imap").startswith("imap: 0 emails")
    # the same message again, unread (a second copy in the mailbox): recognised by its Message-ID
    mailbox.deliver(simple(1))
    assert cron(runner, "imap") == "imap: 1 emails: 0 new tickets, 0 replies, 1 ignored, 0 quarantined, 0 refused"
    assert len(ticket_rows(app)) == 2
    assert all(SEEN in flags for _mid, flags in mailbox.messages().values())


def test_imap_duplicates_in_one_run_become_one_ticket(app, runner, mailbox):
    mailbox.deliver(simple(7), simple(7), simple(8))
    configure(app, mailbox.imap_settings())
    assert cron(runner, "imap") == "imap: 3 emails: 2 new tickets, 0 replies, 1 ignored, 0 quarantined, 0 refused"
    assert len(ticket_rows(app)) == 2
    assert mailbox.messages() == {}


def test_imap_reply_goes_into_the_ticket_and_an_unreadable_mail_into_the_quarantine(app, runner, mailbox,
                                                                                    make_ticket):
    trackid = make_ticket()
    mailbox.deliver(eml("gmail_reply_quoted", **{"ABC-DEF-1234": trackid}), eml("no_sender"))
    configure(app, mailbox.imap_settings())
    assert cron(runner, "imap") == "imap: 2 emails: 0 new tickets, 1 replies, 0 ignored, 1 quarantined, 0 refused"
    with app.app_context():
        thread = tickets.load_thread(trackid)
        assert [r.message for r in thread.replies] == [
            "Thanks, the new fuse did it – the printer works again.\n\nCasey"]
        (kept,) = db.session.scalars(select(QuarantinedMail)).all()
        assert kept.channel == "imap"
        assert kept.raw.replace(b"\r\n", b"\n") == eml("no_sender").replace(b"\r\n", b"\n")  # byte for byte
    assert mailbox.messages() == {}  # the quarantine has it: nothing is lost by deleting it


def test_imap_over_ssl_and_starttls(app, runner, mailbox, dovecot, monkeypatch):
    mailbox.deliver(simple(1), simple(2))
    # SSL from the start, the self-signed certificate accepted by "do not validate"
    configure(app, mailbox.imap_settings(enc="ssl", noval_cert=True))
    assert cron(runner, "imap").startswith("imap: 2 emails: 2 new tickets")
    # STARTTLS with the certificate validated (trusted as the system's CA file would be)
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))
    mailbox.deliver(simple(3))
    configure(app, mailbox.imap_settings(enc="tls"))
    assert cron(runner, "imap").startswith("imap: 1 emails: 1 new tickets")
    assert len(ticket_rows(app)) == 3


def test_imap_certificate_not_trusted_fails_the_job_and_keeps_the_mail(app, runner, mailbox):
    mailbox.deliver(simple(1))
    configure(app, mailbox.imap_settings(enc="ssl"))
    result = runner.invoke(args=["cron", "--job", "imap"])
    assert result.exit_code == 1
    assert "imap: failed: SSLCertVerificationError" in result.output
    with app.app_context():
        run = db.session.get(JobRun, "imap")
        assert not run.ok and run.result == "SSLCertVerificationError"
        assert run.lease_owner is None  # released: the next run may try again at once
    assert len(mailbox.messages()) == 1
    assert ticket_rows(app) == []


def test_wrong_password_fails_the_job_without_the_password_in_the_output(app, runner, mailbox):
    values = mailbox.imap_settings()
    values["imap_password"] = "not-the-password-42"
    configure(app, values)
    result = runner.invoke(args=["cron", "--job", "imap"])
    assert result.exit_code == 1 and "imap: failed: LoginError" in result.output
    assert "not-the-password-42" not in result.output


def test_imap_off_does_nothing(app, runner, mailbox):
    mailbox.deliver(simple(1))
    assert cron(runner, "imap") == "imap: off"
    assert len(mailbox.messages()) == 1


def test_fetching_pauses_in_maintenance_mode(app, runner, mailbox):
    mailbox.deliver(simple(1))
    configure(app, {**mailbox.imap_settings(), "maintenance_mode": True})
    assert cron(runner, "imap") == "imap: paused (maintenance mode)"
    assert len(mailbox.messages()) == 1 and ticket_rows(app) == []
    configure(app, {"maintenance_mode": False})
    assert cron(runner, "imap").startswith("imap: 1 emails: 1 new tickets")


# --- POP3 --------------------------------------------------------------------------------------------

def test_pop3_imports_and_deletes(app, runner, mailbox):
    mailbox.deliver(eml("quoted_printable_body"), eml("base64_body"), eml("bounce"))
    configure(app, mailbox.pop3_settings())
    assert cron(runner, "pop3") == "pop3: 3 emails: 2 new tickets, 0 replies, 1 ignored, 0 quarantined, 0 refused"
    rows = ticket_rows(app)
    assert len(rows) == 2 and {t.opened_by for t in rows} == {"pop3"}
    assert mailbox.messages() == {}


def test_pop3_keep_a_copy_leaves_mail_and_does_not_download_it_again(app, runner, mailbox, dovecot):
    mailbox.deliver(simple(1), simple(2))
    configure(app, mailbox.pop3_settings(keep=True))
    assert cron(runner, "pop3").startswith("pop3: 2 emails: 2 new tickets")
    assert len(mailbox.messages()) == 2
    log = dovecot.root / "dovecot.log"
    before = log.read_text()
    assert cron(runner, "pop3") == "pop3: 2 emails: 0 new tickets, 0 replies, 2 ignored, 0 quarantined, 0 refused"
    # Dovecot's log of the second session: two TOPs, no RETR
    session = log.read_text()[len(before):]
    assert "top=2/" in session and "retr=0/0" in session
    assert len(ticket_rows(app)) == 2


def test_pop3_over_tls(app, runner, mailbox, dovecot, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))
    mailbox.deliver(simple(1))
    configure(app, mailbox.pop3_settings(tls=True))
    assert cron(runner, "pop3").startswith("pop3: 1 emails: 1 new tickets")
    assert mailbox.messages() == {}


# --- one fetch at a time -----------------------------------------------------------------------------

def test_a_second_fetch_is_skipped_while_the_first_holds_the_lease(app, runner, mailbox):
    mailbox.deliver(simple(1))
    configure(app, mailbox.imap_settings())
    with app.app_context():
        owner, until = jobs.acquire("imap", timedelta(minutes=15))  # a fetch that is still running
        assert owner
    line = cron(runner, "imap")
    assert line.startswith("imap: skipped: the previous run has not finished")
    assert len(mailbox.messages()) == 1 and ticket_rows(app) == []
    with app.app_context():  # the first run ended without releasing (killed): its lease times out
        db.session.execute(update(JobRun).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert cron(runner, "imap").startswith("imap: 1 emails: 1 new tickets")


def test_task_timeout_0_always_starts_a_fetch(app, runner, mailbox):
    mailbox.deliver(simple(1))
    configure(app, {**mailbox.imap_settings(), "imap_job_wait": 0})
    with app.app_context():
        jobs.acquire("imap", timedelta(minutes=15))
    assert cron(runner, "imap").startswith("imap: 1 emails: 1 new tickets")


def test_a_fetch_stops_at_its_deadline_and_leaves_the_rest(app, mailbox):
    mailbox.deliver(simple(1), simple(2), simple(3))
    configure(app, mailbox.imap_settings())
    with app.app_context():
        result = fetch.fetch_imap(deadline=utcnow() - timedelta(seconds=1))
        assert (result.found, result.left, sum(result.counts.values())) == (3, 3, 0)
        assert result.line().endswith("3 left for the next run (time limit)")
    assert len(mailbox.messages()) == 3


# --- a fetch killed halfway ------------------------------------------------------------------------

def _config_file(app, tmp_path: Path) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(f"[database]\nurl = {app.config['SQLALCHEMY_DATABASE_URI']}\n"
                    f"[security]\nsecret_key = {app.config['SECRET_KEY']}\n"
                    f"[paths]\nattachments = {app.config['HESK_ATTACHMENTS_DIR']}\n"
                    f"[logging]\nlevel = WARNING\n")
    return path


def _count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count(model.id)))
        db.session.commit()
        return n


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_fetch_killed_halfway_loses_nothing_and_imports_nothing_twice(app, runner, mailbox, tmp_path,
                                                                       protocol):
    mailbox.deliver(*[simple(n) for n in range(50)])
    configure(app, mailbox.imap_settings() if protocol == "imap" else mailbox.pop3_settings())
    env = dict(os.environ, HESK_PY_CONFIG=str(_config_file(app, tmp_path)))
    proc = subprocess.Popen([sys.executable, "-m", "hesk_py", "cron", "--job", protocol], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # watch the receipts the fetch commits, on a connection of its own that never holds a lock
    watcher = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 60
    try:
        with watcher.connect() as conn:
            while conn.scalar(select(func.count(InboundMail.id))) < 10:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.002)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        watcher.dispose()
    done = _count(app, Ticket)
    assert 10 <= done < 50
    # the killed run still holds the lease: the next cron run waits ...
    assert cron(runner, protocol).startswith(f"{protocol}: skipped")
    with app.app_context():  # ... until the task timeout has passed
        db.session.execute(update(JobRun).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    line = cron(runner, protocol)
    assert f"{50 - done} new tickets, 0 replies" in line  # the rest; what was imported is skipped
    rows = ticket_rows(app)
    assert len(rows) == 50
    assert sorted(t.subject for t in rows) == sorted(f"Question number {n}" for n in range(50))
    assert mailbox.messages() == {}
    with app.app_context():  # each customer got one confirmation, none twice
        recipients = db.session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.template == "new_ticket")).all()
        assert sorted(recipients) == sorted(f"customer{n}@example.org" for n in range(50))


# --- the settings page's "Test connection" buttons, against the real server --------------------------

def test_connection_buttons_show_the_servers_answer(app, client, admin, login, csrf, mailbox):
    from tests.admin.test_settings import submit, words

    mailbox.deliver(simple(1), simple(2))
    login("admin")
    imap = mailbox.imap_settings()
    page = words(submit(client, "email", {"imap_host_name": "127.0.0.1", "imap_host_port": str(imap["imap_host_port"]),
                                          "imap_enc": "", "imap_user": mailbox.user,
                                          "imap_password": mailbox.password, "imap_mailbox": "INBOX"},
                        action="/admin/settings/email/test/imap"))
    assert (f"Connected to 127.0.0.1 port {imap['imap_host_port']}, logged in and opened INBOX (2 messages)."
            in page)
    assert "Dovecot" in page  # the server's greeting
    pop3 = mailbox.pop3_settings()
    page = words(submit(client, "email", {"pop3_host_name": "127.0.0.1", "pop3_host_port": str(pop3["pop3_host_port"]),
                                          "pop3_tls": None, "pop3_user": mailbox.user,
                                          "pop3_password": "wrong-password"},
                        action="/admin/settings/email/test/pop3"))
    assert "Connection failed." in page and "[AUTH] Authentication failed." in page
    assert "wrong-password" not in page
