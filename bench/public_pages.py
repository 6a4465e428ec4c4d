#!/usr/bin/env python3
"""Load generator for the customer pages: GET /, GET /submit_ticket?category=1, POST a ticket (the real
form, with its CSRF token and one-time form token) and GET /ticket (tracking ID + email).

It talks HTTP only (http.client, one keep-alive connection and one cookie jar per client thread) to a
running ``hesk-py serve``, and reports for each page: requests per second, p50 and p99 latency, and
the HTTP statuses seen (anything other than the expected status is an error and is reported).

Usage (from the project folder; the help desk's bootstrap config is HESK_PY_CONFIG, as for hesk-py)::

    HESK_PY_CONFIG=/tmp/bench.ini .venv/bin/python bench/public_pages.py \\
        --url http://127.0.0.1:8080 --clients 8 --duration 20 --prepare

The database is used only to pick tickets to view: ``--sample`` random (tracking ID, email) pairs are read
before the run, so GET /ticket looks at tickets all over the table, not one cached row.

Anti-spam stays on, the bench goes through it like a customer:
* the anti-spam question is answered (its answer is read from the settings);
* every ticket is posted with its own form: the forms (CSRF token of the client's session, one-time
  form token) are fetched before the timed POST phase, as many as ``--forms`` per client.

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
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HESK_PY = os.path.join(ROOT, ".venv", "bin", "hesk-py")

BENCH_SETTINGS = {"secimg_use": "0", "question_use": "1", "spam_min_fill_seconds": "0", "flood": "0",
                  "spam_tickets_per_hour": "0"}

# HESK 3.5.3 on a 2-core machine, 100,000 tickets, 8 clients (issue 4).
HESK = {"home": 1375.0, "form": 875.0, "post": 11.5, "view": 990.0}
TARGET = {"home": 1375.0, "form": 875.0, "post": 150.0, "view": 990.0}

_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>|<input[^>]*name="h[xy]"[^>]*>')
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


class Client:
    """One simulated browser: a keep-alive connection and its cookies."""

    def __init__(self, base: str):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

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
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
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
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return resp.status, data


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
    """Every client calls ``work(client, i)`` in a loop for ``duration`` seconds."""
    result = Result(name)
    lock = threading.Lock()
    stop = time.monotonic() + duration
    start_gate = threading.Barrier(len(clients) + 1)

    def loop(idx: int, client: Client):
        lat, statuses, errors, i = [], Counter(), 0, 0
        start_gate.wait()
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                status = work(client, idx, i)
            except Exception as exc:  # noqa: BLE001  (a load test counts failures, it does not stop)
                status = f"error:{type(exc).__name__}"
            if status is None:  # this client has nothing left to do (out of prepared forms)
                break
            lat.append(time.perf_counter() - t0)
            statuses[status] += 1
            if status != expected:
                errors += 1
            i += 1
        with lock:
            result.latencies.extend(lat)
            result.statuses.update(statuses)
            result.errors += errors

    threads = [threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    result.elapsed = time.monotonic() - t0
    return result


_APP = None


def _app():
    global _APP
    if _APP is None:
        sys.path.insert(0, ROOT)
        from hesk_py import create_app

        _APP = create_app()
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


def sample_tickets(n: int) -> list[tuple[str, str]]:
    """Random (tracking ID, email) pairs from the help desk's database."""
    from sqlalchemy import func, select

    from hesk_py.extensions import db
    from hesk_py.models import Ticket

    app = _app()
    with app.app_context():
        top = db.session.scalar(select(func.max(Ticket.id))) or 0
        if not top:
            raise SystemExit("The help desk has no tickets: run bench/seed.py first.")
        ids = random.sample(range(1, top + 1), min(n, top))
        rows = db.session.execute(select(Ticket.trackid, Ticket.email).where(Ticket.id.in_(ids),
                                                                             Ticket.email != "")).all()
        count = db.session.scalar(select(func.count(Ticket.id)))
        answer = _setting(app, "question_ans")
    print(f"database: {count:,} tickets; {len(rows)} sampled for viewing")
    return [(r.trackid, r.email) for r in rows], answer


def _setting(app, key):
    from hesk_py import settings

    return settings.get(key)


def hesk_settings(action: str, key: str, value: str | None = None) -> str:
    cmd = [HESK_PY, "settings", action, key] + ([value] if value is not None else [])
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip()


def prepare() -> dict[str, str]:
    before = {}
    for key in BENCH_SETTINGS:
        before[key] = hesk_settings("get", key)
    # the question first: at least one anti-spam measure must stay on
    for key in ("question_use", "secimg_use", "spam_min_fill_seconds", "flood", "spam_tickets_per_hour"):
        hesk_settings("set", key, BENCH_SETTINGS[key])
    return before


def restore(before: dict[str, str]) -> None:
    for key in ("secimg_use", "question_use", "spam_min_fill_seconds", "flood", "spam_tickets_per_hour"):
        hesk_settings("set", key, before[key])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per page")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed load before each page")
    ap.add_argument("--pages", default="home,form,post,view")
    ap.add_argument("--forms", type=int, default=700, help="ticket forms fetched per client before the POSTs")
    ap.add_argument("--sample", type=int, default=5000, help="tickets picked for GET /ticket")
    ap.add_argument("--category", type=int, default=1)
    ap.add_argument("--prepare", action="store_true", help="bench-friendly settings, put back at the end")
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
    return 1 if any(r.errors for r in results) else 0


def bench(args, pages, pairs, answer) -> list[Result]:
    clients = [Client(args.url) for _ in range(args.clients)]
    form_url = f"/submit_ticket?category={args.category}"
    results = []

    def home(c, idx, i):
        return c.request("GET", "/")[0]

    def form(c, idx, i):
        return c.request("GET", form_url)[0]

    def view(c, idx, i):
        trackid, email = random.choice(pairs)
        return c.request("GET", "/ticket?" + urllib.parse.urlencode({"track": trackid, "e": email}))[0]

    prepared: list[list[dict]] = [[] for _ in clients]

    def fetch_forms():
        t0 = time.monotonic()

        def grab(idx, c):
            for _ in range(args.forms):
                status, html = c.request("GET", form_url)
                if status != 200:
                    raise SystemExit(f"GET {form_url} answered {status}")
                prepared[idx].append(hidden_fields(html.decode("utf-8")))

        threads = [threading.Thread(target=grab, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"prepared {sum(map(len, prepared)):,} ticket forms in {time.monotonic() - t0:.1f} s")

    def post(c, idx, i):
        if not prepared[idx]:
            return None
        fields = prepared[idx].pop()
        n = f"{idx}-{i}-{secrets.token_hex(3)}"
        fields.update({"name": f"Bench Customer {n}", "email": f"bench.{n}@example.com",
                       "subject": f"Bench ticket {n}: the printer is jammed",
                       "message": "Hello,\n\nthe printer on the second floor jams on every second page.\n"
                                  "Could someone have a look?\n\nThanks", "question": answer or "",
                       "priority": "3"})
        body, ctype = multipart(fields)
        status, _data = c.request("POST", "/submit_ticket", body, {"Content-Type": ctype})
        return status

    phases = {"home": (home, 200), "form": (form, 200), "view": (view, 200), "post": (post, 303)}
    for name in pages:
        work, expected = phases[name]
        if name == "post":
            fetch_forms()
            mark = outbox_mark()
        elif args.warmup:
            run_phase(name + "-warmup", clients, work, args.warmup, expected)
        r = run_phase(name, clients, work, args.duration, expected)
        results.append(r)
        print(f"{name:5s} {r.rate:8.1f} req/s  p50 {r.pct(50):7.1f} ms  p99 {r.pct(99):7.1f} ms  "
              f"n={len(r.latencies):,}  statuses={dict(r.statuses)}", flush=True)
        if name == "post":
            filed, mails = filed_since(mark)
            print(f"      {filed:,} tickets filed, {mails:,} confirmation emails queued in the outbox")
            if filed != r.statuses.get(303, 0) or mails != filed:
                print("      MISMATCH: every 303 should be one ticket with one confirmation email")
                r.errors += 1
    return results


LABELS = {"home": "GET /", "form": "GET /submit_ticket?category=1", "post": "POST /submit_ticket",
          "view": "GET /ticket?track=&e="}


def report(results: list[Result], args) -> None:
    print()
    print(f"{args.clients} clients, {args.duration:.0f} s per page, against {args.url}")
    print(f"{'page':32s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'HESK req/s':>11s} {'target':>8s} {'errors':>7s}")
    for r in results:
        print(f"{LABELS[r.name]:32s} {r.rate:9.1f} {r.pct(50):8.1f} {r.pct(99):8.1f} {HESK[r.name]:11.1f} "
              f"{TARGET[r.name]:8.1f} {r.errors:7d}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({r.name: {"rate": r.rate, "p50_ms": r.pct(50), "p99_ms": r.pct(99), "n": len(r.latencies),
                                "errors": r.errors, "statuses": {str(k): v for k, v in r.statuses.items()}}
                       for r in results}, fh, indent=2)


if __name__ == "__main__":
    sys.exit(main())
