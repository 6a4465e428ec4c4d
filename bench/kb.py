#!/usr/bin/env python3
"""Knowledgebase benchmark: full-text search over N articles (default 10,000) and suggestion requests per
second with C concurrent clients (default 8), on MariaDB (or SQLite for comparison).

Usage (from the project folder)::

    .venv/bin/python bench/kb.py [--server-url mysql+pymysql://root@127.0.0.1:3306/] [--articles 10000]
        [--clients 8] [--duration 15] [--processes 2] [--threads 8] [--seed 1] [--keep] [--out FILE]
    .venv/bin/python bench/kb.py --server-url sqlite      # the same on a throw-away SQLite file

What it does:

1. creates a throw-away database ``hesk_test_kbbench_<pid>_<hex>`` on the server (dropped at the end unless
   ``--keep``), writes a bootstrap config for it in a temporary folder, runs the real migrations and the
   default rows, and loads N articles with bulk inserts: titles, Markdown bodies and keywords in English
   (60%), Ukrainian, Russian, Bulgarian and Latvian. Each article is about a topic (1,080 topics of six
   subject words each: real help desk nouns and made-up product names), its sentences mix those subject
   words with common how-to words (Zipf-weighted, a few in most articles), as in a real knowledgebase.
   20 categories (4 private); 85% published, 8% private, 7% drafts. The FULLTEXT index (FTS5 table on
   SQLite) is filled as rows arrive, exactly as in production;
2. times ``services.knowledgebase.search`` in this process, one query at a time: the database's share;
3. starts ``hesk-py serve`` (waitress, ``--processes`` x ``--threads``) on a free port and, with wrk
   (bench/load.py: ``--clients`` keep-alive connections, the requests prepared here), for ``--duration`` seconds:
   ``GET /knowledgebase/search?q=...`` (the full results page: 1-3 words taken from a random article) and
   ``GET /suggest_articles?q=...`` (what the ticket form sends: a subject and a message of about 25 words);
4. prints requests per second, p50/p90/p99 latencies and the CPU milliseconds per request of the server
   processes, mariadbd and wrk; every answer must be 200 (50 of each are also checked for the page or the JSON).

Target (issue 9): search p50 under 20 ms at 8 concurrent clients on MariaDB.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

HESK_PY = ROOT / ".venv" / "bin" / "hesk-py"
TARGET_P50_MS = 20.0

# --- text -------------------------------------------------------------------------------------------

# Words of every article (how-to verbs and the like): a few of them are in most articles.
COMMON = {
    "en": ("click open select check restart settings page button menu window change enter choose save close "
           "see need make sure first then again still after before when new your this that step "
           "problem works help").split(),
    "uk": ("натисніть відкрийте виберіть перевірте перезапустіть налаштування сторінка кнопка меню вікно "
           "змініть введіть збережіть закрийте потрібно спочатку потім знову новий ваш крок проблема").split(),
    "ru": ("нажмите откройте выберите проверьте перезапустите настройки страница кнопка меню окно измените "
           "введите сохраните закройте нужно сначала потом снова новый ваш шаг проблема").split(),
    "bg": ("натиснете отворете изберете проверете рестартирайте настройки страница бутон меню прозорец "
           "променете въведете запазете затворете трябва първо после отново нов вашия стъпка проблем").split(),
    "lv": ("noklikšķiniet atveriet izvēlieties pārbaudiet restartējiet iestatījumi lapa poga izvēlne logs "
           "mainiet ievadiet saglabājiet aizveriet vajag vispirms pēc tam atkal jauns jūsu solis problēma").split(),
}
# Subject words: what articles are about. Each article has a topic, and a topic a handful of these.
SUBJECTS = {
    "en": ("printer paper jam toner cartridge password reset login account email mailbox network wireless "
           "router cable laptop screen monitor keyboard mouse battery charger update install driver backup "
           "restore invoice payment refund order delivery shipping address profile security browser cache "
           "cookie error message server connection timeout permission access file folder share download "
           "upload attachment calendar meeting phone mobile application license subscription renew cancel "
           "export import report print scan copy signature domain").split(),
    "uk": ("принтер папір картридж пароль обліковий запис пошта мережа кабель ноутбук екран клавіатура "
           "миша батарея оновлення драйвер резервна копія рахунок оплата доставка адреса безпека браузер "
           "помилка сервер зʼєднання доступ файл папка завантаження вкладення календар телефон програма "
           "ліцензія підписка звіт друк сканування підпис").split(),
    "ru": ("принтер бумага картридж пароль учётная запись почта сеть кабель ноутбук экран клавиатура мышь "
           "батарея обновление драйвер резервная копия счёт оплата доставка адрес безопасность браузер "
           "ошибка сервер соединение доступ файл папка загрузка вложение календарь телефон программа "
           "лицензия подписка отчёт печать сканирование подпись").split(),
    "bg": ("принтер хартия касета парола профил поща мрежа кабел лаптоп екран клавиатура мишка батерия "
           "обновяване драйвер резервно копие фактура плащане доставка адрес сигурност браузър грешка "
           "сървър връзка достъп файл папка изтегляне прикачен календар телефон приложение лиценз абонамент "
           "отчет печат сканиране подпис").split(),
    "lv": ("printeris papīrs kasetne parole konts pasts tīkls kabelis klēpjdators ekrāns tastatūra pele "
           "akumulators atjauninājums draiveris rezerves kopija rēķins maksājums piegāde adrese drošība "
           "pārlūks kļūda serveris savienojums piekļuve fails mape lejupielāde pielikums kalendārs tālrunis "
           "lietotne licence abonements atskaite drukāšana skenēšana paraksts").split(),
}
SYLLABLES = {
    "latin": "ka lo mi re to sa ne vi du pa ri ko la me ti su no be gi ra".split(),
    "cyrillic": "ка ло ми ре то са не ви ду па ри ко ла ме ти су но бе ги ра".split(),
}
LANG_WEIGHTS = (("en", 60), ("uk", 10), ("ru", 10), ("bg", 10), ("lv", 10))
TOPICS_PER_LANGUAGE = {"en": 600, "uk": 120, "ru": 120, "bg": 120, "lv": 120}


def made_up_words(rng: random.Random, lang: str, n: int, taken: set) -> list[str]:
    """Product names, error codes and other words no dictionary has: the long tail of a real knowledgebase."""
    alphabet = SYLLABLES["cyrillic" if lang in ("uk", "ru", "bg") else "latin"]
    out = []
    while len(out) < n:
        w = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 4)))
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


class Writer:
    """Articles about topics: each topic has 6 subject words (so a subject word is in tens of articles),
    the text around them comes from a small set of common words (in most articles), Zipf-weighted."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.common, self.common_w, self.topics = {}, {}, {}
        for lang, _w in LANG_WEIGHTS:
            taken = set(COMMON[lang]) | set(SUBJECTS[lang])
            common = COMMON[lang] + made_up_words(self.rng, lang, 150, taken)
            self.common[lang] = common
            self.common_w[lang] = [1 / (k + 1) for k in range(len(common))]
            pool = SUBJECTS[lang] + made_up_words(self.rng, lang, 1500, taken)
            self.topics[lang] = [self.rng.sample(pool, 6) for _ in range(TOPICS_PER_LANGUAGE[lang])]

    def lang(self) -> str:
        return self.rng.choices([code for code, _w in LANG_WEIGHTS], [w for _c, w in LANG_WEIGHTS])[0]

    def filler(self, lang: str, n: int) -> list[str]:
        return self.rng.choices(self.common[lang], self.common_w[lang], k=n)

    def sentence(self, lang: str, topic: list[str]) -> str:
        words = self.filler(lang, self.rng.randint(5, 11)) + self.rng.sample(topic, self.rng.randint(1, 3))
        self.rng.shuffle(words)
        return " ".join(words).capitalize() + "."

    def article(self, lang: str) -> tuple[str, str, str, str, list[str]]:
        """(title, Markdown content, plain text, keywords, topic words)."""
        topic = self.rng.choice(self.topics[lang])
        title_words = self.rng.sample(topic, self.rng.randint(2, 4)) + self.filler(lang, self.rng.randint(0, 2))
        self.rng.shuffle(title_words)
        title = " ".join(title_words).capitalize()
        paragraphs = [" ".join(self.sentence(lang, topic) for _s in range(self.rng.randint(2, 5)))
                      for _p in range(self.rng.randint(2, 5))]
        plain = " ".join(paragraphs)
        steps = [self.sentence(lang, topic) for _ in range(self.rng.randint(0, 4))]
        markdown = "\n\n".join(paragraphs)
        if steps:
            markdown += "\n\n" + "\n".join(f"{i}. **{s}**" for i, s in enumerate(steps, 1))
            plain += " " + " ".join(steps)
        keywords = " ".join(self.rng.sample(topic, 2))
        return title, markdown, plain, keywords, topic


# --- the database -------------------------------------------------------------------------------------

def make_database(server_url: str, workdir: Path) -> tuple[str, callable]:
    """A throw-away database and a function that drops it."""
    if server_url == "sqlite":
        path = workdir / "kbbench.db"
        return f"sqlite:///{path}", (lambda: None)
    name = f"hesk_test_kbbench_{os.getpid()}_{secrets.token_hex(3)}"
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


def load(app, n: int, seed: int) -> dict:
    """Migrations, default rows, 20 categories and n articles. Returns the query pools."""
    from hesk_py.extensions import db
    from hesk_py.models import KbArticle, KbCategory
    from hesk_py.services import schema
    from hesk_py.services.defaults import seed_defaults
    from hesk_py.models.types import utcnow

    writer = Writer(seed)
    rng = writer.rng
    with app.app_context():
        schema.upgrade()
        seed_defaults()
        cats = []
        for i in range(20):
            cat = KbCategory(name=f"Category {i + 1}", parent_id=1, is_public=i >= 4, sort_order=(i + 1) * 10)
            db.session.add(cat)
            db.session.flush()
            cats.append((cat.id, cat.is_public))
        db.session.commit()
        searches, suggestions = [], []
        table = KbArticle.__table__
        batch = []
        now = utcnow()
        t0 = time.perf_counter()
        for i in range(n):
            lang = writer.lang()
            title, markdown, plain, keywords, topic = writer.article(lang)
            cat_id, public = rng.choice(cats)
            kind = rng.choices(("published", "private", "draft"), (85, 8, 7))[0]
            batch.append({"category_id": cat_id, "title": title[:255], "content": markdown, "content_text": plain,
                          "keywords": keywords, "type": kind, "sticky": rng.random() < 0.03,
                          "sort_order": i * 10, "views": int(rng.paretovariate(1.2)) * 3, "votes": 0,
                          "helpful_votes": 0, "created_at": now, "updated_at": now})
            if kind == "published" and public and len(searches) < 2000:
                # what a customer types: words of the problem (1-3 of the title), and for a ticket a
                # subject plus a message of about 25 words in the same language
                words = title.lower().split()
                searches.append(" ".join(rng.sample(words, min(len(words), rng.randint(1, 3)))))
                subject = " ".join(rng.sample(topic, 2) + writer.filler(lang, 2))
                message = " ".join(writer.sentence(lang, topic) for _ in range(3))
                suggestions.append(f"{subject} {message}")
            if len(batch) == 1000:
                db.session.execute(insert(table), batch)
                db.session.commit()
                batch = []
        if batch:
            db.session.execute(insert(table), batch)
            db.session.commit()
        # bulk inserts bypass the service, which keeps the word counts search planning reads
        from hesk_py.services import knowledgebase as kb

        kb.rebuild_term_counts()
        load_seconds = time.perf_counter() - t0
        db.session.remove()
    return {"searches": searches, "suggestions": suggestions, "load_seconds": load_seconds}


# --- measuring -------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def service_search(app, queries: list[str], rounds: int) -> dict:
    """The search service alone, one query at a time (database + Python, no HTTP)."""
    from hesk_py.extensions import db
    from hesk_py.services import knowledgebase as kb

    times, hits = [], 0
    with app.app_context():
        kb.search(queries[0], 10)  # warm the connection and the caches
        for q in queries[:rounds]:
            db.session.remove()
            from flask import g

            g.pop("_hesk_cache_memo", None)
            t0 = time.perf_counter()
            result = kb.search(q, 10)
            times.append((time.perf_counter() - t0) * 1000)
            hits += len(result)
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "p99": percentile(times, 99), "avg_hits": hits / max(1, len(times))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config_path: Path, port: int, processes: int, threads: int, *, plain: bool = False
                 ) -> subprocess.Popen:
    """``hesk-py serve``; with ``plain``, one waitress process started without the command line (on SQLite:
    ``hesk-py serve`` reads a setting in the command's own app context before serving and keeps SQLite's
    write lock, so requests wait; reported to the lead)."""
    env = dict(os.environ, HESK_PY_CONFIG=str(config_path))
    if plain:
        cmd = [sys.executable, "-c", "import waitress; from hesk_py.wsgi import app; "
               f"waitress.serve(app, host='127.0.0.1', port={port}, threads={threads}, ident='hesk_py')"]
    else:
        cmd = [str(HESK_PY), "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", str(processes),
               "--threads", str(threads)]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 180  # a loaded machine builds the app slowly
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    stop_server(proc)
    raise SystemExit("the help desk server did not start")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def load_test(port: int, clients: int, duration: float, paths: list[str], expect_json: bool) -> dict:
    """wrk (bench/load.py) with ``clients`` keep-alive connections for ``duration`` seconds over ``paths``;
    the CPU milliseconds per request of the server processes and of the database server are measured too."""
    from bench.load import Request, pids_named, run, server_pids

    accept = "application/json" if expect_json else "text/html"
    reqs = [Request("GET", p, {"User-Agent": "Mozilla/5.0 (kb bench)", "Accept": accept}) for p in paths]
    watch = {"app": server_pids(port), "db": pids_named("mariadbd")}
    r = run(f"http://127.0.0.1:{port}", reqs, clients=clients, duration=duration, watch=watch)
    errors = r.unexpected(200)
    return {"requests": r.requests, "rps": r.rate, "p50": r.p50_ms, "p90": r.p90_ms, "p99": r.p99_ms,
            "errors": errors, "statuses": r.statuses, "cpu_ms": r.cpu_ms, "load_average": r.load_average,
            "first_errors": [f"statuses {r.statuses} socket errors {r.socket_errors}"] if errors else []}


def check_answers(port: int, paths: list[str], expect_json: bool) -> list[str]:
    """A sample of the requests, checked one by one: 200 and the page (or JSON) expected."""
    problems = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths[:50]:
        conn.request("GET", path, headers={"User-Agent": "Mozilla/5.0 (kb bench)"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            problems.append(f"{path}: status {resp.status}")
        elif expect_json:
            try:
                json.loads(body)["articles"]
            except (ValueError, KeyError):
                problems.append(f"{path}: not the JSON expected")
        elif b"kb-search" not in body:
            problems.append(f"{path}: not the search page")
    conn.close()
    return problems


def _quote(q: str) -> str:
    return urllib.parse.quote_plus(q)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-url", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="MariaDB/MySQL server URL (a throw-away database is created there), or 'sqlite'")
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per HTTP phase")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    ap.add_argument("--out", help="also write the results as JSON to this file")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="hesk-kbbench-"))
    db_url, drop = make_database(args.server_url, workdir)
    cfg = write_config(workdir, db_url)
    os.environ["HESK_PY_CONFIG"] = str(cfg)
    proc = None
    try:
        from hesk_py import create_app

        app = create_app({"RATELIMIT_ENABLED": False})
        print(f"database: {make_url(db_url).render_as_string(hide_password=True)}", file=sys.stderr)
        pools = load(app, args.articles, args.seed)
        print(f"loaded {args.articles:,} articles in {pools['load_seconds']:.1f} s", file=sys.stderr)

        svc = service_search(app, pools["searches"], 500)
        port = free_port()
        sqlite = args.server_url == "sqlite"
        if sqlite:
            args.processes = 1
        proc = start_server(cfg, port, args.processes, args.threads, plain=sqlite)
        rng = random.Random(args.seed)
        searches = ["/knowledgebase/search?q=" + _quote(q) for q in pools["searches"]]
        suggestions = ["/suggest_articles?q=" + _quote(q) for q in pools["suggestions"]]
        rng.shuffle(searches)
        rng.shuffle(suggestions)
        problems = check_answers(port, searches, False) + check_answers(port, suggestions, True)
        load_test(port, args.clients, 2.0, searches, False)  # warm-up: every process, every cache
        search = load_test(port, args.clients, args.duration, searches, False)
        suggest = load_test(port, args.clients, args.duration, suggestions, True)
        search["first_errors"] += problems
        search["errors"] += len(problems)
    finally:
        if proc is not None:
            stop_server(proc)
        if args.keep:
            print(f"kept: {db_url} (config {cfg})", file=sys.stderr)
        else:
            drop()

    kind = "SQLite" if args.server_url == "sqlite" else "MariaDB/MySQL"
    print(f"\nKnowledgebase benchmark: {args.articles:,} articles on {kind}, {args.clients} clients, "
          f"hesk-py serve {args.processes} x {args.threads} threads, {args.duration:.0f} s per phase")
    print(f"{'':38} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}  CPU ms/request, load")
    print(f"{'search service, 1 at a time':38} {'':>8} {svc['p50']:8.2f} {svc['p95']:8.2f} {svc['p99']:8.2f} "
          f"{'':>7}   (p95 in the p90 column; {svc['avg_hits']:.1f} hits/query)")
    for label, r in (("GET /knowledgebase/search (HTML page)", search), ("GET /suggest_articles (JSON)", suggest)):
        print(f"{label:38} {r['rps']:8.1f} {r['p50']:8.2f} {r['p90']:8.2f} {r['p99']:8.2f} {r['errors']:7d}  "
              f"{r['cpu_ms']}, {r['load_average']}")
        for e in r["first_errors"]:
            print(f"    error: {e}")
    verdict = "met" if search["p50"] < TARGET_P50_MS else "NOT met"
    print(f"target: search p50 under {TARGET_P50_MS:.0f} ms at {args.clients} clients: {verdict}")
    if args.out:
        Path(args.out).write_text(json.dumps({"articles": args.articles, "database": kind, "clients": args.clients,
                                              "processes": args.processes, "threads": args.threads,
                                              "service_search": svc, "search": search, "suggest": suggest},
                                             indent=2))
    return 0 if not (search["errors"] or suggest["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
