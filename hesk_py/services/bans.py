"""Banned emails and IP addresses (HESK's Tools -> Ban emails / Ban IPs).

An email ban is one address or a whole domain (``@example.com``). An IP ban is a single address, a range
(``10.0.0.1-10.0.0.50``), a CIDR block (``10.0.0.0/24``, ``2001:db8::/32``) or a wildcard
(``192.168.*.*``); every form is stored as a range of 128-bit keys, so one indexed query answers
"is this address banned?" for IPv4 and IPv6. Banned addresses may not submit tickets; banned IPs may
not submit, view or reply to tickets. The admin pages that list and edit bans call these functions.
"""
from __future__ import annotations

import ipaddress
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hesk_py.extensions import db
from hesk_py.models import BannedEmail, BannedIP
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_DOMAIN_RE = re.compile(r"^@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class InvalidBan(HeskError):
    """The email or IP to ban could not be understood; ``str(exc)`` says why."""


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
            parts = raw.split(".")
            if len(parts) != 4 or not all(p == "*" or (p.isdigit() and int(p) <= 255) for p in parts):
                raise ValueError(raw)
            low = ".".join("0" if p == "*" else p for p in parts)
            high = ".".join("255" if p == "*" else p for p in parts)
            return ip_key(low), ip_key(high), raw
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


def is_email_banned(email: str) -> bool:
    email = (email or "").strip().lower()
    if "@" not in email:
        return False
    domain = "@" + email.rsplit("@", 1)[1]
    stmt = select(BannedEmail.id).where(BannedEmail.email.in_((email, domain))).limit(1)
    return db.session.scalar(stmt) is not None


def is_ip_banned(ip: str) -> bool:
    try:
        key = ip_key(ip)
    except ValueError:
        return False
    stmt = select(BannedIP.id).where(BannedIP.ip_from <= key, BannedIP.ip_to >= key).limit(1)
    return db.session.scalar(stmt) is not None


def ban_email(text: str, *, banned_by_id: int | None = None) -> BannedEmail:
    value = normalize_email_ban(text)
    existing = db.session.scalar(select(BannedEmail).where(BannedEmail.email == value))
    if existing is not None:
        return existing
    row = BannedEmail(email=value, banned_by_id=banned_by_id, created_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # banned by someone else at the same moment
        db.session.rollback()
        return db.session.scalar(select(BannedEmail).where(BannedEmail.email == value))
    return row


def ban_ip(text: str, *, banned_by_id: int | None = None) -> BannedIP:
    ip_from, ip_to, display = parse_ip_ban(text)
    row = BannedIP(ip_from=ip_from, ip_to=ip_to, ip_display=display, banned_by_id=banned_by_id,
                   created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def unban_email(ban_id: int) -> None:
    db.session.execute(delete(BannedEmail).where(BannedEmail.id == ban_id))
    db.session.commit()


def unban_ip(ban_id: int) -> None:
    db.session.execute(delete(BannedIP).where(BannedIP.id == ban_id))
    db.session.commit()
