"""Custom fields: which ones a form shows, how a posted value is checked, and how a value is displayed.

Values are stored in ``Ticket.custom`` as ``{"custom1": "text", "custom3": ["a", "b"], ...}``: a string
for every type except checkbox (a list of the chosen options). Forms post them as ``custom1``,
``custom2`` ... (INTERFACE.md). The template macro ``templates/_macros/custom_fields.html`` renders
the ``Widget`` objects built here.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, timedelta
from typing import Any, Iterable, Mapping

from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from hesk_py.extensions import db
from hesk_py.models import CustomField
from hesk_py.models.custom_fields import (
    FIELD_TYPES,
    PLACE_BEFORE,
    REQUIRED_ALWAYS,
    REQUIRED_CUSTOMERS,
    VISIBILITY_PUBLIC,
)

MAX_TEXT = 10_000
MAX_TEXTAREA = 100_000
_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_RELATIVE = re.compile(r"^([+-]?\d{1,4})\s*([dwmy])$", re.IGNORECASE)
_ONE_LINE_BREAKERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def fields_for(category_id: int | None, *, staff: bool = False) -> list[CustomField]:
    """Enabled fields of this category, in order: public ones for customers, all of them for staff."""
    from hesk_py import shared_cache

    def load():
        stmt = select(CustomField).where(CustomField.enabled.is_(True)).order_by(CustomField.sort_order,
                                                                                  CustomField.id)
        if not staff:
            stmt = stmt.where(CustomField.visibility == VISIBILITY_PUBLIC)
        return shared_cache.transient_rows(CustomField, stmt)

    # the same for everyone: cached per process until the fields change (hesk_py/shared_cache.py); the
    # rows belong to no session, read them only
    rows = shared_cache.cached("custom_fields.staff" if staff else "custom_fields.public", load)
    return [f for f in rows if f.category_ids is None or (category_id in [int(c) for c in f.category_ids])]


def label(f: CustomField) -> str:
    """The field's name in the page's language, else the default language's, else any."""
    names = f.names or {}
    lang = str(get_locale() or "en")
    return names.get(lang) or names.get("en") or next(iter(names.values()), f"custom{f.id}")


def is_required(f: CustomField, *, staff: bool) -> bool:
    return f.required == REQUIRED_ALWAYS or (f.required == REQUIRED_CUSTOMERS and not staff)


# --- dates -------------------------------------------------------------------------------------------

def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year = d.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def date_bound(spec: str | None, today: date | None = None) -> date | None:
    """``"2026-01-31"`` (a fixed date), ``"+3d"``, ``"-1w"``, ``"+2m"``, ``"+1y"`` (relative to today),
    or empty (no bound)."""
    spec = (spec or "").strip()
    if not spec:
        return None
    today = today or date.today()
    match = _RELATIVE.match(spec)
    if match:
        n, unit = int(match.group(1)), match.group(2).lower()
        if unit == "d":
            return today + timedelta(days=n)
        if unit == "w":
            return today + timedelta(weeks=n)
        if unit == "m":
            return _add_months(today, n)
        return _add_months(today, 12 * n)
    return date.fromisoformat(spec)


# --- checking posted values --------------------------------------------------------------------------

def _one(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return "" if value is None else str(value)


def _many(data: Any, name: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(name)]
    value = data.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def validate(fields: Iterable[CustomField], data: Any, *, staff: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Check the posted values of ``fields``. Returns ({"customN": value}, {"customN": error}).

    Only the given fields are read: a value posted for a staff-only or other category's field is
    ignored. Values are kept exactly as typed (no HTML escaping here: output is escaped when shown).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        name = f.form_name
        required = is_required(f, staff=staff)
        if f.type == "checkbox":
            chosen = [v for v in _many(data, name) if v in (f.option("options") or [])]
            if required and not chosen:
                errors[name] = str(_l("Please choose at least one option."))
            if chosen:
                values[name] = chosen
            continue
        raw = _one(data, name)
        value = raw if f.type == "textarea" else raw.strip()
        if not value:
            if required and f.type != "hidden":
                errors[name] = (str(_l("Please choose an option.")) if f.type in ("radio", "select")
                                else str(_l("This field is required.")))
            continue
        problem = _check_value(f, value)
        if problem:
            errors[name] = problem
        else:
            values[name] = value
    return values, errors


def _check_value(f: CustomField, value: str) -> str | None:
    if f.type in ("text", "email", "date", "hidden", "radio", "select") and _ONE_LINE_BREAKERS.search(value):
        return str(_l("This field must be a single line."))
    if f.type in ("text", "hidden"):
        limit = int(f.option("max_length") or 0) or MAX_TEXT
        if len(value) > limit:
            return str(_l("At most %(n)s characters.", n=limit))
    elif f.type == "textarea":
        if len(value) > MAX_TEXTAREA:
            return str(_l("At most %(n)s characters.", n=MAX_TEXTAREA))
    elif f.type in ("radio", "select"):
        if value not in (f.option("options") or []):
            return str(_l("Please choose one of the options."))
    elif f.type == "email":
        addresses = [a.strip() for a in value.split(",")] if f.option("multiple") else [value]
        if len(value) > 1000 or not all(_EMAIL_RE.match(a) for a in addresses if a) or not any(addresses):
            return (str(_l("Please enter valid email addresses, separated by commas.")) if f.option("multiple")
                    else str(_l("Please enter a valid email address.")))
    elif f.type == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return str(_l("Please enter a date as YYYY-MM-DD."))
        low, high = date_bound(f.option("min")), date_bound(f.option("max"))
        if low and day < low:
            return str(_l("The date must be on or after %(d)s.", d=format_date(low)))
        if high and day > high:
            return str(_l("The date must be on or before %(d)s.", d=format_date(high)))
    return None


# --- showing fields on forms and values on pages ---------------------------------------------------

@dataclass
class Widget:
    """What the template needs to draw one field: kind, name, label, value(s) and its error."""

    field: CustomField
    label: str
    required: bool
    value: Any = ""
    error: str | None = None
    choices: list[str] = dc_field(default_factory=list)

    @property
    def name(self) -> str:
        return self.field.form_name

    @property
    def type(self) -> str:
        return self.field.type

    @property
    def place(self) -> str:
        return self.field.place

    def option(self, key: str, default: Any = None) -> Any:
        return self.field.option(key, default)

    def is_chosen(self, choice: str) -> bool:
        if isinstance(self.value, list):
            return choice in self.value
        return self.value == choice

    @property
    def date_min(self) -> str:
        bound = date_bound(self.field.option("min"))
        return bound.isoformat() if bound else ""

    @property
    def date_max(self) -> str:
        bound = date_bound(self.field.option("max"))
        return bound.isoformat() if bound else ""


def widgets(fields: Iterable[CustomField], values: Mapping[str, Any] | None = None,
            errors: Mapping[str, str] | None = None, *, staff: bool = False,
            use_defaults: bool = True) -> list[Widget]:
    """Widgets for a form. ``values`` are what was typed (or pre-filled); without one, a field shows its
    default (``use_defaults``)."""
    values = values or {}
    errors = errors or {}
    out = []
    for f in fields:
        name = f.form_name
        if name in values:
            value = values[name]
        elif use_defaults:
            value = f.option("default", [] if f.type == "checkbox" else "")
            if f.type == "radio" and not value and not f.option("no_default") and f.option("options"):
                value = f.option("options")[0]
        else:
            value = [] if f.type == "checkbox" else ""
        if f.type == "checkbox" and not isinstance(value, list):
            value = [value] if value else []
        out.append(Widget(field=f, label=label(f), required=is_required(f, staff=staff), value=value,
                          error=errors.get(name), choices=list(f.option("options") or [])))
    return out


def split(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """(before the message, after the message)."""
    before = [w for w in items if (w.place if hasattr(w, "place") else w.field.place) == PLACE_BEFORE]
    after = [w for w in items if w not in before]
    return before, after


def display_value(f: CustomField, value: Any) -> str:
    """A stored value as text (checkbox options joined, dates in the page's format)."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if f.type == "date":
        try:
            return format_date(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    return str(value)


def shown_values(ticket_custom: Mapping[str, Any] | None, fields: Iterable[CustomField]) -> list[tuple[str, str, str]]:
    """(label, text, type) of each field with a value on a ticket, in the fields' order."""
    custom = ticket_custom or {}
    out = []
    for f in fields:
        text = display_value(f, custom.get(f.form_name))
        if text:
            out.append((label(f), text, f.type))
    return out


def prefill(fields: Iterable[CustomField], args: Mapping[str, Any]) -> dict[str, Any]:
    """Values pre-filled from the URL (HESK: ``?custom1=...``), for the given fields only."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.type == "checkbox":
            chosen = [v for v in _many(args, f.form_name) if v in (f.option("options") or [])]
            if chosen:
                out[f.form_name] = chosen
        elif f.form_name in args:
            out[f.form_name] = _one(args, f.form_name)[:MAX_TEXT]
    return out


def create_field(*, id: int, type: str, names: dict[str, str], visibility: str = VISIBILITY_PUBLIC,
                 required: str = "never", place: str = PLACE_BEFORE, category_ids: list[int] | None = None,
                 options: dict[str, Any] | None = None, sort_order: int | None = None,
                 enabled: bool = True) -> CustomField:
    """Add a custom field (the admin page of the staff-management issue calls this)."""
    if type not in FIELD_TYPES:
        raise ValueError(f"unknown custom field type {type}")
    if type in ("radio", "select", "checkbox") and len((options or {}).get("options") or []) < 1:
        raise ValueError("a choice field needs options")
    f = CustomField(id=id, type=type, names=names, visibility=visibility, required=required, place=place,
                    category_ids=category_ids, options=options or None,
                    sort_order=id * 10 if sort_order is None else sort_order, enabled=enabled)
    db.session.add(f)
    db.session.commit()
    return f


# --- managing the fields (the admin page admin/custom_fields.py) ------------------------------------------
# Rules: an English name; per type, its options (a choice field needs at least one option, no option
# twice; a default must fit the field; date bounds are dates or +N/-N days, weeks, months, years);
# fields of chosen categories need at least one existing category. A field's id is the N of customN:
# HESK's slots 1..100 (the ticket search knows no others). Deleting a field deletes its stored values.

MAX_FIELDS = 100
MAX_NAME = 255
MAX_OPTIONS = 100
MAX_OPTION = 255
MAX_ROWS = 50
NAME_LANGUAGES = ("en", "uk", "ru", "bg", "lv")
VISIBILITIES = (VISIBILITY_PUBLIC, "staff")
REQUIRED_RULES = ("never", REQUIRED_CUSTOMERS, REQUIRED_ALWAYS)
PLACES = (PLACE_BEFORE, "after")


class InvalidField(Exception):
    """Bad input: ``errors`` maps a form field name to its message. Nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class FieldNotFound(Exception):
    pass


def all_fields() -> list[CustomField]:
    """Every field, enabled or not, public or staff-only, in the forms' order."""
    return list(db.session.scalars(select(CustomField).order_by(CustomField.sort_order, CustomField.id)))


def get_field(field_id: int) -> CustomField:
    f = db.session.get(CustomField, field_id)
    if f is None:
        raise FieldNotFound(field_id)
    return f


def _whole_number(text: Any, low: int, high: int, key: str, errors: dict[str, str]) -> int | None:
    text = str(text or "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        errors[key] = str(_l("Enter a whole number from %(low)s to %(high)s, or leave it empty.", low=low, high=high))
        return None
    return int(text)


def _one_line(text: Any, limit: int, key: str, errors: dict[str, str]) -> str:
    text = str(text or "").strip()
    if _ONE_LINE_BREAKERS.search(text):
        errors[key] = str(_l("This must be a single line."))
    elif len(text) > limit:
        errors[key] = str(_l("At most %(n)s characters.", n=limit))
    return text


def _date_spec(text: Any, key: str, errors: dict[str, str]) -> str:
    text = str(text or "").strip()
    if not text:
        return ""
    try:
        date_bound(text)
    except ValueError:
        errors[key] = str(_l("Enter a date as YYYY-MM-DD, or days, weeks, months or years from the day the "
                             "form is filled in, such as +3d, -1w, +2m or -1y."))
        return text
    return text.lower().replace(" ", "")


def _type_options(type: str, given: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The ``options`` JSON of a field of this type from the form's values, checked."""
    out: dict[str, Any] = {}
    if type in ("text", "hidden"):
        max_length = _whole_number(given.get("max_length"), 1, MAX_TEXT, "max_length", errors)
        if max_length:
            out["max_length"] = max_length
        default = _one_line(given.get("default"), max_length or MAX_TEXT, "default", errors)
        if default:
            out["default"] = default
    elif type == "textarea":
        rows = _whole_number(given.get("rows"), 1, MAX_ROWS, "rows", errors)
        if rows:
            out["rows"] = rows
        default = str(given.get("default") or "").strip()
        if len(default) > MAX_TEXTAREA:
            errors["default"] = str(_l("At most %(n)s characters.", n=MAX_TEXTAREA))
        elif default:
            out["default"] = default
    elif type in ("radio", "select", "checkbox"):
        raw = given.get("options") or ""
        lines = raw if isinstance(raw, (list, tuple)) else str(raw).splitlines()
        options = [" ".join(str(line).split()) for line in lines]
        options = [o for o in options if o]
        seen: set[str] = set()
        doubles = [o for o in options if o in seen or seen.add(o)]
        if not options:
            errors["options"] = str(_l("Enter at least one option, one per line."))
        elif doubles:
            errors["options"] = str(_l("The option \"%(option)s\" is there twice.", option=doubles[0]))
        elif len(options) > MAX_OPTIONS:
            errors["options"] = str(_l("At most %(n)s options.", n=MAX_OPTIONS))
        elif any(len(o) > MAX_OPTION for o in options):
            errors["options"] = str(_l("An option may have at most %(n)s characters.", n=MAX_OPTION))
        out["options"] = options
        default = " ".join(str(given.get("default") or "").split())
        if default and type != "checkbox":
            if default not in options:
                errors["default"] = str(_l("The default must be one of the options."))
            out["default"] = default
        if type == "radio" and given.get("no_default"):
            out["no_default"] = True
        if type == "select":
            out["select_prompt"] = bool(given.get("select_prompt"))
    elif type == "date":
        low = _date_spec(given.get("date_min"), "date_min", errors)
        high = _date_spec(given.get("date_max"), "date_max", errors)
        if low:
            out["min"] = low
        if high:
            out["max"] = high
        if low and high and not errors.keys() & {"date_min", "date_max"}:
            if date_bound(low) > date_bound(high):
                errors["date_max"] = str(_l("The latest date is before the earliest date."))
    elif type == "email":
        if given.get("multiple"):
            out["multiple"] = True
    return out


def _free_id() -> int | None:
    """HESK's slot for a new field: after the highest one used, else the first free one (a deleted field's
    values went with it)."""
    used = set(db.session.scalars(select(CustomField.id)))
    highest = max(used, default=0)
    if highest < MAX_FIELDS:
        return highest + 1
    return next((n for n in range(1, MAX_FIELDS + 1) if n not in used), None)


def save_field(field_id: int | None, *, type: str, names: Mapping[str, str], enabled: bool, visibility: str,
               required: str, place: str, category_ids: list[int] | None,
               type_options: Mapping[str, Any]) -> CustomField:
    """Create (``field_id`` None) or update a field. ``category_ids`` None: every category.
    ``type_options``: the form's raw values (max_length, default, rows, options as lines, no_default,
    select_prompt, date_min, date_max, multiple); only those of the type are kept. Raises InvalidField."""
    from hesk_py.models import Category

    errors: dict[str, str] = {}
    field = get_field(field_id) if field_id is not None else None
    if type not in FIELD_TYPES:
        errors["type"] = str(_l("Choose a type."))
    clean_names: dict[str, str] = {}
    for lang in NAME_LANGUAGES:
        value = " ".join(str(names.get(lang) or "").split())
        if len(value) > MAX_NAME:
            errors[f"name_{lang}"] = str(_l("At most %(n)s characters.", n=MAX_NAME))
        elif value:
            clean_names[lang] = value
    if "en" not in clean_names and "name_en" not in errors:
        errors["name_en"] = str(_l("Enter the field's name in English."))
    for key, value, allowed in (("visibility", visibility, VISIBILITIES), ("required", required, REQUIRED_RULES),
                                ("place", place, PLACES)):
        if value not in allowed:
            errors[key] = str(_l("Choose one of the options."))
    if category_ids is not None:
        wanted = sorted({int(c) for c in category_ids})
        known = set(db.session.scalars(select(Category.id).where(Category.id.in_(wanted or [0]))))
        if not wanted or set(wanted) - known:
            errors["categories"] = str(_l("Choose at least one category."))
        category_ids = wanted
    options = _type_options(type, type_options, errors) if type in FIELD_TYPES else {}
    new_id = None
    if field is None:
        new_id = _free_id()
        if new_id is None:
            errors["type"] = str(_l("There are %(n)s custom fields already, the most a help desk can have.",
                                    n=MAX_FIELDS))
    if errors:
        raise InvalidField(errors)
    if field is None:
        order = (db.session.scalar(select(func.max(CustomField.sort_order))) or 0) + 10
        field = CustomField(id=new_id, sort_order=order)
        db.session.add(field)
    field.type = type
    field.names = clean_names
    field.enabled = bool(enabled)
    field.visibility = visibility
    field.required = required
    field.place = place
    field.category_ids = category_ids
    field.options = options or None
    db.session.commit()
    return field


def move_field(field_id: int, direction: int) -> None:
    """Swap a field with its neighbour in the order (-1 up, 1 down), renumbering 10, 20, 30 ..."""
    rows = all_fields()
    index = next((i for i, r in enumerate(rows) if r.id == field_id), None)
    if index is None:
        raise FieldNotFound(field_id)
    other = index + direction
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for i, row in enumerate(rows):
        row.sort_order = (i + 1) * 10
    db.session.commit()


def stored_value_count(field: CustomField) -> int:
    from hesk_py.services import tickets

    return tickets.count_custom_values(field.form_name)


def delete_field(field_id: int) -> int:
    """Delete a field and, in the same transaction, its value on every ticket (through the ticket
    service); returns how many tickets lost a value."""
    from hesk_py.services import tickets

    field = get_field(field_id)
    with tickets.one_transaction():
        removed = tickets.remove_custom_values(field.form_name)
        db.session.delete(field)
    return removed
