"""Managing the lookups every ticket points at: categories, statuses and priorities (the admin pages
admin/categories.py, admin/statuses.py, admin/priorities.py).

Rules: category names are unique; the default category (id 1) cannot be deleted, and deleting another
moves its tickets to a category the admin chooses (through services/tickets.py, which writes history);
built-in statuses and priorities can be renamed and recoloured but not deleted; custom ones are deleted
only when no ticket (or category default) uses them.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import Category, CustomField, Priority, Status, Ticket
from hesk_py.models.workflow import STATUS_CLOSED, STATUS_OPEN, STATUS_WAITING
from hesk_py.services import tickets as ticket_service

DEFAULT_CATEGORY_ID = 1
AUTOASSIGN_MODES = ("off", "any", "only", "except")
DUE_UNITS = ("day", "week", "month")
STATUS_KINDS = (STATUS_OPEN, STATUS_WAITING, STATUS_CLOSED)
MAX_CATEGORY_NAME = 255
MAX_NAME = 100
MAX_DUE_AMOUNT = 1000
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class InvalidData(Exception):
    """Bad input: ``errors`` maps a field name to its message. Nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class NotFound(Exception):
    pass


class InUse(Exception):
    """The row is used by ``count`` tickets (or category defaults) and cannot be deleted."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


class Undeletable(Exception):
    """A built-in row, or the default category."""


def _get(model, row_id: int):
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(row_id)
    return row


def _check_color(color: str, errors: dict[str, str]) -> str:
    color = (color or "").strip()
    if not _COLOR_RE.match(color):
        errors["color"] = str(_l("Enter a colour as #RRGGBB, for example #1a73e8."))
    return color.lower()


def _check_name(name: str, max_len: int, errors: dict[str, str]) -> str:
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = str(_l("Enter a name."))
    elif len(name) > max_len:
        errors["name"] = str(_l("The name is too long (at most %(n)s characters).", n=max_len))
    return name


def _next_order(model) -> int:
    return (db.session.scalar(select(func.max(model.sort_order))) or 0) + 10


def _move(model, row_id: int, direction: int) -> None:
    """Swap a row with its neighbour in the order, renumbering 10, 20, 30 ..."""
    rows = list(db.session.scalars(select(model).order_by(model.sort_order, model.id)))
    index = next((i for i, r in enumerate(rows) if r.id == row_id), None)
    if index is None:
        raise NotFound(row_id)
    other = index + direction
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for i, row in enumerate(rows):
        row.sort_order = (i + 1) * 10
    db.session.commit()


# --- categories -------------------------------------------------------------------------------------

def categories_with_counts() -> list[tuple[Category, int]]:
    """Every category in order with its number of tickets (one grouped query)."""
    counts = (select(Ticket.category_id, func.count(Ticket.id).label("n"))
              .group_by(Ticket.category_id).subquery())
    rows = db.session.execute(
        select(Category, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.category_id == Category.id)
        .order_by(Category.sort_order, Category.id))
    return [(cat, int(n)) for cat, n in rows]


def get_category(category_id: int) -> Category:
    return _get(Category, category_id)


def autoassign_mode(category: Category) -> tuple[str, list[int]]:
    """(mode, staff ids) of a category: off, any, only or except."""
    if not category.autoassign:
        return "off", []
    config = category.autoassign_config or {}
    if config.get("mode") in ("only", "except"):
        return config["mode"], [int(u) for u in config.get("users", [])]
    return "any", []


def save_category(category_id: int | None, *, name: str, is_public: bool, default_priority_id: int | None,
                  autoassign: str, autoassign_users: list[int] | None = None, due_amount: int | None = None,
                  due_unit: str | None = None) -> Category:
    """Create (``category_id`` None) or update a category. Raises InvalidData; writes nothing then."""
    from hesk_py.models import User

    errors: dict[str, str] = {}
    name = _check_name(name, MAX_CATEGORY_NAME, errors)
    if "name" not in errors:
        clash = db.session.scalar(select(Category.id).where(func.lower(Category.name) == name.lower()))
        if clash is not None and clash != category_id:
            errors["name"] = str(_l("Another category is already called \"%(name)s\".", name=name))
    if default_priority_id is None or db.session.get(Priority, default_priority_id) is None:
        errors["default_priority"] = str(_l("Choose a priority."))
    if autoassign not in AUTOASSIGN_MODES:
        errors["autoassign"] = str(_l("Choose how tickets are assigned."))
    users = sorted({int(u) for u in autoassign_users or ()})
    if autoassign in ("only", "except"):
        known = set(db.session.scalars(select(User.id).where(User.id.in_(users or [0]))))
        if not users or known != set(users):
            errors["autoassign_users"] = str(_l("Choose at least one staff member."))
    if due_amount is not None:
        if not 1 <= due_amount <= MAX_DUE_AMOUNT:
            errors["due_amount"] = str(_l("Enter a number from 1 to %(n)s, or leave it empty.", n=MAX_DUE_AMOUNT))
        elif due_unit not in DUE_UNITS:
            errors["due_unit"] = str(_l("Choose days, weeks or months."))
    if errors:
        raise InvalidData(errors)

    category = _get(Category, category_id) if category_id is not None else Category(sort_order=_next_order(Category))
    category.name = name
    category.is_public = bool(is_public)
    category.default_priority_id = default_priority_id
    category.autoassign = autoassign != "off"
    category.autoassign_config = {"mode": autoassign, "users": users} if autoassign in ("only", "except") else None
    category.default_due_amount = due_amount
    category.default_due_unit = due_unit if due_amount is not None else None
    if category_id is None:
        db.session.add(category)
    db.session.commit()
    return category


def move_category(category_id: int, direction: int) -> None:
    _move(Category, category_id, direction)


def sort_categories_by_name() -> None:
    rows = sorted(db.session.scalars(select(Category)), key=lambda c: (c.name.casefold(), c.id))
    for i, row in enumerate(rows):
        row.sort_order = (i + 1) * 10
    db.session.commit()


def delete_category(category_id: int, *, move_to: int | None, actor: ticket_service.Actor) -> int:
    """Delete a category, first moving its tickets to ``move_to`` (history written for each);
    returns how many tickets moved. Custom fields limited to it forget it; staff access rows go with it."""
    category = _get(Category, category_id)
    if category.id == DEFAULT_CATEGORY_ID:
        raise Undeletable(category_id)
    if move_to is None or move_to == category.id or db.session.get(Category, move_to) is None:
        raise InvalidData({"move_to": str(_l("Choose the category that receives its tickets."))})
    with ticket_service.one_transaction():
        moved = ticket_service.move_category_tickets(category.id, move_to, actor=actor)
        for field in db.session.scalars(select(CustomField).where(CustomField.category_ids.is_not(None))):
            ids = [int(c) for c in field.category_ids]
            if category.id in ids:
                field.category_ids = [c for c in ids if c != category.id]
        db.session.delete(category)
    return moved


# --- statuses and priorities ------------------------------------------------------------------------

def statuses_with_counts() -> list[tuple[Status, int]]:
    counts = select(Ticket.status_id, func.count(Ticket.id).label("n")).group_by(Ticket.status_id).subquery()
    rows = db.session.execute(select(Status, func.coalesce(counts.c.n, 0))
                              .outerjoin(counts, counts.c.status_id == Status.id)
                              .order_by(Status.sort_order, Status.id))
    return [(s, int(n)) for s, n in rows]


def priorities_with_counts() -> list[tuple[Priority, int]]:
    counts = (select(Ticket.priority_id, func.count(Ticket.id).label("n"))
              .group_by(Ticket.priority_id).subquery())
    rows = db.session.execute(select(Priority, func.coalesce(counts.c.n, 0))
                              .outerjoin(counts, counts.c.priority_id == Priority.id)
                              .order_by(Priority.sort_order, Priority.id))
    return [(p, int(n)) for p, n in rows]


def _unique_name(model, name: str, row_id: int | None, errors: dict[str, str]) -> None:
    if "name" in errors:
        return
    clash = db.session.scalar(select(model.id).where(func.lower(model.name) == name.lower()))
    if clash is not None and clash != row_id:
        errors["name"] = str(_l("\"%(name)s\" is already used.", name=name))


def get_status(status_id: int) -> Status:
    return _get(Status, status_id)


def save_status(status_id: int | None, *, name: str, color: str, kind: str,
                can_customers_change: bool) -> Status:
    """Create or update a status. The class of a built-in status stays as HESK defines it."""
    errors: dict[str, str] = {}
    name = _check_name(name, MAX_NAME, errors)
    _unique_name(Status, name, status_id, errors)
    color = _check_color(color, errors)
    status = _get(Status, status_id) if status_id is not None else None
    if (status is None or status.key is None) and kind not in STATUS_KINDS:
        errors["kind"] = str(_l("Choose open, waiting on the customer or closed."))
    if errors:
        raise InvalidData(errors)
    if status is None:
        status = Status(sort_order=_next_order(Status))
        db.session.add(status)
    if status.name != name:
        status.names = None  # a rename replaces the per-language names
    status.name = name
    status.color = color
    if status.key is None:
        status.kind = kind
    status.can_customers_change = bool(can_customers_change)
    db.session.commit()
    return status


def delete_status(status_id: int) -> None:
    status = _get(Status, status_id)
    if status.key is not None:
        raise Undeletable(status_id)
    used = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status_id == status.id)) or 0
    if used:
        raise InUse(used)
    db.session.delete(status)
    db.session.commit()


def get_priority(priority_id: int) -> Priority:
    return _get(Priority, priority_id)


def save_priority(priority_id: int | None, *, name: str, color: str, can_customers_select: bool) -> Priority:
    errors: dict[str, str] = {}
    name = _check_name(name, MAX_NAME, errors)
    _unique_name(Priority, name, priority_id, errors)
    color = _check_color(color, errors)
    if errors:
        raise InvalidData(errors)
    priority = _get(Priority, priority_id) if priority_id is not None else None
    if priority is None:
        priority = Priority(sort_order=_next_order(Priority))
        db.session.add(priority)
    if priority.name != name:
        priority.names = None
    priority.name = name
    priority.color = color
    priority.can_customers_select = bool(can_customers_select)
    db.session.commit()
    return priority


def move_priority(priority_id: int, direction: int) -> None:
    _move(Priority, priority_id, direction)


def delete_priority(priority_id: int) -> None:
    priority = _get(Priority, priority_id)
    if priority.key is not None:
        raise Undeletable(priority_id)
    used = (db.session.scalar(select(func.count(Ticket.id)).where(Ticket.priority_id == priority.id)) or 0) + (
        db.session.scalar(select(func.count(Category.id)).where(Category.default_priority_id == priority.id)) or 0)
    if used:
        raise InUse(used)
    db.session.delete(priority)
    db.session.commit()
