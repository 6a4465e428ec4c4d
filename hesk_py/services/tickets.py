"""The ticket service: the one door through which every channel creates and changes tickets.

The public form, the staff panel, email piping, IMAP/POP3 fetching, the API and importers all call
these functions. Each one writes its change, a history row (``TicketEvent``) and the notifications it
causes (outbox rows) in one transaction: it commits once at the end, or rolls everything back.
"""
from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, selectinload

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
    TicketFollower,
    User,
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
from hesk_py.services import followers as follower_rules
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
REPLY_FORMATS = ("text", "markdown")  # Reply.message_format


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


_IN_TRANSACTION: ContextVar[bool] = ContextVar("hesk_ticket_transaction", default=False)


def _commit() -> None:
    """Commit the change, unless it is part of ``one_transaction()``, which commits once at its end."""
    if _IN_TRANSACTION.get():
        db.session.flush()
    else:
        db.session.commit()


@contextmanager
def one_transaction():
    """Run several ticket changes as one: a staff reply that also assigns the ticket and changes its
    priority is stored whole or not at all (history and outbox rows included)."""
    if _IN_TRANSACTION.get():  # already inside one: the outer block commits
        yield
        return
    token = _IN_TRANSACTION.set(True)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _IN_TRANSACTION.reset(token)


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


def _notify_customers(template: str, ticket: Ticket, **extra: Any) -> int:
    """Queue a customer notification: the requester in To, the followers in Cc (one email per language,
    muted addresses left out, ``email_max_recipients`` respected). Returns how many emails were queued."""
    queued = 0
    for to, cc, language in follower_rules.mail_groups(ticket):
        if outbox.queue(template, to, cc=cc, ticket=ticket, language=language,
                        context=_mail_context(ticket, **extra)) is not None:
            queued += 1
    return queued


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


# --- followers (Cc): further customers of a ticket ---------------------------------------------------

def _people(raw, errors: dict[str, str]) -> list[tuple[str, str]]:
    """(name, address lower-cased) of each follower given as an address or a (name, address) pair, each
    address once; an invalid one puts a message under ``errors["followers"]``."""
    people: list[tuple[str, str]] = []
    bad: list[str] = []
    seen: set[str] = set()
    for item in raw:
        name, email = item if isinstance(item, tuple) else ("", item)
        name = _HEADER_BREAKERS.sub(" ", name or "").strip()[:MAX_NAME]
        email = (email or "").strip()
        if not follower_rules.valid_email(email) or _HEADER_BREAKERS.search(email):
            bad.append(email)
            continue
        if email.lower() not in seen:
            seen.add(email.lower())
            people.append((name, email.lower()))
    if bad:
        errors["followers"] = follower_rules.invalid_message(bad)
    elif len(people) > follower_rules.MAX_PER_TICKET:
        errors["followers"] = follower_rules.too_many_message(follower_rules.MAX_PER_TICKET)
    return people


def _add_followers(ticket: Ticket, people: list[tuple[str, str]], actor: Actor, now: datetime, *,
                   strict: bool = True) -> list[Customer]:
    """Make these people followers of the ticket (the requester and those already following are
    skipped), one history row each. Beyond ``MAX_PER_TICKET`` followers: InvalidTicketData, or (not
    ``strict``: merging, email) the rest is left out."""
    requester = (ticket.email or "").lower()
    have = set(db.session.scalars(select(TicketFollower.customer_id)
                                  .where(TicketFollower.ticket_id == ticket.id))) if ticket.follower_count else set()
    added: list[Customer] = []
    for name, email in people:
        if not email or email == requester:
            continue
        customer = _get_or_create_customer(name, email, None)
        if customer is None or customer.id in have or customer.id == ticket.customer_id:
            continue
        if len(have) >= follower_rules.MAX_PER_TICKET:
            if strict:
                raise InvalidTicketData({"followers": follower_rules.too_many_message(follower_rules.MAX_PER_TICKET)})
            break
        db.session.add(TicketFollower(ticket_id=ticket.id, customer_id=customer.id, created_at=now))
        have.add(customer.id)
        _history(ticket, actor, "follower_added", email=customer.email, name=customer.name or name).created_at = now
        added.append(customer)
    if added:
        # in SQL, so two changes at the same moment both count
        ticket.follower_count = Ticket.follower_count + len(added)
        db.session.flush()
    return added


def add_followers(ticket: Ticket, followers: list[str | tuple[str, str]], *, actor: Actor,
                  strict: bool = True) -> list[Customer]:
    """Add followers (addresses or (name, address) pairs) to a ticket. Returns the customers added (those
    already on the ticket are left as they are). Raises InvalidTicketData (``followers``); writes nothing
    then. Not ``strict`` (email): beyond the most a ticket may have, the rest is left out."""
    errors: dict[str, str] = {}
    people = _people(followers, errors)
    if errors:
        raise InvalidTicketData(errors)
    try:
        added = _add_followers(ticket, people, actor, utcnow(), strict=strict)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return added


def remove_follower(ticket: Ticket, customer_id: int, *, actor: Actor) -> bool:
    """Remove one follower from the ticket. False when they were not following it."""
    from sqlalchemy import case, delete

    customer = db.session.get(Customer, customer_id)
    try:
        gone = db.session.execute(delete(TicketFollower).where(
            TicketFollower.ticket_id == ticket.id, TicketFollower.customer_id == customer_id)).rowcount
        if gone:
            ticket.follower_count = case((Ticket.follower_count > 0, Ticket.follower_count - 1), else_=0)
            _history(ticket, actor, "follower_removed", email=customer.email if customer else "",
                     name=customer.name if customer else "")
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return bool(gone)


def set_followers(ticket: Ticket, followers: list[str | tuple[str, str]], *,
                  actor: Actor) -> tuple[list[str], list[str]]:
    """Make the ticket's followers exactly these (staff editing the ticket): those missing are removed,
    the new ones added, each with a history row, in one transaction. Returns (added, removed) addresses.
    Raises InvalidTicketData (``followers``); nothing changes then."""
    errors: dict[str, str] = {}
    people = _people(followers, errors)
    if errors:
        raise InvalidTicketData(errors)
    wanted = {email for _name, email in people}
    removed: list[str] = []
    with one_transaction():
        for current in follower_rules.followers_of(ticket):
            if current.email not in wanted:
                remove_follower(ticket, current.id, actor=actor)
                removed.append(current.email)
        db.session.flush()
        db.session.refresh(ticket, ["follower_count"])
        added = [c.email for c in _add_followers(ticket, people, actor, utcnow())]
    return added, removed


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
    from hesk_py.services.accounts import has_category_clause, has_feature_clause  # own grants or a group's

    has_feature = has_feature_clause
    has_category = has_category_clause(category.id)
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
    followers: list[str | tuple[str, str]] | None = None,
) -> Ticket:
    """File a new ticket. Raises InvalidTicketData with every problem found; writes nothing then.

    ``attachments`` are files already stored by the attachment storage:
    dicts with saved_name, real_name, size, content_type. ``followers`` are further customers (Cc), as
    addresses or (name, address) pairs; they get the notifications too.
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
    people = _people(followers or [], errors)
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
        # dated like the ticket itself, even when the clock ticks over to the next second meanwhile
        _history(ticket, actor, "created", channel=ticket.opened_by).created_at = now
        if owner is not None:
            _history(ticket, actor if owner_id is not None else Actor.system(), "assigned",
                     owner_id=owner.id, owner_name=owner.name, auto=ticket.autoassigned).created_at = now
        if people:
            _add_followers(ticket, people, actor, now)

        if notify_customer and settings.get("notify_new"):
            _notify_customers("new_ticket", ticket)
        if owner is not None:
            if owner.id != actor.id and outbox.wants(owner, "notify_assigned"):
                outbox.queue("ticket_assigned_to_you", owner.email, ticket=ticket, language=owner.language,
                             context=_mail_context(ticket, staff_name=owner.name))
        else:
            for user in outbox.staff_for_category(category.id):
                if user.id != actor.id and outbox.wants(user, "notify_new_unassigned"):
                    outbox.queue("new_ticket_staff", user.email, ticket=ticket, language=user.language,
                                 context=_mail_context(ticket, staff_name=user.name))
        _commit()
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
    # the owner (a whole staff row) is loaded only if a caller looks at it: customers' pages never do
    ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid).options(lazyload(Ticket.owner)))
    if ticket is None:
        # the tracking ID of a ticket merged into another one keeps working (HESK's "merged")
        from hesk_py.models import TicketAlias

        merged_into = db.session.scalar(select(TicketAlias.ticket_id).where(TicketAlias.trackid == trackid))
        if merged_into is not None:
            ticket = db.session.get(Ticket, merged_into)
    if ticket is None:
        raise TicketNotFound(trackid)
    if email is not None and not follower_rules.is_customer_of(ticket, email):
        raise TicketNotFound(trackid)  # neither the requester's address nor a follower's
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
    message_format: str = "text",
) -> Reply:
    """A reply from the customer or from staff. Staff replies set the ticket to Replied (or the chosen
    status) and notify the customer; customer replies set it to Waiting reply (reopening a resolved
    ticket) and notify the owner, or the staff of the category when nobody owns it. ``message_format``:
    "text", or "markdown" for a staff reply written in Markdown (stored as typed, shown rendered)."""
    if not (message or "").strip() and not attachments:
        raise InvalidTicketData({"message": str(_l("Please write a message."))})
    if len(message) > MAX_MESSAGE:
        raise InvalidTicketData({"message": str(_l("The message is too long."))})
    if actor.kind not in ("customer", "staff", "email"):
        raise ValueError(f"a reply needs a customer or staff actor, not {actor.kind}")
    if message_format not in REPLY_FORMATS or (message_format != "text" and actor.kind != "staff"):
        raise ValueError(f"a {actor.kind} reply cannot be {message_format}")
    try:
        now = _touch(ticket)
        staff = actor.kind == "staff"
        reply = Reply(
            ticket_id=ticket.id,
            author_type="staff" if staff else "customer",
            staff_id=actor.id if staff else None,
            # a follower's reply is theirs (their customer id); otherwise the requester's
            customer_id=None if staff else (actor.id or ticket.customer_id),
            name=(actor.name or ticket.name)[:255],
            message=message,
            message_format=message_format,
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
            if notify:
                _notify_customers("new_reply_by_staff", ticket, reply_id=reply.id, staff_name=actor.name)
        else:
            _notify_staff_of(ticket, "new_reply_by_customer", "notify_reply_my", "notify_reply_unassigned",
                             actor, reply_id=reply.id)
        _commit()
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
                             context=_mail_context(ticket, staff_name=owner.name, note_author=actor.name,
                                                   note_id=note.id))
        _commit()
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
        if status.kind == STATUS_CLOSED and notify and settings.get("notify_closed"):
            _notify_customers("ticket_closed", ticket)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def resolve(ticket: Ticket, *, actor: Actor, notify: bool = True) -> Ticket:
    return change_status(ticket, STATUS_RESOLVED, actor=actor, notify=notify)


def autoclose(days: int, *, now: datetime | None = None, limit: int = 500) -> int:
    """HESK's auto-close: resolve tickets still waiting on the customer (status Replied) whose last staff
    reply is at least ``days`` days old. Each one is resolved by the system (history "automatically",
    the customer told per ``notify_closed``). Returns how many were resolved; 0 days does nothing."""
    if days <= 0:
        return 0
    from datetime import timedelta

    cutoff = (now or utcnow()) - timedelta(days=days)
    last_staff_reply = (select(func.max(Reply.created_at))
                        .where(Reply.ticket_id == Ticket.id, Reply.author_type == "staff")
                        .correlate(Ticket).scalar_subquery())
    ids = db.session.scalars(
        select(Ticket.id).where(Ticket.status_id == STATUS_REPLIED, Ticket.last_replier == "staff",
                                last_staff_reply <= cutoff).order_by(Ticket.id).limit(limit)).all()
    done = 0
    for ticket_id in ids:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is None or ticket.status_id != STATUS_REPLIED:  # changed since the query
            continue
        change_status(ticket, STATUS_RESOLVED, actor=Actor.system())
        done += 1
    return done


def notify_overdue(*, now: datetime | None = None, limit: int = 500) -> int:
    """HESK's overdue notices (cron): a ticket whose due date has passed and that is not resolved is emailed
    once, to its owner (``notify_overdue_my``) or, when unassigned, to the staff of its category
    (``notify_overdue_unassigned``). ``overdue_email_sent`` keeps it to once per due date; ``set_due_date``
    re-arms it. Each ticket is claimed by a conditional UPDATE, so two runs at once email it once.
    Returns how many tickets were handled."""
    now = now or utcnow()
    closed = select(Status.id).where(Status.kind == STATUS_CLOSED)
    ids = db.session.scalars(
        select(Ticket.id).where(Ticket.due_date < now, Ticket.overdue_email_sent.is_(False),
                                Ticket.status_id.not_in(closed)).order_by(Ticket.due_date).limit(limit)).all()
    done = 0
    for ticket_id in ids:
        try:
            claimed = db.session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.overdue_email_sent.is_(False))
                .values(overdue_email_sent=True).execution_options(synchronize_session=False)).rowcount
            if claimed != 1:  # another run has it
                db.session.rollback()
                continue
            ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
            actor = Actor.system()
            _history(ticket, actor, "overdue_email", due=ticket.due_date.isoformat() if ticket.due_date else None)
            _notify_staff_of(ticket, "overdue_ticket", "notify_overdue_my", "notify_overdue_unassigned", actor,
                             due_date=ticket.due_date.strftime("%Y-%m-%d") if ticket.due_date else "")
            _commit()
        except Exception:
            db.session.rollback()
            raise
        done += 1
    return done


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
        _commit()
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
        _commit()
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
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def move_category_tickets(from_category_id: int, to_category_id: int, *, actor: Actor) -> int:
    """Move every ticket of one category to another (deleting a category), one history row per ticket;
    returns how many moved. Part of the caller's transaction when inside ``one_transaction()``."""
    if from_category_id == to_category_id or db.session.get(Category, to_category_id) is None:
        raise InvalidTicketData({"category": str(_l("Unknown category."))})
    try:
        ids = list(db.session.scalars(select(Ticket.id).where(Ticket.category_id == from_category_id)))
        now = utcnow()
        for start in range(0, len(ids), 1000):  # history rows in batches: one executemany each
            db.session.execute(insert(TicketEvent), [
                {"ticket_id": tid, "created_at": now, "actor_type": actor.kind, "actor_id": actor.id,
                 "actor_name": actor.name[:255], "action": "category",
                 "data": {"old": from_category_id, "new": to_category_id}}
                for tid in ids[start:start + 1000]])
        if ids:
            db.session.execute(update(Ticket).where(Ticket.category_id == from_category_id)
                               .values(category_id=to_category_id)
                               .execution_options(synchronize_session=False))
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return len(ids)


_CUSTOM_KEY_RE = re.compile(r"^custom[1-9][0-9]*$")


def _custom_value_clause(key: str):
    return func.json_extract(Ticket.custom, f'$."{key}"').is_not(None)


def count_custom_values(key: str) -> int:
    """How many tickets store a value of the custom field ``key`` (``custom3``)."""
    if not _CUSTOM_KEY_RE.match(key):
        raise ValueError(key)
    return db.session.scalar(select(func.count(Ticket.id)).where(_custom_value_clause(key))) or 0


def remove_custom_values(key: str) -> int:
    """Remove the stored values of the custom field ``key`` from every ticket (the field is being deleted);
    returns how many tickets had one. One UPDATE (JSON_REMOVE on MariaDB/MySQL and SQLite alike); part of
    the caller's transaction when inside ``one_transaction()``."""
    if not _CUSTOM_KEY_RE.match(key):
        raise ValueError(key)
    path = f'$."{key}"'
    try:
        result = db.session.execute(update(Ticket).where(_custom_value_clause(key))
                                    .values(custom=func.json_remove(Ticket.custom, path))
                                    .execution_options(synchronize_session=False))
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return result.rowcount or 0


# ---------------------------------------------------------------------------------------------
# Staff actions (the staff panel: reference/HESK.md §3.3). Who may do what is decided by the caller
# with hesk_py/services/ticket_access.py; these functions apply the change, write the history row and
# queue the notifications in one transaction.
# ---------------------------------------------------------------------------------------------

MAX_TIME_WORKED = 10_000 * 3600  # HESK's TIME column tops out at 838:59:59; we allow more, not unbounded


def staff_reply(
    ticket: Ticket,
    *,
    user: User,
    message: str,
    attachments: list[dict[str, Any]] | None = None,
    status_id: int | None = None,
    notify: bool = True,
    sign: bool = False,
    assign_self: bool = False,
    priority_id: int | None = None,
    as_customer: bool = False,
    message_format: str = "text",
) -> Reply:
    """A reply from the staff panel: optionally signed, assigning the ticket to its author, changing the
    priority, or entered on the customer's behalf ("Submit as customer reply", always plain text: the
    customer's words). ``message_format`` "markdown": written in Markdown (``staff_ticket_formatting``).
    Everything, including the author's draft being discarded, is one transaction."""
    from hesk_py.models import ReplyDraft

    if not (message or "").strip() and not attachments:
        raise InvalidTicketData({"message": str(_l("Please write a message."))})
    actor = Actor.staff(user)
    if as_customer:
        message_format = "text"
    if sign and (user.signature or "").strip() and not as_customer:
        signature = user.signature.strip()
        if message_format == "markdown":  # keep the signature's lines (a Markdown line break: two spaces)
            signature = "  \n".join(line.rstrip() for line in signature.replace("\r\n", "\n").split("\n"))
        message = f"{message.rstrip()}\n\n{signature}"
    with one_transaction():
        if assign_self and ticket.owner_id != user.id:
            assign(ticket, user.id, actor=actor)
        if priority_id and priority_id != ticket.priority_id:
            change_priority(ticket, priority_id, actor=actor)
        if as_customer:
            reply = add_reply(ticket, message=message, attachments=attachments,
                              actor=Actor("customer", ticket.customer_id, ticket.name))
            _history(ticket, actor, "customer_reply_entered", reply_id=reply.id)
        else:
            reply = add_reply(ticket, message=message, attachments=attachments, actor=actor,
                              status_id=status_id, notify=notify, message_format=message_format)
        db.session.execute(
            ReplyDraft.__table__.delete().where(ReplyDraft.user_id == user.id, ReplyDraft.ticket_id == ticket.id)
        )
    return reply


def edit_message(ticket: Ticket, *, subject: str, message: str, actor: Actor) -> Ticket:
    """Edit the ticket's subject and original message (``can_edit_tickets``)."""
    subject = (subject or "").strip()
    errors = {}
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = str(_l("The subject is too long (at most %(n)s characters).", n=MAX_SUBJECT))
    elif _HEADER_BREAKERS.search(subject):
        errors["subject"] = str(_l("The subject must be a single line."))
    if not (message or "").strip():
        errors["message"] = str(_l("Please write a message."))
    elif len(message) > MAX_MESSAGE:
        errors["message"] = str(_l("The message is too long."))
    if errors:
        raise InvalidTicketData(errors)
    if subject == ticket.subject and message == ticket.message:
        return ticket
    try:
        _history(ticket, actor, "edited", subject_changed=subject != ticket.subject)
        ticket.subject = subject
        ticket.message = message
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def edit_reply(reply: Reply, *, message: str, actor: Actor) -> Reply:
    if not (message or "").strip():
        raise InvalidTicketData({"message": str(_l("Please write a message."))})
    if len(message) > MAX_MESSAGE:
        raise InvalidTicketData({"message": str(_l("The message is too long."))})
    if message == reply.message:
        return reply
    try:
        reply.message = message
        _history(reply.ticket, actor, "reply_edited", reply_id=reply.id)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return reply


def _recount_replies(ticket: Ticket) -> None:
    """Reply counters and last/first replier from the replies themselves (after a delete or merge)."""
    rows = db.session.execute(
        select(Reply.author_type, Reply.staff_id, Reply.created_at)
        .where(Reply.ticket_id == ticket.id)
        .order_by(Reply.created_at, Reply.id)
    ).all()
    ticket.reply_count = len(rows)
    staff_rows = [r for r in rows if r.author_type == "staff"]
    ticket.staff_reply_count = len(staff_rows)
    if rows:
        ticket.last_replier = rows[-1].author_type
        ticket.last_replier_id = rows[-1].staff_id if rows[-1].author_type == "staff" else None
    else:
        ticket.last_replier = "staff" if ticket.opened_by == OPENED_BY_STAFF else "customer"
        ticket.last_replier_id = None
    if staff_rows:
        ticket.first_reply_at = staff_rows[0].created_at
        ticket.first_reply_by_id = staff_rows[0].staff_id
    else:
        ticket.first_reply_at = None
        ticket.first_reply_by_id = None


def delete_reply(reply: Reply, *, actor: Actor) -> list[str]:
    """Delete a reply and its attachments. Returns the stored file names to remove from storage once the
    transaction has committed (files go only after the rows are gone)."""
    ticket = reply.ticket
    saved = list(db.session.scalars(select(Attachment.saved_name).where(Attachment.reply_id == reply.id)))
    try:
        db.session.execute(Attachment.__table__.delete().where(Attachment.reply_id == reply.id))
        _history(ticket, actor, "reply_deleted", reply_id=reply.id, author=reply.name)
        db.session.delete(reply)
        db.session.flush()
        _recount_replies(ticket)
        _touch(ticket)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return saved


def edit_note(note: Note, *, message: str, actor: Actor) -> Note:
    if not (message or "").strip():
        raise InvalidTicketData({"message": str(_l("Please write a note."))})
    if len(message) > MAX_MESSAGE:
        raise InvalidTicketData({"message": str(_l("The note is too long."))})
    if message == note.message:
        return note
    try:
        note.message = message
        note.updated_at = utcnow()
        _history(note.ticket, actor, "note_edited", note_id=note.id)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return note


def delete_note(note: Note, *, actor: Actor) -> list[str]:
    """Delete a private note and its attachments; returns the stored file names to remove."""
    ticket = note.ticket
    saved = list(db.session.scalars(select(Attachment.saved_name).where(Attachment.note_id == note.id)))
    try:
        db.session.execute(Attachment.__table__.delete().where(Attachment.note_id == note.id))
        _history(ticket, actor, "note_deleted", note_id=note.id)
        db.session.delete(note)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return saved


def set_locked(ticket: Ticket, locked: bool, *, actor: Actor) -> Ticket:
    """Lock (customers can no longer reply or reopen; locking also resolves, as in HESK) or unlock."""
    if bool(ticket.locked) == locked:
        return ticket
    try:
        now = _touch(ticket)
        ticket.locked = locked
        _history(ticket, actor, "locked" if locked else "unlocked")
        if locked and ticket.status_id != STATUS_RESOLVED:
            old = ticket.status_id
            _set_status(ticket, db.session.get(Status, STATUS_RESOLVED), actor, now)
            _history(ticket, actor, "status", old=old, new=STATUS_RESOLVED)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def set_tagged(ticket: Ticket, tagged: bool, *, actor: Actor) -> Ticket:
    """Tag or untag a ticket (HESK's "archive" flag)."""
    if bool(ticket.tagged) == tagged:
        return ticket
    try:
        ticket.tagged = tagged
        _history(ticket, actor, "tagged" if tagged else "untagged")
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def set_due_date(ticket: Ticket, due: datetime | None, *, actor: Actor) -> Ticket:
    """Set or remove the due date (stored as UTC); a new date re-arms the overdue reminder."""
    if due == ticket.due_date:
        return ticket
    try:
        old = ticket.due_date
        ticket.due_date = due
        ticket.overdue_email_sent = False
        _history(ticket, actor, "due_date", old=old.isoformat() if old else None,
                 new=due.isoformat() if due else None)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def set_time_worked(ticket: Ticket, seconds: int, *, actor: Actor) -> Ticket:
    """Set the time worked on the ticket (manual entry), in seconds."""
    seconds = int(seconds)
    if seconds < 0 or seconds > MAX_TIME_WORKED:
        raise InvalidTicketData({"time_worked": str(_l("Enter a time between 0:00:00 and %(h)s:00:00.",
                                                          h=MAX_TIME_WORKED // 3600))})
    if seconds == ticket.time_worked:
        return ticket
    try:
        old = ticket.time_worked
        ticket.time_worked = seconds
        _history(ticket, actor, "time_worked", old=old, new=seconds)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return ticket


def start_timer(ticket: Ticket, *, user: User) -> None:
    """Start the user's time-worked timer on this ticket (a no-op when it already runs)."""
    from hesk_py.models import TicketTimer

    if db.session.get(TicketTimer, (ticket.id, user.id)) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(TicketTimer(ticket_id=ticket.id, user_id=user.id, started_at=utcnow()))
        _commit()
    except IntegrityError:  # a second click started it at the same moment
        db.session.rollback()


def timer_started_at(ticket: Ticket, user: User) -> datetime | None:
    from hesk_py.models import TicketTimer

    return db.session.scalar(
        select(TicketTimer.started_at).where(TicketTimer.ticket_id == ticket.id, TicketTimer.user_id == user.id)
    )


def stop_timer(ticket: Ticket, *, user: User) -> int:
    """Stop the user's timer and add the elapsed time to the ticket. Returns the seconds added."""
    from hesk_py.models import TicketTimer

    timer = db.session.get(TicketTimer, (ticket.id, user.id))
    if timer is None:
        return 0
    elapsed = max(0, int((utcnow() - timer.started_at).total_seconds()))
    with one_transaction():
        db.session.delete(timer)
        if elapsed:
            set_time_worked(ticket, min(ticket.time_worked + elapsed, MAX_TIME_WORKED), actor=Actor.staff(user))
    return elapsed


def link_tickets(ticket: Ticket, other: Ticket, *, actor: Actor) -> None:
    """Link two tickets (both ways). Linking a ticket to itself or twice changes nothing."""
    from hesk_py.models import TicketLink

    if ticket.id == other.id:
        raise InvalidTicketData({"link": str(_l("A ticket cannot be linked to itself."))})
    if db.session.get(TicketLink, (ticket.id, other.id)) is not None:
        return
    try:
        now = utcnow()
        by = actor.id if actor.kind == "staff" else None
        db.session.add(TicketLink(ticket_id=ticket.id, linked_id=other.id, created_at=now, created_by_id=by))
        db.session.add(TicketLink(ticket_id=other.id, linked_id=ticket.id, created_at=now, created_by_id=by))
        _history(ticket, actor, "linked", trackid=other.trackid)
        _history(other, actor, "linked", trackid=ticket.trackid)
        _commit()
    except IntegrityError:  # linked by someone else at the same moment
        db.session.rollback()
    except Exception:
        db.session.rollback()
        raise


def unlink_tickets(ticket: Ticket, other: Ticket, *, actor: Actor) -> None:
    from hesk_py.models import TicketLink

    try:
        result = db.session.execute(
            TicketLink.__table__.delete().where(
                or_((TicketLink.ticket_id == ticket.id) & (TicketLink.linked_id == other.id),
                    (TicketLink.ticket_id == other.id) & (TicketLink.linked_id == ticket.id))
            )
        )
        if result.rowcount:
            _history(ticket, actor, "unlinked", trackid=other.trackid)
            _history(other, actor, "unlinked", trackid=ticket.trackid)
        _commit()
    except Exception:
        db.session.rollback()
        raise


_LINKED: dict = {}


def linked_tickets(ticket: Ticket, visible_clause=None, *, viewer=None) -> list[Ticket]:
    """The tickets linked to this one (only those matching ``visible_clause`` when given, or those ``viewer``
    may see: then with a statement kept per permission shape, see ``ticket_access.visible_bound``)."""
    from hesk_py.models import TicketLink

    if viewer is not None:
        from sqlalchemy import bindparam
        from sqlalchemy.orm import defer, lazyload

        from hesk_py.services.ticket_access import visible_bound

        visible, shape, params = visible_bound(viewer)
        stmt = _LINKED.get(shape)
        if stmt is None:
            stmt = _LINKED[shape] = (
                select(Ticket).join(TicketLink, TicketLink.linked_id == Ticket.id)
                .where(TicketLink.ticket_id == bindparam("tid"), visible).order_by(Ticket.id)
                .options(lazyload(Ticket.category), lazyload(Ticket.priority), lazyload(Ticket.owner),
                         defer(Ticket.message)))
        return list(db.session.scalars(stmt, dict(params, tid=ticket.id)).unique())

    from sqlalchemy.orm import defer, lazyload

    # the ticket page shows their tracking ID, subject and status: the rest is loaded only if asked for
    stmt = (
        select(Ticket)
        .join(TicketLink, TicketLink.linked_id == Ticket.id)
        .where(TicketLink.ticket_id == ticket.id)
        .order_by(Ticket.id)
        .options(lazyload(Ticket.category), lazyload(Ticket.priority), lazyload(Ticket.owner), defer(Ticket.message))
    )
    if visible_clause is not None:
        stmt = stmt.where(visible_clause)
    return list(db.session.scalars(stmt).unique())


def merge_tickets(tickets: list[Ticket], *, actor: Actor) -> Ticket:
    """HESK's merge: the oldest ticket (lowest number) is kept. Each other ticket's original message
    becomes a customer reply on it (dated when it was filed, with the message's attachments); its
    replies, notes, attachments, history, links, bookmarks and pending mail move over; time worked is
    added up; then the other ticket is deleted and its tracking ID keeps resolving to the kept one
    (``merged_ids`` and ``hesk_ticket_aliases``)."""
    from sqlalchemy import delete, update

    from hesk_py.models import OutboxMessage, TicketAlias, TicketBookmark, TicketLink

    unique = {t.id: t for t in tickets}
    if len(unique) < 2:
        raise InvalidTicketData({"merge": str(_l("Select at least two tickets to merge."))})
    ordered = sorted(unique.values(), key=lambda t: t.id)
    target, others = ordered[0], ordered[1:]
    other_ids = [t.id for t in others]
    try:
        merged = list(target.merged_ids or [])
        for other in others:
            message_reply = Reply(
                ticket_id=target.id,
                author_type="customer",
                customer_id=other.customer_id,
                name=other.name[:255],
                message=other.message or "",
                created_at=other.created_at,
                read=True,
            )
            db.session.add(message_reply)
            db.session.flush()
            db.session.execute(
                update(Attachment)
                .where(Attachment.ticket_id == other.id, Attachment.reply_id.is_(None),
                       Attachment.note_id.is_(None))
                .values(ticket_id=target.id, reply_id=message_reply.id)
                .execution_options(synchronize_session=False)
            )
            merged.append(other.trackid)
            merged.extend(other.merged_ids or [])
            target.time_worked = min((target.time_worked or 0) + (other.time_worked or 0), MAX_TIME_WORKED)
        for model in (Attachment, Reply, Note, TicketEvent, TicketAlias, OutboxMessage):
            db.session.execute(
                update(model).where(model.ticket_id.in_(other_ids)).values(ticket_id=target.id)
                .execution_options(synchronize_session=False)
            )
        # bookmarks and links: carry over those the kept ticket does not have yet
        have = set(db.session.scalars(select(TicketBookmark.user_id).where(TicketBookmark.ticket_id == target.id)))
        for user_id in set(db.session.scalars(select(TicketBookmark.user_id)
                                              .where(TicketBookmark.ticket_id.in_(other_ids)))) - have:
            db.session.add(TicketBookmark(user_id=user_id, ticket_id=target.id, created_at=utcnow()))
        linked = set(db.session.scalars(select(TicketLink.linked_id).where(TicketLink.ticket_id == target.id)))
        new_links = set(db.session.scalars(select(TicketLink.linked_id)
                                           .where(TicketLink.ticket_id.in_(other_ids))))
        for linked_id in new_links - linked - set(other_ids) - {target.id}:
            db.session.add(TicketLink(ticket_id=target.id, linked_id=linked_id, created_at=utcnow()))
            db.session.add(TicketLink(ticket_id=linked_id, linked_id=target.id, created_at=utcnow()))
        for other in others:
            db.session.add(TicketAlias(trackid=other.trackid, ticket_id=target.id))
        # HESK: the customers of the merged tickets become followers of the kept one (so they still see it)
        people = []
        for other in others:
            if other.email:
                people.append((other.name, other.email.lower()))
            people.extend((f.name, f.email) for f in follower_rules.followers_of(other) if f.email)
        _add_followers(target, people, actor, utcnow(), strict=False)
        target.merged_ids = merged
        db.session.flush()
        # the rows left on the merged tickets (drafts, viewers, timers, old links) go with them
        db.session.execute(delete(Ticket).where(Ticket.id.in_(other_ids)).execution_options(
            synchronize_session=False))
        for other in others:
            db.session.expunge(other)
        _recount_replies(target)
        _touch(target)
        _history(target, actor, "merged", trackids=[o.trackid for o in others])
        _commit()
    except Exception:
        db.session.rollback()
        raise
    # relationships loaded before the merge are stale now
    db.session.expire(target)
    return target


def delete_ticket(ticket: Ticket, *, actor: Actor) -> list[str]:
    """Delete a ticket with everything on it. Returns the stored attachment file names to remove once
    the transaction has committed. The deletion itself is logged (the ticket's own history goes)."""
    import logging

    saved = list(db.session.scalars(select(Attachment.saved_name).where(Attachment.ticket_id == ticket.id)))
    trackid = ticket.trackid
    try:
        # one statement: the database's ON DELETE CASCADE removes replies, notes, attachments, history,
        # links, bookmarks, drafts and the rest (the ORM would load and delete them row by row)
        db.session.execute(
            Ticket.__table__.delete().where(Ticket.id == ticket.id)
        )
        db.session.expunge(ticket)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    logging.getLogger(__name__).info("ticket %s deleted by %s %s", trackid, actor.kind, actor.id)
    return saved


def resend_notification(ticket: Ticket, *, actor: Actor) -> str | None:
    """Send the customer's last notification again (to the requester and the followers): the latest staff
    reply, or the ticket received email when staff has not replied yet. Returns the template queued
    (None: no email address to send to)."""
    if not follower_rules.mail_groups(ticket):
        return None
    last_staff_reply = db.session.scalar(
        select(Reply).where(Reply.ticket_id == ticket.id, Reply.author_type == "staff")
        .order_by(Reply.created_at.desc(), Reply.id.desc()).limit(1)
    )
    try:
        if last_staff_reply is not None:
            template = "new_reply_by_staff"
            _notify_customers(template, ticket, reply_id=last_staff_reply.id, staff_name=last_staff_reply.name)
        else:
            template = "new_ticket"
            _notify_customers(template, ticket)
        _history(ticket, actor, "notification_resent", template=template)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return template


def customer_address(ticket: Ticket, follower_id: int | None = None) -> str:
    """The requester's address, or (``follower_id``) the address of that follower of the ticket. Raises
    InvalidBan when there is none (a ticket without an address, a customer who does not follow it)."""
    from hesk_py.services import bans

    if follower_id is None:
        return bans.normalize_email_ban(ticket.email)  # raises InvalidBan for a ticket without an address
    found = follower_rules.follower(ticket, follower_id)
    if found is None:
        raise bans.InvalidBan(str(_l("This customer does not follow this ticket.")))
    return bans.normalize_email_ban(found.email)


def _list_ticket_email(ticket: Ticket, actor: Actor, follower_id: int | None, *, mute: bool) -> bool:
    """Ban or mute (``mute``) the address of one of the ticket's customers, with a history row."""
    from hesk_py.models import BannedEmail, MutedEmail
    from hesk_py.services import bans

    value = customer_address(ticket, follower_id)
    if (bans.is_email_muted if mute else bans.is_email_banned)(value):
        return False
    try:
        if mute:
            db.session.add(MutedEmail(email=value, muted_by_id=actor.id, created_at=utcnow()))
        else:
            db.session.add(BannedEmail(email=value, banned_by_id=actor.id, created_at=utcnow()))
        _history(ticket, actor, "muted_email" if mute else "banned_email", email=value)
        _commit()
    except IntegrityError:  # listed by someone else at the same moment
        db.session.rollback()
        return False
    except Exception:
        db.session.rollback()
        raise
    return True


def ban_ticket_email(ticket: Ticket, *, actor: Actor, follower_id: int | None = None) -> bool:
    """Ban the requester's email address, or a follower's (``follower_id``), by the bans service's rules.
    False when already banned."""
    return _list_ticket_email(ticket, actor, follower_id, mute=False)


def mute_ticket_email(ticket: Ticket, *, actor: Actor, follower_id: int | None = None) -> bool:
    """Mute the requester's email address, or a follower's (``follower_id``): their tickets are still
    accepted, the help desk sends that address no mail. False when already muted."""
    return _list_ticket_email(ticket, actor, follower_id, mute=True)


def ban_ticket_ip(ticket: Ticket, *, actor: Actor) -> bool:
    """Ban the IP address the ticket was submitted from. False when it is already banned."""
    from hesk_py.models import BannedIP
    from hesk_py.services import bans

    ip_from, ip_to, display = bans.parse_ip_ban(ticket.ip)  # raises InvalidBan without a valid IP
    if bans.is_ip_banned(ticket.ip):
        return False
    try:
        db.session.add(BannedIP(ip_from=ip_from, ip_to=ip_to, ip_display=display, banned_by_id=actor.id,
                                created_at=utcnow()))
        _history(ticket, actor, "banned_ip", ip=display)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return True


# --- the customer's own actions (public ticket page) -------------------------------------------------

def customer_resolve(ticket: Ticket, *, actor: Actor) -> Ticket:
    """The customer marks their ticket resolved (``custclose``). When customers may not reopen
    (``custopen`` off) HESK also locks it, so it stays closed."""
    with one_transaction():
        change_status(ticket, STATUS_RESOLVED, actor=actor, notify=False)
        if not settings.get("custopen"):
            set_locked(ticket, True, actor=actor)
    return ticket


def customer_reopen(ticket: Ticket, *, actor: Actor) -> Ticket:
    """The customer reopens a resolved ticket (``custopen``): New when staff never replied, Waiting
    reply when the customer wrote last, otherwise Replied (HESK's rule)."""
    if ticket.staff_reply_count == 0:
        target = STATUS_NEW
    elif ticket.last_replier == "customer":
        target = STATUS_WAITING_REPLY
    else:
        target = STATUS_REPLIED
    return change_status(ticket, target, actor=actor, notify=False)


def rate_reply(reply: Reply, rating: int, *, actor: Actor) -> bool:
    """The customer rates a staff reply: 5 helpful, 1 not helpful; once per reply. False when it was
    already rated (or is not a staff reply)."""
    if rating not in (1, 5):
        raise InvalidTicketData({"rating": str(_l("Unknown rating."))})
    from sqlalchemy import update

    if reply.author_type != "staff":
        return False
    try:
        done = db.session.execute(
            update(Reply).where(Reply.id == reply.id, Reply.rating.is_(None)).values(rating=rating)
        ).rowcount
        if done:
            _history(reply.ticket, actor, "rated", reply_id=reply.id, rating=rating)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    db.session.refresh(reply)
    return bool(done)


def mark_replies_read(ticket: Ticket) -> None:
    """The customer has seen the staff replies (staff see "the customer has not read this reply yet")."""
    from sqlalchemy import update

    try:
        db.session.execute(
            update(Reply).where(Reply.ticket_id == ticket.id, Reply.author_type == "staff",
                                Reply.read.is_(False)).values(read=True)
        )
        _commit()
    except Exception:
        db.session.rollback()
        raise


# --- a customer's tickets as a whole (customer accounts: email change, merge, deletion) ---------------

def set_customer_email(customer_id: int, email: str) -> int:
    """A customer's address changed: their tickets' copy of it follows, so notifications reach the new
    address. In the caller's transaction; returns how many tickets changed."""
    return db.session.execute(
        update(Ticket).where(Ticket.customer_id == customer_id).values(email=email)
    ).rowcount


def move_customer_tickets(from_customer_id: int, to_customer_id: int | None) -> None:
    """The tickets and replies of one customer become another's (None: no customer), in the caller's
    transaction (merging two customers, deleting one)."""
    db.session.execute(update(Ticket).where(Ticket.customer_id == from_customer_id)
                       .values(customer_id=to_customer_id))
    db.session.execute(update(Reply).where(Reply.customer_id == from_customer_id)
                       .values(customer_id=to_customer_id))
    _move_customer_followers(from_customer_id, to_customer_id)


def _move_customer_followers(from_customer_id: int, to_customer_id: int | None) -> None:
    """The tickets one customer follows, followed by another (None: by nobody), in the caller's transaction;
    where the other one opened or follows the ticket already, the row just goes. The follower counts follow."""
    from sqlalchemy import delete

    affected = set(db.session.scalars(select(TicketFollower.ticket_id)
                                      .where(TicketFollower.customer_id == from_customer_id)))
    if to_customer_id is not None:
        affected |= set(db.session.scalars(select(TicketFollower.ticket_id).join(
            Ticket, Ticket.id == TicketFollower.ticket_id).where(TicketFollower.customer_id == to_customer_id,
                                                                 Ticket.customer_id == to_customer_id)))
    if not affected:
        return
    ids = sorted(affected)
    if to_customer_id is not None:
        taken = set(db.session.scalars(select(TicketFollower.ticket_id).where(
            TicketFollower.customer_id == to_customer_id, TicketFollower.ticket_id.in_(ids))))
        taken |= set(db.session.scalars(select(Ticket.id).where(Ticket.id.in_(ids),
                                                                Ticket.customer_id == to_customer_id)))
        free = [i for i in ids if i not in taken]
        if free:
            db.session.execute(update(TicketFollower).where(TicketFollower.customer_id == from_customer_id,
                                                            TicketFollower.ticket_id.in_(free))
                               .values(customer_id=to_customer_id).execution_options(synchronize_session=False))
        # a requester never follows their own ticket
        db.session.execute(delete(TicketFollower).where(TicketFollower.customer_id == to_customer_id,
                                                        TicketFollower.ticket_id.in_(
                                                            [i for i in ids if i in taken]),
                                                        TicketFollower.ticket_id.in_(
                                                            select(Ticket.id).where(Ticket.customer_id == to_customer_id)))
                           .execution_options(synchronize_session=False))
    db.session.execute(delete(TicketFollower).where(TicketFollower.customer_id == from_customer_id)
                       .execution_options(synchronize_session=False))
    count = (select(func.count()).select_from(TicketFollower).where(TicketFollower.ticket_id == Ticket.id)
             .correlate(Ticket).scalar_subquery())
    db.session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(follower_count=count)
                       .execution_options(synchronize_session=False))


ANONYMOUS = "Anonymous"
ANONYMIZED = "[anonymized]"


def anonymize_ticket(ticket: Ticket, *, actor: Actor) -> list[str]:
    """HESK's "anonymize ticket" (privacy): the customer's name and address, the IP, the subject, the
    message, every reply, the custom field values and the files are replaced or removed; the customer's
    name also goes from the history. Staff notes stay. Returns the stored file names to remove once the
    transaction has committed."""
    saved = list(db.session.scalars(select(Attachment.saved_name).where(Attachment.ticket_id == ticket.id,
                                                                        Attachment.note_id.is_(None))))
    try:
        db.session.execute(Attachment.__table__.delete().where(Attachment.ticket_id == ticket.id,
                                                               Attachment.note_id.is_(None)))
        db.session.execute(update(Reply).where(Reply.ticket_id == ticket.id).values(message=ANONYMIZED))
        db.session.execute(update(Reply).where(Reply.ticket_id == ticket.id, Reply.author_type != "staff")
                           .values(name=ANONYMOUS, customer_id=None))
        db.session.execute(update(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                     TicketEvent.actor_type.in_(("customer", "email")))
                           .values(actor_name=ANONYMOUS))
        ticket.name, ticket.email, ticket.ip = ANONYMOUS, "", ""
        ticket.subject, ticket.message, ticket.custom = ANONYMIZED, ANONYMIZED, None
        ticket.customer_id = None
        # the followers' names and addresses go too
        db.session.execute(TicketFollower.__table__.delete().where(TicketFollower.ticket_id == ticket.id))
        ticket.follower_count = 0
        _history(ticket, actor, "anonymized")
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return saved
