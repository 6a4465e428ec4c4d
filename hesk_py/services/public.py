"""The customer side's rules: filing a ticket from the public form, finding a ticket by tracking ID and
email (with the brute-force limit), replying, and the "forgot tracking ID" email.

Views hand over plain values (the posted form as a mapping, the uploaded files, the client's IP and
language); these functions check everything, in HESK's order, and call the ticket service (the one
door) to write. Nothing here touches ``request`` or ``session``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from hesk_py import settings, shared_cache
from hesk_py.extensions import db
from hesk_py.models import Category, Customer, Priority, Status, Ticket, User
from hesk_py.models.workflow import STATUS_CLOSED
from hesk_py.services import (
    antispam, attachments, attempts, bans, custom_fields, followers, outbox, ratelimit, tickets,
)
from hesk_py.services.errors import AttachmentRefused, HeskError, InvalidTicketData, TicketNotFound

SUBJECT_FROM_MESSAGE = 70  # characters of the message's first line used as a missing subject


class SubmissionRefused(HeskError):
    """The form comes back: ``errors`` maps field names (``form`` for the whole form) to messages;
    ``status`` is the HTTP status to answer with."""

    def __init__(self, errors: dict[str, str], status: int = 400, *, email_suggestion: str | None = None,
                 corrected: dict[str, str] | None = None):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status
        # the typo question (detect_typos): the address to offer instead of what was typed
        self.email_suggestion = email_suggestion
        # fields the checks changed (a suggestion the customer took): the form shows these values
        self.corrected = corrected or {}


class LookupBlocked(HeskError):
    """Too many failed ticket look-ups from this address: ``minutes`` until it may try again."""

    def __init__(self, minutes: int):
        super().__init__(str(_l("Too many failed attempts. Please try again in %(n)s minutes.", n=minutes)))
        self.minutes = minutes


class Banned(HeskError):
    pass


# --- what the forms offer ----------------------------------------------------------------------------

# The lists are the same for every visitor: cached per process until a category or priority changes
# (hesk_py/shared_cache.py). Their rows belong to no session: read them, never change them.

def public_categories() -> list[Category]:
    return list(shared_cache.cached("public.categories", lambda: shared_cache.transient_rows(
        Category, select(Category).where(Category.is_public.is_(True)).order_by(Category.sort_order, Category.id))))


def public_category(category_id: Any) -> Category | None:
    try:
        cid = int(category_id)
    except (TypeError, ValueError):
        return None
    return next((c for c in public_categories() if c.id == cid), None)


def customer_priorities() -> list[Priority]:
    """The priorities customers may choose (only when ``cust_urgency`` is on)."""
    if not settings.get("cust_urgency"):
        return []
    return list(shared_cache.cached("public.priorities", lambda: shared_cache.transient_rows(
        Priority, select(Priority).where(Priority.can_customers_select.is_(True))
        .order_by(Priority.sort_order, Priority.id))))


STAFF_NAMES_CACHED = 5000  # staff accounts kept in memory for the names on replies (more: asked per page)


def staff_names(staff_ids) -> dict[int, str]:
    """The names customers see on staff replies (nicknames when ``staff_nicknames``): the staff list is the same
    for every ticket, so cached per process until a name changes (hesk_py/shared_cache.py)."""
    use_nick = settings.get("staff_nicknames")

    def shown(name, nick):
        return nick if use_nick and nick else name

    def load():
        rows = db.session.execute(select(User.id, User.name, User.nickname).limit(STAFF_NAMES_CACHED + 1)).all()
        return None if len(rows) > STAFF_NAMES_CACHED else {uid: (name, nick) for uid, name, nick in rows}

    every = shared_cache.cached("public.staff_names", load)
    if every is None:
        every = {uid: (name, nick) for uid, name, nick in db.session.execute(
            select(User.id, User.name, User.nickname).where(User.id.in_(sorted(staff_ids))))}
    return {uid: shown(*every[uid]) for uid in staff_ids if uid in every}


# --- filing a ticket ---------------------------------------------------------------------------------

@dataclass
class Submission:
    """A posted ticket form, as plain values."""

    data: Mapping[str, Any]  # every posted field (custom fields and anti-spam included)
    files: list[Any] = field(default_factory=list)
    ip: str = ""
    language: str | None = None


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return "" if value is None else str(value)


def subject_from_message(message: str, name: str) -> str:
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    if not first:
        return str(_l("Ticket from %(name)s", name=name))[:255]
    return first if len(first) <= SUBJECT_FROM_MESSAGE else first[:SUBJECT_FROM_MESSAGE - 1].rstrip() + "…"


def open_ticket_count(email: str) -> int:
    customer_id = db.session.scalar(select(Customer.id).where(Customer.email == email.strip().lower()))
    if customer_id is None:
        return 0
    return db.session.scalar(
        select(func.count(Ticket.id)).join(Status, Status.id == Ticket.status_id)
        .where(Ticket.customer_id == customer_id, Status.kind != STATUS_CLOSED)
    ) or 0


def check_submission(sub: Submission) -> dict[str, Any]:
    """Every check of the public form, in HESK's order. Returns the arguments for create_ticket (plus the
    checked uploads and the form token); raises SubmissionRefused, antispam.SpamBlocked or
    antispam.AlreadySubmitted."""
    data = sub.data
    token, errors = antispam.check_form(data, captcha=antispam.captcha_required(),
                                        question=antispam.question_required())

    name = _text(data, "name").strip()
    email = _text(data, "email").strip()
    email2 = _text(data, "email2").strip()
    typo = None
    subject = _text(data, "subject").strip()
    message = _text(data, "message")
    for key, value in (("name", name), ("email", email), ("email2", _text(data, "email2")), ("subject", subject)):
        if antispam.has_header_injection(value):
            errors[key] = str(_l("This field must be a single line of text."))
    if not name and "name" not in errors:
        errors["name"] = str(_l("Please enter your name."))
    elif len(name) > tickets.MAX_NAME:
        errors["name"] = str(_l("The name is too long (at most %(n)s characters).", n=tickets.MAX_NAME))
    if "email" not in errors:
        if email and not valid_email(email):
            errors["email"] = str(_l("Please enter a valid email address."))
        elif not email and settings.get("require_email"):
            errors["email"] = str(_l("Please enter your email address."))
        elif email:
            email, email2, typo = _email_typo(data, email, email2)
    if len(subject) > tickets.MAX_SUBJECT and "subject" not in errors:
        errors["subject"] = str(_l("The subject is too long (at most %(n)s characters).", n=tickets.MAX_SUBJECT))
    if len(message) > tickets.MAX_MESSAGE:
        errors["message"] = str(_l("The message is too long."))
    if settings.get("confirm_email") and email and "email" not in errors \
            and email2.lower() != email.lower():
        errors["email2"] = str(_l("The two email addresses are not the same."))
    cc = _followers(_text(data, "cc"), email, errors) if followers.enabled() else []

    category = public_category(data.get("category"))
    if category is None:
        errors["category"] = str(_l("Please choose a category."))

    priority_id = None
    choices = customer_priorities()
    if choices:
        raw = _text(data, "priority").strip()
        if raw:
            picked = next((p for p in choices if str(p.id) == raw), None)
            if picked is None:
                errors["priority"] = str(_l("Please choose one of the priorities offered."))
            else:
                priority_id = picked.id
        elif settings.get("select_pri"):
            errors["priority"] = str(_l("Please choose a priority."))

    require_subject = int(settings.get("require_subject"))
    require_message = int(settings.get("require_message"))
    if require_subject == -1:
        subject = ""
    elif require_subject == 1 and not subject and "subject" not in errors:
        errors["subject"] = str(_l("Please enter a subject."))
    if require_message == -1:
        message = ""
    elif require_message == 1 and not message.strip():
        errors["message"] = str(_l("Please write your message."))

    custom: dict[str, Any] = {}
    if category is not None:
        custom, custom_errors = custom_fields.validate(custom_fields.fields_for(category.id), data)
        errors.update(custom_errors)

    uploads = []
    try:
        uploads = attachments.check_uploads(sub.files)
    except AttachmentRefused as exc:
        errors["attachments"] = str(exc)

    corrected = {"email": email, "email2": email2} if email != _text(data, "email").strip() else {}
    if typo:
        errors["email"] = str(_l("Did you mean %(email)s?", email=typo))
    if errors:
        only_the_question = typo is not None and list(errors) == ["email"]
        raise SubmissionRefused(errors, status=200 if only_the_question else 400, email_suggestion=typo,
                                corrected=corrected)

    if bans.is_ip_banned(sub.ip) or (email and bans.is_email_banned(email)):
        raise SubmissionRefused({"form": str(_l("You have been banned from submitting new support tickets."))},
                                status=403)
    max_open = int(settings.get("max_open"))
    if max_open and email:
        count = open_ticket_count(email)
        if count >= max_open:
            raise SubmissionRefused({"form": str(_l(
                "You have reached the maximum number of open tickets (%(count)s of %(max)s). Please wait "
                "until one of them is resolved, or reply to an open ticket instead.", count=count, max=max_open))},
                status=403)
    wait = ratelimit.flood_wait("ticket", sub.ip, int(settings.get("flood")))
    if wait:
        raise SubmissionRefused({"form": str(ngettext(
            "Please wait %(n)s second before submitting another ticket.",
            "Please wait %(n)s seconds before submitting another ticket.", wait, n=wait))}, status=429)
    if not subject:
        subject = subject_from_message(message, name)
    return {"name": name, "email": email, "subject": subject, "message": message, "category_id": category.id,
            "priority_id": priority_id, "custom": custom or None, "uploads": uploads, "token": token,
            "suggested_articles": suggested_articles(_values(data, "suggested")) or None, "followers": cc}


def _email_typo(data: Mapping[str, Any], email: str, email2: str) -> tuple[str, str, str | None]:
    """HESK's "Detect email typos" on the form: (email, confirmation, the suggestion to ask about or None).
    The form asks once: it comes back with "Did you mean ...?", the address asked about (``email_checked``)
    and a button sending the suggestion (``email_use``); the same address sent again is what the customer
    meant."""
    from hesk_py.services import email_typos

    suggestion = email_typos.suggestion_for(email)
    if suggestion is None:
        return email, email2, None
    checked = _text(data, "email_checked").strip().lower()
    if checked != email.lower():
        return email, email2, suggestion
    if _text(data, "email_use").strip().lower() == suggestion.lower():
        return suggestion, suggestion if email2.lower() == checked else email2, None
    return email, email2, None


def _followers(raw: str, email: str, errors: dict[str, str]) -> list[str]:
    """The form's "Cc / followers" field (HESK's ``multi_eml``): addresses separated by commas, each once,
    without the customer's own address; banned addresses are dropped, and with customer accounts on so are
    addresses without a verified account. A problem goes under ``cc``."""
    if len(raw) > followers.MAX_FIELD:
        errors["cc"] = str(_l("This field is too long."))
        return []
    valid, invalid = followers.parse(raw)
    if invalid:
        errors["cc"] = followers.invalid_message(invalid)
        return []
    valid = [a for a in valid if a != email.strip().lower()]
    if len(valid) > followers.MAX_FROM_CUSTOMER:
        errors["cc"] = followers.too_many_message(followers.MAX_FROM_CUSTOMER)
        return []
    return followers.with_verified_accounts([a for a in valid if not bans.is_email_banned(a)])


def _values(data: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = data.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def suggested_articles(raw: Iterable[str]) -> list[int]:
    """The knowledgebase articles the form suggested while the customer typed (the page adds their ids):
    whole numbers only, each once, in the order shown, at most ``kb_search_limit``, and only articles
    customers may read (anything else in the posted list is dropped, never stored)."""
    if not int(settings.get("kb_enable")) or not settings.get("kb_recommendanswers"):
        return []
    limit = max(0, int(settings.get("kb_search_limit")))
    wanted: list[int] = []
    for value in raw:
        value = value.strip()
        if not value.isdigit() or len(value) > 9:
            continue
        number = int(value)
        if number not in wanted:
            wanted.append(number)
        if len(wanted) >= max(limit * 4, 50):  # a page never adds more; a robot's list goes no further
            break
    if not wanted or not limit:
        return []
    from hesk_py.models.knowledgebase import ARTICLE_PUBLISHED, KbArticle
    from hesk_py.services import knowledgebase as kb

    visible_categories = kb.catalogue().visible_ids(kb.CUSTOMERS) or set()
    if not visible_categories:
        return []
    allowed = set(db.session.scalars(select(KbArticle.id).where(
        KbArticle.id.in_(wanted), KbArticle.type == ARTICLE_PUBLISHED,
        KbArticle.category_id.in_(sorted(visible_categories)))))
    return [a for a in wanted if a in allowed][:limit]


def submit_ticket(sub: Submission) -> Ticket:
    """Check and file a ticket from the public form. The ticket, its history, its confirmation email
    and the spent form token are one transaction; stored files are removed again if it fails."""
    checked = check_submission(sub)
    token: antispam.FormToken = checked.pop("token")
    saved = attachments.store(checked.pop("uploads"))
    try:
        with tickets.one_transaction():
            ticket = tickets.create_ticket(
                **checked, actor=tickets.Actor.customer(checked["name"]), language=sub.language, ip=sub.ip,
                attachments=saved,
            )
            trackid = ticket.trackid
            # last, with the ticket's tracking ID: a duplicate (a double click, a replayed POST) waits here for
            # the first one's commit, then rolls its own ticket back (antispam.spend_nonce)
            antispam.spend_nonce(token.nonce, trackid)
    except InvalidTicketData as exc:  # the ticket service's own rules, should any remain
        attachments.discard(saved)
        raise SubmissionRefused(exc.errors) from None
    except BaseException:
        attachments.discard(saved)
        raise
    # the commit expired the ticket: keep its tracking ID, so the confirmation page needs no reload
    set_committed_value(ticket, "trackid", trackid)
    ratelimit.flood_mark("ticket", sub.ip, int(settings.get("flood")))
    return ticket


# --- finding a ticket ---------------------------------------------------------------------------------

def email_required_to_view() -> bool:
    return bool(settings.get("email_view_ticket")) and bool(settings.get("require_email"))


def check_ip(ip: str) -> None:
    """Banned addresses may not view or reply to tickets; blocked ones must wait."""
    if bans.is_ip_banned(ip):
        raise Banned(str(_l("Your IP address has been banned.")))
    left = attempts.minutes_left(ip)
    if left:
        raise LookupBlocked(left)


def find_ticket(trackid: str, email: str | None, ip: str) -> Ticket:
    """The ticket for a tracking ID (and email, when ``email_view_ticket``). A wrong ID and a wrong email
    both raise TicketNotFound and count as a failed attempt; the failure that reaches ``attempt_limit``
    raises LookupBlocked instead."""
    check_ip(ip)
    try:
        return tickets.get_ticket(trackid, email=(email or "") if email_required_to_view() else None)
    except TicketNotFound:
        count = attempts.record_failure(ip)
        limit = int(settings.get("attempt_limit"))
        if limit and count >= limit:
            raise LookupBlocked(int(settings.get("attempt_banmin"))) from None
        raise


# --- who is looking: the requester or a follower -----------------------------------------------------

def viewer_id(ticket: Ticket, email: str | None) -> int | None:
    """The customer id of the follower whose address this is (None: the requester's, or nobody's), so
    that what this browser then does on the ticket is theirs."""
    if followers.is_requester(ticket, email):
        return None
    customer = followers.follower_by_email(ticket, email)
    return customer.id if customer is not None else None


def customer_actor(ticket: Ticket, follower_id: int | None = None) -> tickets.Actor:
    """Who acts on the ticket page: the follower this browser came in as, else the requester."""
    found = followers.follower(ticket, follower_id)
    if found is not None:
        return tickets.Actor.customer(found.name or found.email, found.id)
    return tickets.Actor.customer(ticket.name)


def shown_followers(ticket: Ticket, follower_id: int | None = None) -> list[dict[str, Any]]:
    """The followers as the ticket page shows them to a customer: names, and other people's addresses
    masked (``j…@example.com``); the viewer's own address in full."""
    return [{"name": c.name, "email": c.email if c.id == follower_id else followers.mask(c.email),
             "you": c.id == follower_id} for c in followers.followers_of(ticket)]


# --- replying -----------------------------------------------------------------------------------------

def reply_problem(ticket: Ticket) -> str | None:
    """Why the customer may not reply right now (None: they may)."""
    if ticket.locked:
        return str(_l("This ticket is locked: you cannot reply to it. Please submit a new ticket."))
    if ticket.status is not None and ticket.status.kind == STATUS_CLOSED and not settings.get("custopen"):
        return str(_l("This ticket is resolved. Please submit a new ticket."))
    return None


def customer_reply(ticket: Ticket, data: Mapping[str, Any], files: Iterable[Any], ip: str,
                   actor: tickets.Actor | None = None):
    """A reply from the ticket page, by ``actor`` (the requester when None; a follower's is theirs).
    Raises SubmissionRefused (``message``, ``attachments``, ``form``)."""
    errors: dict[str, str] = {}
    problem = reply_problem(ticket)
    if problem:
        raise SubmissionRefused({"form": problem}, status=403)
    message = _text(data, "message")
    if not message.strip():
        errors["message"] = str(_l("Please write your message."))
    uploads = []
    try:
        uploads = attachments.check_uploads(files)
    except AttachmentRefused as exc:
        errors["attachments"] = str(exc)
    token = antispam.read_token(data.get(antispam.TOKEN_FIELD))
    if token is None:
        errors["form"] = str(_l("This form has expired. Please check what you typed and send it again."))
    if errors:
        raise SubmissionRefused(errors)
    wait = ratelimit.flood_wait("reply", ip, int(settings.get("flood")))
    if wait:
        raise SubmissionRefused({"form": str(ngettext("Please wait %(n)s second before sending another reply.",
                                                  "Please wait %(n)s seconds before sending another reply.", wait, n=wait))},
                                status=429)
    saved = attachments.store(uploads)
    try:
        with tickets.one_transaction():
            antispam.spend_nonce(token.nonce)
            reply = tickets.add_reply(ticket, message=message, actor=actor or tickets.Actor.customer(ticket.name),
                                      attachments=saved)
    except InvalidTicketData as exc:
        attachments.discard(saved)
        raise SubmissionRefused(exc.errors) from None
    except BaseException:
        attachments.discard(saved)
        raise
    ratelimit.flood_mark("reply", ip, int(settings.get("flood")))
    return reply


# --- forgot tracking ID ------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
MAX_LISTED = 100


def valid_email(email: str) -> bool:
    return bool(_EMAIL_RE.match(email or "")) and len(email) <= 255 and not antispam.has_header_injection(email)


def send_ticket_list(email: str, *, open_only: bool, language: str | None) -> int:
    """Queue the "forgot_ticket_id" email listing this address's tickets. Returns how many were listed;
    nothing is sent to an address without tickets (the page says the same either way)."""
    from hesk_py.services.defaults import label

    email = email.strip()
    customer_id = db.session.scalar(select(Customer.id).where(Customer.email == email.lower()))
    if customer_id is None:
        return 0
    mine = Ticket.customer_id == customer_id
    # the tickets this address follows (Cc) too
    stmt = (select(Ticket).join(Status, Status.id == Ticket.status_id)
            .where(mine | Ticket.id.in_(followers.followed_ticket_ids([customer_id])))
            .order_by(Ticket.updated_at.desc()).limit(MAX_LISTED))
    if open_only:
        stmt = stmt.where(Status.kind != STATUS_CLOSED)
    found = list(db.session.scalars(stmt))
    if not found:
        return 0
    from flask_babel import force_locale

    with force_locale(language or settings.get("language") or "en"):
        listed = [{"trackid": t.trackid, "subject": t.subject, "status": label(t.status)} for t in found]
    own = next((t for t in found if t.customer_id == customer_id), None)
    name = own.name if own is not None else (db.session.get(Customer, customer_id).name or "")
    try:
        outbox.queue("forgot_ticket_id", email, language=language,
                     context={"name": name, "tickets": listed, "count": len(listed)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(listed)
