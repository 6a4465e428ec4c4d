"""The rows a new help desk starts with: the General category, HESK's six statuses and four priorities.

The installer calls ``seed_defaults`` once; tests call it for every fresh database. Names are stored in
English and translated when shown (built-in rows carry a ``key``).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hesk_py.extensions import db
from hesk_py.models import Category, KbCategory, Priority, Status
from hesk_py.models.workflow import STATUS_CLOSED, STATUS_OPEN, STATUS_WAITING

BUILTIN_STATUSES = (
    # id, key, English name, class, colour, customers may set it
    (1, "new", "New", STATUS_OPEN, "#dc3545", False),
    (2, "waiting_reply", "Waiting reply", STATUS_OPEN, "#fd7e14", False),
    (3, "replied", "Replied", STATUS_WAITING, "#198754", False),
    (4, "resolved", "Resolved", STATUS_CLOSED, "#6c757d", True),
    (5, "in_progress", "In progress", STATUS_OPEN, "#6f42c1", False),
    (6, "on_hold", "On hold", STATUS_OPEN, "#0d6efd", False),
)

BUILTIN_PRIORITIES = (
    # id, key, English name, colour, customers may select it
    (1, "critical", "Critical", "#e74441", False),
    (2, "high", "High", "#fac500", True),
    (3, "medium", "Medium", "#3abb7a", True),
    (4, "low", "Low", "#71a5ec", True),
)

# Marked for translation; shown through builtin_name().
BUILTIN_NAMES = {
    "new": _l("New"),
    "waiting_reply": _l("Waiting reply"),
    "replied": _l("Replied"),
    "resolved": _l("Resolved"),
    "in_progress": _l("In progress"),
    "on_hold": _l("On hold"),
    "critical": _l("Critical"),
    "high": _l("High"),
    "medium": _l("Medium"),
    "low": _l("Low"),
    "general": _l("General"),
}


DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME = 1, "General"


def seed_defaults(*, category_name: str = DEFAULT_CATEGORY_NAME, commit: bool = True) -> None:
    """Insert the default rows when they are missing (safe to call twice)."""
    if db.session.scalar(select(Priority.id).limit(1)) is None:
        for pid, key, name, color, customers in BUILTIN_PRIORITIES:
            db.session.add(
                Priority(id=pid, key=key, name=name, color=color, can_customers_select=customers, sort_order=pid)
            )
    if db.session.scalar(select(Status.id).limit(1)) is None:
        for sid, key, name, kind, color, customers in BUILTIN_STATUSES:
            db.session.add(
                Status(id=sid, key=key, name=name, kind=kind, color=color, can_customers_change=customers,
                       sort_order=sid)
            )
    db.session.flush()
    if db.session.get(Category, 1) is None:
        db.session.add(Category(id=DEFAULT_CATEGORY_ID, name=category_name, sort_order=10, is_public=True,
                                default_priority_id=4))
    if db.session.get(KbCategory, 1) is None:
        # The knowledgebase's root category (migration 0007 inserts it too, for upgraded help desks).
        db.session.add(KbCategory(id=1, name="Knowledgebase", parent_id=None, is_public=True, sort_order=0))
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def label(row) -> str:
    """The name of a status, priority or category as shown: built-in rows in the page's language,
    unless renamed; custom rows by their per-language names."""
    from flask_babel import get_locale

    lang = str(get_locale() or "en")
    names = getattr(row, "names", None) or {}
    if names.get(lang):
        return names[lang]
    key = getattr(row, "key", None)
    builtin = {s[1]: s[2] for s in BUILTIN_STATUSES} | {p[1]: p[2] for p in BUILTIN_PRIORITIES}
    if key and key in BUILTIN_NAMES and row.name == builtin.get(key):
        return str(BUILTIN_NAMES[key])
    # the seeded category has no key: it is the built-in one while it keeps its id and English name
    if isinstance(row, Category) and row.id == DEFAULT_CATEGORY_ID and row.name == DEFAULT_CATEGORY_NAME:
        return str(BUILTIN_NAMES["general"])
    return row.name
