"""bench/seed.py: the benchmark data generator writes tickets whose rows agree with each other, the way
the ticket service would have left them, adds to an existing help desk, and refuses an uninstalled one."""
from __future__ import annotations

import importlib.util
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select

from hesk_py import PROJECT_ROOT
from hesk_py.extensions import db
from hesk_py.models import Category, Customer, Note, Reply, Ticket, TicketEvent, User
from hesk_py.services import accounts
from hesk_py.services.tickets import TRACKID_ALPHABET, TRACKID_RE


def _load_seed():
    """bench/ is not a package: load bench/seed.py by its path."""
    spec = importlib.util.spec_from_file_location("hesk_bench_seed", PROJECT_ROOT / "bench" / "seed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the classes are built
    spec.loader.exec_module(module)
    return module


seed_mod = _load_seed()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _check_consistency(seeded_from: int = 1) -> None:
    """Every counter on every ticket matches its replies and history; every reference resolves.
    Tickets from ``seeded_from`` on were made by the seed (tickets before it by the ticket service)."""
    tickets = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
    replies = defaultdict(list)
    for reply in db.session.scalars(select(Reply).order_by(Reply.id)):
        replies[reply.ticket_id].append(reply)
    events = defaultdict(list)
    for event in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id)):
        events[event.ticket_id].append(event)
    notes = defaultdict(list)
    for note in db.session.scalars(select(Note).order_by(Note.id)):
        notes[note.ticket_id].append(note)
    ticket_ids = {t.id for t in tickets}
    assert set(replies) <= ticket_ids and set(events) <= ticket_ids and set(notes) <= ticket_ids
    customers = {c.id: c for c in db.session.scalars(select(Customer))}
    users = {u.id: u for u in db.session.scalars(select(User))}
    now = datetime.utcnow()

    for t in tickets:
        rs, evs = replies[t.id], events[t.id]
        # The service reads the clock once per row it writes, so its rows may be a second apart; the seed's
        # timestamps are exact.
        slack = timedelta(0) if t.id >= seeded_from else timedelta(seconds=5)
        assert t.reply_count == len(rs)
        staff_replies = [r for r in rs if r.author_type == "staff"]
        assert t.staff_reply_count == len(staff_replies)
        if rs:
            assert t.last_replier == rs[-1].author_type
            assert t.last_replier_id == (rs[-1].staff_id if rs[-1].author_type == "staff" else rs[-1].customer_id)
            times = [r.created_at for r in rs]
            assert times == sorted(times) and times[0] >= t.created_at
            # staff and customer take turns
            assert all(a.author_type != b.author_type for a, b in zip(rs, rs[1:]))
        if staff_replies:
            assert t.first_reply_at == staff_replies[0].created_at
            assert t.first_reply_by_id == staff_replies[0].staff_id
        else:
            assert t.first_reply_at is None and t.first_reply_by_id is None
        for r in rs:
            if r.author_type == "staff":
                assert r.staff_id in users and r.customer_id is None and r.name == users[r.staff_id].name
            else:
                assert r.customer_id == t.customer_id and r.staff_id is None and r.name == t.name

        # what each status means for the thread
        if t.status_id == 1:
            assert not rs
        elif t.status_id == 2:
            assert rs and rs[-1].author_type == "customer"
        elif t.status_id == 3:
            assert rs and rs[-1].author_type == "staff"
        if t.status_id == 4:
            assert t.resolved_at is not None and t.closed_by in ("staff", "customer", "auto")
            assert (t.closed_by_id is not None) == (t.closed_by == "staff")
        else:
            assert t.resolved_at is None and t.closed_by is None
        assert t.created_at <= t.updated_at <= now

        # history: created first, one "replied" per reply, a chain of status changes ending at the status
        assert evs and evs[0].action == "created"
        assert t.created_at <= evs[0].created_at <= t.created_at + slack
        assert [e.action for e in evs].count("created") == 1
        assert [e.data["reply_id"] for e in evs if e.action == "replied"] == [r.id for r in rs]
        assert [e.data["note_id"] for e in evs if e.action == "note"] == [n.id for n in notes[t.id]]
        chain = [e.data for e in evs if e.action == "status"]
        current = 1
        for step in chain:
            assert step["old"] == current and step["new"] != current
            current = step["new"]
        assert current == t.status_id
        assert t.reopened_count == sum(1 for s in chain if s["old"] == 4)
        assert [e.created_at for e in evs] == sorted(e.created_at for e in evs)
        assert evs[-1].created_at <= t.updated_at + slack or evs[-1].action == "note"

        # people: the owner is a bench staff member who may work in the category
        if t.owner_id is not None:
            owner = users[t.owner_id]
            assert owner.username.startswith(seed_mod.BENCH_USER_PREFIX) or t.id < seeded_from
            assert owner.can_access_category(t.category_id)
            assigned = [e for e in evs if e.action == "assigned"]
            assert assigned and assigned[0].data["owner_id"] == t.owner_id
            assert t.autoassigned == (assigned[0].actor_type == "system")
        else:
            assert not [e for e in evs if e.action == "assigned"] and not t.autoassigned
        customer = customers[t.customer_id]
        assert customer.email == t.email and customer.name == t.name and customer.created_at <= t.created_at + slack
        assert TRACKID_RE.match(t.trackid) and set(t.trackid.replace("-", "")) <= set(TRACKID_ALPHABET)


def test_seed_writes_consistent_realistic_tickets(app):
    result = seed_mod.seed(app, tickets=200, seed=1234, batch=64)  # four batches, the last one short
    assert (result.tickets, result.first_ticket_id, result.last_ticket_id) == (200, 1, 200)
    assert result.rate > 0 and result.staff_created == 12 and result.password == seed_mod.BENCH_PASSWORD
    with app.app_context():
        assert _count(Ticket) == 200
        assert _count(Reply) == result.replies > 200  # about 2.5 per ticket
        assert _count(Note) == result.notes
        assert _count(TicketEvent) == result.events
        assert _count(Customer) == result.customers
        assert _count(Category) == 8
        trackids = db.session.scalars(select(Ticket.trackid)).all()
        assert len(set(trackids)) == 200

        _check_consistency()

        statuses = Counter(db.session.scalars(select(Ticket.status_id)))
        assert statuses[4] > 100 and len(statuses) >= 3  # mostly resolved, some open
        assert db.session.scalar(select(func.count()).where(Ticket.owner_id.is_(None))) > 0
        assert db.session.scalar(select(func.count(func.distinct(Ticket.customer_id)))) < 180  # repeat customers
        assert len(set(db.session.scalars(select(Ticket.category_id)))) >= 4
        years = {d.year for d in db.session.scalars(select(Ticket.created_at))}
        assert len(years) >= 3  # spread over the last three years

        # text in other scripts comes back exactly as written (a mangled one would not be in the pool)
        by_lang = defaultdict(list)
        for lang, subject, message in db.session.execute(select(Ticket.language, Ticket.subject, Ticket.message)):
            by_lang[lang].append((subject, message))
        assert {"en", "uk", "ru", "lv"} <= set(by_lang)
        for code in ("uk", "ru", "bg", "lv"):
            for subject, message in by_lang.get(code, []):
                assert subject in seed_mod.LANGUAGES[code].subjects
                assert message.split("\n\n")[0] in seed_mod.LANGUAGES[code].openers
        assert any("і" in s for s, _ in by_lang["uk"]) and any(c in "āēīūšžķļņ" for s, _ in by_lang["lv"] for c in s)

        # the bench accounts log in with the printed password
        assert accounts.authenticate("bench_admin", seed_mod.BENCH_PASSWORD).is_admin
        staff = accounts.authenticate("bench_staff_001", seed_mod.BENCH_PASSWORD)
        assert staff and staff.can("can_reply_tickets") and staff.category_ids


def test_seed_adds_to_an_existing_help_desk(app, make_ticket, admin):
    existing = make_ticket(subject="A real ticket")
    first = seed_mod.seed(app, tickets=30, seed=5, staff=4, categories=3)
    second = seed_mod.seed(app, tickets=25, seed=5, staff=4, categories=3)
    assert second.staff_created == 0 and second.password is None and second.categories_created == 0
    with app.app_context():
        assert _count(Ticket) == 56
        real = db.session.scalar(select(Ticket).where(Ticket.trackid == existing))
        # ids continue after the existing ticket, and after the first run
        assert first.first_ticket_id == real.id + 1 and second.first_ticket_id == first.last_ticket_id + 1
        assert real.subject == "A real ticket" and real.reply_count == 0
        assert db.session.scalar(select(func.count()).where(User.username.like("bench%"))) == 4
        assert _count(Category) == 3
        assert len(set(db.session.scalars(select(Ticket.trackid)))) == 56
        # the same seed on a database that grew does not repeat customers (e-mail addresses are unique)
        assert _count(Customer) == 1 + first.customers + second.customers
        _check_consistency(seeded_from=first.first_ticket_id)  # the service's ticket passes the same checks


def test_bulk_writer_round_trips_awkward_text(app):
    """Quotes, backslashes, per cent signs, control characters, Cyrillic and 4-byte characters survive the bulk
    writer (rendered multi-row INSERTs on MySQL/MariaDB, SQLAlchemy executemany on SQLite), in text and JSON."""
    awkward = "O'Neill \\ \"quoted\" 100% %s ; -- Ірина Šķēle 🙂\r\nnext line\t\x1a"
    with app.app_context():
        engine = db.engine
    now = datetime(2025, 5, 6, 7, 8, 9)
    ticket = {
        "id": 900, "trackid": "AAA-BBB-2345", "customer_id": 900, "name": awkward, "email": "awkward@example.com",
        "category_id": 1, "priority_id": 4, "status_id": 1, "subject": awkward, "message": awkward * 3,
        "owner_id": None, "assigned_by_id": None, "autoassigned": False, "ip": "", "language": "uk",
        "opened_by": "customer", "opened_by_id": None, "created_at": now, "updated_at": now,
        "first_reply_at": None, "first_reply_by_id": None, "resolved_at": None, "closed_by": None,
        "closed_by_id": None, "reopened_count": 0, "reply_count": 0, "staff_reply_count": 0,
        "last_replier": "customer", "last_replier_id": None, "due_date": None, "overdue_email_sent": False,
        "time_worked": 0, "locked": False, "tagged": True,
    }
    data = {"owner_name": awkward, "n": 1, "auto": True, "old": None}
    # the shapes the seed writes, rendered from their parts on MySQL/MariaDB rather than by json.dumps
    plain = [{"reply_id": 7}, {"old": None, "new": 3, "auto": False, "channel": "imap", "owner_name": "Emily Carter"},
             {}, {"owner_id": 2, "owner_name": "Олена Гнатюк"}, {"note": "it's \"fine\""}, [1, "a"]]
    rows = {
        "customers": [{"id": 900, "email": "awkward@example.com", "name": awkward, "language": "uk",
                       "created_at": now}],
        "tickets": [ticket], "replies": [], "notes": [],
        "events": [{"id": 900, "ticket_id": 900, "created_at": now, "actor_type": "customer", "actor_id": 900,
                    "actor_name": awkward, "action": "created", "data": data}]
        + [{"id": 901 + i, "ticket_id": 900, "created_at": now, "actor_type": "system", "actor_id": None,
            "actor_name": "", "action": "status", "data": value} for i, value in enumerate(plain)],
    }
    committed = []
    inserter = seed_mod._Inserter(engine, fast=True, core=False, threaded=False, on_commit=committed.append)
    try:
        inserter.submit(rows)
    finally:
        inserter.close()
    assert committed == [rows]
    with app.app_context():
        customer = db.session.get(Customer, 900)
        assert customer.name == awkward and customer.created_at == now
        stored = db.session.get(Ticket, 900)
        assert (stored.subject, stored.message, stored.tagged, stored.owner_id) == (awkward, awkward * 3, True, None)
        assert db.session.get(TicketEvent, 900).data == data
        assert [db.session.get(TicketEvent, 901 + i).data for i in range(len(plain))] == plain


def test_command_line_reports_the_rate(app, database_url, tmp_path, monkeypatch, capsys):
    config = tmp_path / "config.ini"
    config.write_text(f"[database]\nurl = {database_url}\n\n[security]\nsecret_key = test\n", encoding="utf-8")
    monkeypatch.setenv("HESK_PY_CONFIG", str(config))
    assert seed_mod.main(["--tickets", "40", "--seed", "7", "--staff", "3", "--categories", "2"]) == 0
    err = capsys.readouterr().err
    assert "tickets 40/40 (100.0%)" in err
    assert "Added 40 tickets (ids 1-40)" in err and "tickets/s" in err and "seed=7" in err
    assert f"their password is: {seed_mod.BENCH_PASSWORD}" in err
    with app.app_context():
        assert _count(Ticket) == 40


def test_command_line_refuses_an_uninstalled_help_desk(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HESK_PY_CONFIG", str(tmp_path / "no-config.ini"))
    assert seed_mod.main(["--tickets", "10"]) == 1
    err = capsys.readouterr().err
    assert "The help desk is not installed" in err and "Added" not in err


def test_seed_refuses_an_empty_database(tmp_path):
    from hesk_py import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "HESK_IGNORE_CONFIG_FILE": True,
                      "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"})
    try:
        seed_mod.seed(app, tickets=5)
    except seed_mod.SeedError as exc:
        assert "no hesk_py tables" in str(exc)
    else:
        raise AssertionError("the seed ran on a database without tables")
