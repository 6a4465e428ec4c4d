"""Finding tickets for staff: the ticket list (quick filters with counts, filters, sorting, pagination)
and search (tracking ID, number, name, email, IP, custom fields, and full text over subjects, messages,
replies and notes).

Full text uses the database's own index, never a ``LIKE '%word%'`` scan of every ticket: InnoDB FULLTEXT on
MariaDB/MySQL (``MATCH ... AGAINST`` in boolean mode) and FTS5 on SQLite (tables kept in sync by triggers; see
migration 0004). On MariaDB/MySQL a search in the list's order first reads the newest tickets row by row and
stops at the page (``_recent_text_page``: the index hands back every match of a common word), and asks the index
when they do not fill it. Every word must match, as a word or the start of one, in any language (Cyrillic
included).

The list's counts and totals come from the ticket counts kept by triggers (migration 0019) where the filter can
be said on them, and its statements are kept per permission shape (``_kept``).

Every query here is limited by ``ticket_access.visible_clause(user)`` (or the same rule from
``visible_bound``/``visible_counts_clause``): staff never find, count, sort by or page through a ticket they may
not see. Sort keys and filters are whitelisted: a request names a key, never
a column.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    column,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import lazyload, load_only, raiseload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from hesk_py.extensions import db
from hesk_py.models import Customer, Note, Reply, Status, Ticket, TicketAlias, TicketBookmark, TicketCount, User
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import PRIORITY_CRITICAL, STATUS_CLOSED
from hesk_py.services.ticket_access import visible_bound, visible_clause, visible_counts_clause

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

        usable = _innodb_words(text)
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


def _search_field(f: TicketFilter) -> str:
    """What the search text is looked for in: ``auto`` reads a tracking ID, a number, an address or words."""
    text = f.text.strip()
    if f.what != "auto":
        return f.what
    if _TRACKID_LIKE.match(text):
        return "trackid"
    if text.isdigit():
        return "seq"
    if "@" in text and " " not in text:
        return "email"
    return "message"


_TEXT_SOURCES = {"subject": ("tickets",), "message": ("tickets", "replies")}


def _text_words(f: TicketFilter) -> tuple[list[str], tuple[str, ...]]:
    """(the words InnoDB's index can look up, where they are looked for) of a full-text search in subjects or
    messages; no words for any other search."""
    sources = _TEXT_SOURCES.get(_search_field(f)) if f.text.strip() else None
    if sources is None:
        return [], ()
    return _innodb_words(f.text), sources


def _innodb_words(text: str) -> list[str]:
    return [w for w in _words(text) if len(w) >= _INNODB_MIN_WORD and w not in _INNODB_STOPWORDS]


def search_condition(f: TicketFilter):
    """(condition on Ticket, full-text id SELECT or None) for the filter's search text."""
    from hesk_py.services.tickets import normalize_trackid

    text = f.text.strip()
    if not text:
        return None, None
    what = _search_field(f)
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
            # a whole address: through the customers table (emails stored lower-case, indexed): the tickets
            # it opened and those it follows (Cc)
            from hesk_py.services.followers import followed_ticket_ids

            customers = select(Customer.id).where(Customer.email == text.lower())
            return Ticket.customer_id.in_(customers) | Ticket.id.in_(followed_ticket_ids(customers)), None
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
    # ``total`` is only a lower bound: a text search read the newest matches and stopped there (the page says
    # "more than N" and links the next page instead of the last one)
    more: bool = False

    @property
    def pages(self) -> int:
        if self.more:
            return self.page + 1
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
    if view in ("mine", "unassigned", "others", "tagged"):
        conds.append(_view_condition(view, user.id))
    elif view == "due_soon":
        conds.append(Ticket.due_date.between(now, now + timedelta(days=due_soon_days)))
    elif view == "overdue":
        conds.append(Ticket.due_date < now)
    elif view == "bookmarks":
        conds.append(Ticket.id.in_(select(TicketBookmark.ticket_id).where(TicketBookmark.user_id == user.id)))
    conds += _chosen(f, user, Ticket.priority_id, Ticket.category_id, Ticket.owner_id, Ticket.owner_id.is_(None))
    if f.date_from:
        conds.append(Ticket.created_at >= datetime.combine(f.date_from, datetime.min.time()))
    if f.date_to:
        conds.append(Ticket.created_at < datetime.combine(f.date_to + timedelta(days=1), datetime.min.time()))
    return conds


# What a list page shows of a ticket; the rest (the texts, whose JSON would be decoded for nothing, and what
# only the ticket page shows) is not read, and reading it from a listed ticket raises: a column the list
# starts to show goes here rather than being loaded ticket by ticket.
_LISTED = (Ticket.id, Ticket.trackid, Ticket.customer_id, Ticket.name, Ticket.email, Ticket.category_id,
           Ticket.priority_id, Ticket.status_id, Ticket.subject, Ticket.owner_id, Ticket.created_at,
           Ticket.updated_at, Ticket.reply_count, Ticket.staff_reply_count, Ticket.last_replier,
           Ticket.last_replier_id, Ticket.due_date, Ticket.time_worked, Ticket.locked, Ticket.tagged,
           Ticket.follower_count)
_ROW_SELECTS: dict[bool, Any] = {}


def _chosen(f: TicketFilter, user: User, priority, category, owner, unassigned) -> list:
    """The conditions of the priorities, categories and owner picked in the filter, on these columns (the
    tickets', or the ticket counts' where unassigned is owner 0)."""
    conds = []
    if f.priorities:
        conds.append(priority.in_(f.priorities))
    if f.categories:
        conds.append(category.in_(f.categories))
    if f.owner == "me":
        conds.append(owner == user.id)
    elif f.owner == "none":
        conds.append(unassigned)
    elif f.owner:
        conds.append(owner == int(f.owner))
    return conds


def _row_select(*, joined: bool = True):
    """The tickets of a list page (built once: the options cost more to build than the query to run). Owners
    are shown from a names table (loading User rows would cost queries per page). ``joined=False``: the
    category, priority and status are not joined in (``_rows_by_ids`` fills them in from the page's
    look-ups)."""
    found = _ROW_SELECTS.get(joined)
    if found is None:
        options = [raiseload(Ticket.owner), load_only(*_LISTED, raiseload=True)]
        if not joined:
            options += [lazyload(Ticket.category), lazyload(Ticket.priority), lazyload(Ticket.status)]
        found = _ROW_SELECTS[joined] = select(Ticket).options(*options)
    return found


def _rows_by_ids(ids: list[int], lookups: dict | None = None) -> list[Ticket]:
    """The tickets with these ids, in this order. ``lookups`` ({"category": {id: row}, "priority": ...,
    "status": ...}, read-only rows such as the page's cached ones) saves joining those tables in: each
    ticket's relationship is set from them as if loaded (no change to flush); one missing is loaded."""
    if not ids:
        return []
    joined = lookups is None
    stmt = _kept(("rows", joined), lambda: _row_select(joined=joined).where(
        Ticket.id.in_(bindparam("ids", expanding=True))))
    rows = db.session.scalars(stmt, {"ids": list(ids)}).unique()
    by_id = {t.id: t for t in rows}
    if lookups is not None:
        for t in by_id.values():
            for name, key in (("category", t.category_id), ("priority", t.priority_id), ("status", t.status_id)):
                found = lookups.get(name, {}).get(key)
                if found is not None:
                    set_committed_value(t, name, found)
    return [by_id[i] for i in ids if i in by_id]


def list_tickets(user: User, f: TicketFilter, *, due_soon_days: int = 7, open_ids: list[int] | None = None,
                 all_status_ids: list[int] | None = None, known_total: tuple[int, int] | None = None,
                 now: datetime | None = None, text_window: int | None = None,
                 lookups: dict | None = None) -> TicketPage:
    """One page of the tickets ``user`` may see that match ``f``, critical ones first unless turned off
    (search results by full text are in the chosen order only).

    ``known_total`` = (total, critical) when the caller already counted this very set (the default view's
    quick-filter counts), saving a query; otherwise they come from the ticket counts when the filter can be
    said on them (statuses, categories, owners, priorities, tagged), else from a count of the tickets.
    ``all_status_ids`` (every status, when the caller has them) lets "All tickets" be read status by status.
    ``text_window``: see ``_recent_text_page`` (tests make it small). ``lookups``: see ``_rows_by_ids``.
    """
    now = now or utcnow()
    if open_ids is None:
        open_ids = open_status_ids()
    statuses = _status_ids(f, open_ids)
    conds = _filter_conditions(user, f, open_ids, now, due_soon_days, with_status=False)
    text_cond, fulltext_ids = search_condition(f)
    if text_cond is not None:
        conds.append(text_cond)
    conds_with_status = conds + [Ticket.status_id.in_(statuses)] if statuses is not None else conds
    where = and_(*conds_with_status)
    sort_col = SORT_COLUMNS[f.sort]
    order = [sort_col.desc() if f.desc else sort_col.asc(), Ticket.id.desc() if f.desc else Ticket.id.asc()]
    offset = (f.page - 1) * f.per_page

    if fulltext_ids is not None:
        if f.sort == "lastchange" and _dialect() in ("mysql", "mariadb"):
            page = _recent_text_page(conds_with_status, f, offset, text_window, lookups)
            if page is not None:
                return page
        return _fulltext_page(fulltext_ids, where, order, f, offset, lookups)

    critical_first = f.critical_on_top and f.sort != "priority"
    if known_total is None:
        known_total = _counted(user, f, statuses)
    if known_total is not None:
        total, critical = known_total
    else:
        counted = select(Ticket.id, Ticket.priority_id).where(where).subquery()
        row = db.session.execute(select(
            func.count(),
            func.coalesce(func.sum(case((counted.c.priority_id == PRIORITY_CRITICAL, 1), else_=0)), 0),
        ).select_from(counted)).one()
        total, critical = int(row[0]), int(row[1])
    if not total or offset >= total:
        return TicketPage([], total, f.page, f.per_page)
    if not critical_first:
        critical = 0
    # (order rank, which tickets, rows to skip, rows to take) of each part of the page: the critical tickets
    # first (when they are on top), then the others
    parts = []
    if critical and offset < critical:
        take = min(f.per_page, critical - offset)
        parts.append((0, "critical", offset, take))
    if total > critical and offset + f.per_page > critical:
        parts.append((1, "rest" if critical else "all", max(0, offset - critical),
                      f.per_page - sum(p[3] for p in parts)))

    branches = statuses if statuses is not None else all_status_ids
    if (f.sort == "lastchange" and branches and len(branches) <= _MAX_BRANCHES
            and f.view not in ("bookmarks", "due_soon", "overdue")):
        ids = (_newest_first_kept(user, f, branches, parts) if _plain_view(f)
               else _newest_first(conds, branches, parts, f.desc))
    else:
        ids = []
        for _rank, kind, skip, take in parts:
            ids += db.session.scalars(select(Ticket.id).where(where, _part_condition(kind)).order_by(*order)
                                      .offset(skip).limit(take)).all()
    return TicketPage(_rows_by_ids(ids, lookups), total, f.page, f.per_page)


# At most this many statuses are read branch by branch (see _newest_first).
_MAX_BRANCHES = 12


def _newest_first(conds: list, statuses: list[int], parts: list, desc: bool) -> list[int]:
    """The ids of a page of tickets in ``statuses`` ordered by last change (critical ones first when
    ``parts`` says so), in one statement, read status by status.

    One ``status_id IN (...) ORDER BY updated_at LIMIT n`` makes the database read every ticket of those
    statuses and sort them (tens of thousands of open tickets on a big help desk). Instead each status (and
    part: critical or not) is one branch that walks an index in order (``ix_hesk_tickets_list``: status, last
    change, id, then the priority, category and owner the filters check; ``ix_hesk_tickets_critical`` for the
    critical ones) and stops after the rows the page can need; the branches are merged and the page cut from
    them. The cost depends on the page, not on the number of tickets.
    """
    if not parts:
        return []
    stmt = _union_of_branches(conds, statuses, [(rank, kind, skip + take) for rank, kind, skip, take in parts],
                              desc, parts[0][2], sum(p[3] for p in parts))
    return list(db.session.scalars(stmt))


# Statements built once per process and run again with their values as bind parameters: the list's
# statements (a union of a dozen branches, the counts with their subqueries) cost more to build than to run.
_KEPT: dict = {}
_KEPT_MAX = 512


def _kept(key, build):
    stmt = _KEPT.get(key)
    if stmt is None:
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        stmt = _KEPT[key] = build()
    return stmt


def _plain_view(f: TicketFilter) -> bool:
    """A quick filter as it is, without more filters or a search: its statements can be kept."""
    return (f.view in ("open", "mine", "unassigned", "others", "tagged", "all") and not f.is_search
            and not f.priorities and not f.categories and not f.owner)


def _view_condition(view: str, me):
    if view == "mine":
        return Ticket.owner_id == me
    if view == "unassigned":
        return Ticket.owner_id.is_(None)
    if view == "others":
        return Ticket.owner_id.is_not(None) & (Ticket.owner_id != me)
    if view == "tagged":
        return Ticket.tagged.is_(True)
    return true()


def _newest_first_kept(user: User, f: TicketFilter, statuses: list[int], parts: list) -> list[int]:
    """``_newest_first`` for a plain quick filter, with a statement kept per permission shape (see
    ``ticket_access.visible_bound``), view, number of statuses and parts of the page."""
    visible, shape, params = visible_bound(user)
    kinds = tuple((rank, kind) for rank, kind, _skip, _take in parts)
    key = ("newest", shape, f.view, f.desc, len(statuses), kinds)

    def build():
        conds = [visible, _view_condition(f.view, bindparam("me"))]
        return _union_of_branches(conds, [bindparam(f"s{i}") for i in range(len(statuses))],
                                  [(rank, kind, bindparam(f"limit{rank}")) for rank, kind in kinds],
                                  f.desc, bindparam("skip"), bindparam("size"))

    stmt = _kept(key, build)
    values = dict(params, me=user.id, skip=parts[0][2], size=sum(p[3] for p in parts),
                  **{f"s{i}": sid for i, sid in enumerate(statuses)},
                  **{f"limit{rank}": skip + take for rank, _kind, skip, take in parts})
    return list(db.session.scalars(stmt, values))


def _part_condition(kind: str):
    if kind == "critical":
        return Ticket.priority_id == PRIORITY_CRITICAL
    if kind == "rest":
        return Ticket.priority_id != PRIORITY_CRITICAL
    return true()


def _union_of_branches(conds: list, statuses: list, parts: list, desc: bool, skip, size):
    """The statement of ``_newest_first``: a branch per status and part, each walking its index in order
    and stopping at its limit, merged and cut to the page."""
    key_order = (Ticket.updated_at.desc(), Ticket.id.desc()) if desc else (Ticket.updated_at.asc(), Ticket.id.asc())
    branches = []
    for rank, kind, limit in parts:
        for status_id in statuses:
            branch = (select(Ticket.id.label("id"), Ticket.updated_at.label("k"), literal(rank).label("r"))
                      .where(Ticket.status_id == status_id, _part_condition(kind), *conds).order_by(*key_order)
                      .limit(limit))
            # wrapped: SQLite allows no ORDER BY/LIMIT on the members of a UNION themselves
            branches.append(select(branch.subquery().c))
    merged = union_all(*branches).subquery("newest")
    merged_order = (merged.c.r, merged.c.k.desc(), merged.c.id.desc()) if desc else \
        (merged.c.r, merged.c.k.asc(), merged.c.id.asc())
    return select(merged.c.id).order_by(*merged_order).offset(skip).limit(size)


# A text search on MariaDB/MySQL first reads the newest tickets row by row (see _recent_text_page): this many
# at first, at most this many in all before the full-text index is asked instead.
TEXT_WINDOW_FIRST = 1000
TEXT_WINDOW_MAX = 5000


def _recent_text_page(conds: list, f: TicketFilter, offset: int, window: int | None,
                      lookups: dict | None = None) -> TicketPage | None:
    """A page of a full-text search read from the newest tickets, or None when the full-text index should
    answer instead.

    InnoDB's FULLTEXT index hands back every match of a word before anything is sorted or limited, and each
    match is a row read (on a million tickets a common word is hundreds of thousands of them: seconds). So
    the newest tickets the user may see are read first, newest first (by last change, the list's order), and
    each one's subject, message and replies are tested for the words (``REGEXP '\\bword'``: a word or the
    start of one, case folded by the collation, Cyrillic included); the scan stops as soon as the page and
    one more row are found. A common word fills the page after a few dozen tickets. When the first
    ``TEXT_WINDOW_FIRST`` tickets do not fill it, the share of matches seen so far tells how many more
    tickets the page needs: when that stays within ``TEXT_WINDOW_MAX`` the scan goes on over the next ones;
    otherwise (a rare word, which has few matches, so the index answers it cheaply and exactly) None. The
    total of a page read this way is a lower bound ("more than N"). ``window`` (tests) replaces both sizes:
    ``window`` first, five times that in all.
    """
    words, sources = _text_words(f)
    if not words:
        return None
    need = offset + f.per_page
    size = window or max(TEXT_WINDOW_FIRST, 2 * need)
    most = 5 * window if window else max(TEXT_WINDOW_MAX, 2 * size)
    key = (Ticket.updated_at.desc(), Ticket.id.desc()) if f.desc else (Ticket.updated_at.asc(), Ticket.id.asc())
    test = _text_test(words, sources)
    found: list[int] = []
    scanned = 0
    previous = None  # where the window before this one ended
    while True:
        edge = db.session.scalar(_newest_walk(select(Ticket.updated_at).where(*conds).order_by(*key)
                                              .offset(scanned + size).limit(1), bounded=True))
        if edge is None:
            # fewer tickets than that (the index answers at least as fast), or the user sees so few of them that
            # finding that many would read too many rows
            return None
        span = [Ticket.updated_at >= edge if f.desc else Ticket.updated_at <= edge]
        if previous is not None:
            span.append(Ticket.updated_at < previous if f.desc else Ticket.updated_at > previous)
        found += db.session.scalars(_newest_walk(select(Ticket.id).where(*conds, *span, test).order_by(*key)
                                                 .limit(need + 1 - len(found)))).all()
        if len(found) > need:
            return TicketPage(_rows_by_ids(found[offset:need], lookups), need, f.page, f.per_page, more=True)
        scanned += size
        share = (len(found) + 0.5) / scanned
        size = int((need + 1 - len(found)) / share * 1.25) + 1
        if scanned + size > most:
            return None
        previous = edge


# The most rows the walk for a window's edge may read (MariaDB's LIMIT ... ROWS EXAMINED): a staff member who
# sees a small share of the tickets would otherwise walk a large part of the table to find the newest ones.
TEXT_WALK_MAX = 100_000


def _newest_walk(stmt, *, bounded: bool = False):
    """``stmt`` walking the tickets by last change, newest (or oldest) first, through ``ix_hesk_tickets_updated``:
    for a staff member limited to some categories MariaDB would otherwise pick the category or owner index and
    sort every ticket of theirs (seconds at a million tickets). ``bounded``: on MariaDB it stops after
    ``TEXT_WALK_MAX`` rows (and finds nothing)."""
    stmt = stmt.with_hint(Ticket, "FORCE INDEX (ix_hesk_tickets_updated)", dialect_name="mysql")
    bind = db.session.get_bind()
    if bounded and getattr(bind.dialect, "is_mariadb", False):
        stmt = stmt.suffix_with(f"ROWS EXAMINED {int(TEXT_WALK_MAX)}", dialect="mysql")
    return stmt


def _text_test(words: list[str], sources: tuple[str, ...]):
    """The condition on a ticket row that its subject and message, or one of its replies, contain every
    word as a word or the start of one (what the full-text index answers, row by row)."""
    def has(col, word):
        # LIKE first (the collation folds case as REGEXP does, and it is about twice as quick), then the
        # word boundary
        return col.like(f"%{_like_escape(word)}%", escape="\\") & col.regexp_match(r"\b" + re.escape(word))

    tests = []
    if "tickets" in sources:
        tests.append(and_(*[has(Ticket.subject, w) | has(Ticket.message, w) for w in words]))
    if "replies" in sources:
        tests.append(select(Reply.id).where(Reply.ticket_id == Ticket.id, *[has(Reply.message, w) for w in words])
                     .exists())
    return or_(*tests)


def _fulltext_page(fulltext_ids, where, order, f: TicketFilter, offset: int,
                   lookups: dict | None = None) -> TicketPage:
    """A page of full-text search results and their number, in one statement: the full-text index is
    read once (a derived table of matching ids, joined on the primary key) and the total comes with the
    ids as a window count; then the page's tickets by primary key."""
    hits = fulltext_ids.subquery("hits")
    total_col = func.count().over().label("total")
    stmt = (select(Ticket.id, total_col).join(hits, hits.c.id == Ticket.id).where(where).order_by(*order)
            .offset(offset).limit(f.per_page))
    rows = db.session.execute(stmt).all()
    if rows:
        total = int(rows[0].total)
    else:  # a page past the end: count them to show how many pages there are
        total = db.session.scalar(select(func.count()).select_from(
            select(Ticket.id).join(hits, hits.c.id == Ticket.id).where(where).subquery()))
    return TicketPage(_rows_by_ids([r.id for r in rows], lookups), int(total or 0), f.page, f.per_page)


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


# --- counts ---------------------------------------------------------------------------------------

_COUNTS_READY: dict[str, Any] = {}


def counts_table_ready() -> bool:
    """Whether this database has the ticket counts kept by triggers (migration 0019; on MySQL/MariaDB that
    creates them only where triggers may be created). A yes is kept for the process; a no is asked again
    after a minute (the schema may be upgraded while the help desk runs)."""
    engine = db.engine
    key = str(engine.url)
    known = _COUNTS_READY.get(key)
    if known is True:
        return True
    if known is not None and time.monotonic() - known < 60:
        return False
    from sqlalchemy import inspect

    # on the session's own connection: another one would wait for SQLite's write lock held by this request
    ready = inspect(db.session.connection()).has_table(TicketCount.__tablename__)
    _COUNTS_READY[key] = True if ready else time.monotonic()
    return ready


def rebuild_ticket_counts() -> None:
    """Count every ticket again into the ticket counts (the triggers keep them right; this is for a
    database whose tickets were changed with the triggers missing, such as a restore without them)."""
    db.session.execute(delete(TicketCount))
    owner = func.coalesce(Ticket.owner_id, 0)
    db.session.execute(insert(TicketCount).from_select(
        ["status_id", "category_id", "owner_id", "priority_id", "tagged", "n"],
        select(Ticket.status_id, Ticket.category_id, owner, Ticket.priority_id, Ticket.tagged, func.count())
        .group_by(Ticket.status_id, Ticket.category_id, owner, Ticket.priority_id, Ticket.tagged)))
    db.session.commit()


def _counted(user: User, f: TicketFilter, statuses: list[int] | None) -> tuple[int, int] | None:
    """(tickets, critical ones) matching ``f`` read from the ticket counts, or None when the filter cannot be
    said on them (due dates, bookmarks, search, dates, or a permission the counts do not keep)."""
    if f.is_search or f.view in ("due_soon", "overdue", "bookmarks") or not counts_table_ready():
        return None
    c = TicketCount
    visible = visible_counts_clause(user, c)
    if visible is None:
        return None
    conds = [visible]
    if statuses is not None:
        conds.append(c.status_id.in_(statuses))
    if f.view == "mine":
        conds.append(c.owner_id == user.id)
    elif f.view == "unassigned":
        conds.append(c.owner_id == 0)
    elif f.view == "others":
        conds.append((c.owner_id != 0) & (c.owner_id != user.id))
    elif f.view == "tagged":
        conds.append(c.tagged.is_(True))
    conds += _chosen(f, user, c.priority_id, c.category_id, c.owner_id, c.owner_id == 0)
    row = db.session.execute(select(
        func.coalesce(func.sum(c.n), 0),
        func.coalesce(func.sum(case((c.priority_id == PRIORITY_CRITICAL, c.n), else_=0)), 0),
    ).where(*conds)).one()
    return int(row[0]), int(row[1])


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
    """The numbers beside the quick filters, over the open tickets ``user`` may see, in one query.

    The ticket counts (kept by triggers) give the open, mine, unassigned, others, critical and tagged
    numbers from a few hundred rows however many tickets there are; due dates come from the tickets (the
    open ones that have a due date, through ``ix_hesk_tickets_status_due``), bookmarks from the user's own.
    Without the ticket counts (or for a permission they cannot answer) every open ticket is counted through
    ``ix_hesk_tickets_counts``.
    """
    now = now or utcnow()
    visible, shape, params = visible_bound(user)
    counts_visible, counts_shape, _ = visible_bound(user, TicketCount) if counts_table_ready() else (None, None, {})
    with_counts = counts_visible is not None

    def build():
        uid, open_ids_ = bindparam("uid"), bindparam("open_ids", expanding=True)
        now_, soon_ = bindparam("now"), bindparam("soon")
        bookmarks = (
            select(func.count()).select_from(TicketBookmark)
            .join(Ticket, Ticket.id == TicketBookmark.ticket_id)
            .where(TicketBookmark.user_id == uid, visible)
            .scalar_subquery()
        )
        if with_counts:  # the ticket counts: every row weighs its number of tickets
            c = TicketCount
            weight, total = c.n, func.coalesce(func.sum(c.n), 0)
            owner, unassigned, priority, tagged = c.owner_id, c.owner_id == 0, c.priority_id, c.tagged
            where = (counts_visible, c.status_id.in_(open_ids_))

            def due(cond):
                return (select(func.count()).select_from(Ticket)
                        .where(Ticket.status_id.in_(open_ids_), cond, visible).scalar_subquery())
        else:  # the tickets themselves
            weight, total = 1, func.count()
            owner, unassigned, priority, tagged = (Ticket.owner_id, Ticket.owner_id.is_(None), Ticket.priority_id,
                                                   Ticket.tagged)
            where = (visible, Ticket.status_id.in_(open_ids_))

            def due(cond):
                return n(cond)

        def n(cond):
            return func.coalesce(func.sum(case((cond, weight), else_=0)), 0)

        return select(
            total,
            n(owner == uid),
            n(unassigned),
            n(~unassigned & (owner != uid)),
            due(Ticket.due_date.between(now_, soon_)),
            due(Ticket.due_date < now_),
            n(priority == PRIORITY_CRITICAL),
            n(tagged.is_(True)),
            bookmarks,
        ).where(*where)

    stmt = _kept(("quick counts", shape, counts_shape if with_counts else None), build)
    values = dict(params, uid=user.id, open_ids=list(open_ids), now=now, soon=now + timedelta(days=due_soon_days))
    row = db.session.execute(stmt, values).one()
    return QuickCounts(open=int(row[0]), mine=int(row[1]), unassigned=int(row[2]), others=int(row[3]),
                       due_soon=int(row[4] or 0), overdue=int(row[5] or 0), critical=int(row[6]),
                       tagged=int(row[7]), bookmarks=int(row[8] or 0))


def is_plain_view(f: TicketFilter, view: str = "open") -> bool:
    """True when the filter is exactly a quick filter (so its counts are the list's totals)."""
    return (f.view == view and not f.statuses and not f.priorities and not f.categories and not f.owner
            and not f.is_search)


# --- the customer card ----------------------------------------------------------------------------

def customer_tickets(user: User, email: str, *, limit: int = 50):
    """Every ticket from this email address or followed by it (Cc) that ``user`` may see (newest first, up to
    ``limit``) and the number per status: [(status_id, count)]. A followed ticket is one whose ``email`` (the
    requester's) is another address."""
    from hesk_py.services.followers import followed_ticket_ids

    email = (email or "").strip().lower()
    if not email:
        return [], []
    customer_ids = select(Customer.id).where(Customer.email == email)
    cond = and_(or_(Ticket.customer_id.in_(customer_ids), Ticket.id.in_(followed_ticket_ids(customer_ids))),
                visible_clause(user))
    tickets = list(db.session.scalars(select(Ticket).where(cond).options(raiseload(Ticket.owner)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                      .limit(limit)).unique())
    counts = db.session.execute(select(Ticket.status_id, func.count()).where(cond).group_by(Ticket.status_id)).all()
    return tickets, [(int(s), int(c)) for s, c in counts]
