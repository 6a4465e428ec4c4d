"""The notification emails' texts: defaults, an administrator's overrides, and turning either into a mail.

Every notification has a default: its subject in ``hesk_py/services/mailer.py`` ``SUBJECTS`` and its text in
``templates/email/<name>.txt``, both translated by Flask-Babel. An administrator may override the subject,
the plain text and the HTML of one notification in one language (``hesk_email_templates``); "reset to
default" deletes the override.

An override is written with HESK's tags (``%%NAME%%``, ``%%TRACK_ID%%``, ``%%CUSTOM1%%``, ...) and may use
Jinja (``{% if due_date %}``), rendered by a sandboxed environment: attribute tricks such as
``{{ ''.__class__ }}`` raise ``SecurityError``. A tag becomes a Jinja variable before the template is
compiled, so what a customer typed (a subject with ``{{ }}`` in it) is only ever data, never template.
The HTML version is sanitised with nh3 after rendering; without an HTML version the HTML is made from the
plain text (escaped, addresses made into links). ``email_formatting`` decides which parts a mail carries.

``compose`` is what the mailer calls for each outbox row; the admin page (admin/email_templates.py) uses
``defaults``, ``save``, ``reset`` and ``preview``.
"""
from __future__ import annotations

import functools
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable, Mapping

from flask import render_template
from flask_babel import force_locale, format_date, format_datetime, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateError, TemplateSyntaxError, Undefined, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import delete, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.i18n import LANGUAGES
from hesk_py.models import Attachment, EmailTemplate, Note, Reply, Ticket
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError

log = logging.getLogger(__name__)

MAX_SUBJECT = 255
MAX_BODY = 65_000
MAX_OUTPUT = 1_000_000  # characters one rendered part may have (a runaway loop stops here)

AUDIENCE_CUSTOMER = "customer"
AUDIENCE_STAFF = "staff"

FORMAT_TEXT, FORMAT_HTML, FORMAT_HTML_TEXT_FROM_HTML, FORMAT_HTML_AND_TEXT = 0, 1, 2, 3


# --- what there is ---------------------------------------------------------------------------------------

# Tags every template may use.
SITE_TAGS = (
    ("%%SITE_TITLE%%", _l("The help desk's title")),
    ("%%SITE_URL%%", _l("The help desk's address")),
)
# Tags of a ticket (the templates about one ticket).
TICKET_TAGS = (
    ("%%NAME%%", _l("Customer's name")),
    ("%%FIRST_NAME%%", _l("Customer's first name")),
    ("%%EMAIL%%", _l("Customer's email")),
    ("%%REQUESTER%%", _l("The customer who opened the ticket: name and email")),
    ("%%REQUESTER_NAME%%", _l("Name of the customer who opened the ticket")),
    ("%%REQUESTER_FIRST_NAME%%", _l("First name of the customer who opened the ticket")),
    ("%%REQUESTER_EMAIL%%", _l("Email of the customer who opened the ticket")),
    ("%%FOLLOWERS%%", _l("The ticket's followers (Cc): names and emails")),
    ("%%FOLLOWER_NAMES%%", _l("Names of the ticket's followers")),
    ("%%FOLLOWER_EMAILS%%", _l("Emails of the ticket's followers")),
    ("%%TRACK_ID%%", _l("Tracking ID")),
    ("%%ID%%", _l("Ticket number")),
    ("%%SUBJECT%%", _l("Subject")),
    ("%%CATEGORY%%", _l("Category")),
    ("%%OWNER%%", _l("Assigned to (owner)")),
    ("%%STATUS%%", _l("Status")),
    ("%%PRIORITY%%", _l("Priority")),
    ("%%DUE_DATE%%", _l("Due date")),
    ("%%CREATED%%", _l("Date the ticket was submitted")),
    ("%%UPDATED%%", _l("Date of the last change")),
    ("%%TRACK_URL%%", _l("Link to the ticket")),
    ("%%MESSAGE%%", _l("The message this email is about (the ticket, reply or note), with links to its "
                       "attachments")),
    ("%%ATTACHMENTS%%", _l("Links to the attachments of that message (then they are not repeated under "
                           "%%MESSAGE%%)")),
    ("%%CUSTOM1%%", _l("Custom field 1 (CUSTOM2, CUSTOM3, ... likewise)")),
)
_STAFF_RECIPIENT = ("%%STAFF_NAME%%", _l("Name of the staff member this email is sent to"))
_ACCOUNT_TAGS = (("%%NAME%%", _l("Customer's name")), ("%%FIRST_NAME%%", _l("Customer's first name")),
                 ("%%EMAIL%%", _l("Customer's email")))
_HOURS = ("%%HOURS%%", _l("Hours the link works"))
_REJECTED_TAGS = (("%%NAME%%", _l("Sender's name")), ("%%EMAIL%%", _l("Sender's email")),
                  ("%%SUBJECT%%", _l("Subject of the email that was refused")),
                  ("%%CUSTOMER_LOGIN_URL%%", _l("Link to the login page")))


@dataclass(frozen=True)
class Info:
    """How the admin page shows one template."""
    name: str
    audience: str  # customer / staff
    title: Any
    description: Any
    tags: tuple  # (tag, meaning) beyond the site tags
    about_ticket: bool = True


_KNOWN: dict[str, Info] = {i.name: i for i in (
    Info("new_ticket", AUDIENCE_CUSTOMER, _l("Ticket received"),
         _l("Sent to the customer when their new ticket is filed."), TICKET_TAGS),
    Info("new_reply_by_staff", AUDIENCE_CUSTOMER, _l("New reply by staff"),
         _l("Sent to the customer when staff reply to their ticket."),
         TICKET_TAGS + (("%%STAFF_NAME%%", _l("Name of the staff member who replied")),)),
    Info("ticket_closed", AUDIENCE_CUSTOMER, _l("Ticket resolved"),
         _l("Sent to the customer when their ticket is resolved."), TICKET_TAGS),
    Info("forgot_ticket_id", AUDIENCE_CUSTOMER, _l("Forgot tracking ID"),
         _l("Sent to a customer who asks for the list of their tickets."),
         (("%%NAME%%", _l("Customer's name")), ("%%FIRST_NAME%%", _l("Customer's first name")),
          ("%%EMAIL%%", _l("Customer's email")), ("%%NUM%%", _l("How many tickets are listed")),
          ("%%LIST_TICKETS%%", _l("The list of tickets: tracking ID, subject, status and link")),),
         about_ticket=False),
    Info("new_ticket_staff", AUDIENCE_STAFF, _l("New ticket"),
         _l("Sent to staff who may see a new unassigned ticket."), TICKET_TAGS + (_STAFF_RECIPIENT,)),
    Info("ticket_assigned_to_you", AUDIENCE_STAFF, _l("Ticket assigned to you"),
         _l("Sent to a staff member when a ticket is assigned to them."), TICKET_TAGS + (_STAFF_RECIPIENT,)),
    Info("new_reply_by_customer", AUDIENCE_STAFF, _l("New reply by the customer"),
         _l("Sent to the owner (or, when unassigned, to staff who may see it) when the customer replies."),
         TICKET_TAGS + (_STAFF_RECIPIENT,)),
    Info("new_note", AUDIENCE_STAFF, _l("Private note added"),
         _l("Sent to the owner when someone else adds a private note to their ticket."),
         TICKET_TAGS + (_STAFF_RECIPIENT, ("%%NOTE_AUTHOR%%", _l("Name of the staff member who wrote the note")))),
    Info("overdue_ticket", AUDIENCE_STAFF, _l("Ticket overdue"),
         _l("Sent once to the owner (or, when unassigned, to staff who may see it) when a ticket's due date "
            "has passed."), TICKET_TAGS + (_STAFF_RECIPIENT,)),
    Info("reset_password", AUDIENCE_STAFF, _l("Reset password"),
         _l("Sent to a staff member who asks to reset their password."),
         (_STAFF_RECIPIENT, ("%%USERNAME%%", _l("User name")),
          ("%%PASSWORD_RESET%%", _l("Link to choose a new password")),
          ("%%MINUTES%%", _l("Minutes the link works")), ("%%IP%%", _l("IP address the request came from"))),
         about_ticket=False),
    Info("mfa_verification", AUDIENCE_STAFF, _l("Verification code"),
         _l("Sent to a staff member or customer logging in with an email code as second factor."),
         (_STAFF_RECIPIENT, ("%%NAME%%", _l("Name of the staff member or customer this email is sent to")),
          ("%%VERIFICATION_CODE%%", _l("The verification code")),
          ("%%MINUTES%%", _l("Minutes the code works"))),
         about_ticket=False),
    # customer accounts (hesk_py/services/customer_accounts.py)
    Info("customer_verify_registration", AUDIENCE_CUSTOMER, _l("Verify your registration"),
         _l("Sent to a customer who registers: the link that confirms their email address."),
         _ACCOUNT_TAGS + (("%%VERIFICATION_URL%%", _l("Link to confirm the email address")), _HOURS),
         about_ticket=False),
    Info("customer_verify_new_email", AUDIENCE_CUSTOMER, _l("Verify your new email address"),
         _l("Sent to the new address when a customer changes the email address of their account."),
         _ACCOUNT_TAGS + (("%%VERIFICATION_URL%%", _l("Link to confirm the new email address")), _HOURS),
         about_ticket=False),
    Info("customer_reset_password", AUDIENCE_CUSTOMER, _l("Reset password (customers)"),
         _l("Sent to a customer who asks to reset the password of their account."),
         _ACCOUNT_TAGS + (("%%PASSWORD_RESET%%", _l("Link to choose a new password")),
                          ("%%MINUTES%%", _l("Minutes the link works")),
                          ("%%IP%%", _l("IP address the request came from"))),
         about_ticket=False),
    Info("customer_account_created", AUDIENCE_CUSTOMER, _l("Account created by staff"),
         _l("Sent to a customer whose account staff created: the link to choose a password."),
         _ACCOUNT_TAGS + (("%%PASSWORD_RESET%%", _l("Link to choose a password")), _HOURS),
         about_ticket=False),
    Info("customer_already_registered", AUDIENCE_CUSTOMER, _l("Already registered"),
         _l("Sent when someone registers with the address of an existing account (the page says the same "
            "as for a new address, so nobody learns which addresses have accounts)."),
         _ACCOUNT_TAGS + (("%%CUSTOMER_LOGIN_URL%%", _l("Link to the login page")),
                          ("%%PASSWORD_RESET%%", _l("Link to the forgotten password page"))),
         about_ticket=False),
    Info("customer_approved", AUDIENCE_CUSTOMER, _l("Account approved"),
         _l("Sent to a customer when staff approve their account."),
         _ACCOUNT_TAGS + (("%%CUSTOMER_LOGIN_URL%%", _l("Link to the login page")),), about_ticket=False),
    Info("customer_rejected", AUDIENCE_CUSTOMER, _l("Account rejected"),
         _l("Sent to a customer when staff reject their account."), _ACCOUNT_TAGS, about_ticket=False),
    Info("new_customer_approval", AUDIENCE_STAFF, _l("Customer accounts pending approval"),
         _l("Sent to staff who manage customers when a new account waits for approval."),
         (_STAFF_RECIPIENT, ("%%NAME%%", _l("Name of the customer who registered")),
          ("%%EMAIL%%", _l("Email of the customer who registered")),
          ("%%NUM%%", _l("How many accounts are waiting for approval"))),
         about_ticket=False),
    Info("email_rejected_can_self_register", AUDIENCE_CUSTOMER, _l("Email refused: register first"),
         _l("Sent to someone without an account whose email was not imported because accounts are required "
            "(when customers may register)."),
         _REJECTED_TAGS + (("%%CUSTOMER_REGISTER_URL%%", _l("Link to the registration page")),),
         about_ticket=False),
    Info("email_rejected_cannot_self_register", AUDIENCE_CUSTOMER, _l("Email refused: account needed"),
         _l("Sent to someone without an account whose email was not imported because accounts are required "
            "(when only staff create accounts)."), _REJECTED_TAGS, about_ticket=False),
)}

_CUSTOM_RE = re.compile(r"CUSTOM[0-9]{1,3}")
_TAG_RE = re.compile(r"%%([A-Za-z_]+[0-9]*)%%")
_JINJA_PART = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)
_TAG_NAMES = frozenset(t[2:-2] for tags in ([i.tags for i in _KNOWN.values()] + [SITE_TAGS, TICKET_TAGS])
                       for t, _m in tags if not t.startswith("%%CUSTOM"))


def names() -> list[str]:
    """Every notification the help desk sends (the mailer's list, those with a default text), in order."""
    from flask import current_app
    from jinja2 import TemplateNotFound

    from hesk_py.services.mailer import SUBJECTS

    found = []
    for name in SUBJECTS:
        try:
            current_app.jinja_env.get_template(f"email/{name}.txt")
        except TemplateNotFound:
            continue
        found.append(name)
    return found


def info(name: str) -> Info:
    if name not in names():
        raise EmailTemplateNotFound(name)
    found = _KNOWN.get(name)
    if found is not None:
        return found
    # a notification added to the mailer without a description here: the ticket's tags
    return Info(name, AUDIENCE_STAFF if name.endswith("_staff") else AUDIENCE_CUSTOMER,
                name.replace("_", " ").capitalize(), "", TICKET_TAGS + (_STAFF_RECIPIENT,))


def tags(name: str) -> tuple:
    return info(name).tags + SITE_TAGS


def languages() -> dict[str, str]:
    return dict(LANGUAGES)


class EmailTemplateNotFound(HeskError):
    pass


class InvalidEmailTemplate(HeskError):
    """``errors`` maps the form's field names (subject, body_text, body_html) to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- the sandbox -----------------------------------------------------------------------------------------

class _Undefined(Undefined):
    """A missing variable prints as nothing (a tag without a value is empty), but what the sandbox refused
    (``''.__class__``) raises, so the editor can say so instead of printing nothing."""
    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return ""


class _Sandbox(SandboxedEnvironment):
    # ``'x' * 10**9`` would take the memory of the process: large products and any power refused
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("the power operator is not allowed in email templates")
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                raise SecurityError("the result would be too large")
        return super().call_binop(context, operator, left, right)


@functools.lru_cache(maxsize=2)
def _environment(html: bool) -> _Sandbox:
    return _Sandbox(autoescape=html, undefined=_Undefined, keep_trailing_newline=False, auto_reload=False)


def _to_jinja(source: str) -> str:
    """HESK's tags as Jinja variables (``%%TRACK_ID%%`` -> ``{{ track_id }}``), outside Jinja's own
    blocks only; an unknown tag stays as typed."""
    def tag(m: re.Match) -> str:
        key = m.group(1).upper()
        if key in _TAG_NAMES or _CUSTOM_RE.fullmatch(key):
            return "{{ " + key.lower() + " }}"
        return m.group(0)

    parts = _JINJA_PART.split(source or "")
    return "".join(p if i % 2 else _TAG_RE.sub(tag, p) for i, p in enumerate(parts))


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool):
    return _environment(html).from_string(_to_jinja(source))


def _variables(source: str) -> set[str]:
    """The variables (tags) a template uses."""
    env = _environment(False)
    try:
        return set(meta.find_undeclared_variables(env.parse(_to_jinja(source))))
    except TemplateSyntaxError:
        return set()


def _render(source: str, values: Mapping[str, Any], *, html: bool) -> str:
    out = _compiled(source, html).render(values)
    if len(out) > MAX_OUTPUT:
        raise SecurityError("the rendered text is too long")
    return out


# --- text and HTML ---------------------------------------------------------------------------------------

_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)


def _linkify(text: str) -> Markup:
    """Plain text as HTML: escaped, http(s) addresses made into links."""
    out, pos = [], 0
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        while url and (url[-1] in ".,;:!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))):
            url = url[:-1]
        if len(url) <= len("https://"):
            continue
        start, end = match.start(), match.start() + len(url)
        out.append(escape(text[pos:start]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def text_to_html(text: str) -> Markup:
    """A plain text email as HTML: paragraphs, line breaks, everything escaped, links clickable."""
    paragraphs = [p for p in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip("\n")) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{0}</p>").format(Markup("<br>\n").join(_linkify(line) for line in p.split("\n")))
        for p in paragraphs)


def clean_html(html: str) -> str:
    """An administrator's HTML as it may go out: nh3's safe tags, no scripts, styles or handlers."""
    import nh3

    return nh3.clean(html or "", link_rel="noopener noreferrer")


_LINK_RE = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)


def html_to_text(html: str) -> str:
    """The plain text version of an HTML email: links keep their address."""
    from html import unescape

    from hesk_py.services.inbound import html_to_text as readable

    def link(m: re.Match) -> str:
        url, label = unescape(m.group(1)), m.group(2)
        shown = unescape(re.sub(r"<[^>]*>", "", label)).strip()
        return label if shown == url or not url else f"{label} ({escape(url)})"

    return readable(_LINK_RE.sub(link, html))


def _html_document(body: str, language: str, subject: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(subject)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


# --- the values of the tags ------------------------------------------------------------------------------

@dataclass
class Facts:
    """What a mail can say: the tags' values as text, the message it is about and that message's files."""
    values: dict[str, str]
    message: str = ""
    files: list = field(default_factory=list)  # Attachment rows, or (name, url) pairs for a sample
    list_tickets: str = ""
    # "markdown": a staff reply written in Markdown, rendered in the HTML part (the text part keeps the source)
    message_format: str = "text"


def base_url() -> str:
    return str(settings.get("hesk_url")).rstrip("/")


def default_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The variables of the default templates (templates/email/*.txt) for one outbox row's context."""
    ctx = dict(context or {})
    url = base_url()
    ctx.setdefault("hesk_title", settings.get("hesk_title"))
    ctx["hesk_url"] = url
    if ctx.get("trackid"):
        ctx["ticket_url"] = f"{url}/ticket?track={ctx['trackid']}"
        ctx["admin_ticket_url"] = f"{url}/admin/tickets/{ctx['trackid']}"
    for key, path in list(ctx.items()):  # reset_path -> reset_url, verification_path, login_path, ...
        if key.endswith("_path") and path:
            ctx[key[:-len("_path")] + "_url"] = f"{url}/{path}"
    if "tickets" in ctx:
        ctx.setdefault("count", len(ctx["tickets"]))
        ctx.setdefault("num", ctx["count"])
        ctx["list_tickets"] = _list_tickets(ctx["tickets"], url)
    return ctx


def _list_tickets(listed: Iterable[Mapping[str, Any]], url: str) -> str:
    blocks = []
    for t in listed:
        blocks.append("\n".join((
            f"{_('Tracking ID:')} {t.get('trackid', '')}",
            f"{_('Subject:')} {t.get('subject', '')}",
            f"{_('Status:')} {t.get('status', '')}",
            f"{url}/ticket?track={t.get('trackid', '')}",
        )))
    return "\n\n".join(blocks)


def _first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0] if name else ""


def _when(value) -> str:
    return format_datetime(to_user_timezone(value), "short") if value else ""


def facts_for(name: str, ctx: Mapping[str, Any], *, ticket_id: int | None, recipient: str = "") -> Facts:
    """The tag values of one outbox row: its context, and the ticket it is about read from the database."""
    from hesk_py.services import custom_fields
    from hesk_py.services.defaults import label

    audience = info(name).audience if name in names() else AUDIENCE_CUSTOMER
    url = base_url()
    trackid = str(ctx.get("trackid") or "")
    person = str(ctx.get("name") or ctx.get("staff_name") or "")
    values: dict[str, str] = {
        "_AUDIENCE": audience, "SITE_TITLE": str(settings.get("hesk_title")), "SITE_URL": url,
        "NAME": person, "FIRST_NAME": _first_name(person),
        "EMAIL": str(ctx.get("email") or ("" if trackid else recipient)),
        "TRACK_ID": trackid, "SUBJECT": str(ctx.get("subject") or ""),
        "STAFF_NAME": str(ctx.get("staff_name") or ""), "NOTE_AUTHOR": str(ctx.get("note_author") or ""),
        "USERNAME": str(ctx.get("username") or ""), "MINUTES": str(ctx.get("minutes") or ""),
        "IP": str(ctx.get("ip") or ""), "VERIFICATION_CODE": str(ctx.get("code") or ""),
        "PASSWORD_RESET": str(ctx.get("reset_url") or ""),
        "NUM": str(ctx.get("num") if ctx.get("num") is not None else ""),
        "VERIFICATION_URL": str(ctx.get("verification_url") or ""), "HOURS": str(ctx.get("hours") or ""),
        "CUSTOMER_LOGIN_URL": str(ctx.get("login_url") or ""),
        "CUSTOMER_REGISTER_URL": str(ctx.get("register_url") or ""),
    }
    if trackid:
        values["TRACK_URL"] = ctx["admin_ticket_url"] if audience == AUDIENCE_STAFF else ctx["ticket_url"]
    facts = Facts(values=values, list_tickets=str(ctx.get("list_tickets") or ""))
    ticket = db.session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None:
        return facts
    values.update({
        "ID": str(ticket.id), "CATEGORY": label(ticket.category) if ticket.category else "",
        "STATUS": label(ticket.status) if ticket.status else "",
        "PRIORITY": label(ticket.priority) if ticket.priority else "",
        "OWNER": ticket.owner.name if ticket.owner is not None else "",
        "DUE_DATE": format_date(to_user_timezone(ticket.due_date)) if ticket.due_date else "",
        "CREATED": _when(ticket.created_at), "UPDATED": _when(ticket.updated_at),
    })
    for key in ("NAME", "EMAIL", "SUBJECT"):
        values[key] = values[key] or str(getattr(ticket, key.lower()) or "")
    values["FIRST_NAME"] = _first_name(values["NAME"])
    from hesk_py.services import followers

    values.update(followers.tag_values(ticket))
    stored: Mapping[str, Any] = ticket.custom or {}
    if stored:
        # customers never see the values of staff-only fields
        for f in custom_fields.fields_for(ticket.category_id, staff=audience == AUDIENCE_STAFF):
            values[f.form_name.upper()] = custom_fields.display_value(f, stored.get(f.form_name))
    # the message this mail is about, and its files
    reply = db.session.get(Reply, ctx["reply_id"]) if ctx.get("reply_id") else None
    note = db.session.get(Note, ctx["note_id"]) if ctx.get("note_id") and audience == AUDIENCE_STAFF else None
    if reply is not None and reply.ticket_id == ticket.id:
        facts.message = reply.message
        facts.message_format = reply.message_format or "text"
        facts.files = list(db.session.scalars(select(Attachment).where(Attachment.reply_id == reply.id)
                                              .order_by(Attachment.id)))
    elif note is not None and note.ticket_id == ticket.id:
        facts.message = note.message
        facts.files = list(db.session.scalars(select(Attachment).where(Attachment.note_id == note.id)
                                              .order_by(Attachment.id)))
    else:
        facts.message = ticket.message or ""
        facts.files = list(db.session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id, Attachment.reply_id.is_(None),
                                     Attachment.note_id.is_(None)).order_by(Attachment.id)))
    return facts


def sample_facts(name: str, *, staff_name: str = "") -> Facts:
    """A made-up ticket for the editor's preview."""
    from hesk_py.models import Category, Priority, Status
    from hesk_py.services.defaults import label

    url = base_url()
    audience = info(name).audience
    trackid = "ABC-DEF-1234"
    first = db.session.scalar(select(Category).order_by(Category.sort_order, Category.id).limit(1))
    status = db.session.scalar(select(Status).order_by(Status.sort_order, Status.id).limit(1))
    priority = db.session.scalar(select(Priority).order_by(Priority.sort_order, Priority.id).limit(1))
    now = utcnow()
    values = {
        "SITE_TITLE": str(settings.get("hesk_title")), "SITE_URL": url,
        "NAME": "Casey Customer", "FIRST_NAME": "Casey", "EMAIL": "casey@example.com",
        "REQUESTER": "Casey Customer <casey@example.com>", "REQUESTER_NAME": "Casey Customer",
        "REQUESTER_FIRST_NAME": "Casey", "REQUESTER_EMAIL": "casey@example.com",
        "FOLLOWERS": "Fran Follower <fran@example.com>, sam@example.com", "FOLLOWER_NAMES": "Fran Follower",
        "FOLLOWER_EMAILS": "fran@example.com, sam@example.com",
        "TRACK_ID": trackid, "ID": "42", "SUBJECT": _("The printer does not print"),
        "CATEGORY": label(first) if first else "", "STATUS": label(status) if status else "",
        "PRIORITY": label(priority) if priority else "", "OWNER": staff_name,
        "DUE_DATE": format_date(to_user_timezone(now + timedelta(days=3))),
        "CREATED": _when(now - timedelta(hours=2)), "UPDATED": _when(now),
        "TRACK_URL": f"{url}/admin/tickets/{trackid}" if audience == AUDIENCE_STAFF
        else f"{url}/ticket?track={trackid}",
        "STAFF_NAME": staff_name, "NOTE_AUTHOR": staff_name, "USERNAME": "casey",
        "PASSWORD_RESET": f"{url}/admin/reset_password/sample-token", "MINUTES": "60",
        "IP": "203.0.113.7", "VERIFICATION_CODE": "123456", "NUM": "2",
        "VERIFICATION_URL": f"{url}/verify/sample-token", "HOURS": "24", "CUSTOMER_LOGIN_URL": f"{url}/login",
        "CUSTOMER_REGISTER_URL": f"{url}/register",
    }
    from hesk_py.models import CustomField

    for f in db.session.scalars(select(CustomField).order_by(CustomField.id)):
        values[f.form_name.upper()] = _("(value of custom field %(n)s)", n=f.id)
    listed = [{"trackid": trackid, "subject": values["SUBJECT"], "status": values["STATUS"]},
              {"trackid": "XYZ-987-WVUT", "subject": _("Invoice question"), "status": values["STATUS"]}]
    values["_AUDIENCE"] = audience
    return Facts(values=values, message=_("Hello,\n\nthe printer on the second floor stopped printing this "
                                          "morning. The manual is at https://www.example.com/manual.\n\nThanks!"),
                 files=[("photo.jpg", f"{url}/ticket/attachment/1?track={trackid}")],
                 list_tickets=_list_tickets(listed, url))


# --- files: linked or attached ---------------------------------------------------------------------------

def _file_link(att, trackid: str, audience: str) -> tuple[str, str]:
    if isinstance(att, tuple):  # a sample
        return att
    url = base_url()
    if audience == AUDIENCE_STAFF:
        return att.real_name, f"{url}/admin/tickets/{trackid}/attachments/{att.id}"
    return att.real_name, f"{url}/ticket/attachment/{att.id}?track={trackid}"


def _split_files(files: list, audience: str) -> tuple[list, list]:
    """(attach, link) per the attachments-in-email settings: files not attached are linked. With
    attachments turned off (``attachments.use``) a mail neither carries nor links files (HESK)."""
    if not files or not settings.get("attachments.use"):
        return [], []
    if int(settings.get("attachments.attachment_in_email_type")) != 1:
        return [], list(files)
    attach, link = [], []
    max_bytes = int(settings.get("attachments.file_max_size")) * 1024
    any_size = int(settings.get("attachments.direct_attachment_in_email")) == 1
    limit = None
    if int(settings.get("attachments.direct_attachment_in_email_no_of_files")) == 2:
        limit = int(settings.get("attachments.first_x_attachments"))
    for att in files:
        # HESK: "only files smaller than" the limit
        small = isinstance(att, Attachment) and (any_size or att.size < max_bytes)
        if small and (limit is None or len(attach) < limit):
            attach.append(att)
        else:
            link.append(att)
    return attach, link


def _read(att: Attachment) -> tuple[str, bytes, str] | None:
    from hesk_py.services import attachments

    try:
        data = attachments.storage().path(att.saved_name).read_bytes()
    except OSError:
        return None
    return att.real_name, data, attachments.download_type(att.content_type)


# --- composing a mail ------------------------------------------------------------------------------------

@dataclass
class Mail:
    """What the mailer puts in a message: text and/or HTML per ``email_formatting``, files to attach."""
    subject: str
    text: str | None
    html: str | None  # the whole HTML document
    html_body: str = ""  # the HTML between <body> and </body> (the preview shows it)
    files: list = field(default_factory=list)  # (filename, bytes, content type)
    overridden: bool = False


def _one_line(text: str) -> str:
    return " ".join((text or "").split())[:998]


def _finish(subject: str, text: str, html_body: str, *, marker: bool, language: str,
            html_from_override: bool, files: list | None = None, overridden: bool = False) -> Mail:
    from hesk_py.services.mailer import REPLY_MARKER

    if marker:
        line = str(REPLY_MARKER)
        text = f"{line}\n\n{text}"
        html_body = f"<p>{escape(line)}</p>\n{html_body}"
    fmt = int(settings.get("email_formatting"))
    document = _html_document(html_body, language, subject)
    if fmt == FORMAT_TEXT:
        return Mail(subject, text, None, html_body, files or [], overridden)
    if fmt == FORMAT_HTML:
        return Mail(subject, None, document, html_body, files or [], overridden)
    if fmt == FORMAT_HTML_TEXT_FROM_HTML and html_from_override:
        text = html_to_text(html_body)
    return Mail(subject, text, document, html_body, files or [], overridden)


def _default_subject(name: str, ctx: Mapping[str, Any]) -> str:
    from hesk_py.services.mailer import SUBJECTS

    template = SUBJECTS.get(name)
    if template is None:
        raise EmailTemplateNotFound(name)
    return str(template) % _Args(ctx)


class _Args(dict):
    """``%(trackid)s`` and friends from a context; a missing one is empty."""

    def __init__(self, ctx: Mapping[str, Any]):
        super().__init__(ctx)

    def __missing__(self, key):
        return ""


def _from_default(name: str, ctx: Mapping[str, Any], language: str) -> Mail:
    subject = _one_line(_default_subject(name, ctx))
    text = render_template(f"email/{name}.txt", **ctx)
    return _finish(subject, text, str(text_to_html(text)), marker=bool(ctx.get("trackid")), language=language,
                   html_from_override=False)


def _render_override(subject_src: str, text_src: str, html_src: str, facts: Facts, *, language: str,
                     read_files: bool = True) -> Mail:
    """Subject, text and HTML of an override with these facts. Raises TemplateError (SecurityError)."""
    audience = facts.values.get("_AUDIENCE", AUDIENCE_CUSTOMER)
    used = _variables(subject_src) | _variables(text_src) | _variables(html_src)
    files = facts.files if ({"message", "attachments"} & used) else []
    attach, link = _split_files(files, audience)
    links = [_file_link(att, facts.values.get("TRACK_ID", ""), audience) for att in link]
    attached = []
    for att in attach:
        got = _read(att) if read_files else None
        if got is not None:
            attached.append(got)
        else:
            links.append(_file_link(att, facts.values.get("TRACK_ID", ""), audience))
    links_text = "\n".join(f"{n}\n{u}" for n, u in links)
    message = facts.message
    links_below = ""
    if links_text and "attachments" not in used:
        links_below = f"{_('Attachments:')}\n{links_text}"
        message = f"{message}\n\n{links_below}" if message else links_text
    # the message in the HTML part: a Markdown reply rendered (the knowledgebase's renderer and sanitiser),
    # else the text escaped with its links clickable
    if facts.message_format == "markdown" and facts.message.strip():
        from hesk_py.services import knowledgebase

        message_html = knowledgebase.render(facts.message) + (text_to_html(links_below) if links_below else "")
    else:
        message_html = text_to_html(message)
    text_values = {k.lower(): v for k, v in facts.values.items() if not k.startswith("_")}
    text_values.update(message=message, attachments=links_text, list_tickets=facts.list_tickets)
    subject = _one_line(_render(subject_src, text_values, html=False))
    text = _render(text_src, text_values, html=False)
    if (html_src or "").strip():
        html_values = dict(text_values, message=message_html, attachments=text_to_html(links_text),
                           list_tickets=text_to_html(facts.list_tickets))
        html_body = clean_html(_render(html_src, html_values, html=True))
        from_override = True
    elif facts.message_format == "markdown" and "message" in used:
        # HTML made from the plain text template, the Markdown message rendered where %%MESSAGE%% is
        mark = f"HESKMESSAGE{secrets.token_hex(8)}"
        marked = str(text_to_html(_render(text_src, dict(text_values, message=mark), html=False)))
        html_body = clean_html(marked.replace(f"<p>{mark}</p>", str(message_html)).replace(mark, str(message_html)))
        from_override = False
    else:
        html_body = str(text_to_html(text))
        from_override = False
    return _finish(subject, text, html_body, marker=bool(facts.values.get("TRACK_ID")), language=language,
                   html_from_override=from_override, files=attached, overridden=True)


def compose(name: str, language: str, context: Mapping[str, Any] | None, *, ticket_id: int | None = None,
            recipient: str = "") -> Mail:
    """The mail for one outbox row, in ``language``: the administrator's override when there is one
    for this template and language, else the default. An override that fails to render (edited in the
    database by hand) is logged and the default is sent instead: a notification is never lost to a typo."""
    with force_locale(language):
        ctx = default_context(context or {})
        row = override(name, language)
        if row is not None:
            try:
                facts = facts_for(name, ctx, ticket_id=ticket_id, recipient=recipient)
                return _render_override(row.subject, row.body_text, row.body_html, facts, language=language)
            except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
                log.warning("email template %s (%s) failed, the default was sent: %s", name, language, exc)
        return _from_default(name, ctx, language)


# --- the overrides ---------------------------------------------------------------------------------------

def override(name: str, language: str) -> EmailTemplate | None:
    return db.session.scalar(select(EmailTemplate).where(EmailTemplate.name == name,
                                                         EmailTemplate.language == language))


def overridden() -> set[tuple[str, str]]:
    """(name, language) of every override, for the list page."""
    return {(n, lang) for n, lang in db.session.execute(select(EmailTemplate.name, EmailTemplate.language))}


_PLACEHOLDERS = {
    "name": "%%NAME%%", "email": "%%EMAIL%%", "subject": "%%SUBJECT%%", "trackid": "%%TRACK_ID%%",
    "ticket_url": "%%TRACK_URL%%", "admin_ticket_url": "%%TRACK_URL%%", "hesk_title": "%%SITE_TITLE%%",
    "hesk_url": "%%SITE_URL%%", "staff_name": "%%STAFF_NAME%%", "note_author": "%%NOTE_AUTHOR%%",
    "username": "%%USERNAME%%", "reset_url": "%%PASSWORD_RESET%%", "minutes": "%%MINUTES%%", "ip": "%%IP%%",
    "code": "%%VERIFICATION_CODE%%", "due_date": "%%DUE_DATE%%", "count": 2, "num": "%%NUM%%", "list_tickets": "%%LIST_TICKETS%%",
    "tickets": [],
    "verification_url": "%%VERIFICATION_URL%%", "hours": "%%HOURS%%", "login_url": "%%CUSTOMER_LOGIN_URL%%",
    "register_url": "%%CUSTOMER_REGISTER_URL%%", "customers_url": "%%SITE_URL%%/admin/customers/",
}


def defaults(name: str, language: str) -> dict[str, str]:
    """The default subject and text of a template in a language, written with tags (what the editor shows
    before anything is changed). The default has no HTML of its own: it is made from the text."""
    info(name)
    with force_locale(language):
        subject = _one_line(_default_subject(name, _PLACEHOLDERS))
        text = render_template(f"email/{name}.txt", **_PLACEHOLDERS)
    return {"subject": subject, "body_text": text.strip("\n") + "\n", "body_html": ""}


def current(name: str, language: str) -> tuple[dict[str, str], EmailTemplate | None]:
    """What the editor shows: the override, or the defaults."""
    row = override(name, language)
    if row is None:
        return defaults(name, language), None
    return {"subject": row.subject, "body_text": row.body_text, "body_html": row.body_html}, row


def _clean_input(name: str, language: str, subject: str, body_text: str, body_html: str) -> tuple[str, str, str]:
    info(name)
    if language not in LANGUAGES:
        raise EmailTemplateNotFound(language)
    subject = (subject or "").strip()
    body_text = (body_text or "").replace("\r\n", "\n")
    body_html = (body_html or "").replace("\r\n", "\n")
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = _("Enter a subject.")
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = _("The subject is too long (at most %(n)s characters).", n=MAX_SUBJECT)
    elif "\n" in subject or "\r" in subject:
        errors["subject"] = _("The subject must be a single line.")
    if not body_text.strip():
        errors["body_text"] = _("Enter the text.")
    for key, value in (("body_text", body_text), ("body_html", body_html)):
        if len(value) > MAX_BODY and key not in errors:
            errors[key] = _("The text is too long (at most %(n)s characters).", n=MAX_BODY)
    # every part must compile, and render with a sample ticket (the sandbox's refusals show up here)
    sample = sample_facts(name)
    for key, source, html in (("subject", subject, False), ("body_text", body_text, False),
                              ("body_html", body_html, True)):
        if key in errors:
            continue
        try:
            _compiled(source, html)
        except TemplateSyntaxError as exc:
            errors[key] = _("Template error on line %(line)s: %(message)s", line=exc.lineno, message=exc.message)
            continue
        try:
            values = {k.lower(): v for k, v in sample.values.items() if not k.startswith("_")}
            values.update(message=sample.message, attachments="", list_tickets=sample.list_tickets)
            _render(source, values, html=html)
        except SecurityError as exc:
            errors[key] = _("This is not allowed in an email template: %(message)s", message=str(exc))
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            errors[key] = _("The template could not be filled in: %(message)s", message=str(exc))
    if errors:
        raise InvalidEmailTemplate(errors)
    return subject, body_text, body_html


def save(name: str, language: str, *, subject: str, body_text: str, body_html: str,
         user_id: int | None = None) -> EmailTemplate:
    """Store the override of one template in one language. Raises InvalidEmailTemplate (nothing saved)."""
    subject, body_text, body_html = _clean_input(name, language, subject, body_text, body_html)
    row = override(name, language)
    if row is None:
        row = EmailTemplate(name=name, language=language)
        db.session.add(row)
    row.subject, row.body_text, row.body_html = subject, body_text, body_html
    row.updated_at, row.updated_by = utcnow(), user_id
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def reset(name: str, language: str) -> bool:
    """Back to the default: the override is deleted. Returns whether there was one."""
    info(name)
    result = db.session.execute(delete(EmailTemplate).where(EmailTemplate.name == name,
                                                            EmailTemplate.language == language))
    db.session.commit()
    return bool(result.rowcount)


def preview(name: str, language: str, *, subject: str, body_text: str, body_html: str,
            staff_name: str = "") -> Mail:
    """The mail these texts make for a sample ticket, nothing saved. Raises InvalidEmailTemplate."""
    subject, body_text, body_html = _clean_input(name, language, subject, body_text, body_html)
    with force_locale(language):
        return _render_override(subject, body_text, body_html, sample_facts(name, staff_name=staff_name),
                                language=language, read_files=False)
