"""The help desk settings: every key declared once, with its default, type, bounds, tab and [?] help.

This module is the only code that touches the ``hesk_settings`` table. Keys are HESK's where HESK has
the setting (reference/HESK.md §4); nested HESK keys use dotted names (``attachments.max_size``).
Only values that differ from the default are stored (as JSON). Reading is strict: an unknown key
raises ``UnknownSetting``. The stored overrides are loaded once per application context (one query
per request) and cached on ``flask.g``.

HESK settings left out because they do not apply to a Python app: the database options of the General
tab (``db_*``: the bootstrap config holds them), ``admin_dir`` and ``attach_dir`` (paths are bootstrap
options), ``cache_dir``, ``check_updates`` (no calls to hesk.com), ``site_theme`` folder testing.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import g
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from hesk_py.extensions import db

TABS = ("general", "help_desk", "look", "knowledgebase", "email", "ticket_list", "misc")
KINDS = ("bool", "int", "float", "str", "text", "email", "url", "choice", "list", "host", "password")

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_URL_RE = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9a-fA-F:.]+\]?$")


class UnknownSetting(KeyError):
    """A key that is not declared here: a typo, or a setting from another version."""

    def __str__(self) -> str:
        return f"unknown setting: {self.args[0]}"


class SettingsError(ValueError):
    """One or more values were refused. ``errors`` maps each key to a message for the user."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SettingDef:
    key: str
    default: Any
    kind: str
    tab: str
    group: str
    label: Any
    help: Any = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    required: bool = False
    # secrets are masked by "hesk-py settings list" and never logged
    secret: bool = False
    max_length: int = 0
    extra: dict = field(default_factory=dict)


_REGISTRY: dict[str, SettingDef] = {}


def declare(key: str, default: Any, kind: str, *, tab: str, group: str, label: Any, help: Any = "", **kw) -> None:
    if key in _REGISTRY:
        raise ValueError(f"setting {key} declared twice")
    if kind not in KINDS:
        raise ValueError(f"setting {key}: unknown kind {kind}")
    if tab not in TABS:
        raise ValueError(f"setting {key}: unknown tab {tab}")
    if "choices" in kw:
        kw["choices"] = tuple(kw["choices"])
    _REGISTRY[key] = SettingDef(key, default, kind, tab, group, label, help, **kw)


def definition(key: str) -> SettingDef:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownSetting(key) from None


def definitions(tab: str | None = None) -> list[SettingDef]:
    return [d for d in _REGISTRY.values() if tab is None or d.tab == tab]


def choice_values(d: SettingDef) -> list:
    return [c[0] if isinstance(c, tuple) else c for c in d.choices]


def coerce(key: str, raw: Any) -> Any:
    """Turn ``raw`` (a Python value, or a string from a form or the command line) into the setting's
    type and check its bounds. Raises SettingsError({key: message})."""
    d = definition(key)

    def fail(msg):
        raise SettingsError({key: str(msg)})

    kind = d.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        s = str(raw).strip().lower()
        if s in {"1", "true", "yes", "on"}:
            return True
        if s in {"0", "false", "no", "off", ""}:
            return False
        fail(_l("Must be on or off (1/0, true/false)."))
    if kind in ("int", "float"):
        if isinstance(raw, bool):
            fail(_l("Must be a number."))
        try:
            value = int(str(raw).strip()) if kind == "int" else float(str(raw).strip())
        except ValueError:
            fail(_l("Must be a whole number.") if kind == "int" else _l("Must be a number."))
        if d.min is not None and value < d.min:
            fail(_l("Must be at least %(min)s.", min=_num(d.min)))
        if d.max is not None and value > d.max:
            fail(_l("Must be at most %(max)s.", max=_num(d.max)))
        return value
    if kind == "list":
        if isinstance(raw, str):
            items = [p.strip() for p in re.split(r"[,\n]", raw) if p.strip()]
        elif isinstance(raw, (list, tuple)):
            items = [str(p).strip() for p in raw if str(p).strip()]
        else:
            fail(_l("Must be a list."))
        allowed = choice_values(d)
        if allowed:
            bad = [i for i in items if i not in allowed]
            if bad:
                fail(_l("Not allowed: %(values)s.", values=", ".join(bad)))
        if d.required and not items:
            fail(_l("Choose at least one."))
        return items
    # string kinds
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raw = str(raw)
    value = raw if kind in ("text", "password") else raw.strip()
    if kind != "text" and ("\r" in value or "\n" in value):
        fail(_l("Must be a single line."))
    if d.required and not value:
        fail(_l("This setting cannot be empty."))
    if d.max_length and len(value) > d.max_length:
        fail(_l("At most %(n)s characters.", n=d.max_length))
    if value:
        if kind == "email" and not _EMAIL_RE.match(value):
            fail(_l("Enter a valid email address."))
        if kind == "url":
            if not _URL_RE.match(value):
                fail(_l("Enter a URL starting with http:// or https://."))
            value = value.rstrip("/")
        if kind == "host" and not _HOST_RE.match(value):
            fail(_l("Enter a host name or IP address only (no http://, no path, no port)."))
    if kind == "choice":
        allowed = choice_values(d)
        # choices may be ints: compare as strings, return the declared value
        for c in allowed:
            if str(c) == value:
                return c
        fail(_l("Choose one of: %(values)s.", values=", ".join(str(c) for c in allowed)))
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _overrides() -> dict[str, Any]:
    cache = g.get("_hesk_settings")
    if cache is None:
        from hesk_py.models import Setting

        cache = {}
        for key, value in db.session.execute(select(Setting.key, Setting.value)):
            if key in _REGISTRY:  # rows of keys removed in a newer version are ignored
                cache[key] = value
        g._hesk_settings = cache
    return cache


def get(key: str) -> Any:
    d = definition(key)
    return _overrides().get(key, d.default)


def all_values() -> dict[str, Any]:
    over = _overrides()
    return {k: over.get(k, d.default) for k, d in _REGISTRY.items()}


def stored() -> dict[str, Any]:
    """Only the overrides, as stored."""
    return dict(_overrides())


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Coerce every value; collect every error (not just the first) into one SettingsError."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        try:
            clean[key] = coerce(key, raw)
        except SettingsError as exc:
            errors.update({k: str(v) for k, v in exc.errors.items()})
        except UnknownSetting as exc:
            errors[key] = str(exc)
    if errors:
        raise SettingsError(errors)
    return clean


def save(values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Validate and write ``values`` in one transaction. Returns {key: (old, new)} for what changed.

    Nothing is written when any value is refused.
    """
    from hesk_py.models import Setting

    clean = validate(values)
    current = all_values()
    changed = {k: (current[k], v) for k, v in clean.items() if current[k] != v}
    try:
        for key, (_old, new) in changed.items():
            if _same(new, _REGISTRY[key].default):
                db.session.execute(delete(Setting).where(Setting.key == key))
            else:
                row = db.session.get(Setting, key)
                if row is None:
                    db.session.add(Setting(key=key, value=new))
                else:
                    row.value = new
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    g.pop("_hesk_settings", None)
    return changed


def reset(key: str) -> None:
    from hesk_py.models import Setting

    definition(key)
    db.session.execute(delete(Setting).where(Setting.key == key))
    db.session.commit()
    g.pop("_hesk_settings", None)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def template_value(key: str) -> Any:
    """``hesk_setting(key)`` in templates: the default before install or when the database is down."""
    from flask import current_app

    if not current_app.config.get("HESK_INSTALLED"):
        return definition(key).default
    try:
        return get(key)
    except UnknownSetting:
        raise
    except Exception:
        db.session.rollback()
        return definition(key).default


def init_app(app) -> None:
    app.jinja_env.globals["hesk_setting"] = template_value


def display(key: str, value: Any) -> str:
    """A value as text for people and the command line (secrets masked)."""
    d = definition(key)
    if d.secret and value:
        return "********"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# The declarations, tab by tab, in HESK's order (reference/HESK.md §4).
# ---------------------------------------------------------------------------------------------

# General
declare("site_title", "Website", "str", tab="general", group="general", required=True, max_length=255,
        label=_l("Website title"),
        help=_l("The title of your main website. Shown as the link back to your website at the top of "
                "customer pages."))
declare("site_url", "https://www.example.com", "url", tab="general", group="general", required=True,
        label=_l("Website URL"), help=_l("The address of your main website, for that link."))
declare("hesk_title", "Help Desk", "str", tab="general", group="general", required=True, max_length=255,
        label=_l("Help desk title"),
        help=_l("The name of your help desk, shown on every page, in emails and in authenticator apps."))
declare("hesk_url", "https://www.example.com/helpdesk", "url", tab="general", group="general", required=True,
        label=_l("Help desk URL"),
        help=_l("The address of the help desk, without a trailing slash. Used for links in emails sent "
                "by background jobs."))
declare("webmaster_mail", "support@example.com", "email", tab="general", group="general", required=True,
        label=_l("Webmaster email"),
        help=_l("A contact address shown to customers when something goes wrong, for example when the "
                "database is unreachable."))
declare("language", "en", "choice", tab="general", group="language", choices=("en", "uk", "ru", "bg", "lv"),
        label=_l("Default language"),
        help=_l("The language of the help desk for customers, and for staff who did not choose their own."))
declare("can_sel_lang", False, "bool", tab="general", group="language", label=_l("Multiple languages"),
        help=_l("Let customers and staff choose the language of the pages. Turn on only when you can "
                "answer in every enabled language."))

# Help desk
declare("max_listings", 20, "int", tab="help_desk", group="help_desk", min=1, max=500,
        label=_l("Listings per page"), help=_l("How many tickets a page of the ticket list shows."))
declare("autoassign", True, "bool", tab="help_desk", group="features", label=_l("Auto-assign tickets"),
        help=_l("Assign new tickets automatically to the staff member with the fewest open tickets in the "
                "ticket's category (only for categories with auto-assign on)."))
declare("autoclose", 0, "int", tab="help_desk", group="features", min=0, max=9999,
        label=_l("Auto-close tickets"),
        help=_l("Resolve tickets that have waited this many days for the customer's answer. 0 turns it off."))
declare("max_open", 0, "int", tab="help_desk", group="features", min=0, max=9999,
        label=_l("Max open tickets"),
        help=_l("How many open tickets one email address may have at a time. 0 means no limit."))
declare("require_email", True, "bool", tab="help_desk", group="features", label=_l("Require email"),
        help=_l("Customers must give an email address to submit a ticket."))
declare("custclose", True, "bool", tab="help_desk", group="features", label=_l("Customers can resolve"),
        help=_l("Customers may mark their own tickets resolved."))
declare("custopen", True, "bool", tab="help_desk", group="features", label=_l("Customers can reopen"),
        help=_l("Customers may reopen resolved tickets by replying or with a button."))
declare("rating", True, "bool", tab="help_desk", group="features", label=_l("Enable rating"),
        help=_l("Customers may rate each staff reply as helpful or not helpful."))
declare("cust_urgency", True, "bool", tab="help_desk", group="features", label=_l("Customer priority"),
        help=_l("Customers may choose the priority of their ticket (from the priorities they are allowed "
                "to select)."))
declare("email_view_ticket", True, "bool", tab="help_desk", group="security", label=_l("Email for viewing tickets"),
        help=_l("Customers must enter their email address as well as the tracking ID to view a ticket."))
declare("attempt_limit", 6, "int", tab="help_desk", group="security", min=0, max=100,
        label=_l("Login attempts"),
        help=_l("After this many failed logins or ticket look-ups from one IP address, that address is "
                "blocked for a while. 0 turns the limit off."))
declare("attempt_banmin", 60, "int", tab="help_desk", group="security", min=1, max=10080,
        label=_l("Block duration (minutes)"),
        help=_l("How many minutes an IP address stays blocked after too many failed attempts."))
declare("flood", 3, "int", tab="help_desk", group="security", min=0, max=3600,
        label=_l("Flood protection (seconds)"),
        help=_l("The minimum number of seconds between two tickets from the same IP address."))
declare("secimg_use", 1, "choice", tab="help_desk", group="spam", choices=(0, 1, 2),
        label=_l("Use anti-spam image"),
        help=_l("Show a built-in CAPTCHA on the ticket form: 0 off, 1 on the public form, 2 also for "
                "logged-in staff."))
declare("question_use", False, "bool", tab="help_desk", group="spam", label=_l("Anti-spam question"),
        help=_l("Ask customers a question that a person answers easily and a robot does not."))
declare("question_ask", "Type <i>PB6YM</i> here to fight SPAM:", "text", tab="help_desk", group="spam",
        label=_l("Question"), help=_l("The anti-spam question shown on the ticket form."))
declare("question_ans", "PB6YM", "str", tab="help_desk", group="spam", label=_l("Answer"),
        help=_l("The expected answer (not case sensitive)."))
declare("attachments.use", True, "bool", tab="help_desk", group="attachments", label=_l("Use attachments"),
        help=_l("Let customers and staff attach files to tickets and replies."))
declare("attachments.max_number", 2, "int", tab="help_desk", group="attachments", min=1, max=99,
        label=_l("Number of attachments"), help=_l("How many files one ticket or reply may carry."))
declare("attachments.max_size", 2048, "int", tab="help_desk", group="attachments", min=1, max=1048576,
        label=_l("Max file size (KB)"), help=_l("The largest file accepted, in kilobytes."))
declare("attachments.allowed_types",
        [".gif", ".jpg", ".jpeg", ".png", ".zip", ".rar", ".csv", ".doc", ".docx", ".xls", ".xlsx",
         ".txt", ".pdf"],
        "list", tab="help_desk", group="attachments", label=_l("Allowed file types"),
        help=_l("File extensions customers and staff may upload, separated by commas. The file's content "
                "must match its extension."))

# Knowledgebase
declare("kb_enable", 1, "choice", tab="knowledgebase", group="knowledgebase", choices=(0, 1, 2),
        label=_l("Enable knowledgebase"),
        help=_l("0 off, 1 on, 2 knowledgebase only (the ticket form is hidden from customers)."))
declare("kb_recommendanswers", True, "bool", tab="knowledgebase", group="knowledgebase",
        label=_l("Suggest articles"),
        help=_l("While customers type a ticket, show knowledgebase articles that may answer it."))

# Email
declare("noreply_mail", "noreply@example.com", "email", tab="email", group="sending", required=True,
        label=_l("From: email"), help=_l("The address notifications are sent from."))
declare("noreply_name", "Help Desk", "str", tab="email", group="sending", max_length=255,
        label=_l("From: name"), help=_l("The name notifications are sent from."))
declare("smtp", False, "bool", tab="email", group="sending", label=_l("Send email with SMTP"),
        help=_l("Deliver mail through an SMTP server. When off, mail is handed to the local server on "
                "localhost port 25."))
declare("smtp_host_name", "localhost", "host", tab="email", group="sending", label=_l("SMTP host"),
        help=_l("The SMTP server's host name or IP address (no http://, no port)."))
declare("smtp_host_port", 25, "int", tab="email", group="sending", min=1, max=65535, label=_l("SMTP port"),
        help=_l("Usually 25, 465 (SSL) or 587 (STARTTLS)."))
declare("smtp_timeout", 20, "int", tab="email", group="sending", min=1, max=300, label=_l("SMTP timeout"),
        help=_l("Seconds to wait for the SMTP server before giving up (the mail is retried later)."))
declare("smtp_enc", "", "choice", tab="email", group="sending", choices=("", "ssl", "tls"),
        label=_l("SMTP encryption"), help=_l("None, SSL (implicit TLS) or TLS (STARTTLS)."))
declare("smtp_user", "", "str", tab="email", group="sending", label=_l("SMTP username"),
        help=_l("Leave empty when the server needs no login."))
declare("smtp_password", "", "password", tab="email", group="sending", secret=True, label=_l("SMTP password"),
        help=_l("The SMTP password. It is stored in the database and never shown again."))
declare("notify_new", True, "bool", tab="email", group="notify", label=_l("Ticket received"),
        help=_l("Email customers a confirmation with their tracking ID when they submit a ticket."))
declare("notify_closed", True, "bool", tab="email", group="notify", label=_l("Ticket closed"),
        help=_l("Email customers when their ticket is resolved."))

# Ticket list
declare("ticket_list", ["trackid", "lastchange", "name", "subject", "status", "lastreplier"], "list",
        tab="ticket_list", group="ticket_list",
        choices=("id", "trackid", "dt", "lastchange", "category", "name", "email", "subject", "status",
                 "owner", "replies", "staffreplies", "lastreplier", "time_worked", "priority", "due_date"),
        required=True, label=_l("Columns"), help=_l("The columns of the staff ticket list."))

# Misc
declare("timezone", "UTC", "str", tab="misc", group="datetime", max_length=64, label=_l("Time zone"),
        help=_l("Dates and times on every page and in emails are shown in this time zone."))
declare("maintenance_mode", False, "bool", tab="misc", group="other", label=_l("Maintenance mode"),
        help=_l("Customers see a maintenance notice instead of the help desk; staff can still log in."))
