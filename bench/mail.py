#!/usr/bin/env python3
"""Mail benchmark: how many queued mails per second the outbox sends to an SMTP server (aiosmtpd), and how
many messages per second email piping and IMAP/POP3 fetching (against Dovecot) turn into tickets.

Usage (from the project folder)::

    .venv/bin/python bench/mail.py [--server-url mysql+pymysql://root@127.0.0.1:3306/] [--mails 2000]
        [--pipe 1000] [--pipe-processes 20] [--fetch 1000] [--keep] [--out FILE]
    .venv/bin/python bench/mail.py --server-url sqlite      # the same on a throw-away SQLite file

What it does:

1. creates a throw-away database ``hesk_test_mailbench_<pid>_<hex>`` on the server (dropped at the end unless
   ``--keep``), writes a bootstrap config for it in a temporary folder, runs the real migrations and the
   default rows;
2. outbox: starts aiosmtpd in a process of its own (so it does not share this one's interpreter lock),
   queues ``--mails`` confirmation mails (copies of a real ticket's "Ticket received" row, each to its own
   address) and times ``mailer.deliver_due`` until the outbox is empty: claim, render, SMTP, mark sent,
   one row at a time, over one SMTP connection per run. The server must have received every one;
3. piping: ``--pipe`` different customer emails (plain text, some HTML-only, some replies to an existing
   ticket) through ``inbound.import_message``, one after the other in this process: parse, loop and junk
   checks, the ticket or reply, its confirmation, the receipt row. Then ``--pipe-processes`` of them through
   ``hesk-py pipe`` as a mail server runs it, a new process per email (interpreter start included);
4. fetching: starts a Dovecot on loopback (the test suite's, tests/email/conftest.py), puts ``--fetch``
   emails in a mailbox over IMAP APPEND and times one IMAP fetch (``fetch.fetch_imap``, deleting after
   import), then the same over POP3 (``fetch.fetch_pop3``);
5. prints the rates (and writes them as JSON with ``--out``).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

HESK_PY = ROOT / ".venv" / "bin" / "hesk-py"


# --- the database -------------------------------------------------------------------------------------

def make_database(server_url: str, workdir: Path):
    """A throw-away database and a function that drops it."""
    if server_url == "sqlite":
        return f"sqlite:///{workdir / 'mailbench.db'}", (lambda: None)
    name = f"hesk_test_mailbench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    url = make_url(server_url).set(database=name).set(query={"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False), drop


def write_config(workdir: Path, db_url: str) -> Path:
    from hesk_py import config

    path = workdir / "config.ini"
    config.write_file(path, {
        ("database", "url"): db_url,
        ("security", "secret_key"): secrets.token_urlsafe(48),
        ("paths", "attachments"): str(workdir / "attachments"),
        ("logging", "level"): "WARNING",
    })
    return path


# --- an SMTP server in its own process ---------------------------------------------------------------

def _smtp_server(port: int, received, ready) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the emails ---------------------------------------------------------------------------------------

LINES = ("Hello, since this morning the printer on the second floor shows a paper jam.",
         "I already opened every tray and there is no paper stuck anywhere.",
         "Could you send somebody, or tell me what else to try?",
         "Доброго дня! Не можу увійти до особистого кабінету, пише що пароль неправильний.",
         "The invoice for May was charged twice, please refund one of them.",
         "Attached is nothing, but the order number is 48213.")


def customer_mail(n: int, *, reply_to: str | None = None) -> bytes:
    sender = f"customer{n}@bench.example"
    body = "\n".join(LINES[(n + i) % len(LINES)] for i in range(4)) + f"\n\nRegards,\nCustomer {n}\n"
    subject = f"Re: [#{reply_to}] Printer on fire" if reply_to else f"Problem number {n}"
    if reply_to:
        sender = "casey@bench.example"
    head = (f"From: Customer {n} <{sender}>\r\nTo: support@bench.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <bench-{n}-{secrets.token_hex(4)}@bench.example>\r\n"
            "Date: Mon, 10 Jun 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")
    if n % 5 == 1:  # HTML only, as some mail programs send it
        html = "".join(f"<p>{line}</p>" for line in body.split("\n") if line)
        return (head + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"<html><body>{html}</body></html>\r\n").encode()
    return (head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def mails(start: int, count: int, trackid: str) -> list[bytes]:
    # one in ten is the customer's reply to an existing ticket
    return [customer_mail(n, reply_to=trackid if n % 10 == 3 else None) for n in range(start, start + count)]


# --- the phases ---------------------------------------------------------------------------------------

def bench_outbox(app, n: int) -> dict:
    from hesk_py import settings
    from hesk_py.extensions import db
    from hesk_py.models import OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
    from hesk_py.services import mailer

    port = free_port()
    ctx = multiprocessing.get_context("fork")
    received, ready = ctx.Value("i", 0), ctx.Event()
    server = ctx.Process(target=_smtp_server, args=(port, received, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(20):
            raise RuntimeError("aiosmtpd did not start")
        with app.app_context():
            settings.save({"smtp": True, "smtp_host_name": "127.0.0.1", "smtp_host_port": port, "smtp_enc": ""})
            model = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "new_ticket"))
            db.session.execute(insert(OutboxMessage), [
                {"template": "new_ticket", "recipient": f"reader{i}@bench.example", "language": model.language,
                 "ticket_id": model.ticket_id, "context": model.context, "status": OUTBOX_QUEUED, "attempts": 0}
                for i in range(n)])
            db.session.commit()
            queued = mailer.queued_count()
            started = time.perf_counter()
            sent = 0
            while mailer.queued_count():
                counts = mailer.deliver_due(limit=500)
                if not counts["sent"]:
                    raise RuntimeError(f"the outbox stopped sending: {counts}")
                sent += counts["sent"]
            seconds = time.perf_counter() - started
            done = db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == OUTBOX_SENT))
        deadline = time.monotonic() + 10
        while received.value < queued and time.monotonic() < deadline:
            time.sleep(0.05)
        if received.value < queued:
            raise RuntimeError(f"aiosmtpd received {received.value} of {queued} mails")
        return {"mails": sent, "seconds": seconds, "per_second": sent / seconds, "sent_rows": done,
                "received": received.value}
    finally:
        server.kill()
        server.join()


def bench_pipe(app, n: int, processes: int, config: Path, trackid: str) -> dict:
    from hesk_py.services import inbound

    messages = mails(100_000, n, trackid)
    actions: dict[str, int] = {}
    with app.app_context():
        started = time.perf_counter()
        for raw in messages:
            result = inbound.import_message(raw, channel="pipe")
            actions[result.action] = actions.get(result.action, 0) + 1
        seconds = time.perf_counter() - started
    out = {"messages": n, "seconds": seconds, "per_second": n / seconds, "actions": actions}
    if processes:
        env = dict(os.environ, HESK_PY_CONFIG=str(config))
        started = time.perf_counter()
        for raw in mails(200_000, processes, trackid):
            proc = subprocess.run([str(HESK_PY), "pipe"], input=raw, env=env, cwd=ROOT, capture_output=True)
            if proc.returncode != 0 or not proc.stdout.startswith((b"created", b"replied")):
                raise RuntimeError(f"hesk-py pipe: {proc.returncode} {proc.stdout!r} {proc.stderr[-500:]!r}")
        seconds = time.perf_counter() - started
        out["process_per_email"] = {"messages": processes, "seconds": seconds, "per_second": processes / seconds}
    return out


def bench_fetch(app, n: int, trackid: str) -> dict:
    from tests.email.conftest import Dovecot, Mailbox

    from hesk_py import settings
    from hesk_py.services import fetch

    root = Path(tempfile.mkdtemp(prefix="hesk-mailbench-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    server.start()
    out = {}
    try:
        for protocol, start in (("imap", 300_000), ("pop3", 400_000)):
            box = Mailbox(server, *server.add_user())
            box.deliver(*mails(start, n, trackid))
            with app.app_context():
                settings.save(box.imap_settings() if protocol == "imap" else box.pop3_settings())
                started = time.perf_counter()
                result = fetch.fetch_imap() if protocol == "imap" else fetch.fetch_pop3()
                seconds = time.perf_counter() - started
            imported = result.counts["created"] + result.counts["replied"]
            if imported != n or box.messages():
                raise RuntimeError(f"{protocol}: {result.line()}")
            out[protocol] = {"messages": n, "seconds": seconds, "per_second": n / seconds}
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-url", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="MariaDB/MySQL server URL (a throw-away database is created there), or 'sqlite'")
    ap.add_argument("--mails", type=int, default=2000, help="queued mails the outbox sends")
    ap.add_argument("--pipe", type=int, default=1000, help="emails imported by piping (in this process)")
    ap.add_argument("--pipe-processes", type=int, default=20, help="emails through a hesk-py pipe process each")
    ap.add_argument("--fetch", type=int, default=1000, help="emails fetched over IMAP, then over POP3")
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    ap.add_argument("--out", help="also write the results as JSON to this file")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="hesk-mailbench-"))
    db_url, drop = make_database(args.server_url, workdir)
    cfg = write_config(workdir, db_url)
    os.environ["HESK_PY_CONFIG"] = str(cfg)
    try:
        from hesk_py import create_app, settings
        from hesk_py.services import schema, tickets
        from hesk_py.services.defaults import seed_defaults

        app = create_app({"HESK_SEND_MAIL_AFTER_REQUEST": False})
        print(f"database: {make_url(db_url).render_as_string(hide_password=True)}", file=sys.stderr)
        with app.app_context():
            schema.upgrade()
            seed_defaults()
            # one customer writes many emails in the bench: loop protection would (rightly) stop them
            settings.save({"loop_hits": 0, "email_piping": True})
            trackid = tickets.create_ticket(
                name="Casey Customer", email="casey@bench.example", subject="Printer on fire",
                message="It smokes.", category_id=1, actor=tickets.Actor.customer("Casey Customer"),
                autoassign=False).trackid
        results = {"database": make_url(db_url).get_backend_name()}
        results["outbox"] = bench_outbox(app, args.mails)
        print(f"outbox: {results['outbox']['mails']:,} mails in {results['outbox']['seconds']:.1f} s = "
              f"{results['outbox']['per_second']:,.0f} mails/s", file=sys.stderr)
        results["pipe"] = bench_pipe(app, args.pipe, args.pipe_processes, cfg, trackid)
        print(f"piping: {args.pipe:,} emails in {results['pipe']['seconds']:.1f} s = "
              f"{results['pipe']['per_second']:,.0f} emails/s {results['pipe']['actions']}", file=sys.stderr)
        if "process_per_email" in results["pipe"]:
            p = results["pipe"]["process_per_email"]
            print(f"piping, a hesk-py pipe process per email: {p['messages']} in {p['seconds']:.1f} s = "
                  f"{p['per_second']:.1f} emails/s", file=sys.stderr)
        if args.fetch:
            results["fetch"] = bench_fetch(app, args.fetch, trackid)
            for protocol, r in results["fetch"].items():
                print(f"{protocol}: {r['messages']:,} emails in {r['seconds']:.1f} s = {r['per_second']:,.0f} "
                      f"emails/s", file=sys.stderr)
        print(json.dumps(results, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2))
    finally:
        if args.keep:
            print(f"kept: {make_url(db_url).render_as_string(hide_password=True)}", file=sys.stderr)
        else:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
