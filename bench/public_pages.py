#!/usr/bin/env python3
"""Load test of the customer pages: GET /, GET /submit_ticket?category=1, POST a ticket (the real form,
with its CSRF token and one-time form token) and GET /ticket (tracking ID + email).

The load comes from ``wrk`` (bench/load.py): every request is prepared here first (forms fetched with their
session cookies, multipart bodies built), then wrk sends them with ``--clients`` keep-alive connections. For
each page it reports requests per second, p50/p99 latency, the statuses seen (anything but the expected
status is an error), the CPU milliseconds per request of the server processes, of mariadbd and of wrk, the
SQL statements one request runs (counted in this process, through the app, before the run) and the load
average.

Usage (from the project folder; the help desk's bootstrap config is HESK_PY_CONFIG, as for hesk-py)::

    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/hesk-py serve --port 8080 &
    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/public_pages.py \\
        --url http://127.0.0.1:8080 --clients 8 --duration 20 --prepare

The database is used only to pick tickets to view: ``--sample`` random (tracking ID, email) pairs are read
before the run, so GET /ticket looks at tickets all over the table, not one cached row. Each view is a
first visit (no cookie): the tracking ID and the email are checked, as when a customer follows the link
in an email.

Anti-spam stays on, the bench goes through it like a customer:
* the anti-spam question is answered (its answer is read from the settings);
* every ticket is posted with its own form, fetched before the timed POST phase (``--forms`` of them, each
  with the session cookie and CSRF token of its own browser session and its one-time form token); each
  form is posted once, and the run checks that every 303 filed one ticket with one confirmation email in
  the outbox.

``--prepare`` makes the help desk bench-friendly through ``hesk-py settings set`` and puts the previous
values back at the end. It changes only what one machine hammering from one IP address would trip over,
never what protects the data: the image CAPTCHA off (a person reads it, a script cannot) with the
question on instead, the minimum fill time 0 (forms are fetched and posted at once), flood protection
and the per-IP ticket limit off (every client comes from 127.0.0.1).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HESK_PY = os.path.join(ROOT, ".venv", "bin", "hesk-py")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.load import Request, pids_named, run, server_pids  # noqa: E402

BENCH_SETTINGS = {"secimg_use": "0", "question_use": "1", "spam_min_fill_seconds": "0", "flood": "0",
                  "spam_tickets_per_hour": "0"}
# the question first: at least one anti-spam measure must stay on
PREPARE_ORDER = ("question_use", "secimg_use", "spam_min_fill_seconds", "flood", "spam_tickets_per_hour")
RESTORE_ORDER = ("secimg_use", "question_use", "spam_min_fill_seconds", "flood", "spam_tickets_per_hour")

# HESK 3.5.3 on a 2-core machine, 100,000 tickets, 8 clients (issue 4).
HESK = {"home": 1375.0, "form": 875.0, "post": 11.5, "view": 990.0}
TARGET = {"home": 1375.0, "form": 875.0, "post": 150.0, "view": 990.0}
LABELS = {"home": "GET /", "form": "GET /submit_ticket?category=1", "post": "POST /submit_ticket",
          "view": "GET /ticket?track=&e="}

_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>|<input[^>]*name="h[xy]"[^>]*>')
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    out = {}
    for tag in _HIDDEN.findall(html):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
    return out


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """The body a browser sends for the ticket form (multipart, with an empty file input)."""
    boundary = "----hesk" + secrets.token_hex(12)
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
    out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename=""\r\n'
               f"Content-Type: application/octet-stream\r\n\r\n\r\n")
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode("utf-8"), f"multipart/form-data; boundary={boundary}"


def ticket_fields(form: dict[str, str], n: str, answer: str) -> dict[str, str]:
    """What a customer types into the form (``form``: its hidden fields, tokens included)."""
    fields = dict(form)
    fields.update({"name": f"Bench Customer {n}", "email": f"bench.{n}@example.com",
                   "subject": f"Bench ticket {n}: the printer is jammed",
                   "message": "Hello,\n\nthe printer on the second floor jams on every second page.\n"
                              "Could someone have a look?\n\nThanks", "question": answer or "",
                   "priority": "3"})
    return fields


# --- preparing requests -------------------------------------------------------------------------------

def fetch_forms(base: str, path: str, count: int, workers: int = 8) -> list[tuple[str, dict[str, str]]]:
    """``count`` ticket forms, each from a browser session of its own: (Cookie header, hidden fields)."""
    parts = urllib.parse.urlsplit(base)
    prefix = parts.path.rstrip("/")
    out: list[tuple[str, dict[str, str]]] = []
    lock = threading.Lock()
    left = [count]

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            conn.request("GET", prefix + path, headers={"User-Agent": "hesk-bench (prepare)"})
            resp = conn.getresponse()
            html = resp.read().decode("utf-8")
            if resp.status != 200:
                raise SystemExit(f"GET {path} answered {resp.status}")
            jar = SimpleCookie()
            for value in resp.headers.get_all("Set-Cookie") or []:
                jar.load(value)
            cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
            with lock:
                out.append((cookie, hidden_fields(html)))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(out) < count:
        raise SystemExit("could not fetch the ticket forms")
    return out


def post_requests(forms, answer: str) -> list[Request]:
    reqs = []
    for i, (cookie, form) in enumerate(forms):
        body, ctype = multipart(ticket_fields(form, f"{i}-{secrets.token_hex(3)}", answer))
        reqs.append(Request("POST", "/submit_ticket", {"Cookie": cookie, "Content-Type": ctype}, body))
    return reqs


# --- the database: tickets to view, what the POSTs filed, SQL per request ----------------------------------

_APP = None


def _app():
    global _APP
    if _APP is None:
        from hesk_py import create_app

        # this process never sends mail; the server under test does (or tries to)
        _APP = create_app({"HESK_SEND_MAIL_AFTER_REQUEST": False})
    return _APP


def outbox_mark() -> tuple[int, int]:
    """(highest outbox id, highest ticket id) now: what the POST phase adds is counted from here."""
    from sqlalchemy import func, select

    from hesk_py.extensions import db
    from hesk_py.models import OutboxMessage, Ticket

    with _app().app_context():
        return (db.session.scalar(select(func.max(OutboxMessage.id))) or 0,
                db.session.scalar(select(func.max(Ticket.id))) or 0)


def filed_since(mark: tuple[int, int]) -> tuple[int, int]:
    """(tickets filed, confirmation emails queued for them) since ``mark``."""
    from sqlalchemy import func, select

    from hesk_py.extensions import db
    from hesk_py.models import OutboxMessage, Ticket

    with _app().app_context():
        tickets = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.id > mark[1]))
        mails = db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.id > mark[0], OutboxMessage.template == "new_ticket"))
    return tickets, mails


def sample_tickets(n: int) -> tuple[list[tuple[str, str]], str]:
    """Random (tracking ID, email) pairs from the help desk's database, and the anti-spam answer."""
    from sqlalchemy import func, select

    from hesk_py import settings
    from hesk_py.extensions import db
    from hesk_py.models import Ticket

    with _app().app_context():
        top = db.session.scalar(select(func.max(Ticket.id))) or 0
        if not top:
            raise SystemExit("The help desk has no tickets: run bench/seed.py first.")
        ids = random.sample(range(1, top + 1), min(n, top))
        rows = db.session.execute(select(Ticket.trackid, Ticket.email).where(Ticket.id.in_(ids),
                                                                             Ticket.email != "")).all()
        count = db.session.scalar(select(func.count(Ticket.id)))
        answer = settings.get("question_ans")
    print(f"database: {count:,} tickets; {len(rows)} sampled for viewing")
    return [(r.trackid, r.email) for r in rows], answer


def sql_per_request(form_path: str, pairs, answer: str) -> dict[str, int]:
    """SQL statements one request of each page runs, counted through the app in this process (the same
    code and database as the server; the second request of each, so per-process caches are warm)."""
    from sqlalchemy import event

    from hesk_py.extensions import db

    app = _app()
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(*_args):
        seen.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        client = app.test_client()
        trackid, email = pairs[0]
        view = "/ticket?" + urllib.parse.urlencode({"track": trackid, "e": email})
        out = {}
        for name, path in (("home", "/"), ("form", form_path), ("view", view)):
            for _ in range(2):
                app.test_client().get(path)  # a first visit each time: no cookies
            seen.clear()
            app.test_client().get(path)
            out[name] = len(seen)
        for _ in range(2):
            html = client.get(form_path).get_data(as_text=True)
            fields = ticket_fields(hidden_fields(html), "sql-" + secrets.token_hex(3), answer)
            seen.clear()
            resp = client.post("/submit_ticket", data=fields, content_type="multipart/form-data")
            if resp.status_code != 303:
                raise SystemExit(f"POST /submit_ticket answered {resp.status_code} in the SQL count")
        out["post"] = len(seen)
        return out
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- settings ------------------------------------------------------------------------------------------

def hesk_settings(action: str, key: str, value: str | None = None) -> str:
    cmd = [HESK_PY, "settings", action, key] + ([value] if value is not None else [])
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip()


def prepare() -> dict[str, str]:
    before = {key: hesk_settings("get", key) for key in BENCH_SETTINGS}
    for key in PREPARE_ORDER:
        hesk_settings("set", key, BENCH_SETTINGS[key])
    return before


def restore(before: dict[str, str]) -> None:
    for key in RESTORE_ORDER:
        hesk_settings("set", key, before[key])


# --- the run ---------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per page")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load before each GET page")
    ap.add_argument("--pages", default="home,form,post,view")
    ap.add_argument("--forms", type=int, default=0,
                    help="ticket forms fetched before the POSTs (default: enough for 400 tickets/s)")
    ap.add_argument("--sample", type=int, default=5000, help="tickets picked for GET /ticket")
    ap.add_argument("--category", type=int, default=1)
    ap.add_argument("--prepare", action="store_true", help="bench-friendly settings, put back at the end")
    ap.add_argument("--no-sql", action="store_true", help="skip counting SQL statements per page")
    ap.add_argument("--db-pid", type=int, action="append",
                    help="the database server's process (repeatable; default: every process named mariadbd)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)

    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    pairs, answer = sample_tickets(args.sample)
    before = prepare() if args.prepare else None
    try:
        results = bench(args, pages, pairs, answer)
    finally:
        if before is not None:
            restore(before)
    report(results, args)
    return 1 if any(r["errors"] for r in results) else 0


def bench(args, pages, pairs, answer) -> list[dict]:
    form_path = f"/submit_ticket?category={args.category}"
    port = urllib.parse.urlsplit(args.url).port or 80
    watch = {"app": server_pids(port), "db": args.db_pid or pids_named("mariadbd")}
    if not watch["app"]:
        print("note: the server's processes are not on this machine: no CPU figures for them")
    sql = {} if args.no_sql else sql_per_request(form_path, pairs, answer)
    views = [Request("GET", "/ticket?" + urllib.parse.urlencode({"track": t, "e": e})) for t, e in pairs]
    random.shuffle(views)
    plain = {"home": [Request("GET", "/")], "form": [Request("GET", form_path)], "view": views}
    results = []
    for name in pages:
        if name == "post":
            wanted = args.forms or int(400 * args.duration) + 200
            t0 = time.monotonic()
            reqs = post_requests(fetch_forms(args.url, form_path, wanted), answer)
            print(f"prepared {len(reqs):,} ticket forms in {time.monotonic() - t0:.1f} s", flush=True)
            mark = outbox_mark()
            r = run(args.url, reqs, clients=args.clients, threads=args.threads, duration=args.duration, watch=watch)
            expected = "303"
        else:
            reqs = plain[name]
            if args.warmup:
                run(args.url, reqs, clients=args.clients, threads=args.threads, duration=args.warmup)
            r = run(args.url, reqs, clients=args.clients, threads=args.threads, duration=args.duration, watch=watch)
            expected = "200"
        row = {"page": name, "rate": r.rate, "p50_ms": r.p50_ms, "p90_ms": r.p90_ms, "p99_ms": r.p99_ms,
               "requests": r.requests, "statuses": r.statuses, "socket_errors": r.socket_errors,
               "errors": r.unexpected(int(expected)), "cpu_ms": r.cpu_ms, "sql": sql.get(name),
               "load_average": r.load_average}
        print(f"{name:5s} {r.rate:8.1f} req/s  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  n={r.requests:,}  "
              f"cpu ms/req {r.cpu_ms}  load {r.load_average}  statuses={r.statuses}", flush=True)
        if name == "post":
            filed, mails = filed_since(mark)
            row.update(filed=filed, mails=mails, rate=filed / r.seconds if r.seconds else 0.0)
            print(f"      {filed:,} tickets filed ({row['rate']:.1f}/s), {mails:,} confirmation emails queued "
                  f"in the outbox", flush=True)
            if r.wrapped:
                print("      RAN OUT OF FORMS: forms were posted twice; give more --forms")
                row["errors"] += 1
            answered = r.statuses.get("303", 0)
            # a POST still in flight when wrk stops may have filed its ticket: at most one per connection
            if not answered <= filed <= answered + args.clients or mails != filed:
                print("      MISMATCH: every 303 should be one ticket with one confirmation email")
                row["errors"] += 1
        results.append(row)
    return results


def report(results: list[dict], args) -> None:
    print()
    print(f"{args.clients} clients, {args.duration:.0f} s per page, against {args.url}")
    print(f"{'page':30s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'app ms':>7s} {'db ms':>6s} {'SQL':>4s} "
          f"{'HESK':>7s} {'target':>7s} {'errors':>6s}  load")
    for r in results:
        cpu = r["cpu_ms"]
        print(f"{LABELS[r['page']]:30s} {r['rate']:8.1f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
              f"{cpu.get('app', float('nan')):7.2f} {cpu.get('db', float('nan')):6.2f} "
              f"{r['sql'] if r['sql'] is not None else '-':>4} {HESK[r['page']]:7.1f} {TARGET[r['page']]:7.1f} "
              f"{r['errors']:6d}  {r['load_average']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"clients": args.clients, "duration": args.duration, "url": args.url, "pages": results},
                      fh, indent=2)


if __name__ == "__main__":
    sys.exit(main())
