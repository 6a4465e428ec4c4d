"""Finding tickets for staff: the ticket list (quick filters with counts, filters, sorting, pagination)
and search (tracking ID, number, name, email, IP, custom fields, and full text over subjects, messages,
replies and notes).

Full text uses the database's own index, never a ``LIKE '%word%'`` scan: InnoDB FULLTEXT on MariaDB/MySQL
(``MATCH ... AGAINST`` in boolean mode) and FTS5 on SQLite (tables kept in sync by triggers; see migration
0004). Every word must match, as a word or the start of one, in any language (Cyrillic included).

Every query here is limited by ``ticket_access.visible_clause(user)``: staff never find, count, sort by or
page through a ticket they may not see. Sort keys and filters are whitelisted: a request names a key, never
a column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, column, false, func, literal_column, select, table, true, union, union_all
from sqlalchemy.orm import raiseload
from sqlalchemy.sql.elements import ColumnElement

from hesk_py.extensions import db
from hesk_py.models import Customer, Note, Reply, Status, Ticket, TicketAlias, TicketBookmark, User
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import PRIORITY_CRITICAL, STATUS_CLOSED
from hesk_py.services.ticket_access import visible_clause

# --- whitelists -----------------------------------------------------------------------------------

# The ticket_list column keys (settings.TICKET_LIST_COLUMNS) and what each sorts by.
SORT_COLUMNS: dict[str, Any] = {
    "id": Ticket.id,
    "trackid": Ticket.trackid,
    "dt": Ticket.created_at,
    "lastchange": Ticket.updated_at,
    "category": Ticket.category_id,
    "name": Ticket.name,
    "email": Ticket.email,
    "subject": Ticket.subject,
    "status": Ticket.status_id,
    "owner": Ticket.owner_id,
    "replies": Ticket.reply_count,
    "staffreplies": Ticket.staff_reply_count,
    "lastreplier": Ticket.last_replier,
    "time_worked": Ticket.time_worked,
    "priority": Ticket.priority_id,
    "due_date": Ticket.due_date,
}
DEFAULT_SORT = "lastchange"

# Quick filters (HESK's quick links). All but "all" and "bookmarks" count and show open tickets only.
VIEWS = ("open", "mine", "unassigned", "others", "due_soon", "overdue", "bookmarks", "tagged", "all")

# Where a search looks.
SEARCH_FIELDS = ("auto", "trackid", "seq", "name", "email", "subject", "message", "notes", "ip", "custom")
_CUSTOM_KEY = re.compile(r"^custom([1-9][0-9]?|100)$")
MAX_PER_PAGE = 500
MAX_QUERY = 200

# InnoDB's built-in stop words and its minimum word length (innodb_ft_min_token_size): a required
# (+) word that the index cannot contain would make every search for it come back empty.
_INNODB_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what "
    "when where who will with und www".split()
)
_INNODB_MIN_WORD = 3
_WORD = re.compile(r"\w+", re.UNICODE)
_TRACKID_LIKE = re.compile(r"^[A-Za-z0-9]{3}-?[A-Za-z0-9]{3}-?[A-Za-z0-9]{4}$")


@dataclass
class TicketFilter:
    """What a staff member asked the list or search for, already cleaned (see ``from_args``)."""

    view: str = "open"
    statuses: list[int] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    categories: list[int] = field(default_factory=list)
    owner: str = ""  # "", "me", "none", or a staff id as text
    sort: str = DEFAULT_SORT
    desc: bool = True
    critical_on_top: bool = True
    page: int = 1
    per_page: int = 20
    # search
    what: str = "auto"
    text: str = ""
    custom_key: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @property
    def is_search(self) -> bool:
        return bool(self.text.strip()) or self.date_from is not None or self.date_to is not None

    def to_args(self) -> dict[str, Any]:
        """The query-string form of this filter (for links, pagination and the saved default view)."""
        args: dict[str, Any] = {}
        if self.view != "open":
            args["view"] = self.view
        if self.statuses:
            args["status"] = self.statuses
        if self.priorities:
            args["priority"] = self.priorities
        if self.categories:
            args["category"] = self.categories
        if self.owner:
            args["owner"] = self.owner
        if self.sort != DEFAULT_SORT:
            args["sort"] = self.sort
        if not self.desc:
            args["dir"] = "asc"
        if not self.critical_on_top:
            args["cot"] = 1
        if self.text:
            args["q"] = self.text
            if self.what != "auto":
                args["what"] = self.what
            if self.what == "custom" and self.custom_key:
                args["field"] = self.custom_key
        if self.date_from:
            args["from"] = self.date_from.isoformat()
        if self.date_to:
            args["to"] = self.date_to.isoformat()
        return args


def _ints(values) -> list[int]:
    out = []
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError):
            continue
        if 0 < n < 2**31:
            out.append(n)
    return sorted(set(out))[:200]


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def from_args(args, *, per_page_default: int = 20) -> TicketFilter:
    """Read a filter from request arguments (a MultiDict), dropping whatever is not on a whitelist."""
    f = TicketFilter(per_page=per_page_default)
    view = args.get("view", "open")
    f.view = view if view in VIEWS else "open"
    f.statuses = _ints(args.getlist("status"))
    f.priorities = _ints(args.getlist("priority"))
    f.categories = _ints(args.getlist("category"))
    owner = (args.get("owner") or "").strip()
    f.owner = owner if owner in ("me", "none") or (owner.isdigit() and len(owner) < 10) else ""
    sort = args.get("sort", DEFAULT_SORT)
    f.sort = sort if sort in SORT_COLUMNS else DEFAULT_SORT
    f.desc = args.get("dir", "desc") != "asc"
    f.critical_on_top = str(args.get("cot", "")) not in ("1", "on", "true")
    try:
        f.page = max(1, min(int(args.get("page", 1)), 1_000_000))
    except (TypeError, ValueError):
        f.page = 1
    try:
        f.per_page = max(1, min(int(args.get("per_page", per_page_default)), MAX_PER_PAGE))
    except (TypeError, ValueError):
        f.per_page = per_page_default
    f.text = (args.get("q") or "").strip()[:MAX_QUERY]
    what = args.get("what", "auto")
    f.what = what if what in SEARCH_FIELDS else "auto"
    key = args.get("field", "")
    f.custom_key = key if _CUSTOM_KEY.match(key or "") else ""
    f.date_from = _date(args.get("from"))
    f.date_to = _date(args.get("to"))
    return f


# --- statuses -------------------------------------------------------------------------------------

def open_status_ids() -> list[int]:
    """Ids of every status that is not a closed one (built-in and custom)."""
    return list(db.session.scalars(select(Status.id).where(Status.kind != STATUS_CLOSED).order_by(Status.id)))


# --- full text ------------------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")][:20]


def fulltext_ticket_ids(text: str, *, sources: tuple[str, ...] = ("tickets", "replies")):
    """A SELECT of the ids of tickets whose subject/message ("tickets"), replies ("replies") or notes
    ("notes") contain every word of ``text`` (as a word or the start of one). None when ``text`` has no
    word the index can look up."""
    words = _words(text)
    dialect = _dialect()
    selects = []
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import match

        usable = [w for w in words if len(w) >= _INNODB_MIN_WORD and w not in _INNODB_STOPWORDS]
        if not usable:
            return None
        against = " ".join(f"+{w}*" for w in usable)
        if "tickets" in sources:
            selects.append(select(Ticket.id.label("id")).where(
                match(Ticket.subject, Ticket.message, against=against).in_boolean_mode()))
        if "replies" in sources:
            selects.append(select(Reply.ticket_id.label("id")).where(
                match(Reply.message, against=against).in_boolean_mode()))
        if "notes" in sources:
            selects.append(select(Note.ticket_id.label("id")).where(
                match(Note.message, against=against).in_boolean_mode()))
    else:
        if not words:
            return None
        # each word quoted (so nothing in it is FTS5 syntax) and matched as a prefix
        query = " ".join('"{}"*'.format(w.replace('"', '""')) for w in words)
        for source, fts, owner in (("tickets", "hesk_tickets_fts", None), ("replies", "hesk_replies_fts", Reply),
                                   ("notes", "hesk_notes_fts", Note)):
            if source not in sources:
                continue
            fts_table = table(fts, column("rowid"))
            hits = select(fts_table.c.rowid).where(literal_column(fts).op("MATCH")(query))
            if owner is None:
                selects.append(select(Ticket.id.label("id")).where(Ticket.id.in_(hits)))
            else:
                selects.append(select(owner.ticket_id.label("id")).where(owner.id.in_(hits)))
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else union(*selects)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(col, text: str) -> ColumnElement[bool]:
    return col.ilike(f"%{_like_escape(text)}%", escape="\\")


def search_condition(f: TicketFilter):
    """(condition on Ticket, full-text id SELECT or None) for the filter's search text."""
    from hesk_py.services.tickets import normalize_trackid

    text = f.text.strip()
    what = f.what
    if not text:
        return None, None
    if what == "auto":
        if _TRACKID_LIKE.match(text):
            what = "trackid"
        elif text.isdigit():
            what = "seq"
        elif "@" in text and " " not in text:
            what = "email"
        else:
            what = "message"
    if what == "trackid":
        trackid = normalize_trackid(text)
        alias = select(TicketAlias.ticket_id).where(TicketAlias.trackid == trackid)
        return (Ticket.trackid == trackid) | Ticket.id.in_(alias), None
    if what == "seq":
        return (Ticket.id == int(text), None) if text.isdigit() and len(text) < 10 else (false(), None)
    if what == "name":
        return _contains(Ticket.name, text), None
    if what == "email":
        if re.fullmatch(r"[^@\s]+@[^@\s]+", text):
            # a whole address: through the customers table (emails stored lower-case, indexed)
            return Ticket.customer_id.in_(select(Customer.id).where(Customer.email == text.lower())), None
        return _contains(Ticket.email, text), None
    if what == "ip":
        # HESK allows a * wildcard: 192.168.*
        if "*" in text:
            return Ticket.ip.like(_like_escape(text).replace("*", "%"), escape="\\"), None
        return Ticket.ip == text, None
    if what == "custom":
        if not f.custom_key:
            return false(), None
        return _contains(Ticket.custom[f.custom_key].as_string(), text), None
    sources = {"subject": ("tickets",), "message": ("tickets", "replies"), "notes": ("notes",)}[what]
    if what == "subject":
        ids = fulltext_ticket_ids(text, sources=sources)
        return (_contains(Ticket.subject, text), None) if ids is None else (None, ids)
    ids = fulltext_ticket_ids(text, sources=sources)
    if ids is None:
        # only words the index skips (too short, stop words): fall back to a plain substring test
        model_col = Note.message if what == "notes" else Ticket.message
        if what == "notes":
            return Ticket.id.in_(select(Note.ticket_id).where(_contains(Note.message, text))), None
        return _contains(Ticket.subject, text) | _contains(model_col, text), None
    return None, ids


# --- the list -------------------------------------------------------------------------------------

@dataclass
class TicketPage:
    tickets: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _status_ids(f: TicketFilter, open_ids: list[int]) -> list[int] | None:
    """The statuses the filter keeps (None: any status)."""
    if f.statuses:
        return list(f.statuses)
    if f.view not in ("all", "bookmarks") and not f.is_search:
        return list(open_ids)
    return None


def _filter_conditions(user: User, f: TicketFilter, open_ids: list[int], now: datetime,
                       due_soon_days: int, *, with_status: bool = True) -> list:
    conds: list = [visible_clause(user)]
    view = f.view
    statuses = _status_ids(f, open_ids)
    if with_status and statuses is not None:
        conds.append(Ticket.status_id.in_(statuses))
    if view == "mine":
        conds.append(Ticket.owner_id == user.id)
    elif view == "unassigned":
        conds.append(Ticket.owner_id.is_(None))
    elif view == "others":
        conds.append(Ticket.owner_id.is_not(None) & (Ticket.owner_id != user.id))
    elif view == "due_soon":
        conds.append(Ticket.due_date.between(now, now + timedelta(days=due_soon_days)))
    elif view == "overdue":
        conds.append(Ticket.due_date < now)
    elif view == "tagged":
        conds.append(Ticket.tagged.is_(True))
    elif view == "bookmarks":
        conds.append(Ticket.id.in_(select(TicketBookmark.ticket_id).where(TicketBookmark.user_id == user.id)))
    if f.priorities:
        conds.append(Ticket.priority_id.in_(f.priorities))
    if f.categories:
        conds.append(Ticket.category_id.in_(f.categories))
    if f.owner == "me":
        conds.append(Ticket.owner_id == user.id)
    elif f.owner == "none":
        conds.append(Ticket.owner_id.is_(None))
    elif f.owner:
        conds.append(Ticket.owner_id == int(f.owner))
    if f.date_from:
        conds.append(Ticket.created_at >= datetime.combine(f.date_from, datetime.min.time()))
    if f.date_to:
        conds.append(Ticket.created_at < datetime.combine(f.date_to + timedelta(days=1), datetime.min.time()))
    return conds


def list_tickets(user: User, f: TicketFilter, *, due_soon_days: int = 7, open_ids: list[int] | None = None,
                 known_total: tuple[int, int] | None = None, now: datetime | None = None) -> TicketPage:
    """One page of the tickets ``user`` may see that match ``f``, critical ones first unless turned off
    (search results by full text are in the chosen order only).

    ``known_total`` = (total, critical) when the caller already counted this very set (the default view's
    quick-filter counts), saving a query.
    """
    now = now or utcnow()
    if open_ids is None:
        open_ids = open_status_ids()
    statuses = _status_ids(f, open_ids)
    conds = _filter_conditions(user, f, open_ids, now, due_soon_days, with_status=False)
    text_cond, fulltext_ids = search_condition(f)
    if text_cond is not None:
        conds.append(text_cond)
    if statuses is not None:
        conds_with_status = conds + [Ticket.status_id.in_(statuses)]
    else:
        conds_with_status = conds
    where = and_(*conds_with_status)
    sort_col = SORT_COLUMNS[f.sort]
    order = [sort_col.desc() if f.desc else sort_col.asc(), Ticket.id.desc() if f.desc else Ticket.id.asc()]
    offset = (f.page - 1) * f.per_page
    # owners are shown from a names table: loading User rows here would cost queries per page
    base = select(Ticket).options(raiseload(Ticket.owner))

    if fulltext_ids is not None:
        return _fulltext_page(base, fulltext_ids, where, order, f, offset)

    critical_first = f.critical_on_top and f.sort != "priority"
    if known_total is not None:
        total, critical = known_total
    else:
        counted = select(Ticket.id, Ticket.priority_id).where(where).subquery()
        row = db.session.execute(select(
            func.count(),
            func.coalesce(func.sum(case((counted.c.priority_id == PRIORITY_CRITICAL, 1), else_=0)), 0),
        ).select_from(counted)).one()
        total, critical = int(row[0]), int(row[1])

    def fetch(extra, skip, limit, *, few=False):
        if limit <= 0:
            return []
        if not few and f.sort == "lastchange" and statuses and len(statuses) <= _MAX_BRANCHES:
            return _newest_first(base, conds + [extra], statuses, f.desc, skip, limit)
        return list(db.session.scalars(base.where(where, extra).order_by(*order).offset(skip).limit(limit))
                    .unique())

    rows: list[Ticket] = []
    if critical_first and critical:
        if offset < critical:
            # critical tickets are few: one plain query reads them all
            rows = fetch(Ticket.priority_id == PRIORITY_CRITICAL, offset, f.per_page, few=True)
        if total > critical:
            rows += fetch(Ticket.priority_id != PRIORITY_CRITICAL, max(0, offset - critical),
                          f.per_page - len(rows))
    elif total:
        rows = fetch(true(), offset, f.per_page)
    return TicketPage(rows, total, f.page, f.per_page)


# At most this many statuses are read branch by branch (see _newest_first).
_MAX_BRANCHES = 12


def _newest_first(base, conds: list, statuses: list[int], desc: bool, skip: int, limit: int) -> list[Ticket]:
    """A page of tickets in ``statuses`` ordered by last change, read status by status.

    One ``status_id IN (...) ORDER BY updated_at LIMIT n`` makes the database read every ticket of those
    statuses and sort them (tens of thousands of open tickets on a big help desk). Instead each status is
    one branch that walks the (status_id, updated_at) index and stops after ``skip + limit`` rows; the
    branches are merged and the page's rows fetched by primary key. The cost depends on the page, not on
    the number of tickets.
    """
    want = skip + limit
    key_order = (Ticket.updated_at.desc(), Ticket.id.desc()) if desc else (Ticket.updated_at.asc(), Ticket.id.asc())
    branches = []
    for status_id in statuses:
        branch = (select(Ticket.id.label("id"), Ticket.updated_at.label("k"))
                  .where(Ticket.status_id == status_id, *conds).order_by(*key_order).limit(want))
        # wrapped: SQLite allows no ORDER BY/LIMIT on the members of a UNION themselves
        branches.append(select(branch.subquery().c))
    merged = union_all(*branches).subquery("newest")
    merged_order = (merged.c.k.desc(), merged.c.id.desc()) if desc else (merged.c.k.asc(), merged.c.id.asc())
    ids = list(db.session.scalars(select(merged.c.id).order_by(*merged_order).offset(skip).limit(limit)))
    if not ids:
        return []
    by_id = {t.id: t for t in db.session.scalars(base.where(Ticket.id.in_(ids))).unique()}
    return [by_id[i] for i in ids if i in by_id]


def _fulltext_page(base, fulltext_ids, where, order, f: TicketFilter, offset: int) -> TicketPage:
    """A page of full-text search results and their number, in one statement: the full-text index is
    read once (a derived table of matching ids, joined on the primary key) and the total comes with the
    rows as a window count."""
    hits = fulltext_ids.subquery("hits")
    total_col = func.count().over().label("total")
    stmt = (base.add_columns(total_col).join(hits, hits.c.id == Ticket.id).where(where).order_by(*order)
            .offset(offset).limit(f.per_page))
    rows = db.session.execute(stmt).unique().all()
    if rows:
        total = int(rows[0].total)
    else:  # a page past the end: count them to show how many pages there are
        total = db.session.scalar(select(func.count()).select_from(
            select(Ticket.id).join(hits, hits.c.id == Ticket.id).where(where).subquery()))
    return TicketPage([r[0] for r in rows], int(total or 0), f.page, f.per_page)


def all_matching_ids(user: User, f: TicketFilter, *, limit: int = 10_000, due_soon_days: int = 7) -> list[int]:
    """Ids of every ticket the filter matches (for an export of the current list), in list order."""
    now = utcnow()
    conds = _filter_conditions(user, f, open_status_ids(), now, due_soon_days)
    text_cond, fulltext_ids = search_condition(f)
    if text_cond is not None:
        conds.append(text_cond)
    stmt = select(Ticket.id)
    if fulltext_ids is not None:
        hits = fulltext_ids.subquery("hits")
        stmt = stmt.join(hits, hits.c.id == Ticket.id)
    sort_col = SORT_COLUMNS[f.sort]
    stmt = stmt.where(and_(*conds)).order_by(sort_col.desc() if f.desc else sort_col.asc(), Ticket.id.desc())
    return list(db.session.scalars(stmt.limit(limit)))


@dataclass
class QuickCounts:
    open: int = 0
    mine: int = 0
    unassigned: int = 0
    others: int = 0
    due_soon: int = 0
    overdue: int = 0
    critical: int = 0
    bookmarks: int = 0
    tagged: int = 0

    def get(self, view: str) -> int | None:
        return getattr(self, view, None) if view != "all" else None


def quick_counts(user: User, *, open_ids: list[int], due_soon_days: int, now: datetime | None = None) -> QuickCounts:
    """The numbers beside the quick filters, over the open tickets ``user`` may see, in one query."""
    now = now or utcnow()
    soon = now + timedelta(days=due_soon_days)

    def n(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    bookmarks = (
        select(func.count()).select_from(TicketBookmark)
        .join(Ticket, Ticket.id == TicketBookmark.ticket_id)
        .where(TicketBookmark.user_id == user.id, visible_clause(user))
        .scalar_subquery()
    )
    row = db.session.execute(
        select(
            func.count(),
            n(Ticket.owner_id == user.id),
            n(Ticket.owner_id.is_(None)),
            n(Ticket.owner_id.is_not(None) & (Ticket.owner_id != user.id)),
            n(Ticket.due_date.between(now, soon)),
            n(Ticket.due_date < now),
            n(Ticket.priority_id == PRIORITY_CRITICAL),
            n(Ticket.tagged.is_(True)),
            bookmarks,
        ).where(visible_clause(user), Ticket.status_id.in_(open_ids))
    ).one()
    return QuickCounts(open=int(row[0]), mine=int(row[1]), unassigned=int(row[2]), others=int(row[3]),
                       due_soon=int(row[4]), overdue=int(row[5]), critical=int(row[6]), tagged=int(row[7]),
                       bookmarks=int(row[8] or 0))


def is_plain_view(f: TicketFilter, view: str = "open") -> bool:
    """True when the filter is exactly a quick filter (so its counts are the list's totals)."""
    return (f.view == view and not f.statuses and not f.priorities and not f.categories and not f.owner
            and not f.is_search)


# --- the customer card ----------------------------------------------------------------------------

def customer_tickets(user: User, email: str, *, limit: int = 50):
    """Every ticket from this email address that ``user`` may see (newest first, up to ``limit``) and
    the number per status: [(status_id, count)]."""
    email = (email or "").strip().lower()
    if not email:
        return [], []
    customer_ids = select(Customer.id).where(Customer.email == email)
    cond = and_(Ticket.customer_id.in_(customer_ids), visible_clause(user))
    tickets = list(db.session.scalars(select(Ticket).where(cond).options(raiseload(Ticket.owner)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                      .limit(limit)).unique())
    counts = db.session.execute(select(Ticket.status_id, func.count()).where(cond).group_by(Ticket.status_id)).all()
    return tickets, [(int(s), int(c)) for s, c in counts]
