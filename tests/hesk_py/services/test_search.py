"""Finding tickets: full text (FTS5 on SQLite, InnoDB FULLTEXT on MariaDB) in several languages, the other
search fields, list filters, sorting, critical on top, quick counts, and that every query respects the
visibility rule and the whitelists."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from hesk_py.extensions import db
from hesk_py.models import Category, Ticket, User
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import PRIORITY_CRITICAL, PRIORITY_HIGH
from hesk_py.services import search, ticket_work
from hesk_py.services import tickets as svc
from hesk_py.services.tickets import Actor


@pytest.fixture
def people(app_ctx, make_user):
    db.session.add(Category(id=2, name="Billing", sort_order=20, default_priority_id=4))
    db.session.commit()
    ids = {
        "admin": make_user("boss", is_admin=True, name="Boss"),
        "general": make_user("gen", category_ids=[1], features=["can_view_tickets", "can_view_unassigned",
                                                                "can_view_ass_others"]),
    }
    return {k: db.session.get(User, v) for k, v in ids.items()}


def _ticket(**kw):
    data = dict(name="Mykola Kovalenko", email="mykola@example.com", subject="Laptop battery",
                message="The battery drains in an hour.", category_id=1, actor=Actor.customer("Mykola"),
                autoassign=False)
    data.update(kw)
    return svc.create_ticket(**data)


def _find(user, **args):
    f = search.from_args(MultiDict(args))
    return [t.trackid for t in search.list_tickets(user, f).tickets]


def test_fulltext_finds_words_in_subject_message_replies_and_notes(people):
    admin = people["admin"]
    a = _ticket(subject="Printer offline", message="The office printer stopped printing.")
    b = _ticket(subject="Password reset", message="I forgot my password.")
    svc.add_reply(b, message="The printer in room 5 jams as well.", actor=Actor.customer("Mykola"))
    c = _ticket(subject="Monitor", message="Flickering screen")
    svc.add_note(c, message="Replaced the graphics cable", actor=Actor.staff(admin))
    assert set(_find(admin, q="printer", what="message")) == {a.trackid, b.trackid}
    assert _find(admin, q="printer offline", what="message") == [a.trackid]  # every word must match
    assert set(_find(admin, q="print", what="message")) == {a.trackid, b.trackid}  # word prefixes
    assert _find(admin, q="graphics", what="message") == []  # notes are searched only when asked
    assert _find(admin, q="graphics cable", what="notes") == [c.trackid]
    assert _find(admin, q="password", what="subject") == [b.trackid]
    assert _find(admin, q="printer") != []  # "auto" reads plain words as a text search


def test_fulltext_cyrillic_and_other_languages(people):
    admin = people["admin"]
    uk = _ticket(subject="Не працює принтер", message="Принтер не друкує з понеділка.")
    ru = _ticket(subject="Проблема с почтой", message="Письма не доходят до клиентов.")
    bg = _ticket(subject="Фактура", message="Не получих фактурата за месец март.")
    lv = _ticket(subject="Rēķins", message="Nesaņēmu rēķinu par martu.")
    assert _find(admin, q="принтер", what="message") == [uk.trackid]
    assert _find(admin, q="ПРИНТЕР друкує", what="message") == [uk.trackid]  # case folded
    assert _find(admin, q="письма", what="message") == [ru.trackid]
    assert _find(admin, q="фактурата", what="message") == [bg.trackid]
    assert _find(admin, q="rēķinu", what="message") == [lv.trackid]


def test_fulltext_index_follows_edits_and_deletes(people):
    admin = people["admin"]
    t = _ticket(subject="Router", message="The router reboots every night.")
    assert _find(admin, q="reboots", what="message") == [t.trackid]
    svc.edit_message(t, subject="Router", message="The modem overheats.", actor=Actor.staff(admin))
    assert _find(admin, q="reboots", what="message") == []
    assert _find(admin, q="overheats", what="message") == [t.trackid]
    r = svc.add_reply(t, message="Firmware upgraded yesterday", actor=Actor.staff(admin))
    assert _find(admin, q="firmware", what="message") == [t.trackid]
    svc.delete_reply(db.session.get(type(r), r.id), actor=Actor.staff(admin))
    assert _find(admin, q="firmware", what="message") == []
    svc.delete_ticket(t, actor=Actor.staff(admin))
    assert _find(admin, q="overheats", what="message") == []


def test_search_text_is_never_query_syntax(people):
    admin = people["admin"]
    _ticket(subject="Quotes", message='He said "hello" -- and left (again) * + ~ < >')
    for q in ['"', '"hello', "hello*", "-hello", "+hello -", "NEAR(hello)", "hello OR 1=1", "a:b", "()", "'; --"]:
        found = _find(admin, q=q, what="message")
        assert isinstance(found, list)  # no error from the database's query parser
    assert len(_find(admin, q='"hello"', what="message")) == 1


def test_other_search_fields(people):
    admin = people["admin"]
    a = _ticket(name="Anna Lysenko", email="anna.l@example.com", ip="203.0.113.9",
                custom={"custom1": "Order 55-A"})
    b = _ticket(name="Bohdan 100% Sure", email="bohdan@example.org", ip="198.51.100.77")
    assert _find(admin, q=a.trackid, what="trackid") == [a.trackid]
    assert _find(admin, q=a.trackid.lower().replace("-", "")) == [a.trackid]  # auto: a tracking ID
    assert _find(admin, q=str(b.id), what="seq") == [b.trackid]
    assert _find(admin, q=str(b.id)) == [b.trackid]  # auto: a number
    assert _find(admin, q="lysenko", what="name") == [a.trackid]
    assert _find(admin, q="100%", what="name") == [b.trackid]
    assert _find(admin, q="%", what="name") == [b.trackid]  # LIKE wildcards are escaped
    assert _find(admin, q="_", what="name") == []
    assert _find(admin, q="ANNA.L@example.com", what="email") == [a.trackid]  # a whole address
    assert _find(admin, q="ANNA.L@example.com") == [a.trackid]  # auto: an address
    assert _find(admin, q="example.org", what="email") == [b.trackid]  # part of one
    assert _find(admin, q="203.0.113.9", what="ip") == [a.trackid]
    assert _find(admin, q="198.51.*", what="ip") == [b.trackid]
    assert _find(admin, q="55-a", what="custom", field="custom1") == [a.trackid]
    assert _find(admin, q="55-a", what="custom") == []  # no field named: nothing
    assert _find(admin, q="55-a", what="custom", field="password") == []  # not a custom field key


def test_merged_tracking_id_is_found(people):
    admin = people["admin"]
    a, b = _ticket(), _ticket()
    old = b.trackid
    svc.merge_tickets([a, b], actor=Actor.staff(admin))
    assert _find(admin, q=old, what="trackid") == [a.trackid]


def test_filters_category_owner_and_dates(people):
    admin, general = people["admin"], people["general"]
    a = _ticket()
    b = _ticket(category_id=2)
    c = _ticket()
    svc.assign(c, general.id, actor=Actor.staff(admin))
    old = _ticket()
    old.created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    assert set(_find(admin, category="2")) == {b.trackid}
    assert set(_find(admin, owner=str(general.id))) == {c.trackid}
    assert set(_find(admin, owner="none")) == {a.trackid, b.trackid, old.trackid}
    assert set(_find(general, owner="me")) == {c.trackid}
    since = (date.today() - timedelta(days=7)).isoformat()
    assert old.trackid not in _find(admin, **{"from": since})
    assert _find(admin, to=(date.today() - timedelta(days=30)).isoformat()) == [old.trackid]


def test_staff_never_find_tickets_outside_their_categories(people):
    admin, general = people["admin"], people["general"]
    secret = _ticket(category_id=2, subject="Salary spreadsheet", message="confidential salaries")
    visible = _ticket(subject="Salary question", message="When are salaries paid?")
    for args in ({"q": "salaries", "what": "message"}, {"q": secret.trackid}, {"q": str(secret.id)},
                 {"q": "mykola@example.com"}, {"view": "all"}, {"category": "2"}):
        found = _find(general, **args)
        assert secret.trackid not in found, args
    assert _find(general, q="salaries", what="message") == [visible.trackid]
    tickets, counts = search.customer_tickets(general, "mykola@example.com")
    assert [t.id for t in tickets] == [visible.id]
    assert sum(n for _s, n in counts) == 1
    tickets, counts = search.customer_tickets(admin, "MYKOLA@example.com")
    assert {t.id for t in tickets} == {secret.id, visible.id}


def test_sort_and_filter_arguments_are_whitelisted():
    bad = MultiDict([("sort", "password_hash"), ("dir", "sideways"), ("view", "users"), ("status", "1 OR 1=1"),
                     ("status", "2"), ("owner", "1; DROP TABLE hesk_tickets"), ("page", "-4"),
                     ("per_page", "100000"), ("what", "users.password"), ("field", "custom1'--"),
                     ("from", "yesterday"), ("category", "x")])
    f = search.from_args(bad)
    assert f.sort == "lastchange" and f.desc is True and f.view == "open"
    assert f.statuses == [2] and f.owner == "" and f.page == 1 and f.per_page == search.MAX_PER_PAGE
    assert f.what == "auto" and f.custom_key == "" and f.date_from is None and f.categories == []
    assert set(search.SORT_COLUMNS) == {"id", "trackid", "dt", "lastchange", "category", "name", "email",
                                        "subject", "status", "owner", "replies", "staffreplies", "lastreplier",
                                        "time_worked", "priority", "due_date"}


def test_every_sort_key_works_both_ways(people):
    admin = people["admin"]
    for i in range(3):
        _ticket(subject=f"Ticket {i}", name=f"Name {2 - i}")
    for key in search.SORT_COLUMNS:
        for direction in ("asc", "desc"):
            assert len(_find(admin, sort=key, dir=direction)) == 3


def test_critical_tickets_come_first_across_pages(people):
    admin = people["admin"]
    normal = [_ticket(subject=f"normal {i}") for i in range(3)]
    critical = [_ticket(subject=f"critical {i}", priority_id=PRIORITY_CRITICAL) for i in range(2)]
    # make the normal tickets the most recently updated
    for i, t in enumerate(normal):
        t.updated_at = utcnow() + timedelta(minutes=i + 1)
    db.session.commit()
    first = _find(admin, per_page="3")
    second = _find(admin, per_page="3", page="2")
    assert first[:2] == [critical[1].trackid, critical[0].trackid]
    assert first[2] == normal[2].trackid
    assert second == [normal[1].trackid, normal[0].trackid]
    plain = _find(admin, per_page="5", cot="1")
    assert plain[:3] == [t.trackid for t in reversed(normal)]
    page = search.list_tickets(admin, search.from_args(MultiDict({"per_page": "3"})))
    assert page.total == 5 and page.pages == 2


def test_quick_counts_and_views(people):
    admin, general = people["admin"], people["general"]
    mine = _ticket()
    svc.assign(mine, admin.id, actor=Actor.staff(admin))
    others = _ticket(priority_id=PRIORITY_HIGH)
    svc.assign(others, general.id, actor=Actor.staff(admin))
    unassigned = _ticket(priority_id=PRIORITY_CRITICAL)
    soon = _ticket()
    svc.set_due_date(soon, utcnow() + timedelta(days=2), actor=Actor.staff(admin))
    late = _ticket()
    svc.set_due_date(late, utcnow() - timedelta(days=1), actor=Actor.staff(admin))
    closed = _ticket()
    svc.resolve(closed, actor=Actor.staff(admin))
    svc.set_tagged(unassigned, True, actor=Actor.staff(admin))
    ticket_work.set_bookmark(closed, admin, True)
    ticket_work.set_bookmark(mine, admin, True)
    open_ids = search.open_status_ids()
    counts = search.quick_counts(admin, open_ids=open_ids, due_soon_days=7)
    assert (counts.open, counts.mine, counts.unassigned, counts.others) == (5, 1, 3, 1)
    assert (counts.due_soon, counts.overdue, counts.critical, counts.tagged, counts.bookmarks) == (1, 1, 1, 1, 2)
    assert _find(admin, view="mine") == [mine.trackid]
    assert _find(admin, view="others") == [others.trackid]
    assert set(_find(admin, view="unassigned")) == {unassigned.trackid, soon.trackid, late.trackid}
    assert _find(admin, view="due_soon") == [soon.trackid]
    assert _find(admin, view="overdue") == [late.trackid]
    assert _find(admin, view="tagged") == [unassigned.trackid]
    assert set(_find(admin, view="bookmarks")) == {closed.trackid, mine.trackid}
    assert closed.trackid in _find(admin, view="all") and closed.trackid not in _find(admin)
    assert set(_find(admin, status="4")) == {closed.trackid}
    general_counts = search.quick_counts(general, open_ids=open_ids, due_soon_days=7)
    assert general_counts.open == 5 and general_counts.mine == 1 and general_counts.bookmarks == 0


def test_filter_round_trips_through_its_arguments():
    f = search.from_args(MultiDict([("view", "mine"), ("status", "2"), ("status", "5"), ("priority", "1"),
                                    ("category", "1"), ("owner", "none"), ("sort", "subject"), ("dir", "asc"),
                                    ("cot", "1"), ("q", "вода"), ("what", "message"), ("from", "2024-01-02")]))
    again = search.from_args(MultiDict([(k, v) for k, vs in f.to_args().items()
                                        for v in (vs if isinstance(vs, list) else [vs])]))
    assert again == f


# --- the ticket counts (migration 0019) and reading the newest tickets first -----------------------

def _counted_rows():
    from hesk_py.models import TicketCount

    return {(c.status_id, c.category_id, c.owner_id, c.priority_id, bool(c.tagged)): c.n
            for c in db.session.scalars(select(TicketCount)) if c.n}


def _recounted():
    from sqlalchemy import func

    owner = func.coalesce(Ticket.owner_id, 0)
    rows = db.session.execute(select(Ticket.status_id, Ticket.category_id, owner, Ticket.priority_id, Ticket.tagged,
                                     func.count()).group_by(Ticket.status_id, Ticket.category_id, owner,
                                                            Ticket.priority_id, Ticket.tagged)).all()
    return {(s, c, o, p, bool(t)): n for s, c, o, p, t, n in rows}


def test_ticket_counts_follow_every_change(people):
    """The counts the list reads instead of counting tickets are kept by triggers: whatever changes a
    ticket (the ticket service, a bulk UPDATE, a delete) they agree with a count of the tickets."""
    from sqlalchemy import update

    admin, general = people["admin"], people["general"]
    staff = Actor.staff(admin)
    a, b, c, d = _ticket(), _ticket(category_id=2), _ticket(priority_id=PRIORITY_CRITICAL), _ticket()
    assert search.counts_table_ready() and _counted_rows() == _recounted()
    svc.assign(a, general.id, actor=staff)
    svc.change_priority(a, PRIORITY_HIGH, actor=staff)
    svc.change_category(d, 2, actor=staff)
    svc.set_tagged(c, True, actor=staff)
    svc.change_status(b, 5, actor=staff)
    svc.add_reply(d, message="Reply", actor=staff)  # changes the status and the counters on the ticket
    assert _counted_rows() == _recounted()
    svc.resolve(c, actor=staff)
    svc.merge_tickets([a, d], actor=staff)
    svc.delete_ticket(b, actor=staff)
    db.session.execute(update(Ticket).values(owner_id=None))  # bulk SQL outside the ticket service
    db.session.commit()
    assert _counted_rows() == _recounted()
    assert sum(_counted_rows().values()) == db.session.query(Ticket).count() == 2
    search.rebuild_ticket_counts()
    assert _counted_rows() == _recounted()


def _totals(user, **args):
    page = search.list_tickets(user, search.from_args(MultiDict(args)))
    return page.total, len(search.all_matching_ids(user, search.from_args(MultiDict(args))))


def test_list_totals_from_the_counts_match_the_tickets(people, make_user):
    """Totals read from the ticket counts are those of the tickets the list shows, filter by filter, and
    for staff limited to their categories or their own tickets."""
    db.session.commit()  # make_user works in a session of its own (SQLite: one writer at a time)
    own_id = make_user("own", category_ids=[1, 2], features=["can_view_tickets"])
    by_me_id = make_user("byme", category_ids=[1], features=["can_view_tickets", "can_view_ass_by"])
    admin, general = people["admin"], people["general"]
    staff = Actor.staff(admin)
    own_only, by_me = db.session.get(User, own_id), db.session.get(User, by_me_id)
    for i in range(6):
        t = _ticket(category_id=1 + i % 2, priority_id=PRIORITY_CRITICAL if i % 3 == 0 else PRIORITY_HIGH)
        if i % 2:
            svc.assign(t, general.id, actor=staff)
        elif i == 2:
            svc.assign(t, own_only.id, actor=staff)
        elif i == 4:
            svc.assign(t, admin.id, actor=Actor.staff(by_me))  # assigned by "byme", to someone else
        if i == 5:
            svc.set_tagged(t, True, actor=staff)
    svc.resolve(t, actor=staff)
    filters = [{}, {"view": "all"}, {"view": "mine"}, {"view": "unassigned"}, {"view": "others"},
               {"view": "tagged"}, {"category": "2"}, {"priority": "1"}, {"owner": "none"},
               {"owner": str(general.id)}, {"status": "4"}, {"view": "all", "cot": "1", "per_page": "2"}]
    for user in (admin, general, own_only, by_me):
        for args in filters:
            total, listed = _totals(user, **args)
            assert total == listed, (user.username, args)
    # the counts' totals and the per-status branches agree page by page, critical tickets first
    pages = [search.list_tickets(admin, search.from_args(MultiDict({"view": "all", "per_page": "2",
                                                                    "page": str(p)}))).tickets for p in (1, 2, 3)]
    ids = [t.id for page in pages for t in page]
    assert len(ids) == len(set(ids)) == 6
    assert [t.priority_id for t in pages[0]] == [PRIORITY_CRITICAL, PRIORITY_CRITICAL]
    # "byme" sees the ticket they assigned (counted from the tickets: the counts do not keep who assigned)
    counts = search.quick_counts(by_me, open_ids=search.open_status_ids(), due_soon_days=7)
    assert counts.open == len(_find(by_me)) == 1


def test_text_search_reads_the_newest_tickets_first(people):
    """A text search finds the same tickets in the same order (last change first) whether it reads the
    newest tickets row by row (MariaDB, when the first ones fill the page) or asks the full-text index;
    a page read row by row says there are more instead of counting them all."""
    admin, general = people["admin"], people["general"]
    now = utcnow()
    matching, others = [], []
    for i in range(16):
        if i % 2:
            t = _ticket(subject=f"Printer {i}", message="The office printer is jammed.")
            matching.append(t)
        elif i % 4 == 0:
            t = _ticket(subject=f"Question {i}", message="Something else entirely.")
            others.append(t)
        else:
            t = _ticket(subject=f"Question {i}", message="Nothing to see.")
            svc.add_reply(t, message="Принтер знову друкує порожні сторінки.", actor=Actor.customer("Mykola"))
            matching.append(t)
        t.updated_at = now - timedelta(minutes=60 - i)
    rare = _ticket(subject="Toner", message="Rare cartridge question")
    rare.updated_at = now - timedelta(days=30)
    secret = _ticket(category_id=2, subject="Printer in billing", message="printer")
    secret.updated_at = now
    db.session.commit()
    newest_first = [t.trackid for t in sorted(matching, key=lambda t: t.updated_at, reverse=True)]
    row_by_row = db.session.get_bind().dialect.name in ("mysql", "mariadb")

    def page(user, q, n, **args):
        f = search.from_args(MultiDict({"q": q, "what": "message", "per_page": "3", "page": str(n), **args}))
        return search.list_tickets(user, f, text_window=4)

    # "printer" or its Ukrainian cousin: only subjects/messages have one, only replies the other
    first = page(admin, "printer", 1)
    assert [t.trackid for t in first.tickets] == [secret.trackid] + [
        t.trackid for t in sorted(matching, key=lambda t: t.updated_at, reverse=True) if t.subject.startswith("Printer")][:2]
    assert first.more == row_by_row and (first.total == 3 if row_by_row else first.total == 9)
    ukrainian = page(general, "ПРИНТЕР", 1)
    assert [t.trackid for t in ukrainian.tickets] == [t.trackid for t in sorted(matching, key=lambda t: t.updated_at,
                                                                                reverse=True)
                                                      if t.subject.startswith("Question")][:3]
    # page by page, staff limited to their category: the billing ticket never shows
    seen = []
    for n in range(1, 6):
        got = page(general, "printer", n)
        seen += [t.trackid for t in got.tickets]
        if not got.tickets or not got.more and n >= got.pages:
            break
    assert seen == [t for t in newest_first if t in {m.trackid for m in matching if m.subject.startswith("Printer")}]
    assert secret.trackid not in seen
    # a rare word is not among the newest tickets: the full-text index finds it, counted exactly
    rare_page = page(general, "cartridge", 1)
    assert [t.trackid for t in rare_page.tickets] == [rare.trackid] and rare_page.total == 1 and not rare_page.more
    assert page(general, "nosuchwordanywhere", 1).tickets == []


def test_kept_statements_take_each_users_own_categories(people, make_user):
    """The list keeps its statements per permission shape and runs them with each user's id and categories:
    two staff members with the same permissions in different categories, asked in turn, each see and count
    only their own category's tickets."""
    db.session.commit()
    features = ["can_view_tickets", "can_view_unassigned", "can_view_ass_others"]
    ids = make_user("one", category_ids=[1], features=features), make_user("two", category_ids=[2], features=features)
    one, two = (db.session.get(User, i) for i in ids)
    first = {_ticket(category_id=1, subject=f"First {i}").trackid for i in range(3)}
    second = {_ticket(category_id=2, subject=f"Second {i}").trackid for i in range(2)}
    svc.assign(db.session.scalar(select(Ticket).where(Ticket.trackid == sorted(second)[0])), two.id,
               actor=Actor.staff(people["admin"]))
    open_ids = search.open_status_ids()
    for _round in range(2):
        for user, mine in ((one, first), (two, second)):
            for view in ("open", "all", "unassigned", "others", "mine"):
                found = set(_find(user, view=view))
                assert found <= mine, (user.username, view)
            assert set(_find(user)) == mine
            counts = search.quick_counts(user, open_ids=open_ids, due_soon_days=7)
            assert counts.open == len(mine)
    assert search.quick_counts(two, open_ids=open_ids, due_soon_days=7).mine == 1
    assert search.quick_counts(one, open_ids=open_ids, due_soon_days=7).mine == 0


def test_text_search_for_staff_who_see_few_tickets(people, monkeypatch):
    """The walk for the newest tickets is bounded (MariaDB stops reading after TEXT_WALK_MAX rows): a staff
    member who sees few of the tickets then gets the full-text index's answer, the same tickets."""
    general = people["general"]
    now = utcnow()
    mine = []
    for i in range(12):
        t = _ticket(category_id=2 if i % 3 else 1, subject=f"Scanner {i}", message="The scanner is broken.")
        t.updated_at = now - timedelta(minutes=i)
        if t.category_id == 1:
            mine.append(t.trackid)
    db.session.commit()
    f = search.from_args(MultiDict({"q": "scanner", "what": "message", "per_page": "2"}))
    walked = search.list_tickets(general, f, text_window=1)
    monkeypatch.setattr(search, "TEXT_WALK_MAX", 2)
    indexed = search.list_tickets(general, f, text_window=1)
    assert [t.trackid for t in walked.tickets] == [t.trackid for t in indexed.tickets] == mine[:2]
    assert not indexed.more and indexed.total == len(mine) == 4
