"""The staff ticket pages: the list with quick filters, filters and search (/admin/), bulk actions, the
ticket view with every action (/admin/tickets/<tracking id>), history, print, CSV export, the customer
card and "new ticket on a customer's behalf".

Views are thin: they read the form, ask ``hesk_py/services/ticket_access.py`` whether this staff member
may see the ticket and do the action, call the ticket service, and render or redirect. A ticket the user
may not see answers 404 (the same as a ticket that does not exist); an action they lack the permission
for answers 403. Every change is a POST with a CSRF token; redirects go to local paths only.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_date, get_timezone, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import or_, select, union
from sqlalchemy.orm import lazyload, raiseload
from werkzeug.datastructures import MultiDict

from admin.forms import (
    ActionForm,
    AssignForm,
    AutoReloadForm,
    CategoryForm,
    DefaultViewForm,
    DueDateForm,
    EditMessageForm,
    EditNoteForm,
    EditReplyForm,
    LinkForm,
    NewTicketForm,
    NoteForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TimeWorkedForm,
    choices,
    format_duration,
)
from hesk_py import i18n, settings, shared_cache
from hesk_py.extensions import db
from hesk_py.models import Attachment, Category, Note, Priority, Reply, Status, Ticket, TicketEvent, User
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import PRIORITY_LOW, STATUS_CLOSED, STATUS_NEW, STATUS_OPEN, STATUS_REPLIED
from hesk_py.services import accounts, search, ticket_access, ticket_work
from hesk_py.services import followers as follower_rules
from hesk_py.services import tickets as ticket_service
from hesk_py.services.errors import AttachmentRefused, InvalidTicketData, PermissionDenied, TicketNotFound
from hesk_py.services.ticket_access import may, may_assign, may_move_to, visible_clause

bp = Blueprint("tickets", __name__)

# Kept for code that imports the rule from here; the rule itself lives in the service layer.
visible_tickets_query = ticket_access.visible_tickets_query

BULK_ACTIONS = ("assign", "priority", "status", "resolve", "tag", "untag", "merge", "link", "print", "export",
                "delete")
MAX_BULK = 500
MAX_BULK_LINK = 50


# --- helpers --------------------------------------------------------------------------------------

def _user() -> User:
    return current_user._get_current_object()


def _actor():
    return ticket_service.Actor.staff(_user())


def _require_tickets() -> None:
    """Every ticket page needs ``can_view_tickets`` (administrators have every permission)."""
    if not current_user.can("can_view_tickets"):
        abort(403)


def _require(action: str, ticket: Ticket | None = None) -> None:
    if not may(_user(), action, ticket):
        abort(403)


_LOAD_OPTIONS = (lazyload(Ticket.owner),)


def _load(trackid: str) -> Ticket:
    _require_tickets()
    try:
        # the owner is loaded only when something needs the object (pages use the names table)
        return ticket_access.find_visible(_user(), trackid, options=_LOAD_OPTIONS, keep="admin.tickets")
    except TicketNotFound:
        abort(404)


def _to_ticket(ticket: Ticket, anchor: str | None = None):
    return redirect(url_for("admin.tickets.view", trackid=ticket.trackid, _anchor=anchor))


def _safe_back(default: str) -> str:
    from admin.security import safe_next

    return safe_next(request.form.get("back") or request.args.get("back")) or default


def _errors_flash(exc: InvalidTicketData) -> None:
    for message in exc.errors.values():
        flash(message, "error")


class _StaffRow(NamedTuple):
    id: int
    name: str
    is_admin: bool
    active: bool
    categories: frozenset
    views_tickets: bool  # has can_view_tickets, itself or through a permission group


_STAFF_STATEMENT = None


def _staff() -> list[_StaffRow]:
    """Every staff account by name with its categories and whether it may view tickets, once per request and
    in one query (no User objects: loading those would also load each one's categories and permissions)."""
    rows = g.get("_hesk_ticket_staff")
    if rows is not None:
        return rows
    from hesk_py.models import GroupCategory, GroupFeature, UserCategory, UserFeature, UserGroup

    global _STAFF_STATEMENT
    if _STAFF_STATEMENT is None:  # built once: it has no values, and building it cost more than running it
        # a staff member's own grants and those of their permission groups
        cats = union(select(UserCategory.user_id.label("user_id"), UserCategory.category_id.label("category_id")),
                     select(UserGroup.user_id, GroupCategory.category_id)
                     .join(GroupCategory, GroupCategory.group_id == UserGroup.group_id)).subquery("cats")
        viewer = or_(
            select(UserFeature.user_id).where(UserFeature.user_id == User.id,
                                              UserFeature.feature == "can_view_tickets").exists(),
            select(UserGroup.user_id).join(GroupFeature, GroupFeature.group_id == UserGroup.group_id)
            .where(UserGroup.user_id == User.id, GroupFeature.feature == "can_view_tickets").exists(),
        )
        _STAFF_STATEMENT = (select(User.id, User.name, User.is_admin, User.active, viewer, cats.c.category_id)
                            .outerjoin(cats, cats.c.user_id == User.id).order_by(User.name, User.id))
    found: dict[int, list] = {}
    for uid, name, is_admin, active, views, cid in db.session.execute(_STAFF_STATEMENT):
        entry = found.get(uid)
        if entry is None:
            entry = found[uid] = [uid, name, bool(is_admin), bool(active), set(), bool(views)]
        if cid is not None:
            entry[4].add(cid)
    rows = g._hesk_ticket_staff = [_StaffRow(e[0], e[1], e[2], e[3], frozenset(e[4]), e[5]) for e in found.values()]
    return rows


def _users() -> list[_StaffRow]:
    """Every staff account (``.id``, ``.name``, ``.is_admin``, ``.active``), by name."""
    return _staff()


def _staff_names() -> dict[int, str]:
    """id -> name of every staff account, active or not (old replies keep their author's name)."""
    names = g.get("_hesk_ticket_names")
    if names is None:
        names = g._hesk_ticket_names = {r.id: r.name for r in _staff()}
    return names


def _active_staff() -> list[tuple[int, str]]:
    return [(r.id, r.name) for r in _staff() if r.active]


# Statuses, priorities and categories change rarely and every ticket page shows them: they are kept per
# process until one changes (hesk_py/shared_cache.py). The rows belong to no session: read them only.
def _statuses() -> list[Status]:
    return list(shared_cache.cached("staff.statuses", lambda: shared_cache.transient_rows(
        Status, select(Status).order_by(Status.sort_order, Status.id))))


def _priorities() -> list[Priority]:
    return list(shared_cache.cached("staff.priorities", lambda: shared_cache.transient_rows(
        Priority, select(Priority).order_by(Priority.sort_order, Priority.id))))


def _categories() -> list[Category]:
    return list(shared_cache.cached("staff.categories", lambda: shared_cache.transient_rows(
        Category, select(Category).order_by(Category.sort_order, Category.id))))


def _assignable_staff() -> list[tuple[int, str, bool, set[int]]]:
    """(id, name, is_admin, category ids) of active staff who may own tickets: administrators, and staff
    with ``can_view_tickets`` (their categories decide which tickets)."""
    return [(u.id, u.name, u.is_admin, u.categories) for u in _staff()
            if u.active and (u.is_admin or u.views_tickets)]


def _owner_may_take(owner_id: int, category_id: int, staff=None) -> bool:
    for uid, _name, is_admin, cats in staff if staff is not None else _assignable_staff():
        if uid == owner_id:
            return is_admin or category_id in cats
    return False


def _store_uploads(field) -> list[dict]:
    """Check and store the files of a file field (raises AttachmentRefused)."""
    from hesk_py.services import attachments

    uploads = attachments.check_uploads(field.data or [])
    return attachments.store(uploads) if uploads else []


def _discard(saved: list[dict]) -> None:
    from hesk_py.services import attachments

    if saved:
        attachments.discard(saved)


def _remove_files(saved_names: list[str]) -> None:
    from hesk_py.services import attachments

    box = attachments.storage()
    for name in saved_names:
        box.delete(name)


# --- template filters -----------------------------------------------------------------------------

_URL_RE = re.compile(r"https?://[^\s<>\"']+?(?=(?:&#34;|&#39;|&lt;|&gt;|&quot;)|[\s.,;:!?)\]]*(?:\s|$))")


@bp.app_template_filter("ticket_text")
def ticket_text(value: str | None) -> Markup:
    """A message as HTML: escaped, line breaks kept, web links clickable (and nothing else)."""
    value = value or ""
    # a pure function of the stored text: a thread's messages are shown again and again, so the HTML of
    # texts up to _TEXT_CACHE_MAX characters is kept (per process, the most recent _TEXT_CACHE_SIZE)
    return Markup(_cached_text_html(value) if len(value) <= _TEXT_CACHE_MAX else _text_html(value))


_TEXT_CACHE_MAX = 8000
_TEXT_CACHE_SIZE = 2048


def _link(m) -> str:
    url = m.group(0)
    return f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>'


def _text_html(value: str) -> str:
    return _URL_RE.sub(_link, str(escape(value))).replace("\r\n", "\n").replace("\n", "<br>\n")


_cached_text_html = functools.lru_cache(maxsize=_TEXT_CACHE_SIZE)(_text_html)


@bp.app_template_filter("row_label")
def row_label(row) -> str:
    """The translated name of a status, priority or category, worked out once per request and row."""
    cache = g.get("_hesk_row_labels")
    if cache is None:
        cache = g._hesk_row_labels = {}
    key = (row.__class__.__name__, row.id)
    text = cache.get(key)
    if text is None:
        from hesk_py.services.defaults import label

        text = cache[key] = label(row)
    return text


@bp.app_template_filter("duration")
def duration_filter(seconds: int | None) -> str:
    return format_duration(seconds)


def _short_descriptive(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return "".join(parts) or "0s"


def _date_settings() -> dict:
    """The date display settings, the time zone and "today", read once per request (a list shows many
    dates; reading settings and the locale for each one showed in profiles)."""
    cached = g.get("_hesk_date_settings")
    if cached is None:
        tz = get_timezone()
        now = utcnow()
        today = now.replace(tzinfo=timezone.utc).astimezone(tz).date()
        cached = {
            "submitted": (int(settings.get("submittedformat")), settings.get("format_submitted")),
            "updated": (int(settings.get("updatedformat")), settings.get("format_updated")),
            "timestamp": (4, settings.get("format_timestamp")),
            "format_timestamp": settings.get("format_timestamp"), "format_date": settings.get("format_date"),
            "format_time": settings.get("format_time"),
            "tz": tz, "now": now, "today": today, "yesterday": today - timedelta(days=1),
        }
        g._hesk_date_settings = cached
    return cached


@bp.app_template_filter("ticket_date")
def ticket_date(value: datetime | None, which: str = "timestamp") -> str:
    """A date as HESK's settings say: ``which`` is "submitted" or "updated" (the list's columns, each
    with its own display setting) or "timestamp" (format_timestamp)."""
    if value is None:
        return ""
    ds = _date_settings()
    mode, custom = ds.get(which, ds["timestamp"])
    local = value.replace(tzinfo=timezone.utc).astimezone(ds["tz"])
    if mode == 0:
        return _short_descriptive(ds["now"] - value)
    if mode == 1:
        return i18n.strftime(local, ds["format_timestamp"])
    if mode == 3:
        return i18n.strftime(local, ds["format_date"])
    if mode == 2:
        day = local.date()
        if day == ds["today"]:
            return i18n.strftime(local, ds["format_time"])
        # a list shows many tickets of the same days: Babel's date formatting once per day
        days = ds.setdefault("days", {})
        text = days.get(day)
        if text is None:
            text = days[day] = _("Yesterday") if day == ds["yesterday"] else format_date(value, "dd MMM yy")
        return text
    return i18n.strftime(local, custom)


@bp.app_template_filter("time_ago")
def time_ago(value: datetime | None) -> str:
    if value is None:
        return ""
    # one "now" and one translation per distinct text per request (a thread asks for dozens)
    memo = g.get("_hesk_time_ago")
    if memo is None:
        memo = g._hesk_time_ago = {"now": utcnow()}
    seconds = max(0, int((memo["now"] - value).total_seconds()))
    if seconds < 60:
        key = ("s", 0)
    elif seconds < 3600:
        key = ("m", seconds // 60)
    elif seconds < 86400:
        key = ("h", seconds // 3600)
    else:
        key = ("d", seconds // 86400)
    text = memo.get(key)
    if text is None:
        unit, num = key
        if unit == "s":
            text = _("just now")
        elif unit == "m":
            text = ngettext("%(num)s minute ago", "%(num)s minutes ago", num)
        elif unit == "h":
            text = ngettext("%(num)s hour ago", "%(num)s hours ago", num)
        else:
            text = ngettext("%(num)s day ago", "%(num)s days ago", num)
        memo[key] = text
    return text


# --- the list -------------------------------------------------------------------------------------

QUICK_VIEWS = (
    ("open", _l("All open")), ("mine", _l("Assigned to me")), ("unassigned", _l("Unassigned")),
    ("others", _l("Assigned to others")), ("due_soon", _l("Due soon")), ("overdue", _l("Overdue")),
    ("bookmarks", _l("Bookmarks")), ("tagged", _l("Tagged")), ("all", _l("All tickets")),
)
SEARCH_FIELD_LABELS = (
    ("auto", _l("Anywhere (tracking ID, number, email or text)")), ("trackid", _l("Tracking ID")),
    ("seq", _l("Ticket number")), ("name", _l("Name")), ("email", _l("Email")), ("subject", _l("Subject")),
    ("message", _l("Message and replies")), ("notes", _l("Notes")), ("ip", _l("IP address")),
    ("custom", _l("Custom field")),
)


def _filter_from_request() -> tuple[search.TicketFilter, bool]:
    """The filter of this request, or the user's saved default view when the URL has none."""
    args = request.args
    used_default = False
    if not args:
        saved = accounts.preferences(_user()).get("default_list") or ""
        if saved:
            args = MultiDict(parse_qsl(saved))
            used_default = True
    return search.from_args(args, per_page_default=int(settings.get("max_listings"))), used_default


@bp.get("/")
def index():
    _require_tickets()
    user = _user()
    f, used_default = _filter_from_request()
    statuses = _statuses()
    open_ids = [s.id for s in statuses if s.kind != STATUS_CLOSED]
    due_soon = int(settings.get("due_soon"))
    now = utcnow()
    counts = search.quick_counts(user, open_ids=open_ids, due_soon_days=due_soon, now=now)
    known = (counts.open, counts.critical) if search.is_plain_view(f, "open") else None
    priorities, categories = _priorities(), _categories()
    lookups = {"status": {s.id: s for s in statuses}, "priority": {p.id: p for p in priorities},
               "category": {c.id: c for c in categories}}
    page = search.list_tickets(user, f, due_soon_days=due_soon, open_ids=open_ids,
                               all_status_ids=[s.id for s in statuses], known_total=known, now=now,
                               lookups=lookups)
    bookmarked = set()
    if page.tickets:
        from hesk_py.models import TicketBookmark

        bookmarked = set(db.session.scalars(select(TicketBookmark.ticket_id).where(
            TicketBookmark.user_id == user.id, TicketBookmark.ticket_id.in_([t.id for t in page.tickets]))))
    staff = _active_staff()
    prefs = accounts.preferences(user)
    args = f.to_args()
    return render_template(
        "admin/tickets/index.html",
        f=f, page=page, counts=counts, quick_views=_translated("quick", QUICK_VIEWS),
        search_fields=_translated("search", SEARCH_FIELD_LABELS),
        statuses=statuses, priorities=priorities, staff=staff,
        categories=[c for c in categories if user.can_access_category(c.id)],
        names=_staff_names(), bookmarked=bookmarked, columns=list(settings.get("ticket_list")),
        column_labels=dict(_translated("columns", settings.TICKET_LIST_COLUMNS)), args=args,
        query_string=urlencode(args, doseq=True),
        used_default=used_default, has_default=bool(prefs.get("default_list")),
        autoreload=int(prefs.get("autoreload") or 0), now=now, due_soon=now + timedelta(days=due_soon),
        default_form=DefaultViewForm(), reload_form=AutoReloadForm(autoreload=int(prefs.get("autoreload") or 0)),
        bulk_form=ActionForm(), bulk_actions=_bulk_choices(user),
        email_column=int(settings.get("email_column")), sequential=bool(settings.get("sequential")),
    )


_BULK_LABELS = (
    ("assign", _l("Assign to…")), ("priority", _l("Set priority to…")), ("status", _l("Set status to…")),
    ("resolve", _l("Mark resolved")), ("tag", _l("Tag")), ("untag", _l("Untag")), ("merge", _l("Merge")),
    ("link", _l("Link together")), ("print", _l("Print")), ("export", _l("Export (CSV)")), ("delete", _l("Delete")),
)
_TRANSLATED: dict[tuple[str, str], list[tuple[str, str]]] = {}


def _translated(name: str, pairs) -> list[tuple[str, str]]:
    """(key, label) pairs of fixed, lazily translated labels in the request's language, translated once per
    language and process (the list shows some fifty of them; each lazy string looks its catalog up again)."""
    from flask_babel import get_locale

    key = (name, str(get_locale()))
    found = _TRANSLATED.get(key)
    if found is None:
        found = _TRANSLATED[key] = [(k, str(v)) for k, v in pairs]
    return found


def _bulk_choices(user: User) -> list[tuple[str, str]]:
    labels = dict(_translated("bulk", _BULK_LABELS))
    needs = {"assign": None, "priority": "priority", "status": "status", "resolve": "resolve", "tag": "tag",
             "untag": "tag", "merge": "merge", "link": "link", "print": "print", "export": "export",
             "delete": "delete"}
    out = []
    for action in BULK_ACTIONS:
        need = needs[action]
        if action == "assign" and not (user.can("can_assign_self") or user.can("can_assign_others")):
            continue
        if need and not may(user, need):
            continue
        out.append((action, labels[action]))
    return out


@bp.post("/tickets/default-view")
def default_view():
    _require_tickets()
    form = DefaultViewForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user()
    if form.reset.data:
        value = ""
        flash(_("Your default view is the list of open tickets again."), "success")
    else:
        # keep only what the list understands: the filter re-read and written back out
        f = search.from_args(MultiDict(parse_qsl(form.query.data or "")))
        f.page = 1
        value = urlencode(f.to_args(), doseq=True)
        flash(_("This is now your default view."), "success")
    prefs = dict(user.preferences or {})
    prefs["default_list"] = value
    user.preferences = prefs
    db.session.commit()
    return redirect(url_for("admin.tickets.index", **dict(parse_qsl(value))) if value
                    else url_for("admin.tickets.index", view="open"))


@bp.post("/tickets/autoreload")
def autoreload():
    _require_tickets()
    form = AutoReloadForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.save_preferences(_user(), {"autoreload": form.autoreload.data})
    return redirect(_safe_back(url_for("admin.tickets.index")))


# --- bulk actions ---------------------------------------------------------------------------------

def _selected_ids() -> list[int]:
    ids = []
    for raw in request.form.getlist("ids"):
        if raw.isdigit() and len(raw) < 10:
            ids.append(int(raw))
    return sorted(set(ids))[:MAX_BULK]


@bp.post("/tickets/bulk")
def bulk():
    _require_tickets()
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _user()
    action = request.form.get("action", "")
    back = _safe_back(url_for("admin.tickets.index"))
    if action not in BULK_ACTIONS:
        flash(_("Choose what to do with the selected tickets."), "error")
        return redirect(back)
    ids = _selected_ids()
    if not ids:
        flash(_("Select at least one ticket."), "error")
        return redirect(back)
    tickets = ticket_access.visible_by_ids(user, ids)
    hidden = len(ids) - len(tickets)
    actor = _actor()
    done, refused = 0, hidden
    if action == "print":
        return _print_tickets(tickets)
    if action == "export":
        _require("export")
        return _csv_response(tickets)
    if action == "delete":
        _require("delete")
        if request.form.get("confirm") != "1":
            return render_template("admin/tickets/bulk_delete.html", tickets=tickets, back=back,
                                   form=ActionForm())
        files = []
        for t in tickets:
            files += ticket_service.delete_ticket(t, actor=actor)
            done += 1
        _remove_files(files)
    elif action == "merge":
        _require("merge")
        if hidden:
            flash(_("Some of the selected tickets cannot be merged by you."), "error")
            return redirect(back)
        try:
            target = ticket_service.merge_tickets(tickets, actor=actor)
        except InvalidTicketData as exc:
            _errors_flash(exc)
            return redirect(back)
        flash(_("The tickets were merged into %(trackid)s.", trackid=target.trackid), "success")
        return _to_ticket(target)
    elif action == "link":
        _require("link")
        if len(tickets) > MAX_BULK_LINK:
            flash(_("Link at most %(n)s tickets at a time.", n=MAX_BULK_LINK), "error")
            return redirect(back)
        if len(tickets) < 2:
            flash(_("Select at least two tickets to link."), "error")
            return redirect(back)
        for i, a in enumerate(tickets):
            for b in tickets[i + 1:]:
                ticket_service.link_tickets(a, b, actor=actor)
        done = len(tickets)
    else:
        done, more_refused = _bulk_change(action, tickets, user, actor)
        refused += more_refused
    if done:
        flash(ngettext("%(num)s ticket updated.", "%(num)s tickets updated.", done), "success")
    if refused:
        flash(ngettext("%(num)s ticket was skipped: you may not do this with it.",
                       "%(num)s tickets were skipped: you may not do this with them.", refused), "warning")
    return redirect(back)


def _bulk_change(action: str, tickets: list[Ticket], user: User, actor) -> tuple[int, int]:
    done = refused = 0
    if action == "assign":
        raw = request.form.get("owner", "")
        owner_id = int(raw) if raw.isdigit() else None
        staff = _assignable_staff()
        for t in tickets:
            if not may_assign(user, t, owner_id) or (owner_id and not _owner_may_take(owner_id, t.category_id, staff)):
                refused += 1
                continue
            ticket_service.assign(t, owner_id, actor=actor)
            done += 1
    elif action == "priority":
        _require("priority")
        raw = request.form.get("priority", "")
        if not raw.isdigit() or db.session.get(Priority, int(raw)) is None:
            flash(_("Choose a priority."), "error")
            return 0, 0
        for t in tickets:
            ticket_service.change_priority(t, int(raw), actor=actor)
            done += 1
    elif action in ("status", "resolve"):
        _require("status")
        raw = request.form.get("status", "") if action == "status" else str(ticket_service.STATUS_RESOLVED)
        status = db.session.get(Status, int(raw)) if raw.isdigit() else None
        if status is None:
            flash(_("Choose a status."), "error")
            return 0, 0
        if status.kind == STATUS_CLOSED and not may(user, "resolve"):
            abort(403)
        for t in tickets:
            ticket_service.change_status(t, status.id, actor=actor)
            done += 1
    elif action in ("tag", "untag"):
        _require("tag")
        for t in tickets:
            ticket_service.set_tagged(t, action == "tag", actor=actor)
            done += 1
    return done, refused


def _print_tickets(tickets: list[Ticket]):
    ids = [t.id for t in tickets]
    replies: dict[int, list[Reply]] = {}
    if ids:
        for r in db.session.scalars(select(Reply).where(Reply.ticket_id.in_(ids))
                                    .order_by(Reply.created_at, Reply.id)):
            replies.setdefault(r.ticket_id, []).append(r)
    return render_template("admin/tickets/print.html", tickets=tickets, replies=replies, names=_staff_names(),
                           followers=follower_rules.followers_by_ticket(tickets))


# --- CSV export -----------------------------------------------------------------------------------

_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA) else text


def _csv_response(tickets: list[Ticket]):
    names = _staff_names()
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 (Cyrillic) only with a byte order mark
    writer = csv.writer(out)
    # the followers last: the columns before them stay where scripts reading older exports expect them
    writer.writerow([_("ID"), _("Tracking ID"), _("Submitted"), _("Updated"), _("Category"), _("Name"), _("Email"),
                     _("Subject"), _("Status"), _("Priority"), _("Owner"), _("Replies"), _("Time worked"),
                     _("Due date"), _("IP address"), _("Message"), _("Followers")])
    from hesk_py.services.defaults import label

    followers = follower_rules.followers_by_ticket(tickets)
    for t in tickets:
        writer.writerow([_cell(v) for v in (
            t.id, t.trackid, t.created_at.isoformat(sep=" "), t.updated_at.isoformat(sep=" "), label(t.category),
            t.name, t.email, t.subject, label(t.status), label(t.priority), names.get(t.owner_id, ""),
            t.reply_count, format_duration(t.time_worked),
            t.due_date.isoformat(sep=" ") if t.due_date else "", t.ip, t.message,
            ", ".join(follower_rules.person(c.name, c.email) for c in followers.get(t.id, ())))])
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="tickets-{stamp}.csv"',
                             "X-Content-Type-Options": "nosniff"})


@bp.get("/tickets/export")
def export():
    """The current list (filters and search of the query string) as CSV, up to 10,000 tickets."""
    _require_tickets()
    _require("export")
    user = _user()
    f = search.from_args(request.args, per_page_default=int(settings.get("max_listings")))
    ids = search.all_matching_ids(user, f, due_soon_days=int(settings.get("due_soon")))
    order = {tid: i for i, tid in enumerate(ids)}
    tickets = sorted(ticket_access.visible_by_ids(user, ids), key=lambda t: order[t.id])
    return _csv_response(tickets)


# --- the customer card ----------------------------------------------------------------------------

@bp.get("/tickets/customer")
def customer():
    _require_tickets()
    email = (request.args.get("email") or "").strip()[:255]
    tickets, counts = search.customer_tickets(_user(), email, limit=200)
    status_by_id = {s.id: s for s in _statuses()}
    return render_template("admin/tickets/customer.html", email=email, tickets=tickets,
                           counts=[(status_by_id.get(sid), n) for sid, n in counts],
                           total=sum(n for _sid, n in counts), names=_staff_names())


# --- new ticket on a customer's behalf ------------------------------------------------------------

def _submit_categories(user: User, categories: list[Category]) -> list[Category]:
    if user.can("can_submit_any_cat"):
        return categories
    return [c for c in categories if user.can_access_category(c.id)]


def _custom_fields_for(category_id):
    from hesk_py.services import custom_fields

    return custom_fields.fields_for(category_id, staff=True)


@bp.route("/tickets/new", methods=["GET", "POST"])
def new():
    _require_tickets()
    user = _user()
    prefs = accounts.preferences(user)
    categories = _submit_categories(user, _categories())
    if not categories:
        abort(403)
    statuses = _statuses()
    staff = _assignable_staff()
    form = NewTicketForm()
    form.category.choices = choices([(c.id, _category_label(c)) for c in categories])
    form.priority.choices = choices([(p.id, _label(p)) for p in _priorities()])
    form.status.choices = choices([(s.id, _label(s)) for s in statuses
                           if s.kind != STATUS_CLOSED or may(user, "resolve")])
    owners = [("", _("Unassigned")), ("auto", _("Auto-assign"))]
    if user.can("can_assign_self"):
        owners.append((str(user.id), _("Assign to myself")))
    if user.can("can_assign_others"):
        owners += [(str(uid), name) for uid, name, _adm, _c in staff if uid != user.id]
    form.owner.choices = choices(owners)
    if request.method == "GET":
        args = request.args
        form.name.data = args.get("name", "")[:255]
        form.email.data = args.get("email", "")[:255]
        form.followers.data = args.get("cc", "")[:2000]
        form.subject.data = args.get("subject", "")[:255]
        form.message.data = args.get("message", "")[:100_000]
        if args.get("template", "").isdigit() and len(args["template"]) < 10:
            picked = _filled_template(int(args["template"]), form.name.data, form.email.data)
            if picked is not None:
                form.subject.data = form.subject.data or picked[0]
                form.message.data = (form.message.data.rstrip("\n") + "\n\n" + picked[1]
                                     if form.message.data.strip() else picked[1])
        if args.get("category", "").isdigit() and int(args["category"]) in {c.id for c in categories}:
            form.category.data = int(args["category"])
        if args.get("priority", "").isdigit() and int(args["priority"]) in {c.value for c in form.priority.choices}:
            form.priority.data = int(args["priority"])
        else:
            first = next((c for c in categories if c.id == form.category.data), categories[0])
            form.priority.data = first.default_priority_id or PRIORITY_LOW
        form.status.data = STATUS_NEW
        form.owner.data = "auto" if settings.get("autoassign") else ""
        form.notify.data = bool(prefs.get("notify_customer_new"))
    category_id = form.category.data or (categories[0].id if categories else None)
    fields = _custom_fields_for(category_id)
    custom_values: dict = {}
    custom_errors: dict = {}
    if request.method == "GET":
        from hesk_py.services import custom_fields

        custom_values = custom_fields.prefill(fields, request.args)
    if form.validate_on_submit():
        from hesk_py.services import custom_fields

        custom_values, custom_errors = custom_fields.validate(fields, request.form, staff=True)
        owner_raw = form.owner.data or ""
        if form.status.data is not None:
            status = next((s for s in statuses if s.id == form.status.data), None)
            if status is not None and status.kind == STATUS_CLOSED and not may(user, "resolve"):
                abort(403)
        saved: list[dict] = []
        try:
            if custom_errors:
                raise InvalidTicketData(custom_errors)
            followers = _posted_followers(form.followers) if follower_rules.enabled() else []
            saved = _store_uploads(form.attachments)
            with ticket_service.one_transaction():
                ticket = ticket_service.create_ticket(
                    name=form.name.data, email=form.email.data or "", subject=form.subject.data,
                    message=form.message.data, category_id=form.category.data, priority_id=form.priority.data,
                    actor=_actor(), attachments=saved, custom=custom_values or None,
                    owner_id=int(owner_raw) if owner_raw.isdigit() else None,
                    autoassign=owner_raw == "auto", notify_customer=bool(form.notify.data),
                    require_email=False, followers=followers,
                )
                if form.status.data and form.status.data != STATUS_NEW:
                    ticket_service.change_status(ticket, form.status.data, actor=_actor(),
                                                 notify=bool(form.notify.data))
                if form.due_date.data and may(user, "due_date"):
                    ticket_service.set_due_date(ticket, datetime.combine(form.due_date.data, datetime.min.time()),
                                                actor=_actor())
        except AttachmentRefused as exc:
            form.attachments.errors = list(getattr(exc, "reasons", [str(exc)]))
        except InvalidTicketData as exc:
            _discard(saved)
            for key, message in exc.errors.items():
                target = getattr(form, {"category_id": "category"}.get(key, key), None)
                if target is not None and hasattr(target, "errors") and key not in custom_errors:
                    target.errors = list(target.errors) + [message]
                elif key not in custom_errors:
                    flash(message, "error")
        else:
            flash(_("Ticket %(trackid)s was created.", trackid=ticket.trackid), "success")
            if form.show.data:
                return _to_ticket(ticket)
            return redirect(url_for("admin.tickets.index"))
    from hesk_py.services import custom_fields

    widgets = custom_fields.widgets(fields, custom_values, custom_errors, staff=True,
                                    use_defaults=request.method == "GET")
    status_code = 400 if request.method == "POST" else 200
    return render_template("admin/tickets/new.html", form=form, widgets=widgets,
                           template_choices=_template_choices(),
                           template_picked=request.args.get("template", type=int)), status_code


def _posted_followers(field) -> list[str]:
    """The addresses of a Followers field; InvalidTicketData (``followers``) for what is not one."""
    valid, invalid = follower_rules.parse(field.data or "")
    if invalid:
        raise InvalidTicketData({"followers": follower_rules.invalid_message(invalid)})
    return valid


def _label(row) -> str:
    return row_label(row)  # the same rows are named several times per page (forms, badges)


def _category_label(category: Category) -> str:
    return _label(category)


# --- the ticket view ------------------------------------------------------------------------------

_THREAD = None
_CUSTOMER_COUNTS: dict = {}


def _thread_statements():
    """The statements of a ticket's replies, notes and files, built once (the ticket id is a bind parameter
    ``tid``): plain rows of every column, read-only, since building ORM objects for a thread of fifty replies
    cost more than the query."""
    global _THREAD
    if _THREAD is None:
        from sqlalchemy import bindparam

        tid = bindparam("tid")
        _THREAD = (
            select(*Reply.__table__.c).where(Reply.ticket_id == tid).order_by(Reply.created_at, Reply.id),
            select(*Note.__table__.c).where(Note.ticket_id == tid).order_by(Note.created_at, Note.id),
            select(*Attachment.__table__.c).where(Attachment.ticket_id == tid).order_by(Attachment.id),
        )
    return _THREAD


def _customer_counts(ticket: Ticket, user: User) -> list:
    """(status id, tickets) of this ticket's customer that ``user`` may see, with a statement kept per
    permission shape (``ticket_access.visible_bound``)."""
    from sqlalchemy import bindparam, func

    visible, shape, params = ticket_access.visible_bound(user)
    stmt = _CUSTOMER_COUNTS.get(shape)
    if stmt is None:
        stmt = _CUSTOMER_COUNTS[shape] = (select(Ticket.status_id, func.count())
                                          .where(Ticket.customer_id == bindparam("cid"), visible)
                                          .group_by(Ticket.status_id))
    return db.session.execute(stmt, dict(params, cid=ticket.customer_id)).all()


def _visible_replies(replies: list[Reply], mode: int) -> tuple[list[Reply], int]:
    """HESK's hide_replies: 0 all; -1 from the last staff reply on; N the last N. (shown, hidden count)"""
    if mode == 0 or not replies:
        return replies, 0
    if mode < 0:
        last_staff = max((i for i, r in enumerate(replies) if r.author_type == "staff"), default=0)
        shown = replies[last_staff:]
    else:
        shown = replies[-mode:]
    return shown, len(replies) - len(shown)


# The ticket page's forms are only shown by it (each form posts the page's one CSRF token, ``csrf``): they are
# built without a CSRF field of their own; the views that receive them check the token.
_SHOWN = {"csrf": False}


def _render_view(ticket: Ticket, *, reply_form: ReplyForm | None = None, note_form: NoteForm | None = None,
                 collision: list[Reply] | None = None, status_code: int = 200, preview: Markup | None = None):
    user = _user()
    # replies, notes and files as plain rows (every column, read-only): building ORM objects for a thread of
    # fifty replies cost more than the query
    replies_of, notes_of, files_of = _thread_statements()
    replies = db.session.execute(replies_of, {"tid": ticket.id}).all()
    notes = db.session.execute(notes_of, {"tid": ticket.id}).all()
    files: dict[tuple[str, int | None], list] = {}
    for att in db.session.execute(files_of, {"tid": ticket.id}):
        key = ("reply", att.reply_id) if att.reply_id else ("note", att.note_id) if att.note_id else ("ticket", None)
        files.setdefault(key, []).append(att)
    statuses = _statuses()
    priorities = _priorities()
    categories = _categories()
    staff = _assignable_staff()
    names = _staff_names()
    can_resolve = may(user, "resolve")
    work = ticket_work.working_state(ticket, user)
    draft = work.draft
    last_id = max((r.id for r in replies), default=0)

    can_reply = may(user, "reply", ticket)
    if reply_form is None:
        reply_form = ReplyForm(formdata=None, meta=_SHOWN)
        reply_form.message.data = draft.message if draft else request.args.get("message", "")[:100_000]
        picked = _picked_canned(ticket, user) if can_reply else None
        if picked is not None:
            # "add to the bottom" (HESK's default): a draft is kept above the canned text
            reply_form.message.data = (reply_form.message.data.rstrip("\n") + "\n\n" + picked
                                       if reply_form.message.data.strip() else picked)
        reply_form.notify.data = bool(accounts.preferences(user).get("notify_customer_reply"))
        reply_form.status.data = STATUS_REPLIED
        reply_form.priority.data = 0
        reply_form.sign.data = True
        reply_form.last_reply_id.data = str(last_id)
    _reply_choices(reply_form, statuses, priorities, can_resolve)
    note_form = note_form or NoteForm(formdata=None, meta=_SHOWN)

    assign_form = AssignForm(formdata=None, meta=_SHOWN)
    owner_choices = [("", _("Unassigned"))]
    for uid, name, is_admin, cats in staff:
        if not (is_admin or ticket.category_id in cats):
            continue
        if may_assign(user, ticket, uid) or uid == ticket.owner_id:
            owner_choices.append((str(uid), name))
    if ticket.owner_id and str(ticket.owner_id) not in {value for value, _name in owner_choices}:
        owner_choices.append((str(ticket.owner_id), names.get(ticket.owner_id, "?")))
    assign_form.owner.choices = choices(owner_choices)
    assign_form.owner.data = str(ticket.owner_id or "")
    status_form = StatusForm(formdata=None, meta=_SHOWN)
    status_form.status.choices = choices([(s.id, _label(s)) for s in statuses
                                  if s.kind != STATUS_CLOSED or can_resolve or s.id == ticket.status_id])
    status_form.status.data = ticket.status_id
    priority_form = PriorityForm(formdata=None, meta=_SHOWN)
    priority_form.priority.choices = choices([(p.id, _label(p)) for p in priorities])
    priority_form.priority.data = ticket.priority_id
    category_form = CategoryForm(formdata=None, meta=_SHOWN)
    category_form.category.choices = choices([(c.id, _category_label(c)) for c in categories
                                      if c.id == ticket.category_id or may_move_to(user, c.id)])
    category_form.category.data = ticket.category_id
    due_form = DueDateForm(formdata=None, meta=_SHOWN)
    due_form.due_date.data = to_user_timezone(ticket.due_date).date() if ticket.due_date else None
    time_form = TimeWorkedForm(formdata=None, meta=_SHOWN, time_worked=ticket.time_worked)

    shown_replies, hidden_count = _visible_replies(replies, 0 if request.args.get("all") else
                                                   int(settings.get("hide_replies")))
    if int(settings.get("new_top")):
        shown_replies = list(reversed(shown_replies))
    linked = ticket_service.linked_tickets(ticket, viewer=user)
    customer_counts = _customer_counts(ticket, user) if ticket.customer_id else []
    status_by_id = {s.id: s for s in statuses}
    custom_shown = []
    if ticket.custom:
        from hesk_py.services import custom_fields

        custom_shown = custom_fields.shown_values(ticket.custom, custom_fields.fields_for(ticket.category_id,
                                                                                        staff=True))
    followers = follower_rules.followers_of(ticket)
    bans = _ban_state(ticket, user, followers)
    page = render_template(
        "admin/tickets/view.html",
        ticket=ticket, replies=shown_replies, hidden_count=hidden_count, notes=notes, files=files, names=names,
        reply_form=reply_form, note_form=note_form, assign_form=assign_form, status_form=status_form,
        priority_form=priority_form, category_form=category_form, due_form=due_form, time_form=time_form,
        link_form=LinkForm(formdata=None, meta=_SHOWN), action_form=ActionForm(formdata=None, meta=_SHOWN),
        viewers=work.viewers, collision=collision or [],
        draft=draft, draft_stale=ticket_work.draft_is_stale(
            draft, ticket, latest_reply_at=max((r.created_at for r in replies), default=None)),
        bookmarked=work.bookmarked, linked=linked,
        customer_counts=[(status_by_id.get(s), n) for s, n in customer_counts],
        customer_total=sum(n for _s, n in customer_counts),
        timer_started=work.timer_started if settings.get("time_worked") else None,
        custom_shown=custom_shown, bans=bans, followers=followers,
        can={action: may(user, action, ticket) for action in ticket_access.ACTION_FEATURES},
        csrf=generate_csrf(), urls=_ticket_urls(ticket),
        reply_top=int(settings.get("reply_top")), time_worked_on=bool(settings.get("time_worked")),
        sequential=bool(settings.get("sequential")), autostart=bool(accounts.preferences(user).get("autostart")),
        require_owner=bool(settings.get("require_owner")) and ticket.owner_id != user.id,
        last_reply_id=last_id, suggested=_suggested_articles(ticket, user),
        canned_choices=_canned_choices() if can_reply else [],
        canned_picked=request.args.get("canned", type=int), preview=preview,
    )
    # recorded after the page is built: the commit would otherwise expire what the page still reads
    ticket_work.mark_viewing(ticket, user, seen=work.seen_at)
    return page, status_code


def _suggested_articles(ticket: Ticket, user: User) -> list[tuple[int, str]]:
    """The knowledgebase articles suggested to the customer while they wrote the ticket, as (id, title),
    when this staff member wants to see them (profile: "Show suggested knowledgebase articles")."""
    ids = [i for i in (ticket.suggested_articles or []) if isinstance(i, int)]
    if not ids or not accounts.preferences(user).get("show_suggested"):
        return []
    from hesk_py.models.knowledgebase import ARTICLE_DRAFT, KbArticle

    stmt = select(KbArticle.id, KbArticle.title).where(KbArticle.id.in_(ids))
    if not user.can("can_man_kb"):
        stmt = stmt.where(KbArticle.type != ARTICLE_DRAFT)
    titles = dict(db.session.execute(stmt).all())
    return [(i, titles[i]) for i in ids if i in titles]


def _pattern(endpoint: str, arg: str, **values) -> str:
    """A URL with ``__id__`` where ``arg`` goes, built once with url_for and filled per row in the
    template (a thread can show hundreds of replies; url_for for each costs more than the rest of the row)."""
    return url_for(endpoint, **values, **{arg: 2_147_483_647}).replace("2147483647", "__id__")


def _ticket_urls(ticket: Ticket) -> dict[str, str]:
    t = ticket.trackid
    return {
        "attachment": _pattern("admin.tickets.attachment", "attachment_id", trackid=t),
        "edit_reply": _pattern("admin.tickets.edit_reply", "reply_id", trackid=t),
        "delete_reply": _pattern("admin.tickets.delete_reply", "reply_id", trackid=t),
        "edit_note": _pattern("admin.tickets.edit_note", "note_id", trackid=t),
        "delete_note": _pattern("admin.tickets.delete_note", "note_id", trackid=t),
    }


def _ban_state(ticket: Ticket, user: User, followers=()) -> dict:
    """Whether the ban and mute buttons apply (None: not for this user), for the requester and each follower
    (``followers``: follower id -> (banned, muted)): the bans service decides what is banned or muted already."""
    from hesk_py.services import bans

    can_ban, can_mute = may(user, "ban_email", ticket), may(user, "mute_email", ticket)

    def email_state(address):
        return (bans.is_email_banned(address) if can_ban else None,
                bans.is_email_muted(address) if can_mute else None)

    state = {"email": None, "muted": None, "ip": None,
             "followers": {f.id: email_state(f.email) for f in followers if f.email}}
    if ticket.email:
        state["email"], state["muted"] = email_state(ticket.email)
    if ticket.ip and may(user, "ban_ip", ticket):
        try:
            bans.parse_ip_ban(ticket.ip)
        except bans.InvalidBan:
            pass
        else:
            state["ip"] = bans.is_ip_banned(ticket.ip)
    return state


def _reply_choices(form: ReplyForm, statuses, priorities, can_resolve: bool) -> None:
    form.status.choices = choices([(s.id, _label(s)) for s in statuses if s.kind != STATUS_CLOSED or can_resolve])
    form.priority.choices = choices([(0, _("Don't change"))] + [(p.id, _label(p)) for p in priorities])


# --- canned responses and ticket templates ------------------------------------------------------------

def _canned_choices() -> list:
    """(id, title) of every canned response, for the reply form's picker (one small query)."""
    from hesk_py.models.canned import CannedResponse

    return shared_cache.cached("staff.canned", lambda: tuple(db.session.execute(
        select(CannedResponse.id, CannedResponse.title).order_by(CannedResponse.sort_order, CannedResponse.id))))


def _filled_canned(ticket: Ticket, user: User, canned_id: int) -> str | None:
    from hesk_py.models.canned import CannedResponse
    from hesk_py.services import canned

    try:
        found = canned.get(CannedResponse, canned_id)
    except canned.CannedNotFound:
        return None
    owner = _staff_names().get(ticket.owner_id, "") if ticket.owner_id else ""
    return canned.fill_for_ticket(found.message, ticket, staff_name=user.name, owner_name=owner)


def _picked_canned(ticket: Ticket, user: User) -> str | None:
    """The canned response chosen with the reply form's picker without JavaScript (``?canned=N``)."""
    raw = request.args.get("canned", "")
    if not raw.isdigit() or len(raw) > 9:
        return None
    return _filled_canned(ticket, user, int(raw))


@bp.get("/tickets/<trackid>/canned/<int:canned_id>")
def canned_text(trackid, canned_id):
    """For the reply form's script: a canned response with this ticket's tags filled in."""
    ticket = _load(trackid)
    _require("reply", ticket)
    text = _filled_canned(ticket, _user(), canned_id)
    if text is None:
        return jsonify(error=_("That canned response no longer exists.")), 404
    return jsonify(message=text)


def _template_choices() -> list:
    from hesk_py.models.canned import TicketTemplate

    return db.session.execute(select(TicketTemplate.id, TicketTemplate.title)
                              .order_by(TicketTemplate.sort_order, TicketTemplate.id)).all()


def _filled_template(template_id: int, name: str, email: str) -> tuple[str, str] | None:
    """(subject, message) of a ticket template, with what the form knows so far filled in."""
    from hesk_py.models.canned import TicketTemplate
    from hesk_py.services import canned

    try:
        found = canned.get(TicketTemplate, template_id)
    except canned.CannedNotFound:
        return None
    return (canned.template_subject(found),
            canned.fill_for_new_ticket(found.message, name=name, email=email, staff_name=_user().name))


@bp.get("/tickets/new/template/<int:template_id>")
def template_text(template_id):
    """For the "New ticket" form's script: a ticket template's subject and text (``?name=&email=`` fill the
    customer's tags)."""
    _require_tickets()
    if not _submit_categories(_user(), _categories()):
        abort(403)
    found = _filled_template(template_id, request.args.get("name", "")[:255], request.args.get("email", "")[:255])
    if found is None:
        return jsonify(error=_("That ticket template no longer exists.")), 404
    return jsonify(subject=found[0], message=found[1])


@bp.get("/tickets/<trackid>")
def view(trackid):
    ticket = _load(trackid)
    if ticket.trackid != ticket_service.normalize_trackid(trackid):
        # the tracking ID of a merged ticket: show the ticket under its own ID
        return _to_ticket(ticket)
    return _render_view(ticket)


@bp.get("/tickets/<trackid>/viewers")
def viewers(trackid):
    """For the page's polling script: who else is viewing, and whether someone replied meanwhile."""
    ticket = _load(trackid)
    user = _user()
    ticket_work.mark_viewing(ticket, user)
    try:
        since = int(request.args["since"]) if "since" in request.args else None
    except ValueError:
        since = None
    newer = ticket_work.replies_since(ticket, since) if since is not None else []
    names = _staff_names()
    return jsonify(
        viewers=[{"name": v.name, "seen_at": v.seen_at.isoformat() + "Z"} for v in
                 ticket_work.other_viewers(ticket, user)],
        new_replies=[{"id": r.id, "name": names.get(r.staff_id, r.name) if r.staff_id else r.name,
                      "at": r.created_at.isoformat() + "Z"} for r in newer],
    )


@bp.get("/tickets/<trackid>/history")
def history(trackid):
    ticket = _load(trackid)
    events = list(db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                     .order_by(TicketEvent.created_at, TicketEvent.id).options(raiseload("*"))))
    lookups = {
        "status": {s.id: _label(s) for s in _statuses()},
        "priority": {p.id: _label(p) for p in _priorities()},
        "category": {c.id: _label(c) for c in _categories()},
    }
    return render_template("admin/tickets/history.html", ticket=ticket,
                           events=[(e, describe_event(e, lookups)) for e in events])


def describe_event(event: TicketEvent, lookups: dict) -> str:
    """One history line in words (HESK's history log)."""
    d = event.data or {}
    a = event.action

    def look(kind, key):
        return lookups[kind].get(d.get(key), d.get(key))

    texts = {
        "created": lambda: _("Ticket created (%(channel)s)", channel=d.get("channel", "")),
        "replied": lambda: _("Replied"),
        "note": lambda: _("Added a private note"),
        "status": lambda: _("Status changed from %(old)s to %(new)s", old=look("status", "old"),
                            new=look("status", "new")),
        "priority": lambda: _("Priority changed from %(old)s to %(new)s", old=look("priority", "old"),
                              new=look("priority", "new")),
        "category": lambda: _("Moved from category %(old)s to %(new)s", old=look("category", "old"),
                              new=look("category", "new")),
        "assigned": lambda: (_("Automatically assigned to %(name)s", name=d.get("owner_name", "")) if d.get("auto")
                             else _("Assigned to %(name)s", name=d.get("owner_name", ""))),
        "unassigned": lambda: _("Unassigned"),
        "edited": lambda: _("Edited the original message"),
        "reply_edited": lambda: _("Edited a reply"),
        "reply_deleted": lambda: _("Deleted a reply by %(name)s", name=d.get("author", "")),
        "note_edited": lambda: _("Edited a private note"),
        "note_deleted": lambda: _("Deleted a private note"),
        "locked": lambda: _("Locked the ticket"),
        "unlocked": lambda: _("Unlocked the ticket"),
        "tagged": lambda: _("Tagged the ticket"),
        "untagged": lambda: _("Untagged the ticket"),
        "linked": lambda: _("Linked to ticket %(trackid)s", trackid=d.get("trackid", "")),
        "unlinked": lambda: _("Unlinked from ticket %(trackid)s", trackid=d.get("trackid", "")),
        "merged": lambda: _("Merged with ticket(s) %(ids)s", ids=", ".join(d.get("trackids") or [])),
        "due_date": lambda: (_("Due date set to %(date)s", date=d.get("new", "")[:10]) if d.get("new")
                             else _("Due date removed")),
        "time_worked": lambda: _("Time worked set to %(time)s", time=format_duration(d.get("new"))),
        "notification_resent": lambda: _("Notification sent to the customer again"),
        "overdue_email": lambda: _("Overdue email notification sent"),
        "banned_email": lambda: _("Banned the email address %(email)s", email=d.get("email", "")),
        "banned_ip": lambda: _("Banned the IP address %(ip)s", ip=d.get("ip", "")),
        "muted_email": lambda: _("Muted the email address %(email)s", email=d.get("email", "")),
        "customer_reply_entered": lambda: _("Entered a reply on the customer's behalf"),
        "anonymized": lambda: _("Anonymized the ticket"),
        "follower_added": lambda: _("Added the follower %(who)s",
                                    who=follower_rules.person(d.get("name"), d.get("email"))),
        "follower_removed": lambda: _("Removed the follower %(who)s",
                                      who=follower_rules.person(d.get("name"), d.get("email"))),
    }
    maker = texts.get(a)
    return maker() if maker else a.replace("_", " ")


@bp.get("/tickets/<trackid>/print")
def print_ticket(trackid):
    ticket = _load(trackid)
    return _print_tickets([ticket])


@bp.get("/tickets/<trackid>/attachments/<int:attachment_id>")
def attachment(trackid, attachment_id):
    """A file of a ticket the user may see, as a download (never shown inline)."""
    from hesk_py.services import attachments

    ticket = _load(trackid)
    att = db.session.scalar(select(Attachment).where(Attachment.id == attachment_id,
                                                     Attachment.ticket_id == ticket.id))
    if att is None:
        abort(404)
    try:
        path = attachments.storage().path(att.saved_name)
        if not path.is_file():
            abort(404)
    except FileNotFoundError:
        abort(404)
    response = send_file(path, as_attachment=True, download_name=att.real_name,
                         mimetype=attachments.download_type(att.content_type), max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- reply, draft, notes --------------------------------------------------------------------------

def _next_ticket_needing_reply(user: User, after: Ticket) -> Ticket | None:
    """HESK's afterreply=2: the oldest open ticket waiting for staff that is mine or nobody's."""
    open_ids = [s.id for s in _statuses() if s.kind == STATUS_OPEN]
    stmt = (select(Ticket).where(visible_clause(user), Ticket.status_id.in_(open_ids), Ticket.id != after.id,
                                 Ticket.last_replier == "customer",
                                 (Ticket.owner_id == user.id) | Ticket.owner_id.is_(None))
            .order_by(Ticket.updated_at.asc(), Ticket.id.asc()).limit(1))
    return db.session.scalar(stmt)


def _load_or_gone(trackid: str, what: str):
    """(ticket, None), or (None, a page) when the ticket is gone: deleted (or moved out of this user's
    sight) while they were writing. The page says so and gives back what they typed, instead of a bare
    404; it is the same answer for a ticket that never existed, so it tells nothing about other tickets."""
    _require_tickets()
    try:
        return ticket_access.find_visible(_user(), trackid, options=(lazyload(Ticket.owner),)), None
    except TicketNotFound:
        pass
    if not ActionForm().validate_on_submit():  # the CSRF token: only the writer's own text comes back
        abort(400)
    text = (request.form.get("message") or "")[:1_000_000]
    files = [f.filename for f in request.files.getlist("attachments") if f and f.filename]
    return None, (render_template("admin/tickets/gone.html", trackid=trackid[:20], text=text, files=files,
                                  what=what), 404)


@bp.post("/tickets/<trackid>/reply")
def reply(trackid):
    ticket, gone = _load_or_gone(trackid, "reply")
    if gone is not None:
        return gone
    _require("reply", ticket)
    user = _user()
    form = ReplyForm()
    _reply_choices(form, _statuses(), _priorities(), may(user, "resolve"))
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_view(ticket, reply_form=form, status_code=400)
    markdown = int(settings.get("staff_ticket_formatting")) == 2
    if markdown and request.form.get("preview"):
        # the Preview button without JavaScript: the form again, the reply rendered as it will be shown
        from hesk_py.services import knowledgebase

        if any(f and f.filename for f in request.files.getlist("attachments")):
            form.attachments.errors = [_("For your security, attached files are not kept: please choose them "
                                         "again.")]
        return _render_view(ticket, reply_form=form, preview=knowledgebase.render(form.message.data or ""))
    if form.save_draft.data:
        try:
            ticket_work.save_draft(ticket, user, form.message.data or "")
        except InvalidTicketData as exc:
            form.message.errors = list(exc.errors.values())
            return _render_view(ticket, reply_form=form, status_code=400)
        flash(_("Your reply was saved as a draft."), "success")
        return _to_ticket(ticket, "reply")
    as_customer = bool(form.as_customer.data)
    if (settings.get("require_owner") and ticket.owner_id != user.id and not form.assign_self.data
            and not as_customer):
        form.message.errors = [_("This ticket must be assigned to you before you can reply. Tick \"Assign this "
                                 "ticket to myself\".")]
        return _render_view(ticket, reply_form=form, status_code=409)
    if form.assign_self.data and ticket.owner_id != user.id and not may_assign(user, ticket, user.id):
        abort(403)
    # the collision notice: someone replied since this form was shown -> back with the text kept
    try:
        seen = int(form.last_reply_id.data or 0)
    except ValueError:
        seen = 0
    newer = ticket_work.replies_since(ticket, seen)
    if newer:
        form.last_reply_id.data = str(newer[-1].id)
        return _render_view(ticket, reply_form=form, collision=newer, status_code=409)
    saved: list[dict] = []
    try:
        saved = _store_uploads(form.attachments)
        with ticket_service.one_transaction():
            ticket_service.staff_reply(
                ticket, user=user, message=form.message.data or "", attachments=saved,
                status_id=form.status.data or STATUS_REPLIED, notify=bool(form.notify.data),
                sign=bool(form.sign.data), assign_self=bool(form.assign_self.data),
                priority_id=form.priority.data or None, as_customer=as_customer,
                message_format="markdown" if markdown else "text",
            )
            extra = form.time_spent.data or 0
            if ticket_service.timer_started_at(ticket, user) is not None:
                ticket_service.stop_timer(ticket, user=user)
            if extra and settings.get("time_worked"):
                ticket_service.set_time_worked(ticket, min(ticket.time_worked + extra,
                                                           ticket_service.MAX_TIME_WORKED), actor=_actor())
    except AttachmentRefused as exc:
        form.attachments.errors = list(getattr(exc, "reasons", [str(exc)]))
        return _render_view(ticket, reply_form=form, status_code=400)
    except InvalidTicketData as exc:
        _discard(saved)
        for key, message in exc.errors.items():
            field = getattr(form, key, None) or form.message
            field.errors = list(field.errors) + [message]
        return _render_view(ticket, reply_form=form, status_code=400)
    flash(_("Your reply was added.") if not as_customer else _("The customer's reply was added."), "success")
    after = int(accounts.preferences(user).get("afterreply") or 0)
    if after == 1:
        return redirect(url_for("admin.tickets.index"))
    if after == 2:
        nxt = _next_ticket_needing_reply(user, ticket)
        if nxt is not None:
            return _to_ticket(nxt)
        flash(_("No other ticket needs your reply."), "success")
        return redirect(url_for("admin.tickets.index"))
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/draft")
def draft(trackid):
    """Save the reply as a draft: the "Save and continue later" of scripts (auto-save) and forms."""
    ticket = _load(trackid)
    _require("draft", ticket)
    form = ActionForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if not form.validate_on_submit():
        abort(400)
    try:
        saved = ticket_work.save_draft(ticket, _user(), request.form.get("message", ""))
    except InvalidTicketData as exc:
        if wants_json:
            return jsonify(error=next(iter(exc.errors.values()))), 400
        _errors_flash(exc)
        return _to_ticket(ticket, "reply")
    if wants_json:
        return jsonify(saved=saved is not None,
                       saved_at=saved.updated_at.isoformat() + "Z" if saved is not None else None)
    flash(_("Your reply was saved as a draft.") if saved else _("The draft was discarded."), "success")
    return _to_ticket(ticket, "reply")


@bp.post("/tickets/<trackid>/notes")
def add_note(trackid):
    ticket, gone = _load_or_gone(trackid, "note")
    if gone is not None:
        return gone
    _require("note", ticket)
    form = NoteForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_view(ticket, note_form=form, status_code=400)
    saved: list[dict] = []
    try:
        saved = _store_uploads(form.attachments)
        ticket_service.add_note(ticket, message=form.message.data, actor=_actor(), attachments=saved)
    except AttachmentRefused as exc:
        form.attachments.errors = list(getattr(exc, "reasons", [str(exc)]))
        return _render_view(ticket, note_form=form, status_code=400)
    except InvalidTicketData as exc:
        _discard(saved)
        form.message.errors = list(exc.errors.values())
        return _render_view(ticket, note_form=form, status_code=400)
    flash(_("Your note was added."), "success")
    return _to_ticket(ticket, "notes")


def _note_of(ticket: Ticket, note_id: int) -> Note:
    note = db.session.scalar(select(Note).where(Note.id == note_id, Note.ticket_id == ticket.id))
    if note is None:
        abort(404)
    user = _user()
    if note.user_id != user.id and not may(user, "delete_any_note", ticket):
        abort(403)
    return note


@bp.route("/tickets/<trackid>/notes/<int:note_id>/edit", methods=["GET", "POST"])
def edit_note(trackid, note_id):
    ticket = _load(trackid)
    note = _note_of(ticket, note_id)
    form = EditNoteForm(obj=note) if request.method == "GET" else EditNoteForm()
    if form.validate_on_submit():
        try:
            ticket_service.edit_note(note, message=form.message.data, actor=_actor())
        except InvalidTicketData as exc:
            form.message.errors = list(exc.errors.values())
        else:
            flash(_("The note was saved."), "success")
            return _to_ticket(ticket, f"note-{note.id}")
    return render_template("admin/tickets/edit_note.html", ticket=ticket, note=note, form=form), \
        (400 if request.method == "POST" else 200)


@bp.post("/tickets/<trackid>/notes/<int:note_id>/delete")
def delete_note(trackid, note_id):
    ticket = _load(trackid)
    note = _note_of(ticket, note_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    _remove_files(ticket_service.delete_note(note, actor=_actor()))
    flash(_("The note was deleted."), "success")
    return _to_ticket(ticket, "notes")


# --- editing and deleting posts -------------------------------------------------------------------

@bp.route("/tickets/<trackid>/edit", methods=["GET", "POST"])
def edit(trackid):
    ticket = _load(trackid)
    _require("edit", ticket)
    current = follower_rules.followers_of(ticket)
    # the followers are edited here when tickets may have them, and always when this one has some
    with_followers = follower_rules.enabled() or bool(current)
    form = EditMessageForm(obj=ticket) if request.method == "GET" else EditMessageForm()
    if request.method == "GET":
        form.followers.data = "\n".join(c.email for c in current)
    if form.validate_on_submit():
        try:
            followers = _posted_followers(form.followers) if with_followers else None
            with ticket_service.one_transaction():
                ticket_service.edit_message(ticket, subject=form.subject.data, message=form.message.data,
                                            actor=_actor())
                if followers is not None:
                    ticket_service.set_followers(ticket, followers, actor=_actor())
        except InvalidTicketData as exc:
            for key, message in exc.errors.items():
                getattr(form, key, form.message).errors = [message]
        else:
            flash(_("The message was saved."), "success")
            return _to_ticket(ticket)
    return render_template("admin/tickets/edit.html", ticket=ticket, form=form, with_followers=with_followers), \
        (400 if request.method == "POST" else 200)


def _reply_of(ticket: Ticket, reply_id: int) -> Reply:
    found = db.session.scalar(select(Reply).where(Reply.id == reply_id, Reply.ticket_id == ticket.id))
    if found is None:
        abort(404)
    return found


@bp.route("/tickets/<trackid>/replies/<int:reply_id>/edit", methods=["GET", "POST"])
def edit_reply(trackid, reply_id):
    ticket = _load(trackid)
    _require("edit", ticket)
    found = _reply_of(ticket, reply_id)
    form = EditReplyForm(obj=found) if request.method == "GET" else EditReplyForm()
    if form.validate_on_submit():
        try:
            ticket_service.edit_reply(found, message=form.message.data, actor=_actor())
        except InvalidTicketData as exc:
            form.message.errors = list(exc.errors.values())
        else:
            flash(_("The reply was saved."), "success")
            return _to_ticket(ticket, f"reply-{found.id}")
    return render_template("admin/tickets/edit_reply.html", ticket=ticket, reply=found, form=form), \
        (400 if request.method == "POST" else 200)


@bp.post("/tickets/<trackid>/replies/<int:reply_id>/delete")
def delete_reply(trackid, reply_id):
    ticket = _load(trackid)
    _require("delete_reply", ticket)
    found = _reply_of(ticket, reply_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    _remove_files(ticket_service.delete_reply(found, actor=_actor()))
    flash(_("The reply was deleted."), "success")
    return _to_ticket(ticket)


# --- ticket properties ----------------------------------------------------------------------------

@bp.post("/tickets/<trackid>/assign")
def assign(trackid):
    ticket = _load(trackid)
    user = _user()
    if not ActionForm().validate_on_submit():  # the CSRF token; the rules below decide the owner
        abort(400)
    raw = str(user.id) if request.form.get("self") else request.form.get("owner", "")
    owner_id = int(raw) if raw.isdigit() else None
    if not may_assign(user, ticket, owner_id):
        abort(403)
    if owner_id is not None and not _owner_may_take(owner_id, ticket.category_id):
        flash(_("That staff member cannot take tickets of this category."), "error")
        return _to_ticket(ticket)
    try:
        ticket_service.assign(ticket, owner_id, actor=_actor())
    except InvalidTicketData as exc:
        _errors_flash(exc)
        return _to_ticket(ticket)
    flash(_("The ticket is now assigned to %(name)s.", name=_staff_names().get(owner_id, "")) if owner_id
          else _("The ticket is now unassigned."), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/status")
def status(trackid):
    ticket = _load(trackid)
    _require("status", ticket)
    form = StatusForm()
    form.status.choices = choices([(s.id, s.name) for s in _statuses()])
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Choose a status."), "error")
        return _to_ticket(ticket)
    target = db.session.get(Status, form.status.data)
    if target.kind == STATUS_CLOSED and not may(_user(), "resolve", ticket):
        abort(403)
    ticket_service.change_status(ticket, target.id, actor=_actor())
    flash(_("The status is now %(status)s.", status=_label(target)), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/priority")
def priority(trackid):
    ticket = _load(trackid)
    _require("priority", ticket)
    form = PriorityForm()
    form.priority.choices = choices([(p.id, p.name) for p in _priorities()])
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Choose a priority."), "error")
        return _to_ticket(ticket)
    ticket_service.change_priority(ticket, form.priority.data, actor=_actor())
    flash(_("The priority was changed."), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/category")
def category(trackid):
    ticket = _load(trackid)
    form = CategoryForm()
    form.category.choices = choices([(c.id, c.name) for c in _categories()])
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Choose a category."), "error")
        return _to_ticket(ticket)
    if not may_move_to(_user(), form.category.data):
        abort(403)
    ticket_service.change_category(ticket, form.category.data, actor=_actor())
    flash(_("The ticket was moved."), "success")
    try:
        return _to_ticket(ticket_access.find_visible(_user(), ticket.trackid))
    except TicketNotFound:
        # moved to a category this user does not see: the ticket is gone from their view
        return redirect(url_for("admin.tickets.index"))


@bp.post("/tickets/<trackid>/due-date")
def due_date(trackid):
    ticket = _load(trackid)
    _require("due_date", ticket)
    form = DueDateForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Enter the due date as a date (YYYY-MM-DD)."), "error")
        return _to_ticket(ticket)
    due = None
    if form.due_date.data and not form.remove.data:
        # the end of that day in the help desk's time zone, stored as UTC
        tz = get_timezone()
        local_end = datetime.combine(form.due_date.data, datetime.max.time().replace(microsecond=0))
        due = tz.localize(local_end) if hasattr(tz, "localize") else local_end.replace(tzinfo=tz)
        from datetime import timezone

        due = due.astimezone(timezone.utc).replace(tzinfo=None)
    ticket_service.set_due_date(ticket, due, actor=_actor())
    flash(_("The due date was saved.") if due else _("The due date was removed."), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/time-worked")
def time_worked(trackid):
    ticket = _load(trackid)
    _require("time_worked", ticket)
    form = TimeWorkedForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        for message in form.time_worked.errors:
            flash(message, "error")
        return _to_ticket(ticket)
    try:
        ticket_service.set_time_worked(ticket, form.time_worked.data, actor=_actor())
    except InvalidTicketData as exc:
        _errors_flash(exc)
        return _to_ticket(ticket)
    flash(_("Time worked saved: %(time)s.", time=format_duration(ticket.time_worked)), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/timer")
def timer(trackid):
    ticket = _load(trackid)
    _require("time_worked", ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _user()
    if request.form.get("do") == "start":
        ticket_service.start_timer(ticket, user=user)
        flash(_("The timer is running."), "success")
    else:
        added = ticket_service.stop_timer(ticket, user=user)
        flash(_("The timer stopped; %(time)s added to the time worked.", time=format_duration(added)), "success")
    return _to_ticket(ticket)


def _toggle(trackid, action: str, apply, on_message: str, off_message: str):
    ticket = _load(trackid)
    _require(action, ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    on = request.form.get("on") == "1"
    apply(ticket, on)
    flash(on_message if on else off_message, "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/lock")
def lock(trackid):
    return _toggle(trackid, "lock", lambda t, on: ticket_service.set_locked(t, on, actor=_actor()),
                   _("The ticket is locked (and resolved)."), _("The ticket is unlocked."))


@bp.post("/tickets/<trackid>/tag")
def tag(trackid):
    return _toggle(trackid, "tag", lambda t, on: ticket_service.set_tagged(t, on, actor=_actor()),
                   _("The ticket is tagged."), _("The ticket is untagged."))


@bp.post("/tickets/<trackid>/bookmark")
def bookmark(trackid):
    return _toggle(trackid, "bookmark", lambda t, on: ticket_work.set_bookmark(t, _user(), on),
                   _("Added to your bookmarks."), _("Removed from your bookmarks."))


@bp.post("/tickets/<trackid>/links")
def link(trackid):
    ticket = _load(trackid)
    _require("link", ticket)
    form = LinkForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Enter the tracking ID or number of the ticket to link."), "error")
        return _to_ticket(ticket)
    text = form.other.data.strip().lstrip("#")
    other = None
    if text.isdigit():
        found = ticket_access.visible_by_ids(_user(), [int(text)]) if len(text) < 10 else []
        other = found[0] if found else None
    else:
        try:
            other = ticket_access.find_visible(_user(), text)
        except TicketNotFound:
            other = None
    if other is None:
        flash(_("No ticket %(id)s that you can see.", id=text[:20]), "error")
        return _to_ticket(ticket)
    try:
        ticket_service.link_tickets(ticket, other, actor=_actor())
    except InvalidTicketData as exc:
        _errors_flash(exc)
        return _to_ticket(ticket)
    flash(_("Linked to ticket %(trackid)s.", trackid=other.trackid), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/links/<other>/delete")
def unlink(trackid, other):
    ticket = _load(trackid)
    _require("link", ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    other_ticket = _load(other)
    ticket_service.unlink_tickets(ticket, other_ticket, actor=_actor())
    flash(_("The link was removed."), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/delete")
def delete(trackid):
    ticket = _load(trackid)
    _require("delete", ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    trackid = ticket.trackid
    _remove_files(ticket_service.delete_ticket(ticket, actor=_actor()))
    flash(_("Ticket %(trackid)s was deleted.", trackid=trackid), "success")
    return redirect(url_for("admin.tickets.index"))


@bp.post("/tickets/<trackid>/resend")
def resend(trackid):
    ticket = _load(trackid)
    _require("resend", ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    if ticket_service.resend_notification(ticket, actor=_actor()) is None:
        flash(_("This ticket has no email address to send to."), "error")
    else:
        flash(_("The notification will be sent to %(email)s again.", email=ticket.email), "success")
    return _to_ticket(ticket)


@bp.post("/tickets/<trackid>/ban-email")
@bp.post("/tickets/<trackid>/ban-email/<int:follower_id>")  # a follower's address
def ban_email(trackid, follower_id=None):
    return _ban(trackid, "ban_email", ticket_service.ban_ticket_email,
                _("The email address %(value)s is banned."), "email", follower_id=follower_id)


@bp.post("/tickets/<trackid>/mute-email")
@bp.post("/tickets/<trackid>/mute-email/<int:follower_id>")  # a follower's address
def mute_email(trackid, follower_id=None):
    return _ban(trackid, "mute_email", ticket_service.mute_ticket_email,
                _("The email address %(value)s is muted: the help desk sends it no email."), "email",
                follower_id=follower_id, already=_("%(value)s was already muted."))


@bp.post("/tickets/<trackid>/ban-ip")
def ban_ip(trackid):
    return _ban(trackid, "ban_ip", ticket_service.ban_ticket_ip, _("The IP address %(value)s is banned."), "ip")


def _ban(trackid, action, apply, message, attr, *, follower_id=None, already=None):
    from hesk_py.services import bans

    ticket = _load(trackid)
    _require(action, ticket)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if follower_id is None:
            new, value = apply(ticket, actor=_actor()), getattr(ticket, attr)
        else:
            value = ticket_service.customer_address(ticket, follower_id)
            new = apply(ticket, actor=_actor(), follower_id=follower_id)
    except bans.InvalidBan as exc:
        flash(str(exc), "error")
        return _to_ticket(ticket)
    flash((message if new else already or _("%(value)s was already banned.")) % {"value": value}, "success")
    return _to_ticket(ticket)


@bp.errorhandler(PermissionDenied)
def _permission_denied(_exc):
    abort(403)
