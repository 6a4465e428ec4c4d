"""Customer accounts (HESK 3.5+): registration, email verification, staff approval, login, password reset,
the profile, "My tickets", staff management, and the email-channel rule when accounts are required.

The settings:

* ``customer_accounts``: 0 off (tickets by tracking ID and email only), 1 optional, 2 required to submit
  and view tickets, 3 required for every customer page.
* ``customer_accounts_registration``: 0 customers register (and confirm their address), 1 they register and
  staff approve, 2 only staff create accounts (the customer gets a link to choose a password).

An account lives on the customer's ``Customer`` row (hesk_py/models/customers.py), which every ticket with
that address already points to: the tickets a customer filed before registering are theirs at once.

Links sent by email are random 32-byte tokens stored as sha256 only, single use and expiring: 1 hour to
reset a password, 24 hours to confirm an address, 72 hours for the first password of an account staff
created; all die when the password changes. A registration's link carries the password chosen with it, and
confirming it means typing that password: whoever registers someone else's address cannot take over the
account that its owner confirms. Answers that could tell whether an address has an account (register,
forgot password, resend the link) are the same whatever the address; the mail goes only to the address.

Passwords, sessions ("other sessions end": ``session_version``), remember-me tokens and the second factor
use the staff code (hesk_py/services/accounts.py, mfa.py) with the customer's own tables.
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import (
    Customer, CustomerMfaEmailCode, CustomerToken, PipeRejection, Status, Ticket, TicketAlias, User,
)
from hesk_py.models.customers import (
    ACCOUNT_ACTIVE, ACCOUNT_DISABLED, ACCOUNT_PENDING, ACCOUNT_STATUSES, ACCOUNT_UNVERIFIED, TOKEN_EMAIL,
    TOKEN_INVITE, TOKEN_RESET, TOKEN_VERIFY,
)
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import STATUS_CLOSED
from hesk_py.services import accounts, followers, outbox
from hesk_py.services.accounts import AccountError
from hesk_py.services.errors import HeskError, TicketNotFound

VERIFY_VALID = timedelta(hours=24)
EMAIL_CHANGE_VALID = timedelta(hours=24)
RESET_VALID = timedelta(hours=1)
INVITE_VALID = timedelta(hours=72)
RESET_MAX_PER_HOUR = 3

MODE_OFF, MODE_OPTIONAL, MODE_REQUIRED_TICKETS, MODE_REQUIRED_ALL = 0, 1, 2, 3
REGISTER_OPEN, REGISTER_APPROVAL, REGISTER_STAFF_ONLY = 0, 1, 2

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_LINE_BREAKERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")

_LINK_GONE = _l("This link has expired or was already used. Ask for a new one.")


class Refused(HeskError):
    """The action is not allowed in the current mode (registration closed, email changes off...)."""


# --- the settings ------------------------------------------------------------------------------------

def mode() -> int:
    return int(settings.get("customer_accounts"))


def enabled() -> bool:
    return mode() >= MODE_OPTIONAL


def required_for_tickets() -> bool:
    """Modes 2 and 3: only logged-in customers submit and view tickets."""
    return mode() >= MODE_REQUIRED_TICKETS


def required_for_everything() -> bool:
    return mode() == MODE_REQUIRED_ALL


def registration() -> int:
    return int(settings.get("customer_accounts_registration"))


def self_registration() -> bool:
    return enabled() and registration() != REGISTER_STAFF_ONLY


def needs_approval() -> bool:
    return registration() == REGISTER_APPROVAL


def _cooldown() -> timedelta:
    return timedelta(minutes=int(settings.get("customer_accounts_verify_email_cooldown")))


# --- small helpers -----------------------------------------------------------------------------------

def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def valid_email(email: str) -> bool:
    return bool(_EMAIL_RE.match(email)) and len(email) <= 255 and not _LINE_BREAKERS.search(email)


def by_email(email: str | None) -> Customer | None:
    key = normalize_email(email)
    if not key:
        return None
    return db.session.scalar(select(Customer).where(Customer.email == key))


def _check_name(name: str, errors: dict[str, str]) -> str:
    name = (name or "").strip()
    if not name:
        errors["name"] = str(_l("Please enter your name."))
    elif len(name) > 255:
        errors["name"] = str(_l("The name is too long (at most %(n)s characters).", n=255))
    elif _LINE_BREAKERS.search(name):
        errors["name"] = str(_l("The name must be a single line."))
    return name


def _check_language(language: str | None, errors: dict[str, str]) -> str | None:
    language = (language or "").strip()
    if language and language not in accounts.LANGUAGE_CODES:
        errors["language"] = str(_l("Choose a language from the list."))
    return language or None


def _check_new_password(password: str, confirm: str, email: str, errors: dict[str, str]) -> None:
    problem = accounts.password_problem(password or "", email=email)
    if problem:
        errors["password"] = problem
    elif password != confirm:
        errors["confirm"] = str(_l("The two passwords do not match."))


def _new_token(customer: Customer, purpose: str, valid: timedelta, *, ip: str = "", new_email: str | None = None,
               password_hash: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(CustomerToken(customer_id=customer.id, purpose=purpose, token_hash=_sha256(token),
                                 new_email=new_email, password_hash=password_hash, ip=(ip or "")[:45],
                                 created_at=now, expires_at=now + valid))
    return token


def find_token(token: str | None, *purposes: str) -> CustomerToken | None:
    """The unused, unexpired link for this token (one of ``purposes``) of an account that is not
    deactivated, or None."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(select(CustomerToken).where(CustomerToken.token_hash == _sha256(token)))
    if row is None or row.purpose not in purposes or row.used_at is not None or row.expires_at <= utcnow():
        return None
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.account_status in (None, ACCOUNT_DISABLED):
        return None
    return row


def _spend(row: CustomerToken) -> None:
    """Mark a link used; a second use at the same moment (a double click) loses."""
    used = db.session.execute(
        update(CustomerToken).where(CustomerToken.id == row.id, CustomerToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if used != 1:
        db.session.rollback()
        raise AccountError({"token": str(_LINK_GONE)})


def _drop_tokens(customer: Customer, *purposes: str) -> None:
    db.session.execute(delete(CustomerToken).where(CustomerToken.customer_id == customer.id,
                                                   CustomerToken.purpose.in_(purposes)))


def _language(customer: Customer) -> str | None:
    return customer.language or None


def _mail(template: str, customer: Customer, *, to: str | None = None, **context: Any) -> None:
    outbox.queue(template, to or customer.email, language=_language(customer),
                 context={"name": customer.name, "email": to or customer.email, **context})


def _cooldown_passed(customer: Customer, now) -> bool:
    return customer.mail_sent_at is None or now - customer.mail_sent_at >= _cooldown()


def _send_verification(customer: Customer, password_hash: str | None, ip: str, now) -> None:
    """A link to confirm the address: for a registration (with the password chosen), or, for an account
    staff created, the link to choose a first password."""
    if password_hash:
        token = _new_token(customer, TOKEN_VERIFY, VERIFY_VALID, ip=ip, password_hash=password_hash)
        _mail("customer_verify_registration", customer, verification_path=f"verify/{token}",
              hours=int(VERIFY_VALID.total_seconds() // 3600))
    else:
        token = _new_token(customer, TOKEN_INVITE, INVITE_VALID, ip=ip)
        _mail("customer_account_created", customer, reset_path=f"reset-password/{token}",
              hours=int(INVITE_VALID.total_seconds() // 3600))
    customer.mail_sent_at = now


def _commit() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# --- registration ------------------------------------------------------------------------------------

def register(*, name: str, email: str, password: str, confirm: str, language: str | None = None,
             ip: str = "") -> None:
    """A customer registers. Raises AccountError for what they must fix (name, email, password, confirm);
    otherwise the answer is the same whatever became of it:

    * a new address (or one that only filed tickets so far): an unconfirmed account and a link to confirm;
    * an unconfirmed account: another link (bound to this password), unless one went out within the cooldown;
    * an account that exists: a mail telling its owner so (with the same cooldown), nothing changed.
    """
    if not self_registration():
        raise Refused("registration is closed")
    errors = registration_problems(name=name, email=email, password=password, confirm=confirm)
    name = (name or "").strip()
    email = normalize_email(email)
    language = _check_language(language, errors)
    if errors:
        raise AccountError(errors)
    from hesk_py.services import bans

    password_hash = accounts.hash_password(password)  # in every case, so the answer takes as long
    if bans.is_email_banned(email):
        return  # nothing for a banned address, and the same page
    now = utcnow()
    customer = by_email(email)
    try:
        if customer is None:
            try:
                with db.session.begin_nested():
                    customer = Customer(email=email, name=name, language=language, created_at=now)
                    db.session.add(customer)
            except IntegrityError:  # registered (or filed a ticket) at this very moment
                customer = by_email(email)
        if customer.account_status is None:
            customer.name, customer.language = name, language or customer.language
            customer.account_status = ACCOUNT_UNVERIFIED
            customer.account_created_at = now
            customer.password_hash = None
            db.session.flush()
            _send_verification(customer, password_hash, ip, now)
        elif not _cooldown_passed(customer, now):
            pass
        elif customer.account_status == ACCOUNT_UNVERIFIED:
            _send_verification(customer, password_hash, ip, now)
        elif customer.account_status != ACCOUNT_DISABLED:
            _mail("customer_already_registered", customer, reset_path="reset-password", login_path="login")
            customer.mail_sent_at = now
        _commit()
    except Exception:
        db.session.rollback()
        raise


def registration_problems(*, name: str, email: str, password: str, confirm: str) -> dict[str, str]:
    """What the customer must fix in a registration form ({field: message}); says nothing about whether
    the address has an account."""
    errors: dict[str, str] = {}
    _check_name(name, errors)
    email = normalize_email(email)
    if not valid_email(email):
        errors["email"] = str(_l("Please enter a valid email address."))
    _check_new_password(password, confirm, email, errors)
    return errors


def resend_verification(email: str, ip: str = "") -> None:
    """"Send the link again" (the login page): for an unconfirmed account only, at most once per cooldown.
    Says nothing either way."""
    customer = by_email(email)
    if customer is None or customer.account_status != ACCOUNT_UNVERIFIED:
        return
    now = utcnow()
    if not _cooldown_passed(customer, now):
        return
    _send_verification(customer, _pending_password(customer), ip, now)
    _commit()


def _pending_password(customer: Customer) -> str | None:
    """The password of the newest registration awaiting confirmation (None: staff created the account)."""
    return db.session.scalar(
        select(CustomerToken.password_hash)
        .where(CustomerToken.customer_id == customer.id, CustomerToken.purpose == TOKEN_VERIFY,
               CustomerToken.password_hash.is_not(None))
        .order_by(CustomerToken.id.desc()).limit(1))


def confirm_registration(token: str, password: str) -> Customer:
    """Confirm the address of a registration by typing the password chosen with it. The account becomes
    active, or waits for staff approval (``customer_accounts_registration`` = 1; staff are told).
    Raises AccountError: ``token`` when the link is not valid, ``password`` when it is not that password."""
    row = find_token(token, TOKEN_VERIFY)
    if row is None:
        raise AccountError({"token": str(_LINK_GONE)})
    if not row.password_hash or not check_password_hash(row.password_hash, password or ""):
        raise AccountError({"password": str(_l("This is not the password you chose when you registered."))})
    customer = db.session.get(Customer, row.customer_id)
    try:
        _spend(row)
        customer.password_hash = row.password_hash
        customer.password_changed_at = utcnow()
        _drop_tokens(customer, TOKEN_VERIFY, TOKEN_INVITE)
        if customer.account_status == ACCOUNT_UNVERIFIED:
            _activate_or_queue(customer)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return customer


def _activate_or_queue(customer: Customer) -> None:
    """An address just proven: active, or pending with the approvers told."""
    if needs_approval():
        customer.account_status = ACCOUNT_PENDING
        _notify_approvers(customer)
    else:
        customer.account_status = ACCOUNT_ACTIVE


def approvers() -> list[User]:
    """Active staff who manage customers and want to hear of accounts waiting for approval."""
    stmt = select(User).where(User.active.is_(True),
                              or_(User.is_admin.is_(True), accounts.has_feature_clause("can_man_customers")))
    return [u for u in db.session.scalars(stmt.order_by(User.id)) if outbox.wants(u, "notify_customer_approval")]


def pending_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer)
                             .where(Customer.account_status == ACCOUNT_PENDING)) or 0


def _notify_approvers(customer: Customer) -> None:
    db.session.flush()
    waiting = pending_count()
    for user in approvers():
        outbox.queue("new_customer_approval", user.email, language=user.language, context={
            "staff_name": user.name, "name": customer.name, "email": customer.email, "num": waiting,
            "customers_path": "admin/customers/?status=pending"})


# --- logging in --------------------------------------------------------------------------------------

LOGIN_OK, LOGIN_WRONG, LOGIN_UNVERIFIED, LOGIN_PENDING, LOGIN_DISABLED = "ok", "wrong", "unverified", "pending", \
    "disabled"


@dataclass(frozen=True)
class LoginResult:
    state: str  # one of the LOGIN_* values
    customer: Customer | None = None


def authenticate(email: str, password: str) -> LoginResult:
    """Check an email and password. Only with the right password does the answer say more than "wrong":
    not confirmed yet, waiting for approval, deactivated. The work is the same for an unknown address."""
    customer = by_email(email)
    if customer is None or customer.account_status is None or not password:
        accounts.dummy_password_check(password or "x")
        return LoginResult(LOGIN_WRONG)
    if customer.account_status == ACCOUNT_UNVERIFIED:
        hashes = [h for h in db.session.scalars(
            select(CustomerToken.password_hash).where(
                CustomerToken.customer_id == customer.id, CustomerToken.purpose == TOKEN_VERIFY,
                CustomerToken.used_at.is_(None), CustomerToken.expires_at > utcnow(),
                CustomerToken.password_hash.is_not(None)).order_by(CustomerToken.id.desc()).limit(3)) if h]
        if any(check_password_hash(h, password) for h in hashes):
            return LoginResult(LOGIN_UNVERIFIED, customer)
        if not hashes:
            accounts.dummy_password_check(password)
        return LoginResult(LOGIN_WRONG)
    if not customer.password_hash or not check_password_hash(customer.password_hash, password):
        if not customer.password_hash:
            accounts.dummy_password_check(password)
        return LoginResult(LOGIN_WRONG)
    state = {ACCOUNT_PENDING: LOGIN_PENDING, ACCOUNT_DISABLED: LOGIN_DISABLED}.get(customer.account_status, LOGIN_OK)
    return LoginResult(state, customer)


def logged_in(customer: Customer) -> None:
    customer.last_login_at = utcnow()
    _commit()


def session_customer(customer_id: Any, version: Any) -> Customer | None:
    """The account a session names, while it may still be used (active, same session version)."""
    if not isinstance(customer_id, int) or not isinstance(version, int):
        return None
    customer = db.session.get(Customer, customer_id)
    if customer is None or not customer.is_active or customer.session_version != version:
        return None
    return customer


def check_password(customer: Customer, password: str) -> bool:
    return bool(password) and bool(customer.password_hash) and check_password_hash(customer.password_hash, password)


# --- forgotten password ------------------------------------------------------------------------------

def request_password_reset(email: str, ip: str = "") -> None:
    """Email a link to choose a new password (1 hour, single use) to an account with this address. Says
    nothing either way; at most a few links per hour and account. An unconfirmed account may use it too:
    the link proves the address."""
    customer = by_email(email)
    if customer is None or customer.account_status not in (ACCOUNT_UNVERIFIED, ACCOUNT_PENDING, ACCOUNT_ACTIVE):
        return
    now = utcnow()
    recent = db.session.scalar(
        select(func.count()).select_from(CustomerToken)
        .where(CustomerToken.customer_id == customer.id, CustomerToken.purpose == TOKEN_RESET,
               CustomerToken.created_at > now - timedelta(hours=1)))
    if recent >= RESET_MAX_PER_HOUR:
        return
    token = _new_token(customer, TOKEN_RESET, RESET_VALID, ip=ip)
    _mail("customer_reset_password", customer, reset_path=f"reset-password/{token}",
          minutes=int(RESET_VALID.total_seconds() // 60), ip=ip or "")
    _commit()


def set_password(token: str, *, new: str, confirm: str) -> Customer:
    """Choose a password with a reset link or the link of an account staff created. The link works once;
    every session, remember-me login and other link of the account ends. An unconfirmed address counts as
    confirmed (the link was mailed to it). Raises AccountError (``token`` when the link is not valid)."""
    row = find_token(token, TOKEN_RESET, TOKEN_INVITE)
    if row is None:
        raise AccountError({"token": str(_LINK_GONE)})
    customer = db.session.get(Customer, row.customer_id)
    errors: dict[str, str] = {}
    _check_new_password(new, confirm, customer.email, errors)
    if errors:
        raise AccountError(errors)
    try:
        _spend(row)
        _set_password(customer, new)
        if customer.account_status == ACCOUNT_UNVERIFIED:
            if row.purpose == TOKEN_INVITE:
                customer.account_status = ACCOUNT_ACTIVE  # staff created it: nothing to approve
            else:
                _activate_or_queue(customer)
        _commit()
    except Exception:
        db.session.rollback()
        raise
    return customer


def _set_password(customer: Customer, password: str) -> None:
    customer.password_hash = accounts.hash_password(password)
    customer.password_changed_at = utcnow()
    _drop_tokens(customer, TOKEN_RESET, TOKEN_INVITE, TOKEN_VERIFY)
    db.session.execute(delete(CustomerMfaEmailCode).where(CustomerMfaEmailCode.customer_id == customer.id))
    accounts.end_sessions(customer, commit=False)


# --- the profile -------------------------------------------------------------------------------------

def update_profile(customer: Customer, *, name: str, language: str | None) -> None:
    errors: dict[str, str] = {}
    name = _check_name(name, errors)
    language = _check_language(language, errors)
    if errors:
        raise AccountError(errors)
    customer.name = name
    customer.language = language
    _commit()


def change_password(customer: Customer, *, current: str, new: str, confirm: str) -> None:
    """Needs the current password. Every other session and remember-me login of the account ends; the
    caller keeps this browser logged in."""
    errors: dict[str, str] = {}
    if not check_password(customer, current or ""):
        errors["current"] = str(_l("This is not your current password."))
    _check_new_password(new, confirm, customer.email, errors)
    if "password" not in errors and not errors.get("current") and new == current:
        errors["password"] = str(_l("Choose a password different from the current one."))
    if errors:
        raise AccountError(errors)
    _set_password(customer, new)
    _commit()


def email_changes_allowed() -> bool:
    return bool(settings.get("customer_accounts_allow_email_changes"))


def request_email_change(customer: Customer, *, new_email: str, current_password: str, ip: str = "") -> str:
    """Send a link to confirm a new address to that address (the account keeps the old one until then).
    Needs the current password. Returns the address the link went to."""
    if not email_changes_allowed():
        raise Refused("email changes are off")
    errors: dict[str, str] = {}
    new_email = normalize_email(new_email)
    if not valid_email(new_email):
        errors["new_email"] = str(_l("Please enter a valid email address."))
    elif new_email == customer.email:
        errors["new_email"] = str(_l("This is already your email address."))
    else:
        other = by_email(new_email)
        if other is not None and other.account_status is not None:
            # the owner of that address knows it has an account; anyone else learns nothing they could
            # not learn from the registration form's mail to that address
            errors["new_email"] = str(_l("Another account uses this email address."))
    if not check_password(customer, current_password or ""):
        errors["current_password"] = str(_l("This is not your current password."))
    if errors:
        raise AccountError(errors)
    _drop_tokens(customer, TOKEN_EMAIL)
    token = _new_token(customer, TOKEN_EMAIL, EMAIL_CHANGE_VALID, ip=ip, new_email=new_email)
    _mail("customer_verify_new_email", customer, to=new_email, verification_path=f"verify/{token}",
          hours=int(EMAIL_CHANGE_VALID.total_seconds() // 3600))
    _commit()
    return new_email


def pending_email(customer: Customer) -> str | None:
    return db.session.scalar(
        select(CustomerToken.new_email).where(
            CustomerToken.customer_id == customer.id, CustomerToken.purpose == TOKEN_EMAIL,
            CustomerToken.used_at.is_(None), CustomerToken.expires_at > utcnow()).order_by(CustomerToken.id.desc())
        .limit(1))


def confirm_email_change(token: str) -> Customer:
    """The new address is confirmed: the account (and its tickets) use it from now on."""
    row = find_token(token, TOKEN_EMAIL)
    if row is None or not row.new_email:
        raise AccountError({"token": str(_LINK_GONE)})
    customer = db.session.get(Customer, row.customer_id)
    try:
        _spend(row)
        _change_email(customer, row.new_email)
        _drop_tokens(customer, TOKEN_EMAIL)
        _commit()
    except IntegrityError:
        db.session.rollback()
        raise AccountError({"token": str(_l("Another account uses this email address."))}) from None
    except Exception:
        db.session.rollback()
        raise
    return customer


def _change_email(customer: Customer, new_email: str) -> None:
    """The customer's address becomes ``new_email``. A customer row without an account that already has
    the address (tickets filed with it) is merged in: its tickets become this customer's."""
    from hesk_py.services import tickets

    other = by_email(new_email)
    if other is not None and other.id != customer.id:
        if other.account_status is not None:
            raise AccountError({"email": str(_l("Another account uses this email address."))})
        tickets.move_customer_tickets(other.id, customer.id)
        db.session.delete(other)
        db.session.flush()
    customer.email = new_email
    tickets.set_customer_email(customer.id, new_email)


# --- a customer's own tickets ------------------------------------------------------------------------

LIST_FILTERS = ("all", "open", "resolved")


@dataclass
class TicketPage:
    rows: list[Ticket]
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    desc: bool
    followed: set[int] = field(default_factory=set)  # ids of the rows the customer follows (Cc), not filed


def list_columns() -> list[str]:
    return list(settings.get("customer_ticket_list")) or ["trackid"]


def tickets_clause(customer: Customer):
    """The SQL condition for a customer's tickets: those they filed and those they follow (Cc). The followed
    ids are read first (one indexed query), so the condition is two index ranges, not a subquery per row."""
    filed = Ticket.customer_id == customer.id
    followed = list(db.session.scalars(followers.followed_ticket_ids([customer.id])))
    return or_(filed, Ticket.id.in_(followed)) if followed else filed


def my_tickets(customer: Customer, *, query: str = "", status: str = "all", sort: str = "lastchange",
               desc: bool = True, page: int = 1) -> TicketPage:
    """The customer's tickets, those they filed and those they follow (``followed``): search by subject,
    message or tracking ID (a merged ticket's old ID finds the ticket it went into), all / open / resolved,
    sorted by a column of ``customer_ticket_list``."""
    from hesk_py.services.search import SORT_COLUMNS

    stmt = select(Ticket).where(tickets_clause(customer))
    if status in ("open", "resolved"):
        closed = select(Status.id).where(Status.kind == STATUS_CLOSED)
        stmt = stmt.where(Ticket.status_id.in_(closed) if status == "resolved" else Ticket.status_id.not_in(closed))
    query = (query or "").strip()[:200]
    if query:
        from hesk_py.services.tickets import normalize_trackid

        trackid = normalize_trackid(query)
        merged = select(TicketAlias.ticket_id).where(TicketAlias.trackid == trackid)
        text = query.lower()
        stmt = stmt.where(or_(Ticket.trackid == trackid, Ticket.id.in_(merged),
                              func.lower(Ticket.subject).contains(text, autoescape=True),
                              func.lower(Ticket.message).contains(text, autoescape=True)))
    allowed = set(list_columns()) | {"lastchange"}
    if sort not in allowed or sort not in SORT_COLUMNS:
        sort = "lastchange"
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    per_page = max(1, int(settings.get("max_listings")))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    column = SORT_COLUMNS[sort]
    order = [column.desc() if desc else column.asc(), Ticket.id.desc() if desc else Ticket.id.asc()]
    rows = list(db.session.scalars(stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page)))
    return TicketPage(rows, total, page, pages, per_page, sort, desc,
                      followed={t.id for t in rows if t.customer_id != customer.id})


def own_ticket(customer: Customer | None, trackid: str) -> Ticket | None:
    """The ticket with this tracking ID (or a merged one's old ID) when ``customer`` filed it or follows it."""
    if customer is None:
        return None
    from hesk_py.services import tickets

    try:
        ticket = tickets.get_ticket(trackid)
    except TicketNotFound:
        return None
    if ticket.customer_id == customer.id or followers.follower(ticket, customer.id) is not None:
        return ticket
    return None


def open_ticket_count(customer: Customer) -> int:
    return db.session.scalar(
        select(func.count(Ticket.id)).join(Status, Status.id == Ticket.status_id)
        .where(Ticket.customer_id == customer.id, Status.kind != STATUS_CLOSED)) or 0


# --- staff: the customers page -----------------------------------------------------------------------

STAFF_FILTERS = ("accounts", "pending", "unverified", "active", "disabled", "contacts", "all")
DELETE_MODES = ("keep", "anonymize", "delete")


@dataclass
class CustomerPage:
    rows: list[tuple[Customer, int]]  # each customer with its number of tickets
    total: int
    page: int
    pages: int


def list_customers(*, query: str = "", status: str = "accounts", page: int = 1, per_page: int = 50) -> CustomerPage:
    stmt = select(Customer).where(Customer.email != "")
    if status == "accounts":
        stmt = stmt.where(Customer.account_status.is_not(None))
    elif status == "contacts":
        stmt = stmt.where(Customer.account_status.is_(None))
    elif status in ACCOUNT_STATUSES:
        stmt = stmt.where(Customer.account_status == status)
    query = (query or "").strip()[:200].lower()
    if query:
        stmt = stmt.where(or_(Customer.email.contains(query, autoescape=True),
                              func.lower(Customer.name).contains(query, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    customers = list(db.session.scalars(stmt.order_by(Customer.name, Customer.id)
                                        .limit(per_page).offset((page - 1) * per_page)))
    counts = dict(db.session.execute(
        select(Ticket.customer_id, func.count(Ticket.id))
        .where(Ticket.customer_id.in_([c.id for c in customers] or [0])).group_by(Ticket.customer_id)).all())
    return CustomerPage([(c, int(counts.get(c.id, 0))) for c in customers], total, page, pages)


def staff_create(*, name: str, email: str, language: str | None = None) -> Customer:
    """Staff create an account: the customer gets a link to choose a password (72 hours). An address that
    only filed tickets so far becomes that account (its tickets included)."""
    errors: dict[str, str] = {}
    name = _check_name(name, errors)
    email = normalize_email(email)
    if not valid_email(email):
        errors["email"] = str(_l("Please enter a valid email address."))
    language = _check_language(language, errors)
    existing = by_email(email) if "email" not in errors else None
    if existing is not None and existing.account_status is not None:
        errors["email"] = str(_l("A customer account with this email address exists already."))
    if errors:
        raise AccountError(errors)
    now = utcnow()
    try:
        customer = existing or Customer(email=email, name=name, created_at=now)
        if existing is None:
            db.session.add(customer)
        customer.name, customer.language = name, language
        customer.account_status, customer.account_created_at, customer.password_hash = ACCOUNT_UNVERIFIED, now, None
        db.session.flush()
        _send_verification(customer, None, "", now)
        _commit()
    except IntegrityError:
        db.session.rollback()
        raise AccountError({"email": str(_l("A customer account with this email address exists already."))}) \
            from None
    except Exception:
        db.session.rollback()
        raise
    return customer


def staff_update(customer: Customer, *, name: str, email: str, language: str | None, status: str) -> None:
    """Staff edit an account: name, address (no confirmation needed), language, and its state (active or
    deactivated; an unconfirmed or pending one may also be set active). A deactivated account's sessions
    end at once."""
    errors: dict[str, str] = {}
    name = _check_name(name, errors)
    email = normalize_email(email)
    if not valid_email(email):
        errors["email"] = str(_l("Please enter a valid email address."))
    elif email != customer.email:
        other = by_email(email)
        if other is not None and other.account_status is not None:
            errors["email"] = str(_l("Another account uses this email address."))
    language = _check_language(language, errors)
    allowed = {customer.account_status, ACCOUNT_ACTIVE, ACCOUNT_DISABLED} - {None}
    if status not in allowed:
        errors["status"] = str(_l("Choose one of the options."))
    elif status == ACCOUNT_ACTIVE and not (customer.password_hash or _pending_password(customer)):
        errors["status"] = str(_l("This customer has not chosen a password yet: resend the link instead."))
    if errors:
        raise AccountError(errors)
    try:
        customer.name, customer.language = name, language
        if email != customer.email:
            _change_email(customer, email)
            _drop_tokens(customer, TOKEN_EMAIL)
        if status != customer.account_status:
            was = customer.account_status
            customer.account_status = status
            if status == ACCOUNT_ACTIVE and not customer.password_hash:
                # staff confirm a registration by hand: the password chosen when registering
                customer.password_hash = _pending_password(customer)
                _drop_tokens(customer, TOKEN_VERIFY)
            if status == ACCOUNT_DISABLED:
                accounts.end_sessions(customer, commit=False)
            elif was == ACCOUNT_PENDING:
                _mail("customer_approved", customer, login_path="login")
        _commit()
    except Exception:
        db.session.rollback()
        raise


def approve(customer: Customer) -> bool:
    """A pending account becomes active; the customer is told. False when it was not pending."""
    done = db.session.execute(update(Customer).where(Customer.id == customer.id,
                                                     Customer.account_status == ACCOUNT_PENDING)
                              .values(account_status=ACCOUNT_ACTIVE)).rowcount
    if done:
        db.session.refresh(customer)
        _mail("customer_approved", customer, login_path="login")
    _commit()
    return bool(done)


def reject(customer: Customer) -> bool:
    """A pending account is refused: the customer is told, the account goes (tickets filed with the address
    stay, as a contact without an account). False when it was not pending."""
    if customer.account_status != ACCOUNT_PENDING:
        return False
    _mail("customer_rejected", customer)
    _remove_account(customer)
    _commit()
    return True


def _remove_account(customer: Customer) -> None:
    from hesk_py.services import mfa

    mfa.disable(customer, commit=False)
    customer.account_status = None
    customer.password_hash = None
    customer.account_created_at = None
    customer.mail_sent_at = None
    _drop_tokens(customer, TOKEN_VERIFY, TOKEN_RESET, TOKEN_INVITE, TOKEN_EMAIL)
    accounts.end_sessions(customer, commit=False)


def staff_resend(customer: Customer) -> bool:
    """Staff send the confirmation (or choose-a-password) link again, cooldown or not. False when the
    account has nothing to confirm."""
    if customer.account_status != ACCOUNT_UNVERIFIED:
        return False
    _send_verification(customer, _pending_password(customer), "", utcnow())
    _commit()
    return True


def reset_mfa(customer: Customer) -> None:
    from hesk_py.services import mfa

    mfa.disable(customer)


def deletion_counts(customer: Customer) -> dict[str, int]:
    total = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.customer_id == customer.id)) or 0
    return {"tickets": int(total), "open": open_ticket_count(customer)}


def delete_customer(customer: Customer, *, tickets_mode: str, actor) -> list[str]:
    """Delete a customer, with HESK's choice about their tickets: ``keep`` them (the address stays on them,
    the account goes), ``anonymize`` them (name, address, texts and files removed) or ``delete`` them.
    Returns the stored file names to remove once committed."""
    from hesk_py.services import tickets

    if tickets_mode not in DELETE_MODES:
        raise AccountError({"tickets": str(_l("Choose what happens to the tickets."))})
    files: list[str] = []
    owned = list(db.session.scalars(select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.id)))
    with tickets.one_transaction():
        if tickets_mode == "keep":
            _remove_account(customer)
            return files
        for ticket in owned:
            if tickets_mode == "anonymize":
                files += tickets.anonymize_ticket(ticket, actor=actor)
            else:
                files += tickets.delete_ticket(ticket, actor=actor)
        tickets.move_customer_tickets(customer.id, None)
        db.session.execute(delete(Customer).where(Customer.id == customer.id))
        db.session.expunge(customer)
    return files


# --- email piping and fetching when accounts are required ---------------------------------------------

def may_email_tickets(email: str) -> bool:
    """Whether mail from this address may open or answer tickets: always, unless accounts are required
    (then only from the address of an active account)."""
    if not required_for_tickets():
        return True
    customer = by_email(email)
    return customer is not None and customer.account_status == ACCOUNT_ACTIVE


def tell_rejected_sender(email: str, *, name: str = "", subject: str = "", language: str | None = None) -> bool:
    """Mail a sender whose email was refused for want of an account why (HESK's rejection emails), at most
    once per ``pipe_customer_rejection_email_cooldown_hours``. In the caller's transaction; returns whether
    a mail was queued."""
    if not settings.get("pipe_customer_rejection_notification"):
        return False
    key = normalize_email(email)
    now = utcnow()
    row = db.session.scalar(select(PipeRejection).where(PipeRejection.email == key))
    hours = int(settings.get("pipe_customer_rejection_email_cooldown_hours"))
    if row is not None and now - row.sent_at < timedelta(hours=hours):
        return False
    if row is None:
        db.session.add(PipeRejection(email=key, sent_at=now))
    else:
        row.sent_at = now
    template = "email_rejected_can_self_register" if self_registration() else "email_rejected_cannot_self_register"
    outbox.queue(template, key, language=language, context={
        "name": name, "email": key, "subject": subject, "login_path": "login", "register_path": "register"})
    return True


__all__ = [
    "AccountError", "LoginResult", "Refused", "TicketPage", "CustomerPage", "approve", "authenticate",
    "change_password", "confirm_email_change", "confirm_registration", "delete_customer", "enabled", "find_token",
    "list_customers", "may_email_tickets", "mode", "my_tickets", "own_ticket", "register",
    "request_email_change", "request_password_reset", "required_for_everything", "required_for_tickets",
    "resend_verification", "set_password", "staff_create", "staff_update", "tell_rejected_sender",
    "update_profile",
]
