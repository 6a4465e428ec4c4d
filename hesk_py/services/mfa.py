"""Two-factor authentication for staff and customers (HESK's MFA): an authenticator app (TOTP) or a 6-digit
code by email, plus ten single-use backup codes. Every function takes the account, a staff ``User`` or a
``Customer``; each kind keeps its codes in its own tables (``_codes``), under the same rules.

Secrets at rest: the TOTP secret is encrypted (Fernet) with a key derived from the app's secret key;
email codes are stored as an HMAC keyed the same way, backup codes as salted slow hashes. A TOTP code is
accepted once: the time step of the last accepted code is kept and older or equal steps are refused.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import (
    Customer, CustomerMfaBackupCode, CustomerMfaEmailCode, MfaBackupCode, MfaEmailCode, User,
)
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError

METHOD_TOTP = "totp"
METHOD_EMAIL = "email"
METHODS = (METHOD_TOTP, METHOD_EMAIL)

TOTP_INTERVAL = 30
EMAIL_CODE_VALID = timedelta(minutes=20)
EMAIL_CODES_KEPT = 3
EMAIL_RESEND_AFTER = timedelta(seconds=30)
BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (i/l/1, o/0)
_BACKUP_LENGTH = 10
# 50 random bits per code: a modest iteration count already makes an offline search hopeless
_BACKUP_HASH_METHOD = "pbkdf2:sha256:20000"


class MfaError(HeskError):
    """The code was refused."""


@dataclass(frozen=True)
class _Codes:
    """Where one kind of account keeps its backup and email codes."""

    backup: type
    email: type
    owner: str  # the column naming the account


_STAFF_CODES = _Codes(MfaBackupCode, MfaEmailCode, "user_id")
_CUSTOMER_CODES = _Codes(CustomerMfaBackupCode, CustomerMfaEmailCode, "customer_id")


def _codes(account) -> _Codes:
    return _CUSTOMER_CODES if isinstance(account, Customer) else _STAFF_CODES


def _of(model, account):
    """SQL condition: rows of ``model`` belonging to ``account``."""
    return getattr(model, _codes(account).owner) == account.id


# --- keys derived from the app's secret key ----------------------------------------------------------

def _derived_key(purpose: str) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    return hmac.new(secret, f"hesk_py-mfa-{purpose}".encode(), hashlib.sha256).digest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key("totp-secret")))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode("ascii")).decode("ascii")


def _decrypt(stored: str | None) -> str | None:
    if not stored:
        return None
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        return None


def _email_code_hash(account, code: str) -> str:
    # a customer's code is keyed apart from the staff member with the same id
    owner = f"c{account.id}" if isinstance(account, Customer) else str(account.id)
    return hmac.new(_derived_key("email-code"), f"{owner}:{code}".encode(), hashlib.sha256).hexdigest()


# --- the authenticator app ---------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def provisioning_uri(user: User | Customer, secret: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
        name=user.username, issuer_name=str(settings.get("hesk_title")))


def qr_code_svg(uri: str, title: str) -> Markup:
    """The QR code as an inline SVG element (no script, no style attribute: fine under the CSP). Dark on a
    light background whatever the page's colour scheme, so phones can read it."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff", title=title,
                                                  svgclass="qr-code", lineclass=None)
    return Markup(svg)  # segno escapes the title; the rest is path data it drew itself


def format_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _clean_code(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-").lower()


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (previous, current or next: clocks drift) whose TOTP equals ``code``."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int((now if now is not None else time.time()) // TOTP_INTERVAL)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_INTERVAL), code):
            return step
    return None


def _claim_step(user: User | Customer, step: int) -> bool:
    """Accept a TOTP time step once: refuse it when this or a later step was accepted before."""
    Account = type(user)
    claimed = db.session.execute(
        update(Account).where(Account.id == user.id)
        .where(or_(Account.mfa_last_step.is_(None), Account.mfa_last_step < step))
        .values(mfa_last_step=step)
    ).rowcount
    db.session.commit()
    db.session.refresh(user)
    return claimed == 1


def enable_totp(user: User | Customer, secret: str, code: str) -> list[str]:
    """Turn on the authenticator app once the user proved it works. Returns the new backup codes."""
    step = _matching_step(secret, _clean_code(code))
    if step is None:
        raise MfaError("wrong code")
    user.mfa_method = METHOD_TOTP
    user.mfa_secret = _encrypt(secret)
    user.mfa_last_step = step  # the code just typed cannot log anyone in
    db.session.execute(delete(_codes(user).email).where(_of(_codes(user).email, user)))
    return _enabled(user)


# --- codes by email ----------------------------------------------------------------------------------

def send_email_code(user: User | Customer) -> bool:
    """Queue a fresh 6-digit code to the user's email. False (nothing sent) when an unused one went out
    moments ago (a double click, an impatient "send again")."""
    Code = _codes(user).email
    now = utcnow()
    last = db.session.scalar(
        select(func.max(Code.created_at)).where(_of(Code, user), Code.used_at.is_(None))
    )
    if last is not None and now - last < EMAIL_RESEND_AFTER:
        return False
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.session.add(Code(**{_codes(user).owner: user.id}, code_hash=_email_code_hash(user, code), created_at=now,
                        expires_at=now + EMAIL_CODE_VALID))
    db.session.flush()
    # HESK keeps the last three codes: an email that arrives late still works
    keep = db.session.scalars(
        select(Code.id).where(_of(Code, user)).order_by(Code.id.desc()).limit(EMAIL_CODES_KEPT)
    ).all()
    db.session.execute(delete(Code).where(_of(Code, user), Code.id.not_in(keep)))
    from hesk_py.services import outbox

    outbox.queue("mfa_verification", user.email, language=user.language, context={
        "staff_name": user.name,  # the recipient's name (the default text's tag), staff or customer
        "name": user.name,
        "code": code,
        "minutes": int(EMAIL_CODE_VALID.total_seconds() // 60),
    })
    db.session.commit()
    return True


def _use_email_code(user: User | Customer, code: str) -> bool:
    if len(code) != 6 or not code.isdigit():
        return False
    Code = _codes(user).email
    used = db.session.execute(
        update(Code)
        .where(_of(Code, user), Code.code_hash == _email_code_hash(user, code))
        .where(Code.used_at.is_(None), Code.expires_at > utcnow())
        .values(used_at=utcnow())
    ).rowcount
    db.session.commit()
    return used >= 1


def enable_email(user: User | Customer, code: str) -> list[str]:
    """Turn on codes by email once the user typed the code sent to them. Returns the new backup codes."""
    if not _use_email_code(user, _clean_code(code)):
        raise MfaError("wrong code")
    user.mfa_method = METHOD_EMAIL
    user.mfa_secret = None
    user.mfa_last_step = None
    return _enabled(user)


# --- backup codes ------------------------------------------------------------------------------------

def _new_backup_code() -> str:
    return "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(_BACKUP_LENGTH))


def format_backup_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def regenerate_backup_codes(user: User | Customer, *, commit: bool = True) -> list[str]:
    """Ten new backup codes (the old ones stop working). Returned once, in clear, to show the user."""
    Backup = _codes(user).backup
    db.session.execute(delete(Backup).where(_of(Backup, user)))
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    now = utcnow()
    for code in codes:
        db.session.add(Backup(**{_codes(user).owner: user.id}, created_at=now,
                              code_hash=generate_password_hash(code, method=_BACKUP_HASH_METHOD)))
    if commit:
        db.session.commit()
    return [format_backup_code(c) for c in codes]


def backup_codes_left(user: User | Customer) -> int:
    Backup = _codes(user).backup
    return db.session.scalar(
        select(func.count()).select_from(Backup).where(_of(Backup, user), Backup.used_at.is_(None))
    ) or 0


def _use_backup_code(user: User | Customer, code: str) -> bool:
    if len(code) != _BACKUP_LENGTH:
        return False
    Backup = _codes(user).backup
    rows = db.session.scalars(select(Backup).where(_of(Backup, user), Backup.used_at.is_(None))).all()
    for row in rows:
        if check_password_hash(row.code_hash, code):
            used = db.session.execute(
                update(Backup).where(Backup.id == row.id, Backup.used_at.is_(None))
                .values(used_at=utcnow())
            ).rowcount
            db.session.commit()
            return used == 1
    return False


# --- turning it on and off ---------------------------------------------------------------------------

def _enabled(user: User | Customer) -> list[str]:
    from hesk_py.services import accounts

    codes = regenerate_backup_codes(user, commit=False)
    # a new second factor ends the other sessions (one of them could be an intruder's)
    accounts.end_sessions(user, commit=False)
    db.session.commit()
    return codes


def disable(user: User | Customer, *, commit: bool = True) -> None:
    """Turn the second factor off (the user themselves, or an administrator's reset)."""
    from hesk_py.services import accounts

    user.mfa_method = None
    user.mfa_secret = None
    user.mfa_last_step = None
    codes = _codes(user)
    db.session.execute(delete(codes.backup).where(_of(codes.backup, user)))
    db.session.execute(delete(codes.email).where(_of(codes.email, user)))
    accounts.end_sessions(user, commit=False)
    if commit:
        db.session.commit()


def is_required(account: User | Customer | None = None) -> bool:
    """``require_mfa`` for staff, ``require_mfa_customers`` for a customer's account."""
    return bool(settings.get("require_mfa_customers" if isinstance(account, Customer) else "require_mfa"))


# --- checking a code at login ------------------------------------------------------------------------

def verify(user: User | Customer, code: str) -> bool:
    """A code from the user's app or email, or one of their backup codes. Each is accepted once."""
    code = _clean_code(code)
    if not code or len(code) > 32 or user.mfa_method not in METHODS:
        return False
    if len(code) == 6 and code.isdigit():
        if user.mfa_method == METHOD_TOTP:
            secret = _decrypt(user.mfa_secret)
            step = _matching_step(secret, code) if secret else None
            return step is not None and _claim_step(user, step)
        return _use_email_code(user, code)
    return _use_backup_code(user, code)

