#!/usr/bin/env python3
"""The staff pages under load: the ticket list (default view), a ticket with 50 replies, and a full-text
search in messages, each at N concurrent connections against a running ``hesk-py serve``.

The load comes from ``wrk`` (bench/load.py): Python logs in once through the real login form (CSRF token,
session cookie), then wrk replays the prepared requests with that cookie. Per page the report gives
requests per second, p50/p99 latency, the HTTP statuses, the SQL statements the page runs (counted
in-process on the same database) and, measured from ``/proc``, the CPU time per request of the server
processes and of ``mariadbd``: wall-clock rates are noisy on a shared 2-core machine, CPU time per request is
not (much). The load average is printed beside each figure.

Usage (from the project folder; HESK_PY_CONFIG names the bench database, as for hesk-py)::

    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/seed.py --tickets 100000
    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/hesk-py serve --port 8091 &
    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/staff_pages.py --url http://127.0.0.1:8091 --prepare

``--prepare`` makes sure ``--long-tickets`` open tickets have at least 50 replies, adding the missing ones
through the ticket service (staff and customer in turn), so the "ticket with 50 replies" page is a real
thread. It only adds replies; run it on a bench database. The staff account is ``bench_admin`` from
bench/seed.py (``--user``/``--password`` for another one, e.g. ``bench_staff_001`` to measure a staff
member limited to some categories).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import urllib.parse
from http.cookies import SimpleCookie

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench.load import Request, cpu_seconds, load_average, pids_named, run, server_pids  # noqa: E402

# HESK 3.5.3 on a 2-core machine, 8 clients (issue 5): req/s and p50 in ms where known.
HESK = {
    "list": {10_000: (136.0, None), 100_000: (18.2, 436.0)},
    "view": {None: (483.0, None)},
    "search": {10_000: (8.7, None), 100_000: (0.8, 8700.0)},
}
TARGETS = ("list: >= 200 req/s at 100,000 tickets; p50 at 1,000,000 <= 2x p50 at 10,000",
           "view: >= HESK's 483 req/s",
           "search: >= 80 req/s at 100,000 tickets; p50 < 100 ms at 1,000,000")
# Words of the seeded text (bench/seed.py) in several languages, some common, some rare.
SEARCH_WORDS = ("printer", "refund", "invoice", "password", "courier", "licence", "warranty", "screenshot",
                "принтер", "пароль", "рахунок", "фактура", "parole", "rēķins")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Flask-Login's session protection ties a session to the browser's User-Agent: login and load use the same one.
USER_AGENT = "hesk-bench (staff_pages.py + wrk)"
LABELS = {"list": "GET /admin/ (default view)", "view": "GET /admin/tickets/<id> (50 replies)",
          "search": "GET /admin/?q=<word>&what=message"}


def login_cookie(base: str, username: str, password: str) -> str:
    """Log in through the real form; the Cookie header of the logged-in session."""
    parts = urllib.parse.urlsplit(base)
    prefix = parts.path.rstrip("/")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    cookies: dict[str, str] = {}

    def request(method, path, body=None, headers=None):
        headers = dict(headers or {}, **{"User-Agent": USER_AGENT})
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request(method, prefix + path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    cookies.pop(name, None)
                else:
                    cookies[name] = morsel.value
        return resp.status, data

    status, html = request("GET", "/admin/login")
    match = _CSRF.search(html.decode("utf-8"))
    if status != 200 or not match:
        raise SystemExit(f"GET /admin/login answered {status}")
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": match.group(1)})
    status, _ = request("POST", "/admin/login", body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 302:
        raise SystemExit(f"logging in as {username} answered {status} (wrong password, or MFA required?)")
    status, _ = request("GET", "/admin/")
    if status != 200:
        raise SystemExit(f"GET /admin/ after logging in answered {status}")
    conn.close()
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- the database side: preparing long threads, counting queries ----------------------------------

def _app():
    from hesk_py import create_app

    return create_app({"HESK_SEND_MAIL_AFTER_REQUEST": False})


def prepare_long_tickets(app, count: int, replies: int, username: str) -> tuple[list[str], int]:
    """Tracking IDs of open tickets with at least ``replies`` replies (up to ``count`` of them, at least one
    when any exists), topping ``count`` of them up through the ticket service when ``count`` > 0."""
    from sqlalchemy import func, select

    from hesk_py.extensions import db
    from hesk_py.models import Status, Ticket, User
    from hesk_py.models.workflow import STATUS_CLOSED
    from hesk_py.services import tickets as svc

    with app.app_context():
        staff = db.session.scalar(select(User).where(User.username == username))
        if staff is None:
            raise SystemExit(f"no staff account {username}: run bench/seed.py first")
        want = max(count, 10)
        have = list(db.session.scalars(select(Ticket.trackid).where(Ticket.reply_count >= replies)
                                       .order_by(Ticket.id.desc()).limit(want)))
        if len(have) < count:
            open_ids = select(Status.id).where(Status.kind != STATUS_CLOSED)
            extra = db.session.scalars(select(Ticket).where(Ticket.reply_count < replies,
                                                            Ticket.status_id.in_(open_ids))
                                       .order_by(Ticket.id.desc()).limit(count - len(have))).all()
            for ticket in extra:
                for i in range(ticket.reply_count, replies):
                    actor = svc.Actor.staff(staff) if i % 2 else svc.Actor.customer(ticket.name, ticket.customer_id)
                    svc.add_reply(ticket, message=f"Follow-up {i + 1}: still looking into the printer problem.\n"
                                                  "Could you check the cable and send us the error code? "
                                                  "See https://example.com/help/printers for the steps.",
                                  actor=actor, notify=False)
                have.append(ticket.trackid)
        total = db.session.scalar(select(func.count()).select_from(Ticket))
    return have, total


def count_queries(app, username: str, password: str, urls: dict[str, str]) -> dict[str, int]:
    """SQL statements per page, measured with the app's test client on the bench database."""
    from sqlalchemy import event

    from hesk_py.extensions import db

    client = app.test_client()
    html = client.get("/admin/login").get_data(as_text=True)
    client.post("/admin/login", data={"username": username, "password": password,
                                      "csrf_token": _CSRF.search(html).group(1)})
    out = {}
    with app.app_context():
        engine = db.engine
    for name, url in urls.items():
        client.get(url)  # warm (twice: the first request of a process fills its caches)
        client.get(url)
        seen = []

        def listen(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            resp = client.get(url)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        out[name] = len(seen) if resp.status_code == 200 else -resp.status_code
    return out


def _nearest(table: dict, tickets: int):
    if None in table:
        return table[None]
    key = min(table, key=lambda k: abs(k - tickets))
    return table[key] if abs(key - tickets) <= key * 0.5 else (None, None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8091")
    ap.add_argument("--clients", type=int, default=8, help="concurrent connections")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per page")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load before each page")
    ap.add_argument("--pages", default="list,view,search")
    ap.add_argument("--user", default="bench_admin")
    ap.add_argument("--password", default="Bench-seed-2024")
    ap.add_argument("--long-tickets", type=int, default=10, help="tickets with 50 replies to view")
    ap.add_argument("--replies", type=int, default=50)
    ap.add_argument("--words", default=",".join(SEARCH_WORDS), help="words searched in messages, in turn")
    ap.add_argument("--prepare", action="store_true", help="top up --long-tickets tickets to --replies replies")
    ap.add_argument("--server-pids", default="", help="comma-separated pids of the server (default: the "
                                                      "processes listening on --url's port)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]

    app = _app()
    long_ids, total = prepare_long_tickets(app, args.long_tickets if args.prepare else 0, args.replies, args.user)
    if "view" in pages and not long_ids:
        raise SystemExit(f"no ticket has {args.replies} replies yet: run with --prepare")
    words = [w for w in args.words.split(",") if w]
    paths = {
        "list": ["/admin/"],
        "view": [f"/admin/tickets/{t}" for t in long_ids[:args.long_tickets]],
        "search": ["/admin/?" + urllib.parse.urlencode({"q": w, "what": "message"}) for w in words],
    }
    queries = count_queries(app, args.user, args.password, {name: paths[name][0] for name in pages})
    print(f"database: {total:,} tickets; {len(long_ids)} tickets with >= {args.replies} replies; "
          f"SQL per page: {queries}", flush=True)

    cookie = login_cookie(args.url, args.user, args.password)
    port = urllib.parse.urlsplit(args.url).port or 80
    server = [int(p) for p in args.server_pids.split(",") if p] or server_pids(port)
    # the database server listening on the port of the help desk's database URL (several may run here)
    with app.app_context():
        from hesk_py.extensions import db

        url = db.engine.url
    mariadb = (server_pids(url.port or 3306) if url.get_backend_name() == "mysql" and url.host in
               ("127.0.0.1", "localhost") else []) or pids_named("mariadbd") or pids_named("mysqld")
    if not server:
        print("warning: no server process found on the port (another user's?); no CPU figures", flush=True)

    results = []
    for name in pages:
        reqs = [Request("GET", p, {"Cookie": cookie, "User-Agent": USER_AGENT}) for p in paths[name]]
        if args.warmup:
            run(args.url, reqs, clients=args.clients, duration=args.warmup)
        load_before = load_average()
        app_cpu, db_cpu = cpu_seconds(server), cpu_seconds(mariadb)
        r = run(args.url, reqs, clients=args.clients, duration=args.duration)
        app_cpu, db_cpu = cpu_seconds(server) - app_cpu, cpu_seconds(mariadb) - db_cpu
        n = max(1, r.requests)
        row = {"page": name, "rate": round(r.rate, 1), "p50_ms": round(r.p50_ms, 1), "p90_ms": round(r.p90_ms, 1),
               "p99_ms": round(r.p99_ms, 1), "requests": r.requests, "statuses": r.statuses,
               "socket_errors": r.socket_errors, "sql": queries.get(name),
               "app_cpu_ms": round(app_cpu * 1000 / n, 2) if server else None,
               "db_cpu_ms": round(db_cpu * 1000 / n, 2) if mariadb else None,
               "load_before": load_before, "load_after": load_average(), "errors": r.unexpected(200)}
        row["hesk_rate"], row["hesk_p50_ms"] = _nearest(HESK[name], total)
        results.append(row)
        print(f"{name:6s} {r.rate:8.1f} req/s  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  n={r.requests:,}  "
              f"cpu/req app {row['app_cpu_ms']} ms db {row['db_cpu_ms']} ms  load {row['load_after']}  "
              f"statuses={r.statuses}", flush=True)

    print()
    print(f"{total:,} tickets, {args.clients} connections, {args.duration:.0f} s per page, against {args.url} "
          f"as {args.user}")
    print(f"{'page':38s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'SQL':>4s} {'app ms':>7s} {'db ms':>6s} "
          f"{'HESK req/s':>10s} {'HESK p50':>8s} {'load':>15s} {'errors':>6s}")
    for row in results:
        print(f"{LABELS[row['page']]:38s} {row['rate']:7.1f} {row['p50_ms']:7.1f} {row['p99_ms']:7.1f} "
              f"{row['sql'] or 0:4d} {row['app_cpu_ms'] if row['app_cpu_ms'] is not None else '-':>7} "
              f"{row['db_cpu_ms'] if row['db_cpu_ms'] is not None else '-':>6} "
              f"{row['hesk_rate'] if row['hesk_rate'] is not None else '-':>10} "
              f"{row['hesk_p50_ms'] if row['hesk_p50_ms'] is not None else '-':>8} {row['load_after']:>15s} "
              f"{row['errors']:6d}")
    print("targets: " + "; ".join(TARGETS))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"tickets": total, "clients": args.clients, "duration": args.duration, "url": args.url,
                       "user": args.user, "results": results}, fh, indent=2, ensure_ascii=False)
    return 1 if any(row["errors"] for row in results) else 0


if __name__ == "__main__":
    sys.exit(main())
