"""The ticket service: the one door through which every channel creates and changes tickets.

The public form, the staff panel, email piping, IMAP/POP3 fetching, the API and importers all call
these functions. Each one writes its change, a history row (``TicketEvent``) and the notifications it
causes (outbox rows) in one transaction: it commits once at the end, or rolls everything back.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import (
    Attachment,
    Category,
    Customer,
    Note,
    Priority,
    Reply,
    Status,
    Ticket,
    TicketEvent,
    User,
    UserCategory,
    UserFeature,
)
from hesk_py.models.tickets import OPENED_BY_CUSTOMER, OPENED_BY_STAFF
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import (
    STATUS_CLOSED,
    STATUS_NEW,
    STATUS_REPLIED,
    STATUS_RESOLVED,
    STATUS_WAITING_REPLY,
)
from hesk_py.services import outbox
from hesk_py.services.errors import InvalidTicketData, TicketNotFound

# HESK's alphabet: upper-case letters and digits without look-alikes (no 0/O, 1/I, ...).
TRACKID_ALPHABET = "AEUYBDGHJLMNPQRSTVWXZ123456789"
TRACKID_RE = re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{4}$")
_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
# characters that could inject mail headers or break a one-line field
_HEADER_BREAKERS = re.compile(r"[\r\n\x00]")

MAX_NAME = 255
MAX_SUBJECT = 255
MAX_MESSAGE = 1_000_000


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a customer, a staff member, the system (cron) or an email channel."""

    kind: str  # customer / staff / system / email
    id: int | None = None
    name: str = ""

    @classmethod
    def staff(cls, user: User) -> Actor:
        return cls("staff", user.id, user.name)

    @classmethod
    def customer(cls, name: str, customer_id: int | None = None) -> Actor:
        return cls("customer", customer_id, name)

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "")


def new_trackid() -> str:
    """A random HESK-style tracking ID, XXX-XXX-XXXX, from a cryptographic source."""
    chars = "".join(secrets.choice(TRACKID_ALPHABET) for _ in range(10))
    return f"{chars[:3]}-{chars[3:6]}-{chars[6:]}"


def normalize_trackid(value: str) -> str:
    value = (value or "").strip().upper()
    compact = re.sub(r"[^A-Z0-9]", "", value)
    if len(compact) == 10:
        return f"{compact[:3]}-{compact[3:6]}-{compact[6:]}"
    return value


def _history(ticket: Ticket, actor: Actor, action: str, **data: Any) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        created_at=utcnow(),
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name[:255],
        action=action,
        data=data or None,
    )
    db.session.add(event)
    return event


def _mail_context(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    ctx = {
        "trackid": ticket.trackid,
        "name": ticket.name,
        "email": ticket.email,
        "subject": ticket.subject,
        "ticket_id": ticket.id,
    }
    ctx.update(extra)
    return ctx


def _validate_contact(name: str, email: str, *, email_required: bool) -> tuple[str, str, dict[str, str]]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    email = (email or "").strip()
    if not name:
        errors["name"] = str(_l("Please enter your name."))
    elif len(name) > MAX_NAME:
        errors["name"] = str(_l("The name is too long (at most %(n)s characters).", n=MAX_NAME))
    elif _HEADER_BREAKERS.search(name):
        errors["name"] = str(_l("The name must be a single line."))
    if not email:
        if email_required:
            errors["email"] = str(_l("Please enter a valid email address."))
    elif len(email) > 255 or not _EMAIL_RE.match(email) or _HEADER_BREAKERS.search(email):
        errors["email"] = str(_l("Please enter a valid email address."))
    return name, email, errors


def _get_or_create_customer(name: str, email: str, language: str | None) -> Customer | None:
    if not email:
        return None
    key = email.lower()
    customer = db.session.scalar(select(Customer).where(Customer.email == key))
    if customer is not None:
        return customer
    try:
        with db.session.begin_nested():
            customer = Customer(email=key, name=name, language=language, created_at=utcnow())
            db.session.add(customer)
    except IntegrityError:
        # another request created the same customer at the same moment
        customer = db.session.scalar(select(Customer).where(Customer.email == key))
    return customer


def pick_autoassign_owner(category: Category) -> User | None:
    """HESK's rule: among active staff who may take tickets of this category, the one with the fewest
    open tickets (ties broken by id). Administrators qualify; staff need ``can_view_tickets`` and
    ``can_reply_tickets`` and access to the category. The category may restrict the candidates."""
    if not category.autoassign or not settings.get("autoassign"):
        return None
    open_count = (
        select(func.count(Ticket.id))
        .join(Status, Status.id == Ticket.status_id)
        .where(Ticket.owner_id == User.id, Status.kind != STATUS_CLOSED)
        .correlate(User)
        .scalar_subquery()
    )
    has_feature = lambda key: (  # noqa: E731
        select(UserFeature.user_id).where(UserFeature.user_id == User.id, UserFeature.feature == key).exists()
    )
    has_category = (
        select(UserCategory.user_id)
        .where(UserCategory.user_id == User.id, UserCategory.category_id == category.id)
        .exists()
    )
    stmt = (
        select(User)
        .where(User.active.is_(True), User.autoassign.is_(True))
        .where(or_(User.is_admin.is_(True),
                   has_category & has_feature("can_view_tickets") & has_feature("can_reply_tickets")))
        .order_by(open_count, User.id)
        .limit(1)
    )
    config = category.autoassign_config or {}
    users = [int(u) for u in config.get("users", [])]
    if config.get("mode") == "only":
        stmt = stmt.where(User.id.in_(users or [0]))
    elif config.get("mode") == "except" and users:
        stmt = stmt.where(User.id.not_in(users))
    return db.session.scalar(stmt)


def create_ticket(
    *,
    name: str,
    email: str,
    subject: str,
    message: str,
    category_id: int,
    actor: Actor,
    priority_id: int | None = None,
    language: str | None = None,
    ip: str = "",
    custom: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    owner_id: int | None = None,
    autoassign: bool = True,
    notify_customer: bool = True,
    suggested_articles: list[int] | None = None,
    opened_by: str | None = None,
    require_email: bool | None = None,
) -> Ticket:
    """File a new ticket. Raises InvalidTicketData with every problem found; writes nothing then.

    ``attachments`` are files already stored by the attachment storage:
    dicts with saved_name, real_name, size, content_type.
    """
    if require_email is None:
        require_email = bool(settings.get("require_email")) and actor.kind != "staff"
    name, email, errors = _validate_contact(name, email, email_required=require_email)
    subject = (subject or "").strip()
    message = message or ""
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = str(_l("The subject is too long (at most %(n)s characters).", n=MAX_SUBJECT))
    elif _HEADER_BREAKERS.search(subject):
        errors["subject"] = str(_l("The subject must be a single line."))
    if len(message) > MAX_MESSAGE:
        errors["message"] = str(_l("The message is too long."))
    category = db.session.get(Category, category_id) if category_id else None
    if category is None:
        errors["category"] = str(_l("Please choose a category."))
    if priority_id is None and category is not None:
        priority_id = category.default_priority_id
    priority = db.session.get(Priority, priority_id) if priority_id else None
    if priority is None and category is not None:
        errors["priority"] = str(_l("Please choose a priority."))
    if errors:
        raise InvalidTicketData(errors)

    now = utcnow()
    try:
        customer = _get_or_create_customer(name, email, language)
        ticket = Ticket(
            trackid=_unused_trackid(),
            customer_id=customer.id if customer else None,
            name=name,
            email=email,
            category_id=category.id,
            priority_id=priority.id,
            status_id=STATUS_NEW,
            subject=subject,
            message=message,
            ip=ip[:45],
            language=language,
            opened_by=opened_by or (OPENED_BY_STAFF if actor.kind == "staff" else OPENED_BY_CUSTOMER),
            opened_by_id=actor.id if actor.kind == "staff" else None,
            created_at=now,
            updated_at=now,
            last_replier="staff" if actor.kind == "staff" else "customer",
            custom=custom or None,
            suggested_articles=suggested_articles or None,
        )
        if category.default_due_amount and category.default_due_unit:
            ticket.due_date = _add_due(now, category.default_due_amount, category.default_due_unit)
        owner = None
        if owner_id is not None:
            owner = db.session.get(User, owner_id)
        elif autoassign:
            owner = pick_autoassign_owner(category)
            ticket.autoassigned = owner is not None
        if owner is not None:
            ticket.owner_id = owner.id
            ticket.assigned_by_id = actor.id if (owner_id is not None and actor.kind == "staff") else None
        db.session.add(ticket)
        db.session.flush()
        for att in attachments or ():
            db.session.add(Attachment(ticket_id=ticket.id, created_at=now, **att))
        _history(ticket, actor, "created", channel=ticket.opened_by)
        if owner is not None:
            _history(ticket, actor if owner_id is not None else Actor.system(), "assigned",
                     owner_id=owner.id, owner_name=owner.name, auto=ticket.autoassigned)

        if notify_customer and email and settings.get("notify_new"):
            outbox.queue("new_ticket", email, ticket=ticket, language=language, context=_mail_context(ticket))
        if owner is not None:
            if owner.id != actor.id and outbox.wants(owner, "notify_assigned"):
                outbox.queue("ticket_assigned_to_you", owner.email, ticket=ticket, language=owner.language,
                             context=_mail_context(ticket, staff_name=owner.name))
        else:
            for user in outbox.staff_for_category(category.id):
                if user.id != actor.id and outbox.wants(user, "notify_new_unassigned"):
                    outbox.queue("new_ticket_staff", user.email, ticket=ticket, language=user.language,
                                 context=_mail_context(ticket, staff_name=user.name))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def _unused_trackid() -> str:
    for _ in range(20):
        trackid = new_trackid()
        if db.session.scalar(select(Ticket.id).where(Ticket.trackid == trackid)) is None:
            return trackid
    raise RuntimeError("could not find an unused tracking ID")


def _add_due(start: datetime, amount: int, unit: str) -> datetime:
    from datetime import timedelta

    if unit == "week":
        return start + timedelta(weeks=amount)
    if unit == "month":
        return start + timedelta(days=30 * amount)
    return start + timedelta(days=amount)


def get_ticket(trackid: str, *, email: str | None = None) -> Ticket:
    """The ticket with this tracking ID (and this customer email, when given). Raises TicketNotFound.

    Both failures raise the same error, so a wrong email never reveals that a ticket exists.
    """
    trackid = normalize_trackid(trackid)
    if not TRACKID_RE.match(trackid):
        raise TicketNotFound(trackid)
    ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
    if ticket is None:
        raise TicketNotFound(trackid)
    if email is not None and ticket.email.lower() != email.strip().lower():
        raise TicketNotFound(trackid)
    return ticket


def load_thread(trackid: str) -> Ticket:
    """A ticket with its replies, notes and attachments loaded in a fixed number of queries."""
    trackid = normalize_trackid(trackid)
    stmt = (
        select(Ticket)
        .where(Ticket.trackid == trackid)
        .options(
            selectinload(Ticket.replies),
            selectinload(Ticket.notes),
            selectinload(Ticket.attachments),
        )
    )
    ticket = db.session.scalar(stmt)
    if ticket is None:
        raise TicketNotFound(trackid)
    return ticket


def _touch(ticket: Ticket) -> datetime:
    now = utcnow()
    ticket.updated_at = now
    return now


def _set_status(ticket: Ticket, status: Status, actor: Actor, now: datetime) -> None:
    """Apply a status change and its timestamps (no history row: callers write their own)."""
    was_closed = ticket.status.kind == STATUS_CLOSED if ticket.status is not None else False
    ticket.status_id = status.id
    ticket.status = status
    if status.kind == STATUS_CLOSED and not was_closed:
        ticket.resolved_at = now
        ticket.closed_by = actor.kind if actor.kind in ("customer", "staff") else "auto"
        ticket.closed_by_id = actor.id if actor.kind == "staff" else None
    elif was_closed and status.kind != STATUS_CLOSED:
        ticket.reopened_count += 1
        ticket.resolved_at = None
        ticket.closed_by = None
        ticket.closed_by_id = None


def add_reply(
    ticket: Ticket,
    *,
    message: str,
    actor: Actor,
    status_id: int | None = None,
    notify: bool = True,
    attachments: list[dict[str, Any]] | None = None,
) -> Reply:
    """A reply from the customer or from staff. Staff replies set the ticket to Replied (or the chosen
    status) and notify the customer; customer replies set it to Waiting reply (reopening a resolved
    ticket) and notify the owner, or the staff of the category when nobody owns it."""
    if not (message or "").strip() and not attachments:
        raise InvalidTicketData({"message": str(_l("Please write a message."))})
    if len(message) > MAX_MESSAGE:
        raise InvalidTicketData({"message": str(_l("The message is too long."))})
    if actor.kind not in ("customer", "staff", "email"):
        raise ValueError(f"a reply needs a customer or staff actor, not {actor.kind}")
    try:
        now = _touch(ticket)
        staff = actor.kind == "staff"
        reply = Reply(
            ticket_id=ticket.id,
            author_type="staff" if staff else "customer",
            staff_id=actor.id if staff else None,
            customer_id=None if staff else ticket.customer_id,
            name=(actor.name or ticket.name)[:255],
            message=message,
            created_at=now,
        )
        db.session.add(reply)
        db.session.flush()
        for att in attachments or ():
            db.session.add(Attachment(ticket_id=ticket.id, reply_id=reply.id, created_at=now, **att))
        ticket.reply_count += 1
        ticket.last_replier = "staff" if staff else "customer"
        ticket.last_replier_id = actor.id
        old_status = ticket.status_id
        if staff:
            ticket.staff_reply_count += 1
            if ticket.first_reply_at is None:
                ticket.first_reply_at = now
                ticket.first_reply_by_id = actor.id
            target = db.session.get(Status, status_id or STATUS_REPLIED)
        else:
            target = db.session.get(Status, STATUS_WAITING_REPLY)
        if target is None:
            raise InvalidTicketData({"status": str(_l("Unknown status."))})
        _set_status(ticket, target, actor, now)
        _history(ticket, actor, "replied", reply_id=reply.id)
        if old_status != target.id:
            _history(ticket, actor, "status", old=old_status, new=target.id)

        if staff:
            if notify and ticket.email:
                outbox.queue("new_reply_by_staff", ticket.email, ticket=ticket, language=ticket.language,
                             context=_mail_context(ticket, reply_id=reply.id, staff_name=actor.name))
        else:
            _notify_staff_of(ticket, "new_reply_by_customer", "notify_reply_my", "notify_reply_unassigned",
                             actor, reply_id=reply.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return reply


def _notify_staff_of(ticket: Ticket, template: str, flag_mine: str, flag_unassigned: str, actor: Actor,
                     **extra: Any) -> None:
    if ticket.owner_id:
        owner = ticket.owner or db.session.get(User, ticket.owner_id)
        if owner and owner.active and owner.id != (actor.id if actor.kind == "staff" else None) \
                and outbox.wants(owner, flag_mine):
            outbox.queue(template, owner.email, ticket=ticket, language=owner.language,
                         context=_mail_context(ticket, staff_name=owner.name, **extra))
    else:
        for user in outbox.staff_for_category(ticket.category_id):
            if (actor.kind != "staff" or user.id != actor.id) and outbox.wants(user, flag_unassigned):
                outbox.queue(template, user.email, ticket=ticket, language=user.language,
                             context=_mail_context(ticket, staff_name=user.name, **extra))


def add_note(ticket: Ticket, *, message: str, actor: Actor,
             attachments: list[dict[str, Any]] | None = None) -> Note:
    """A private note by staff; the owner is told when someone else writes one."""
    if actor.kind != "staff":
        raise ValueError("only staff write notes")
    if not (message or "").strip():
        raise InvalidTicketData({"message": str(_l("Please write a note."))})
    try:
        now = utcnow()
        note = Note(ticket_id=ticket.id, user_id=actor.id, message=message, created_at=now)
        db.session.add(note)
        db.session.flush()
        for att in attachments or ():
            db.session.add(Attachment(ticket_id=ticket.id, note_id=note.id, created_at=now, **att))
        _history(ticket, actor, "note", note_id=note.id)
        if ticket.owner_id and ticket.owner_id != actor.id:
            owner = db.session.get(User, ticket.owner_id)
            if owner and owner.active and outbox.wants(owner, "notify_note"):
                outbox.queue("new_note", owner.email, ticket=ticket, language=owner.language,
                             context=_mail_context(ticket, staff_name=owner.name, note_author=actor.name))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return note


def change_status(ticket: Ticket, status_id: int, *, actor: Actor, notify: bool = True) -> Ticket:
    status = db.session.get(Status, status_id)
    if status is None:
        raise InvalidTicketData({"status": str(_l("Unknown status."))})
    if status.id == ticket.status_id:
        return ticket
    try:
        old = ticket.status_id
        now = _touch(ticket)
        _set_status(ticket, status, actor, now)
        _history(ticket, actor, "status", old=old, new=status.id)
        if status.kind == STATUS_CLOSED and notify and ticket.email and settings.get("notify_closed"):
            outbox.queue("ticket_closed", ticket.email, ticket=ticket, language=ticket.language,
                         context=_mail_context(ticket))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def resolve(ticket: Ticket, *, actor: Actor, notify: bool = True) -> Ticket:
    return change_status(ticket, STATUS_RESOLVED, actor=actor, notify=notify)


def assign(ticket: Ticket, owner_id: int | None, *, actor: Actor, notify: bool = True) -> Ticket:
    """Give the ticket to a staff member (None: unassign). The new owner is told unless they did it."""
    owner = None
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if owner is None or not owner.active:
            raise InvalidTicketData({"owner": str(_l("Unknown or deactivated staff member."))})
    if ticket.owner_id == owner_id:
        return ticket
    try:
        old = ticket.owner_id
        _touch(ticket)
        ticket.owner_id = owner_id
        ticket.owner = owner
        ticket.assigned_by_id = actor.id if actor.kind == "staff" else None
        ticket.autoassigned = False
        _history(ticket, actor, "assigned" if owner else "unassigned", old=old, owner_id=owner_id,
                 owner_name=owner.name if owner else "")
        if owner and notify and owner.id != actor.id and outbox.wants(owner, "notify_assigned"):
            outbox.queue("ticket_assigned_to_you", owner.email, ticket=ticket, language=owner.language,
                         context=_mail_context(ticket, staff_name=owner.name, assigned_by=actor.name))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def change_priority(ticket: Ticket, priority_id: int, *, actor: Actor) -> Ticket:
    priority = db.session.get(Priority, priority_id)
    if priority is None:
        raise InvalidTicketData({"priority": str(_l("Unknown priority."))})
    if priority.id == ticket.priority_id:
        return ticket
    try:
        old = ticket.priority_id
        _touch(ticket)
        ticket.priority_id = priority.id
        ticket.priority = priority
        _history(ticket, actor, "priority", old=old, new=priority.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def change_category(ticket: Ticket, category_id: int, *, actor: Actor) -> Ticket:
    category = db.session.get(Category, category_id)
    if category is None:
        raise InvalidTicketData({"category": str(_l("Unknown category."))})
    if category.id == ticket.category_id:
        return ticket
    try:
        old = ticket.category_id
        _touch(ticket)
        ticket.category_id = category.id
        ticket.category = category
        _history(ticket, actor, "category", old=old, new=category.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket
