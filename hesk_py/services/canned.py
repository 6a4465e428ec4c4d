"""Canned responses and ticket templates: create, edit, order, delete, and fill in HESK's tags.

Both are lists of (title, text) in an order staff choose. The tags are HESK's (reference/HESK.md §3.3:
``%%HESK_NAME%%``, ``%%HESK_FIRST_NAME%%``, ``%%HESK_EMAIL%%``, ``%%HESK_TRACK_ID%%``, ``%%HESK_ID%%``,
``%%HESK_SUBJECT%%``, ``%%HESK_CATEGORY%%``, ``%%HESK_OWNER%%``, ``%%HESK_DUE_DATE%%``,
``%%HESK_REQUESTER...%%``, ``%%HESK_FOLLOWER...%%``, ``%%HESK_customN%%``), plus ``%%HESK_STAFF_NAME%%``,
the name of the staff member writing. HESK fills them in the browser; here the server fills them (for the page
without JavaScript and for the JSON the reply form's script asks for), so the rules are in one place. A tag the
text uses but the ticket has no value for becomes empty; an unknown tag is left as typed.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from flask_babel import format_date, to_user_timezone
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models.canned import CannedResponse, TicketTemplate
from hesk_py.services.errors import HeskError

MAX_TITLE = 255
MAX_MESSAGE = 65_535
ORDER_STEP = 10

# (tag, what it stands for): the picker on the management pages lists these.
TAGS = (
    ("%%HESK_NAME%%", _l("Customer's name")),
    ("%%HESK_FIRST_NAME%%", _l("Customer's first name")),
    ("%%HESK_EMAIL%%", _l("Customer's email")),
    ("%%HESK_REQUESTER%%", _l("The customer who opened the ticket: name and email")),
    ("%%HESK_REQUESTER_NAME%%", _l("Name of the customer who opened the ticket")),
    ("%%HESK_REQUESTER_FIRST_NAME%%", _l("First name of the customer who opened the ticket")),
    ("%%HESK_REQUESTER_EMAIL%%", _l("Email of the customer who opened the ticket")),
    ("%%HESK_FOLLOWERS%%", _l("The ticket's followers (Cc): names and emails")),
    ("%%HESK_FOLLOWER_NAMES%%", _l("Names of the ticket's followers")),
    ("%%HESK_FOLLOWER_EMAILS%%", _l("Emails of the ticket's followers")),
    ("%%HESK_TRACK_ID%%", _l("Tracking ID")),
    ("%%HESK_ID%%", _l("Ticket number")),
    ("%%HESK_SUBJECT%%", _l("Subject")),
    ("%%HESK_CATEGORY%%", _l("Category")),
    ("%%HESK_OWNER%%", _l("Assigned to (owner)")),
    ("%%HESK_DUE_DATE%%", _l("Due date")),
    ("%%HESK_STAFF_NAME%%", _l("Your name (the staff member writing)")),
    ("%%HESK_custom1%%", _l("Custom field 1 (custom2, custom3, ... likewise)")),
)
# The tags a ticket template can fill on the "New ticket" form: there is no ticket yet.
TEMPLATE_TAGS = ("%%HESK_NAME%%", "%%HESK_FIRST_NAME%%", "%%HESK_EMAIL%%", "%%HESK_STAFF_NAME%%")

_TAG_RE = re.compile(r"%%HESK_([A-Za-z_]+[0-9]*)%%")


class CannedNotFound(HeskError):
    pass


class InvalidCannedData(HeskError):
    """``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


Model = type[CannedResponse] | type[TicketTemplate]


# --- the lists -------------------------------------------------------------------------------------

def items(model: Model) -> list:
    return list(db.session.scalars(select(model).order_by(model.sort_order, model.id)))


def get(model: Model, item_id: int):
    found = db.session.get(model, item_id)
    if found is None:
        raise CannedNotFound(str(item_id))
    return found


def _clean(title: str | None, message: str | None, subject: str | None = None) -> tuple[str, str, str]:
    title = (title or "").strip()
    message = (message or "").replace("\r\n", "\n").strip("\n")
    subject = (subject or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = str(_l("Enter a title."))
    elif len(title) > MAX_TITLE:
        errors["title"] = str(_l("The title is too long (at most %(n)s characters).", n=MAX_TITLE))
    if not message.strip():
        errors["message"] = str(_l("Enter the text."))
    elif len(message) > MAX_MESSAGE:
        errors["message"] = str(_l("The text is too long (at most %(n)s characters).", n=MAX_MESSAGE))
    if len(subject) > MAX_TITLE:
        errors["subject"] = str(_l("The subject is too long (at most %(n)s characters).", n=MAX_TITLE))
    if errors:
        raise InvalidCannedData(errors)
    return title, message, subject


def create(model: Model, *, title: str, message: str, subject: str | None = None):
    title, message, subject = _clean(title, message, subject)
    last = db.session.scalar(select(func.max(model.sort_order))) or 0
    row = model(title=title, message=message, sort_order=last + ORDER_STEP)
    if model is TicketTemplate:
        row.subject = subject
    db.session.add(row)
    db.session.commit()
    return row


def update(model: Model, item_id: int, *, title: str, message: str, subject: str | None = None):
    row = get(model, item_id)
    row.title, row.message, new_subject = _clean(title, message, subject)
    if model is TicketTemplate:
        row.subject = new_subject
    db.session.commit()
    return row


def delete(model: Model, item_id: int) -> None:
    db.session.delete(get(model, item_id))
    db.session.commit()


def move(model: Model, item_id: int, direction: int) -> None:
    """Swap with the neighbour above (direction -1) or below (+1); renumbers the list (HESK does too)."""
    rows = items(model)
    index = next((i for i, r in enumerate(rows) if r.id == item_id), None)
    if index is None:
        raise CannedNotFound(str(item_id))
    other = index + (-1 if direction < 0 else 1)
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for i, r in enumerate(rows, start=1):
        r.sort_order = i * ORDER_STEP
    db.session.commit()


# --- the tags ----------------------------------------------------------------------------------------

def _fill(text: str, values: Mapping[str, str], custom: Mapping[str, str] | None = None) -> str:
    def one(m: re.Match) -> str:
        key = m.group(1)
        if key.upper() in values:
            return values[key.upper()]
        if custom is not None and re.fullmatch(r"custom[0-9]+", key, re.I):
            return custom.get(key.lower(), "")
        return m.group(0)

    return _TAG_RE.sub(one, text)


def _first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0] if name else ""


def ticket_values(ticket, *, staff_name: str = "", owner_name: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """The tag values for one ticket: (HESK_NAME ... by upper-case key, custom fields by ``customN``)."""
    from hesk_py.services import custom_fields
    from hesk_py.services.defaults import label

    values: dict[str, str] = {
        "NAME": ticket.name or "", "FIRST_NAME": _first_name(ticket.name), "EMAIL": ticket.email or "",
        "TRACK_ID": ticket.trackid, "TRACKID": ticket.trackid, "ID": str(ticket.id),
        "SUBJECT": ticket.subject or "", "CATEGORY": label(ticket.category) if ticket.category else "",
        "OWNER": owner_name, "STAFF_NAME": staff_name,
        "DUE_DATE": format_date(to_user_timezone(ticket.due_date)) if ticket.due_date else "",
    }
    from hesk_py.services import followers

    values.update(followers.tag_values(ticket))
    stored: Mapping[str, Any] = ticket.custom or {}
    custom: dict[str, str] = {}
    if stored:
        fields = {f.form_name: f for f in custom_fields.fields_for(ticket.category_id, staff=True)}
        for key, value in stored.items():
            f = fields.get(key)
            custom[key.lower()] = custom_fields.display_value(f, value) if f is not None else str(value or "")
    return values, custom


def fill_for_ticket(text: str, ticket, *, staff_name: str = "", owner_name: str = "") -> str:
    """A canned response's text with the tags of this ticket filled in."""
    values, custom = ticket_values(ticket, staff_name=staff_name, owner_name=owner_name)
    return _fill(text, values, custom)


def fill_for_new_ticket(text: str, *, name: str = "", email: str = "", staff_name: str = "") -> str:
    """A ticket template's text with what the "New ticket" form knows so far filled in; the tags of a
    ticket that does not exist yet are left as typed."""
    from hesk_py.services.followers import person

    values = {"NAME": name, "FIRST_NAME": _first_name(name), "EMAIL": email, "STAFF_NAME": staff_name,
              "REQUESTER": person(name, email), "REQUESTER_NAME": name, "REQUESTER_FIRST_NAME": _first_name(name),
              "REQUESTER_EMAIL": email}
    return _fill(text, values)


def template_subject(template: TicketTemplate) -> str:
    return template.subject or template.title
