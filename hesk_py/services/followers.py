"""Ticket followers (Cc): reading them, and the rules for their addresses (HESK's ``multi_eml``).

A ticket has one requester (``Ticket.customer_id``, ``Ticket.email``) and any number of followers
(``hesk_ticket_followers``, each a ``Customer``). Followers get the same customer notifications as the
requester (the requester in To, the followers in Cc), may view the ticket with their own email and reply,
on the web and by email. Adding and removing followers is a change to the ticket: it goes through the ticket
service (``tickets.add_followers``, ``remove_follower``, ``set_followers``), which writes the history row.
This module only reads and checks.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Customer, Ticket, TicketFollower

MAX_PER_TICKET = 100  # a ticket's followers, all channels together
MAX_FROM_CUSTOMER = 10  # addresses one customer may put in the Cc field of the public form
MAX_FIELD = 2000  # characters of a Cc / Followers field

_SEPARATORS = re.compile(r"[,;\s]+")
_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def enabled() -> bool:
    """Whether tickets may get followers (``multi_eml``, "Ticket followers")."""
    return bool(settings.get("multi_eml"))


def valid_email(email: str) -> bool:
    return bool(_EMAIL_RE.match(email or "")) and len(email) <= 255


def parse(raw: str | Iterable[str] | None) -> tuple[list[str], list[str]]:
    """(valid addresses lower-cased, each once in the order typed; what was not an address, as typed)
    from a field of addresses separated by commas, semicolons, spaces or lines (or a list of them)."""
    if raw is None:
        return [], []
    parts = _SEPARATORS.split(raw) if isinstance(raw, str) else [p for item in raw for p in _SEPARATORS.split(item)]
    valid: list[str] = []
    invalid: list[str] = []
    for part in parts:
        part = part.strip().strip("<>")
        if not part:
            continue
        if valid_email(part):
            if part.lower() not in valid:
                valid.append(part.lower())
        elif part not in invalid:
            invalid.append(part)
    return valid, invalid


def invalid_message(invalid: Sequence[str]) -> str:
    return str(_l("Not a valid email address: %(list)s", list=", ".join(invalid[:5])))


def too_many_message(limit: int) -> str:
    return str(_l("Enter at most %(n)s addresses.", n=limit))


def own_addresses() -> set[str]:
    """The help desk's own addresses (the From: address, the SMTP login, the mailboxes fetched): never a
    follower, or every notification would come back as a new email."""
    found = set()
    for key in ("noreply_mail", "smtp_user", "imap_user", "pop3_user"):
        value = str(settings.get(key) or "").strip().lower()
        if value:
            found.add(value)
    return found


def with_verified_accounts(people: list) -> list:
    """Of the followers a customer names (the Cc field of the ticket form, the To and Cc of an email), those
    who count: all of them while customer accounts are off; with accounts on, only the addresses of active
    (verified) accounts, as in HESK ("Followers without a verified account will be ignored"). Staff add
    followers as they see fit. ``people``: addresses, or (name, address) pairs, lower-cased; order kept."""
    from hesk_py.models.customers import ACCOUNT_ACTIVE
    from hesk_py.services import customer_accounts

    if not people or not customer_accounts.enabled():
        return list(people)
    keys = [p if isinstance(p, str) else p[1] for p in people]
    verified = set(db.session.scalars(select(Customer.email).where(
        Customer.email.in_(sorted(set(keys))), Customer.account_status == ACCOUNT_ACTIVE)))
    return [p for p, key in zip(people, keys) if key in verified]


# --- reading ---------------------------------------------------------------------------------------

def followers_of(ticket: Ticket) -> list[Customer]:
    """The ticket's followers, in the order they were added (no query for a ticket without followers)."""
    if not ticket.follower_count:
        return []
    return list(db.session.scalars(
        select(Customer).join(TicketFollower, TicketFollower.customer_id == Customer.id)
        .where(TicketFollower.ticket_id == ticket.id)
        .order_by(TicketFollower.created_at, Customer.id)))


def followers_by_ticket(tickets: Iterable[Ticket]) -> dict[int, list[Customer]]:
    """The followers of each of these tickets by ticket id, in the order they were added (the print view, the
    CSV export): one query per thousand tickets that have followers, none for those without."""
    ids = [t.id for t in tickets if t.follower_count]
    found: dict[int, list[Customer]] = {}
    for start in range(0, len(ids), 1000):
        for ticket_id, customer in db.session.execute(
                select(TicketFollower.ticket_id, Customer).join(Customer, TicketFollower.customer_id == Customer.id)
                .where(TicketFollower.ticket_id.in_(ids[start:start + 1000]))
                .order_by(TicketFollower.ticket_id, TicketFollower.created_at, Customer.id)):
            found.setdefault(ticket_id, []).append(customer)
    return found


def _one_follower(ticket: Ticket, condition) -> Customer | None:
    if not ticket.follower_count:
        return None
    return db.session.scalar(
        select(Customer).join(TicketFollower, TicketFollower.customer_id == Customer.id)
        .where(TicketFollower.ticket_id == ticket.id, condition))


def follower_by_email(ticket: Ticket, email: str | None) -> Customer | None:
    """The follower of this ticket with this address (None: nobody following it has it)."""
    email = (email or "").strip().lower()
    return _one_follower(ticket, Customer.email == email) if email else None


def is_requester(ticket: Ticket, email: str | None) -> bool:
    email = (email or "").strip().lower()
    return bool(email) and (ticket.email or "").lower() == email


def follower(ticket: Ticket, customer_id: int | None) -> Customer | None:
    """The customer with this id when they follow this ticket (None otherwise)."""
    return _one_follower(ticket, Customer.id == customer_id) if customer_id else None


def is_customer_of(ticket: Ticket, email: str | None) -> bool:
    """Whether this address is the requester's or a follower's (no query for the requester's)."""
    return is_requester(ticket, email) or follower_by_email(ticket, email) is not None


def followed_ticket_ids(customer_ids):
    """A SELECT of the ids of tickets followed by these customers (ids, or a SELECT of ids)."""
    return select(TicketFollower.ticket_id).where(TicketFollower.customer_id.in_(customer_ids))


def person(name: str | None, email: str | None) -> str:
    """How a customer is named in an email: ``Name <email>``, or whichever of the two there is."""
    name, email = (name or "").strip(), (email or "").strip()
    if name and email and name.lower() != email.lower():
        return f"{name} <{email}>"
    return name or email


def mask(email: str) -> str:
    """An address shown to other customers of the ticket: the first letter of the mailbox, the domain."""
    local, _at, domain = (email or "").partition("@")
    if not domain:
        return "…"
    return f"{local[:1]}…@{domain}"


def tag_values(ticket: Ticket, followers: list[Customer] | None = None) -> dict[str, str]:
    """HESK's requester and follower tags of a ticket: REQUESTER (``Name <email>``), REQUESTER_NAME,
    REQUESTER_FIRST_NAME, REQUESTER_EMAIL, FOLLOWERS (``Name <email>, ...``), FOLLOWER_NAMES, FOLLOWER_EMAILS."""
    if followers is None:
        followers = followers_of(ticket)
    name, email = ticket.name or "", ticket.email or ""
    return {
        "REQUESTER": person(name, email), "REQUESTER_NAME": name,
        "REQUESTER_FIRST_NAME": name.strip().split(" ")[0] if name.strip() else "", "REQUESTER_EMAIL": email,
        "FOLLOWERS": ", ".join(person(f.name, f.email) for f in followers),
        "FOLLOWER_NAMES": ", ".join(f.name for f in followers if (f.name or "").strip()),
        "FOLLOWER_EMAILS": ", ".join(f.email for f in followers if f.email),
    }


# --- who a customer notification goes to ----------------------------------------------------------------

def mail_groups(ticket: Ticket) -> list[tuple[str, list[str], str | None]]:
    """(To, Cc, language) of each email a customer notification about this ticket makes (HESK's
    ``hesk_notifyCustomer``): one email per language, the requester in To and the followers in Cc (a
    group without the requester has its first follower in To); muted addresses left out; at most
    ``email_max_recipients`` addresses in one email, the Cc addresses beyond it dropped."""
    from hesk_py.services.bans import is_email_muted

    groups: dict[str | None, list[str]] = {}
    if ticket.email:
        groups.setdefault(ticket.language, []).append(ticket.email.strip())
    for follower in followers_of(ticket):
        if follower.email:
            groups.setdefault(follower.language or ticket.language, []).append(follower.email)
    cap = int(settings.get("email_max_recipients"))
    out = []
    for language, addresses in groups.items():
        seen: set[str] = set()
        kept = []
        for address in addresses:
            key = address.lower()
            if key in seen or is_email_muted(address):
                continue
            seen.add(key)
            kept.append(address)
        if not kept:
            continue
        to, cc = kept[0], kept[1:]
        if cap:
            cc = cc[:max(0, cap - 1)]
        out.append((to, cc, language))
    return out


__all__ = ["MAX_PER_TICKET", "MAX_FROM_CUSTOMER", "enabled", "parse", "own_addresses", "with_verified_accounts",
           "followers_of", "followers_by_ticket", "follower",
           "follower_by_email", "is_requester", "is_customer_of", "followed_ticket_ids", "person", "mask",
           "tag_values", "mail_groups"]
