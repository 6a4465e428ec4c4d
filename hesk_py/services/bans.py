"""Banned emails and IP addresses (HESK's Tools -> Ban emails / Ban IPs).

An email ban is one address or a whole domain (``@example.com``). An IP ban is a single address, a range
(``10.0.0.1-10.0.0.50``), a CIDR block (``10.0.0.0/24``, ``2001:db8::/32``) or a wildcard
(``192.168.*.*``, ``10.0.*``); every form is stored as a range of 128-bit keys, so one indexed query
answers "is this address banned?" for IPv4 and IPv6. Banned addresses may not submit tickets; banned IPs
may not submit, view or reply to tickets. The admin pages that list and edit bans (admin/bans.py) call
these functions.

A muted email (an address or ``@domain`` too) may submit tickets, but the help desk sends it no mail:
``outbox.queue`` asks ``is_email_muted`` before queueing a message.

The temporary bans are the failed-attempt counters (services/attempts.py) of IP addresses that reached
``attempt_limit`` less than ``attempt_banmin`` minutes ago; an admin may lift one or make it permanent.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import BannedEmail, BannedIP, FailedAttempt, MutedEmail, User
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_DOMAIN_RE = re.compile(r"^@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class InvalidBan(HeskError):
    """The email or IP to ban could not be understood; ``str(exc)`` says why."""


class AlreadyListed(HeskError):
    """The email or IP is already banned (or muted), by this entry or a wider one; ``str(exc)`` says so."""


class NotFound(HeskError):
    """No such ban, mute or temporary ban (lifted meanwhile)."""


def ip_key(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as 32 hex digits; IPv4 is mapped into ::ffff:0:0/96 so both families share one order."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        value = (0xFFFF << 32) | int(ip)
    else:
        value = int(ip)
    return f"{value:032x}"


def parse_ip_ban(text: str) -> tuple[str, str, str]:
    """(ip_from, ip_to, display) for a single IP, a range ``a-b``, CIDR ``a/n`` or wildcard ``1.2.*.*``.

    Raises InvalidBan with a message for the admin.
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidBan(str(_l("Enter an IP address, a range, a CIDR block or a wildcard.")))
    try:
        if "*" in raw:
            parts = [p.strip() for p in raw.split(".")]
            if parts[-1] == "*":  # "10.0.*" is "10.0.*.*"
                parts += ["*"] * (4 - len(parts))
            fixed = parts[:parts.index("*")]
            # only trailing wildcards: "10.*.0.1" is no range of addresses
            if (len(parts) != 4 or any(p != "*" for p in parts[len(fixed):])
                    or not all(p.isdigit() and int(p) <= 255 for p in fixed)):
                raise ValueError(raw)
            low = ".".join(["0" if p == "*" else str(int(p)) for p in parts])
            high = ".".join(["255" if p == "*" else str(int(p)) for p in parts])
            return ip_key(low), ip_key(high), ".".join(["*" if p == "*" else str(int(p)) for p in parts])
        if "/" in raw:
            net = ipaddress.ip_network(raw, strict=False)
            return ip_key(net.network_address), ip_key(net.broadcast_address), str(net)
        if "-" in raw:
            low_s, high_s = (p.strip() for p in raw.split("-", 1))
            low, high = ipaddress.ip_address(low_s), ipaddress.ip_address(high_s)
            if low.version != high.version:
                raise ValueError(raw)
            if int(low) > int(high):
                low, high = high, low
            return ip_key(low), ip_key(high), f"{low} - {high}"
        ip = ipaddress.ip_address(raw)
        return ip_key(ip), ip_key(ip), str(ip)
    except ValueError:
        raise InvalidBan(str(_l("\"%(value)s\" is not an IP address, range, CIDR block or wildcard.",
                                value=raw[:100]))) from None


def normalize_email_ban(text: str) -> str:
    value = (text or "").strip().lower()
    if _EMAIL_RE.match(value) or _DOMAIN_RE.match(value):
        return value
    raise InvalidBan(str(_l("Enter an email address or a domain written as @example.com.")))


def _email_and_domain(email: str) -> tuple[str, ...]:
    email = (email or "").strip().lower()
    if "@" not in email:
        return ()
    return email, "@" + email.rsplit("@", 1)[1]


# The ban lists are the same for every visitor: while they are short, each process keeps them in memory and
# answers without a query. A ban added or lifted through the help desk counts at once on this machine and
# within ``[cache] check_seconds`` on other app servers (hesk_py/shared_cache.py); longer lists are asked
# per request, with the indexed query.
CACHED_BANS_MAX = 2000


def _cached_list(name: str, stmt):
    def load():
        rows = db.session.execute(stmt.limit(CACHED_BANS_MAX + 1)).all()
        return None if len(rows) > CACHED_BANS_MAX else tuple(tuple(r) for r in rows)

    from hesk_py import shared_cache

    return shared_cache.cached(name, load)


def is_email_banned(email: str) -> bool:
    keys = _email_and_domain(email)
    if not keys:
        return False
    banned = _cached_list("bans.emails", select(BannedEmail.email))
    if banned is not None:
        wanted = {k.lower() for k in keys}
        return any(str(e).lower() in wanted for (e,) in banned)
    stmt = select(BannedEmail.id).where(BannedEmail.email.in_(keys)).limit(1)
    return db.session.scalar(stmt) is not None


def is_ip_banned(ip: str) -> bool:
    try:
        key = ip_key(ip)
    except ValueError:
        return False
    ranges = _cached_list("bans.ips", select(BannedIP.ip_from, BannedIP.ip_to))
    if ranges is not None:
        return any(str(low).lower() <= key <= str(high).lower() for low, high in ranges)
    stmt = select(BannedIP.id).where(BannedIP.ip_from <= key, BannedIP.ip_to >= key).limit(1)
    return db.session.scalar(stmt) is not None


def _covering_email(model, value: str) -> str | None:
    """The entry of ``model`` that already covers ``value`` (the same entry, or its domain's)."""
    keys = (value,) if value.startswith("@") else _email_and_domain(value)
    return db.session.scalar(select(model.email).where(model.email.in_(keys)).order_by(model.email).limit(1))


def ban_email(text: str, *, banned_by_id: int | None = None, refuse_duplicate: bool = False) -> BannedEmail:
    """Ban an address or ``@domain``. Banning it twice returns the existing ban, or, with
    ``refuse_duplicate`` (the admin page), raises AlreadyListed, also when its domain is banned."""
    value = normalize_email_ban(text)
    if refuse_duplicate:
        covering = _covering_email(BannedEmail, value)
        if covering is not None:
            raise AlreadyListed(_already(value, covering))
    existing = db.session.scalar(select(BannedEmail).where(BannedEmail.email == value))
    if existing is not None:
        return existing
    row = BannedEmail(email=value, banned_by_id=banned_by_id, created_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # banned by someone else at the same moment
        db.session.rollback()
        if refuse_duplicate:
            raise AlreadyListed(_already(value, value)) from None
        return db.session.scalar(select(BannedEmail).where(BannedEmail.email == value))
    return row


def _already(value: str, covering: str, *, muted: bool = False) -> str:
    if muted:
        if covering == value:
            return str(_l("%(value)s is already muted.", value=value))
        return str(_l("%(value)s is already muted by the entry %(entry)s.", value=value, entry=covering))
    if covering == value:
        return str(_l("%(value)s is already banned.", value=value))
    return str(_l("%(value)s is already banned by the entry %(entry)s.", value=value, entry=covering))


def ban_ip(text: str, *, banned_by_id: int | None = None, refuse_duplicate: bool = False) -> BannedIP:
    """Ban an IP address, range, CIDR block or wildcard. With ``refuse_duplicate`` (the admin page), a
    range that an existing ban already covers whole raises AlreadyListed."""
    ip_from, ip_to, display = parse_ip_ban(text)
    if refuse_duplicate:
        covering = db.session.scalar(select(BannedIP.ip_display)
                                     .where(BannedIP.ip_from <= ip_from, BannedIP.ip_to >= ip_to)
                                     .order_by(BannedIP.id).limit(1))
        if covering is not None:
            raise AlreadyListed(_already(display, covering))
    row = BannedIP(ip_from=ip_from, ip_to=ip_to, ip_display=display, banned_by_id=banned_by_id,
                   created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def unban_email(ban_id: int) -> None:
    if db.session.execute(delete(BannedEmail).where(BannedEmail.id == ban_id)).rowcount == 0:
        db.session.rollback()
        raise NotFound(ban_id)
    db.session.commit()


def unban_ip(ban_id: int) -> None:
    if db.session.execute(delete(BannedIP).where(BannedIP.id == ban_id)).rowcount == 0:
        db.session.rollback()
        raise NotFound(ban_id)
    db.session.commit()


# --- mutes ---------------------------------------------------------------------------------------------

def _muted_set() -> frozenset[str]:
    """Every muted address and @domain: the list is short and the same for everyone, so each process keeps it
    until a mute changes (hesk_py/shared_cache.py; a ticket may queue several messages)."""
    from hesk_py import shared_cache

    return shared_cache.cached("bans.muted", lambda: frozenset(db.session.scalars(select(MutedEmail.email))))


def _forget_muted_cache() -> None:
    from hesk_py import shared_cache

    shared_cache.forget_context()


def is_email_muted(email: str) -> bool:
    keys = _email_and_domain(email)
    return bool(keys) and any(k in _muted_set() for k in keys)


def mute_email(text: str, *, muted_by_id: int | None = None, refuse_duplicate: bool = False) -> MutedEmail:
    """Mute an address or ``@domain``: its tickets are accepted, no mail is sent to it."""
    value = normalize_email_ban(text)
    if refuse_duplicate:
        covering = _covering_email(MutedEmail, value)
        if covering is not None:
            raise AlreadyListed(_already(value, covering, muted=True))
    existing = db.session.scalar(select(MutedEmail).where(MutedEmail.email == value))
    if existing is not None:
        return existing
    row = MutedEmail(email=value, muted_by_id=muted_by_id, created_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # muted by someone else at the same moment
        db.session.rollback()
        if refuse_duplicate:
            raise AlreadyListed(_already(value, value, muted=True)) from None
        return db.session.scalar(select(MutedEmail).where(MutedEmail.email == value))
    finally:
        _forget_muted_cache()
    return row


def unmute_email(mute_id: int) -> None:
    _forget_muted_cache()
    if db.session.execute(delete(MutedEmail).where(MutedEmail.id == mute_id)).rowcount == 0:
        db.session.rollback()
        raise NotFound(mute_id)
    db.session.commit()


# --- the lists of the admin pages ----------------------------------------------------------------------

def email_bans() -> list[tuple[BannedEmail, str | None]]:
    """Every banned email with the name of who banned it, newest first."""
    return [(row, name) for row, name in db.session.execute(
        select(BannedEmail, User.name).outerjoin(User, User.id == BannedEmail.banned_by_id)
        .order_by(BannedEmail.created_at.desc(), BannedEmail.id.desc()))]


def ip_bans() -> list[tuple[BannedIP, str | None]]:
    return [(row, name) for row, name in db.session.execute(
        select(BannedIP, User.name).outerjoin(User, User.id == BannedIP.banned_by_id)
        .order_by(BannedIP.created_at.desc(), BannedIP.id.desc()))]


def email_mutes() -> list[tuple[MutedEmail, str | None]]:
    return [(row, name) for row, name in db.session.execute(
        select(MutedEmail, User.name).outerjoin(User, User.id == MutedEmail.muted_by_id)
        .order_by(MutedEmail.created_at.desc(), MutedEmail.id.desc()))]


# --- temporary bans (too many failed attempts) ---------------------------------------------------------

@dataclass(frozen=True)
class TemporaryBan:
    id: int
    ip: str
    count: int
    last_attempt_at: datetime
    minutes_left: int


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def temporary_bans(now: datetime | None = None) -> list[TemporaryBan]:
    """IP addresses blocked now for too many failed logins or ticket look-ups, the longest left first.
    (Counters of account names and password-reset requests are not addresses and are not listed.)"""
    limit = int(settings.get("attempt_limit"))
    if limit <= 0:
        return []
    window = timedelta(minutes=int(settings.get("attempt_banmin")))
    now = now or utcnow()
    rows = db.session.scalars(select(FailedAttempt)
                              .where(FailedAttempt.count >= limit, FailedAttempt.last_attempt_at > now - window)
                              .order_by(FailedAttempt.last_attempt_at.desc(), FailedAttempt.id))
    out = []
    for row in rows:
        if not _is_ip(row.ip):
            continue
        left = (row.last_attempt_at + window - now).total_seconds()
        out.append(TemporaryBan(id=row.id, ip=row.ip, count=row.count, last_attempt_at=row.last_attempt_at,
                                minutes_left=max(1, int(left // 60) + (1 if left % 60 else 0))))
    return out


def _temporary(attempt_id: int) -> FailedAttempt:
    row = db.session.get(FailedAttempt, attempt_id)
    if row is None or not _is_ip(row.ip):
        raise NotFound(attempt_id)
    return row


def lift_temporary_ban(attempt_id: int) -> str:
    """Forget the failed attempts of this address: it may try again at once. Returns the address."""
    row = _temporary(attempt_id)
    ip = row.ip
    db.session.delete(row)
    db.session.commit()
    return ip


def ban_permanently(attempt_id: int, *, banned_by_id: int | None = None) -> BannedIP:
    """Turn a temporary ban into a permanent IP ban (its counter goes: the permanent ban decides now)."""
    row = _temporary(attempt_id)
    ip = row.ip
    ip_from, ip_to, display = parse_ip_ban(ip)
    ban = db.session.scalar(select(BannedIP).where(BannedIP.ip_from <= ip_from, BannedIP.ip_to >= ip_to)
                            .order_by(BannedIP.id).limit(1))
    if ban is None:
        ban = BannedIP(ip_from=ip_from, ip_to=ip_to, ip_display=display, banned_by_id=banned_by_id,
                       created_at=utcnow())
        db.session.add(ban)
    db.session.delete(row)
    db.session.commit()
    return ban
