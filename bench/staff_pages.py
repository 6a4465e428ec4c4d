#!/usr/bin/env python3
"""Load generator for the staff pages: the ticket list (default view), a ticket with 50 replies, and a
full-text search in messages, each at N concurrent clients against a running ``hesk-py serve``.

Every client is a browser of its own: it logs in through the real login form (CSRF token, session
cookie) and keeps one keep-alive connection. The report gives requests per second, p50 and p99 latency
and the HTTP statuses seen, next to HESK 3.5.3's figures (issue 5), and the number of SQL statements
each page runs (measured in-process on the same database, with the app's test client).

Usage (from the project folder; HESK_PY_CONFIG names the bench database, as for hesk-py)::

    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/seed.py --tickets 100000
    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/hesk-py serve --port 8080 &
    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/staff_pages.py --url http://127.0.0.1:8080 --prepare

``--prepare`` makes sure ``--long-tickets`` tickets have at least 50 replies, adding the missing ones through
the ticket service (staff and customer in turn), so the "ticket with 50 replies" page is a real thread. It
only adds replies; run it on a bench database. The staff account is ``bench_admin`` from bench/seed.py.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

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


class Client:
    """One simulated browser: a keep-alive connection and its cookies."""

    def __init__(self, base: str):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for value in resp.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp.status, data

    def login(self, username: str, password: str) -> None:
        status, html = self.request("GET", "/admin/login")
        match = _CSRF.search(html.decode("utf-8"))
        if status != 200 or not match:
            raise SystemExit(f"GET /admin/login answered {status}")
        body = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": match.group(1)}).encode()
        status, _ = self.request("POST", "/admin/login", body,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise SystemExit(f"logging in as {username} answered {status} (wrong password, or MFA required?)")


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000


def run_phase(name: str, clients: list[Client], work, duration: float, expected: int) -> Result:
    """Every client calls ``work(client)`` in a loop for ``duration`` seconds."""
    result = Result(name)
    lock = threading.Lock()
    gate = threading.Barrier(len(clients) + 1)
    stop_at = [0.0]

    def loop(client: Client):
        lat, statuses, errors = [], Counter(), 0
        gate.wait()
        while time.monotonic() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                status = work(client)
            except Exception as exc:  # noqa: BLE001  (a load test counts failures, it does not stop)
                status = f"error:{type(exc).__name__}"
            lat.append(time.perf_counter() - t0)
            statuses[status] += 1
            errors += status != expected
        with lock:
            result.latencies.extend(lat)
            result.statuses.update(statuses)
            result.errors += errors

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + duration
    gate.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    result.elapsed = time.monotonic() - t0
    return result


# --- the database side: preparing long threads, counting queries ----------------------------------

def _app():
    sys.path.insert(0, ROOT)
    from hesk_py import create_app

    return create_app({"HESK_SEND_MAIL_AFTER_REQUEST": False})


def prepare_long_tickets(app, count: int, replies: int, username: str) -> list[str]:
    """Tracking IDs of ``count`` open tickets with at least ``replies`` replies, topping them up through the
    ticket service when needed."""
    from sqlalchemy import select

    from hesk_py.extensions import db
    from hesk_py.models import Status, Ticket, User
    from hesk_py.models.workflow import STATUS_CLOSED
    from hesk_py.services import tickets as svc

    with app.app_context():
        staff = db.session.scalar(select(User).where(User.username == username))
        if staff is None:
            raise SystemExit(f"no staff account {username}: run bench/seed.py first")
        have = list(db.session.scalars(select(Ticket.trackid).where(Ticket.reply_count >= replies)
                                       .order_by(Ticket.id.desc()).limit(count)))
        if len(have) < count:
            open_ids = select(Status.id).where(Status.kind != STATUS_CLOSED)
            extra = db.session.scalars(select(Ticket).where(Ticket.reply_count < replies,
                                                            Ticket.status_id.in_(open_ids))
                                       .order_by(Ticket.id.desc()).limit(count - len(have))).all()
            for ticket in extra:
                for i in range(ticket.reply_count, replies):
                    actor = svc.Actor.staff(staff) if i % 2 else svc.Actor.customer(ticket.name, ticket.customer_id)
                    svc.add_reply(ticket, message=f"Follow-up {i + 1}: still looking into the printer problem.\n"
                                                  "Could you check the cable and send us the error code?",
                                  actor=actor, notify=False)
                have.append(ticket.trackid)
        total = db.session.scalar(select(db.func.count(Ticket.id)))
    print(f"database: {total:,} tickets; {len(have)} tickets with >= {replies} replies", flush=True)
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
        client.get(url)  # warm
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
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per page")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed load before each page")
    ap.add_argument("--pages", default="list,view,search")
    ap.add_argument("--user", default="bench_admin")
    ap.add_argument("--password", default="Bench-seed-2024")
    ap.add_argument("--long-tickets", type=int, default=10, help="tickets with 50 replies to view")
    ap.add_argument("--replies", type=int, default=50)
    ap.add_argument("--words", default=",".join(SEARCH_WORDS), help="words searched in messages, in turn")
    ap.add_argument("--prepare", action="store_true", help="top up --long-tickets tickets to --replies replies")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)

    app = _app()
    if args.prepare or "view" in args.pages:
        long_ids, total = prepare_long_tickets(app, args.long_tickets if args.prepare else 0, args.replies,
                                               args.user)
    if "view" in args.pages and not long_ids:
        raise SystemExit("no ticket has 50 replies yet: run with --prepare")
    words = [w for w in args.words.split(",") if w]
    sample_urls = {"list": "/admin/", "search": "/admin/?" + urllib.parse.urlencode({"q": words[0],
                                                                                     "what": "message"})}
    if long_ids:
        sample_urls["view"] = f"/admin/tickets/{long_ids[0]}"
    queries = count_queries(app, args.user, args.password, sample_urls)

    clients = [Client(args.url) for _ in range(args.clients)]
    for c in clients:
        c.login(args.user, args.password)
    counter = {"search": 0}
    lock = threading.Lock()

    def page_list(c):
        return c.request("GET", "/admin/")[0]

    def page_view(c):
        return c.request("GET", f"/admin/tickets/{random.choice(long_ids)}")[0]

    def page_search(c):
        with lock:
            counter["search"] += 1
            word = words[counter["search"] % len(words)]
        return c.request("GET", "/admin/?" + urllib.parse.urlencode({"q": word, "what": "message"}))[0]

    work = {"list": page_list, "view": page_view, "search": page_search}
    results = []
    for name in [p.strip() for p in args.pages.split(",") if p.strip()]:
        if args.warmup:
            run_phase(name + "-warmup", clients, work[name], args.warmup, 200)
        r = run_phase(name, clients, work[name], args.duration, 200)
        results.append(r)
        print(f"{name:6s} {r.rate:8.1f} req/s  p50 {r.pct(50):7.1f} ms  p99 {r.pct(99):7.1f} ms  "
              f"n={len(r.latencies):,}  statuses={dict(r.statuses)}", flush=True)

    labels = {"list": "GET /admin/ (default view)", "view": f"GET /admin/tickets/<id> ({args.replies} replies)",
              "search": "GET /admin/?q=<word>&what=message"}
    print()
    print(f"{total:,} tickets, {args.clients} clients, {args.duration:.0f} s per page, against {args.url}")
    print(f"{'page':40s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'SQL':>4s} {'HESK req/s':>11s} "
          f"{'HESK p50':>9s} {'errors':>7s}")
    rows = []
    for r in results:
        hesk_rate, hesk_p50 = _nearest(HESK[r.name], total)
        print(f"{labels[r.name]:40s} {r.rate:8.1f} {r.pct(50):8.1f} {r.pct(99):8.1f} {queries.get(r.name, 0):4d} "
              f"{hesk_rate if hesk_rate is not None else '-':>11} {hesk_p50 if hesk_p50 is not None else '-':>9} "
              f"{r.errors:7d}")
        rows.append({"page": r.name, "rate": round(r.rate, 1), "p50_ms": round(r.pct(50), 1),
                     "p99_ms": round(r.pct(99), 1), "requests": len(r.latencies), "errors": r.errors,
                     "statuses": {str(k): v for k, v in r.statuses.items()}, "sql": queries.get(r.name),
                     "hesk_rate": hesk_rate, "hesk_p50_ms": hesk_p50})
    print("targets: " + "; ".join(TARGETS))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"tickets": total, "clients": args.clients, "duration": args.duration, "url": args.url,
                       "results": rows}, fh, indent=2)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
