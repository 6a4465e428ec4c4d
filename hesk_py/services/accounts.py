"""Staff accounts: creating them, checking passwords (scrypt), permissions, the profile, sessions
(session_version), "remember me" tokens and password reset links."""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import undefer
from werkzeug.security import check_password_hash, generate_password_hash

from hesk_py.extensions import db
from hesk_py.models import (
    AuthToken, Customer, CustomerAuthToken, MfaEmailCode, PasswordReset, User, UserCategory, UserFeature,
)
from hesk_py.models.types import utcnow
from hesk_py.services.errors import HeskError
from hesk_py.services.schema import SCHEMA_AT_HEAD
from hesk_py.services.permissions import DEFAULT_FEATURES, FEATURES

MIN_PASSWORD_LENGTH = 8
_USERNAME_RE = re.compile(r"^[\w.@+-]{1,50}$")


class AccountError(HeskError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _hash_method() -> str:
    """werkzeug's scrypt with its default cost; the test suite sets a cheaper cost (HESK_PASSWORD_HASH_METHOD)
    so hundreds of logins do not spend minutes hashing. Existing hashes keep working whatever the setting."""
    if has_app_context():
        return current_app.config.get("HESK_PASSWORD_HASH_METHOD") or "scrypt"
    return "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why a password is too weak, or None. The same rule for the installer, the CLI and profiles."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return str(_l("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH))
    if len(password) > 256:
        return str(_l("Use at most 256 characters."))
    lowered = password.lower()
    if username and lowered == username.lower():
        return str(_l("The password must not be the username."))
    if email and lowered == email.lower():
        return str(_l("The password must not be the email address."))
    kinds = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if kinds < 2 and len(password) < 16:
        return str(_l("Mix letters with digits or symbols, or use 16 characters or more."))
    if len(set(password)) < 4:
        return str(_l("The password repeats too few different characters."))
    return None


def create_user(
    *,
    username: str,
    email: str,
    name: str,
    password: str,
    is_admin: bool = False,
    category_ids: tuple[int, ...] | list[int] = (1,),
    features: tuple[str, ...] | list[str] = DEFAULT_FEATURES,
    language: str | None = None,
    commit: bool = True,
) -> User:
    errors: dict[str, str] = {}
    username = username.strip()
    email = email.strip()
    if not _USERNAME_RE.match(username):
        errors["username"] = str(_l("Use 1 to 50 letters, digits and . @ + - _"))
    elif db.session.scalar(select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())):
        errors["username"] = str(_l("This username is taken."))
    if not email or "@" not in email:
        errors["email"] = str(_l("Enter a valid email address."))
    if not name.strip():
        errors["name"] = str(_l("Enter a name."))
    problem = password_problem(password, username=username, email=email)
    if problem:
        errors["password"] = problem
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        errors["features"] = str(_l("Unknown permissions: %(f)s", f=", ".join(unknown)))
    if errors:
        raise AccountError(errors)
    user = User(
        username=username,
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        is_admin=is_admin,
        language=language,
    )
    if not is_admin:
        user.categories = [UserCategory(category_id=c) for c in category_ids]
        user.features = [UserFeature(feature=f) for f in features]
    db.session.add(user)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return user


def authenticate(login: str, password: str) -> User | None:
    """The active user whose username or email is ``login`` and whose password matches."""
    login = login.strip()
    if not login or not password:
        return None
    users = db.session.scalars(
        select(User).where(or_(func.lower(User.username) == login.lower(), func.lower(User.email) == login.lower()))
    ).all()
    for user in users:
        # the hash is checked even for a deactivated account: the answer takes as long as for an active one
        if check_password_hash(user.password_hash, password) and user.active:
            return user
    if not users:
        # same work as a real check, so timing does not reveal which usernames exist
        check_password_hash(_dummy_hash(), password)
    return None


@functools.cache
def _dummy_hash_for(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)


def _dummy_hash() -> str:
    return _dummy_hash_for(_hash_method())


def dummy_password_check(password: str) -> None:
    """The work of one password check, for an account that does not exist: timing reveals nothing."""
    check_password_hash(_dummy_hash(), password or "x")


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version, so a password change ends sessions."""
    try:
        uid, version = (int(p) for p in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    options = []
    if current_app.extensions.get(SCHEMA_AT_HEAD):  # newest revision: the users-online time comes along
        options.append(undefer(User.last_seen_at))
    user = db.session.get(User, uid, options=options)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


log = logging.getLogger(__name__)


def check_password(user: User, password: str) -> bool:
    return bool(password) and check_password_hash(user.password_hash, password)


def throttle_key(kind: str, value: str) -> str:
    """A key for the failed-attempts table other than an IP address: ``login:<hash of the typed login>``.
    Hashed so any length fits and no username is stored; keyed by what was typed, so an unknown account
    is throttled exactly like a real one (no enumeration)."""
    digest = hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()[:36]
    return f"{kind[:8]}:{digest}"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- sessions --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RememberStore:
    """Where one kind of account keeps its "remember me" tokens: staff (``AuthToken``) or customers
    (``CustomerAuthToken``, hesk_py/services/customer_accounts.py). The same rules serve both."""

    token: type
    account: type
    owner: str  # the token's column naming the account


STAFF_REMEMBER = RememberStore(AuthToken, User, "user_id")
CUSTOMER_REMEMBER = RememberStore(CustomerAuthToken, Customer, "customer_id")


def _remember_store(account) -> RememberStore:
    return CUSTOMER_REMEMBER if isinstance(account, Customer) else STAFF_REMEMBER


def _tokens_of(store: RememberStore, account_id: int):
    return getattr(store.token, store.owner) == account_id


def end_sessions(user: User | Customer, *, commit: bool = True) -> None:
    """End every session and "remember me" login of this account, staff or customer (their stored id
    carries the old version). The caller logs the current browser in again when it should stay logged in."""
    store = _remember_store(user)
    user.session_version = (user.session_version or 1) + 1
    db.session.execute(delete(store.token).where(_tokens_of(store, user.id)))
    if commit:
        db.session.commit()


def set_active(user: User, active: bool) -> None:
    """Activate or deactivate a staff account; deactivating ends its sessions at their next request."""
    user.active = bool(active)
    if not active:
        end_sessions(user, commit=False)
    db.session.commit()


# --- "remember me" (HESK's autologin) ----------------------------------------------------------------

REMEMBER_DAYS = 30  # sliding: every use rotates the token and restarts the period
REMEMBER_GRACE = timedelta(seconds=20)


def issue_remember_token(user: User | Customer) -> str:
    """A new token for this browser; returns the cookie value ``selector:validator``."""
    store = _remember_store(user)
    selector = secrets.token_urlsafe(12)
    validator = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(store.token(**{store.owner: user.id}, selector=selector, validator_hash=_sha256(validator),
                               created_at=now, expires_at=now + timedelta(days=REMEMBER_DAYS)))
    db.session.commit()
    return f"{selector}:{validator}"


def _split_cookie(value: str | None) -> tuple[str, str] | None:
    if not value or value.count(":") != 1:
        return None
    selector, validator = value.split(":")
    if not (0 < len(selector) <= 32 and 0 < len(validator) <= 64):
        return None
    return selector, validator


def use_remember_token(value: str | None, *, store: RememberStore = STAFF_REMEMBER):
    """Log in with a remember-me cookie. Returns (user, new cookie value) when it is valid: the validator is
    rotated. (user, None) when the browser presented the validator just replaced (two requests at once).
    (None, None) otherwise; a known selector with an old validator means the cookie was copied: every
    token of that user is revoked and their sessions end. ``store`` says whose tokens (staff or customers)."""
    parts = _split_cookie(value)
    if parts is None:
        return None, None
    selector, validator = parts
    AuthRow = store.token
    token = db.session.scalar(select(AuthRow).where(AuthRow.selector == selector))
    if token is None:
        return None, None
    now = utcnow()
    user = db.session.get(store.account, getattr(token, store.owner))
    if token.expires_at <= now or user is None or not user.is_active:
        db.session.delete(token)
        db.session.commit()
        return None, None
    presented = _sha256(validator)
    if hmac.compare_digest(presented, token.validator_hash):
        new_validator = secrets.token_urlsafe(32)
        # conditional: of two requests rotating at once, only one wins; the other falls to the grace rule
        rotated = db.session.execute(
            update(AuthRow)
            .where(AuthRow.id == token.id, AuthRow.validator_hash == token.validator_hash)
            .values(validator_hash=_sha256(new_validator), previous_hash=token.validator_hash,
                    rotated_at=now, expires_at=now + timedelta(days=REMEMBER_DAYS))
        ).rowcount
        db.session.commit()
        if rotated == 1:
            return user, f"{selector}:{new_validator}"
        db.session.refresh(token)
    if (token.previous_hash and token.rotated_at and now - token.rotated_at <= REMEMBER_GRACE
            and hmac.compare_digest(presented, token.previous_hash)):
        return user, None
    log.warning("remember-me token of %s %s replayed after rotation: all their logins revoked",
                store.account.__name__.lower(), user.id)
    end_sessions(user)
    return None, None


def revoke_remember_token(value: str | None, *, store: RememberStore = STAFF_REMEMBER) -> None:
    parts = _split_cookie(value)
    if parts is None:
        return
    db.session.execute(delete(store.token).where(store.token.selector == parts[0]))
    db.session.commit()


# --- secure areas (HESK's elevator): how long a typed password counts ------------------------------

_DURATION_RE = re.compile(r"^\s*(\d{1,6})\s*([MHD]?)\s*$", re.IGNORECASE)


def elevation_duration() -> timedelta:
    """``elevator_duration`` as a timedelta: HESK stores ``60M`` / ``2H`` / ``1D``; a bare number is minutes."""
    from hesk_py import settings

    raw = settings.get("elevator_duration")
    match = _DURATION_RE.match(str(raw))
    if not match:
        return timedelta(minutes=60)
    amount, unit = int(match.group(1)), match.group(2).upper() or "M"
    return {"M": timedelta(minutes=amount), "H": timedelta(hours=amount), "D": timedelta(days=amount)}[unit]


# --- the profile -----------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
LANGUAGE_CODES = ("en", "uk", "ru", "bg", "lv")
SIGNATURE_MAX = 1000

# HESK's per-user notification flags (Profile -> Notifications, reference/HESK.md §5.3); all on by default.
NOTIFY_FLAGS: dict[str, Any] = {
    "notify_new_unassigned": _l("A new ticket is submitted with owner: Unassigned"),
    "notify_new_my": _l("A new ticket is submitted with owner: Assigned to me"),
    "notify_reply_unassigned": _l("A customer responds to a ticket with owner: Unassigned"),
    "notify_reply_my": _l("A customer responds to a ticket with owner: Assigned to me"),
    "notify_overdue_unassigned": _l("A ticket is overdue with owner: Unassigned"),
    "notify_overdue_my": _l("A ticket is overdue with owner: Assigned to me"),
    "notify_assigned": _l("A ticket is assigned to me"),
    "notify_note": _l("Someone adds a note to a ticket assigned to me"),
    "notify_pm": _l("A private message is sent to me"),
    "notify_customer_approval": _l("Customer accounts are waiting for approval"),
    "notify_collaborator_added": _l("I am added as a collaborator on a ticket"),
    "notify_collaborator_customer_reply": _l("A customer replies to a ticket I collaborate on"),
    "notify_collaborator_staff_reply": _l("Staff reply to a ticket I collaborate on"),
    "notify_collaborator_note": _l("A note is added to a ticket I collaborate on"),
    "notify_collaborator_resolved": _l("A ticket I collaborate on is resolved"),
    "notify_collaborator_overdue": _l("A ticket I collaborate on is overdue"),
}

# After replying to a ticket (HESK's afterreply): 0 show the ticket, 1 back to the list, 2 the next ticket.
AFTER_REPLY_CHOICES = (0, 1, 2)
PREFERENCE_DEFAULTS: dict[str, Any] = {
    "afterreply": 0,
    "autostart": True,
    "notify_customer_new": True,
    "notify_customer_reply": True,
    "show_suggested": True,
    "autoreload": 0,
    # the ticket list's saved default view (a query string; admin/tickets.py writes it)
    "default_list": "",
    **{flag: True for flag in NOTIFY_FLAGS},
}


def preferences(user: User) -> dict[str, Any]:
    """The user's preferences with HESK's defaults filled in."""
    stored = user.preferences if isinstance(user.preferences, dict) else {}
    return {key: stored.get(key, default) for key, default in PREFERENCE_DEFAULTS.items()}


def save_preferences(user: User, values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    clean = preferences(user)
    for key, value in values.items():
        if key not in PREFERENCE_DEFAULTS:
            errors[key] = str(_l("Unknown preference."))
            continue
        default = PREFERENCE_DEFAULTS[key]
        if isinstance(default, bool):
            clean[key] = bool(value)
        elif key == "afterreply":
            if value not in AFTER_REPLY_CHOICES:
                errors[key] = str(_l("Choose one of the options."))
            else:
                clean[key] = value
        elif key == "autoreload":
            if not isinstance(value, int) or not 0 <= value <= 86400:
                errors[key] = str(_l("Enter a number of seconds from 0 (off) to 86400."))
            else:
                clean[key] = value
    if errors:
        raise AccountError(errors)
    user.preferences = clean  # a new dict, so the JSON column is written
    db.session.commit()


def email_taken(email: str, *, except_user_id: int | None = None) -> bool:
    stmt = select(func.count()).select_from(User).where(func.lower(User.email) == email.strip().lower())
    if except_user_id is not None:
        stmt = stmt.where(User.id != except_user_id)
    return bool(db.session.scalar(stmt))


def update_profile(user: User, *, name: str, email: str, nickname: str = "", signature: str = "",
                   language: str = "", current_password: str = "") -> None:
    """Name, email, nickname, signature and language. A new email needs the current password (whoever
    controls the email controls password resets)."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    email = (email or "").strip()
    nickname = (nickname or "").strip()
    signature = (signature or "").replace("\r\n", "\n").rstrip()
    if not name:
        errors["name"] = str(_l("Enter a name."))
    elif len(name) > 255:
        errors["name"] = str(_l("At most %(n)s characters.", n=255))
    if not _EMAIL_RE.match(email) or len(email) > 255:
        errors["email"] = str(_l("Enter a valid email address."))
    elif email.lower() != (user.email or "").lower():
        if email_taken(email, except_user_id=user.id):
            errors["email"] = str(_l("Another staff account uses this email address."))
        elif not check_password(user, current_password):
            errors["current_password"] = str(_l("Enter your current password to change your email address."))
    if len(nickname) > 255:
        errors["nickname"] = str(_l("At most %(n)s characters.", n=255))
    if len(signature) > SIGNATURE_MAX:
        errors["signature"] = str(_l("At most %(n)s characters.", n=SIGNATURE_MAX))
    if language and language not in LANGUAGE_CODES:
        errors["language"] = str(_l("Choose a language from the list."))
    if errors:
        raise AccountError(errors)
    user.name = name
    user.email = email
    user.nickname = nickname or None
    user.signature = signature
    user.language = language or None
    db.session.commit()


def change_password(user: User, *, current: str, new: str, confirm: str) -> None:
    """Needs the current password. Every session and remember-me login of the user ends, and open reset
    links die; the caller keeps the current browser logged in."""
    errors: dict[str, str] = {}
    if not check_password(user, current or ""):
        errors["current"] = str(_l("This is not your current password."))
    problem = password_problem(new or "", username=user.username, email=user.email)
    if problem:
        errors["new"] = problem
    elif not errors and new == current:
        errors["new"] = str(_l("Choose a password different from the current one."))
    if not errors.get("new") and new != confirm:
        errors["confirm"] = str(_l("The two passwords do not match."))
    if errors:
        raise AccountError(errors)
    _set_password(user, new)
    db.session.commit()


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    db.session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))
    db.session.execute(delete(MfaEmailCode).where(MfaEmailCode.user_id == user.id))
    end_sessions(user, commit=False)


# --- password reset by email (HESK's reset_pass) -----------------------------------------------------

RESET_VALID = timedelta(hours=1)
RESET_MAX_PER_HOUR = 3


def find_user_by_login(login: str) -> User | None:
    login = (login or "").strip().lower()
    if not login:
        return None
    return db.session.scalars(
        select(User).where(or_(func.lower(User.username) == login, func.lower(User.email) == login))
        .order_by(User.id)
    ).first()


def request_password_reset(login: str, ip: str) -> None:
    """Email a reset link to the active account with this username or email. Says nothing either way:
    the page answers the same whether or not the account exists. At most a few links per hour."""
    user = find_user_by_login(login)
    if user is None or not user.active:
        return
    now = utcnow()
    recent = db.session.scalar(
        select(func.count()).select_from(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.created_at > now - timedelta(hours=1))
    )
    if recent >= RESET_MAX_PER_HOUR:
        return
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordReset(user_id=user.id, token_hash=_sha256(token), ip=(ip or "")[:45],
                                 created_at=now, expires_at=now + RESET_VALID))
    from hesk_py.services import outbox

    outbox.queue("reset_password", user.email, language=user.language, context={
        "staff_name": user.name,
        "username": user.username,
        "reset_path": f"admin/reset_password/{token}",
        "minutes": int(RESET_VALID.total_seconds() // 60),
        "ip": ip or "",
    })
    db.session.commit()


def find_reset(token: str) -> PasswordReset | None:
    """The unused, unexpired reset link for this token (of an active user), or None."""
    if not token or len(token) > 100:
        return None
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _sha256(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = db.session.get(User, reset.user_id)
    if user is None or not user.active:
        return None
    return reset


def reset_password(token: str, *, new: str, confirm: str) -> User:
    """Set a new password with a reset link. The link works once; every session, remember-me login and
    other reset link of the user ends. Raises AccountError (``token`` when the link is no longer valid)."""
    reset = find_reset(token)
    if reset is None:
        raise AccountError({"token": str(_l("This link has expired or was already used. Ask for a new one."))})
    user = db.session.get(User, reset.user_id)
    errors: dict[str, str] = {}
    problem = password_problem(new or "", username=user.username, email=user.email)
    if problem:
        errors["password"] = problem
    elif new != confirm:
        errors["confirm"] = str(_l("The two passwords do not match."))
    if errors:
        raise AccountError(errors)
    used = db.session.execute(
        update(PasswordReset).where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if used != 1:  # the same link submitted twice at once
        db.session.rollback()
        raise AccountError({"token": str(_l("This link has expired or was already used. Ask for a new one."))})
    _set_password(user, new)
    db.session.commit()
    return user


# --- the team: staff accounts managed by administrators and staff managers (admin/team.py) ------------
#
# Rules (HESK §3.5): nobody removes, demotes or deactivates the last active administrator; nobody
# deactivates or deletes themselves; a staff manager (``can_man_users`` without being an administrator)
# cannot create or edit administrators and grants only categories, features and groups within what they
# have themselves. Grants a manager cannot give are kept as they were on the account being edited.

class TeamRuleBroken(AccountError):
    """A team rule refuses the change; ``errors`` says why, keyed by the field it concerns."""


def _other_active_admins(user_id: int | None) -> int:
    stmt = select(func.count()).select_from(User).where(User.is_admin.is_(True), User.active.is_(True))
    if user_id is not None:
        stmt = stmt.where(User.id != user_id)
    return db.session.scalar(stmt) or 0


def is_last_active_admin(user: User) -> bool:
    return bool(user.is_admin and user.active and _other_active_admins(user.id) == 0)


def may_manage(actor: User, target: User | None) -> bool:
    """May ``actor`` edit, deactivate or delete ``target`` (None: create an account)?"""
    if not actor.can("can_man_users"):
        return False
    return actor.is_admin or target is None or not target.is_admin


def grantable(actor: User) -> tuple[set[int] | None, set[str]]:
    """(category ids, feature keys) ``actor`` may grant; None for the categories means every one."""
    if actor.is_admin:
        return None, set(FEATURES)
    return set(actor.category_ids), set(actor.feature_keys) & set(FEATURES)


def group_grantable(actor: User, group) -> bool:
    """A manager may put staff into a group (or take them out) only if the group gives nothing they lack."""
    cats, feats = grantable(actor)
    return (cats is None or group.category_ids <= cats) and group.feature_keys <= feats


def _merge_grants(asked: set, allowed: set | None, existing: set, field: str, errors: dict[str, str]) -> set:
    """What is asked within what is allowed, plus what the account already had outside it."""
    if allowed is None:
        return set(asked)
    beyond = asked - allowed - existing
    if beyond:
        errors[field] = str(_l("You can only grant what you have yourself."))
    return (asked & allowed) | (existing - allowed)


def team_overview() -> list[tuple[User, int]]:
    """Every staff account (administrators first, then by name) with its number of open tickets: two queries."""
    from hesk_py.models import Status, Ticket
    from hesk_py.models.workflow import STATUS_CLOSED

    counts = dict(db.session.execute(
        select(Ticket.owner_id, func.count(Ticket.id))
        .join(Status, Status.id == Ticket.status_id)
        .where(Ticket.owner_id.is_not(None), Status.kind != STATUS_CLOSED)
        .group_by(Ticket.owner_id)
    ).all())
    users = db.session.scalars(select(User).order_by(User.is_admin.desc(), User.name, User.id)).all()
    return [(u, int(counts.get(u.id, 0))) for u in users]


def save_staff(actor: User, target: User | None, *, name: str, email: str, username: str, nickname: str = "",
               password: str = "", confirm: str = "", is_admin: bool = False,
               category_ids: list[int] | set[int] = (), features: list[str] | set[str] = (),
               group_ids: list[int] | set[int] = (), autoassign: bool = True, signature: str = "") -> User:
    """Create (``target`` None) or edit a staff account as ``actor``, with every team rule. Raises
    AccountError with messages keyed by field; nothing is written then."""
    from hesk_py.models import Category, Group, UserGroup

    errors: dict[str, str] = {}
    if not may_manage(actor, target):
        raise TeamRuleBroken({"is_admin": str(_l("Only administrators can edit administrators."))})
    name, email, username = (name or "").strip(), (email or "").strip(), (username or "").strip()
    nickname = (nickname or "").strip()
    signature = (signature or "").replace("\r\n", "\n").rstrip()
    if not name:
        errors["name"] = str(_l("Enter a name."))
    elif len(name) > 255:
        errors["name"] = str(_l("At most %(n)s characters.", n=255))
    if not _EMAIL_RE.match(email) or len(email) > 255:
        errors["email"] = str(_l("Enter a valid email address."))
    elif email_taken(email, except_user_id=target.id if target else None):
        errors["email"] = str(_l("Another staff account uses this email address."))
    if not _USERNAME_RE.match(username):
        errors["username"] = str(_l("Use 1 to 50 letters, digits and . @ + - _"))
    else:
        taken = select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
        if target is not None:
            taken = taken.where(User.id != target.id)
        if db.session.scalar(taken):
            errors["username"] = str(_l("This username is taken."))
    if len(nickname) > 255:
        errors["nickname"] = str(_l("At most %(n)s characters.", n=255))
    if len(signature) > SIGNATURE_MAX:
        errors["signature"] = str(_l("At most %(n)s characters.", n=SIGNATURE_MAX))
    if password or target is None:
        problem = password_problem(password or "", username=username, email=email)
        if problem:
            errors["password"] = problem
        elif password != confirm:
            errors["confirm"] = str(_l("The two passwords do not match."))
    is_admin = bool(is_admin)
    if is_admin and not actor.is_admin:
        errors["is_admin"] = str(_l("Only administrators can create administrators."))
    elif target is not None and target.is_admin and not is_admin and is_last_active_admin(target):
        errors["is_admin"] = str(_l("This is the last active administrator: make someone else an "
                                     "administrator first."))

    known_categories = set(db.session.scalars(select(Category.id)))
    asked_cats = {int(c) for c in category_ids}
    if asked_cats - known_categories:
        errors["categories"] = str(_l("Choose categories from the list."))
    asked_feats = set(features)
    if asked_feats - set(FEATURES):
        errors["features"] = str(_l("Unknown permissions: %(f)s", f=", ".join(sorted(asked_feats - set(FEATURES)))))
    allowed_cats, allowed_feats = grantable(actor)
    old_cats = target.own_category_ids if target else set()
    old_feats = target.own_feature_keys if target else set()
    new_cats = _merge_grants(asked_cats & known_categories, allowed_cats, old_cats, "categories", errors)
    new_feats = _merge_grants(asked_feats & set(FEATURES), allowed_feats, old_feats, "features", errors)

    groups = {g.id: g for g in db.session.scalars(select(Group))}
    asked_groups = {int(g) for g in group_ids}
    if asked_groups - set(groups):
        errors["groups"] = str(_l("Choose groups from the list."))
    old_groups = set(db.session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == target.id))) \
        if target is not None else set()
    allowed_groups = None if actor.is_admin else {gid for gid, g in groups.items() if group_grantable(actor, g)}
    new_groups = _merge_grants(asked_groups & set(groups), allowed_groups, old_groups, "groups", errors)
    if errors:
        raise AccountError(errors)

    try:
        if target is None:
            target = User(username=username, email=email, name=name, password_hash=hash_password(password),
                          is_admin=is_admin)
            db.session.add(target)
        else:
            target.username, target.email, target.name = username, email, name
            if password:
                _set_password(target, password)
        target.nickname = nickname or None
        target.signature = signature
        target.is_admin = is_admin
        target.autoassign = bool(autoassign)
        target.categories = [c for c in target.categories if c.category_id in new_cats] + [
            UserCategory(category_id=c) for c in sorted(new_cats - {c.category_id for c in target.categories})]
        target.features = [f for f in target.features if f.feature in new_feats] + [
            UserFeature(feature=f) for f in sorted(new_feats - {f.feature for f in target.features})]
        db.session.flush()
        if new_groups != old_groups:
            db.session.execute(delete(UserGroup).where(UserGroup.user_id == target.id,
                                                       UserGroup.group_id.not_in(new_groups or [0])))
            for gid in sorted(new_groups - old_groups):
                db.session.add(UserGroup(user_id=target.id, group_id=gid))
        target.forget_grants()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return target


def user_group_ids(user: User) -> set[int]:
    from hesk_py.models import UserGroup

    return set(db.session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user.id)))


def change_active(actor: User, target: User, active: bool) -> None:
    """Activate or deactivate ``target`` as ``actor``; a deactivated account's sessions end at once."""
    if not may_manage(actor, target):
        raise TeamRuleBroken({"active": str(_l("Only administrators can change administrators."))})
    if not active:
        if target.id == actor.id:
            raise TeamRuleBroken({"active": str(_l("You cannot deactivate your own account."))})
        if is_last_active_admin(target):
            raise TeamRuleBroken({"active": str(_l("The last active administrator cannot be deactivated."))})
    set_active(target, active)


def deletion_counts(target: User) -> dict[str, int]:
    """What deleting ``target`` touches: their open tickets (they become unassigned), the other tickets they
    own, and the replies they wrote (kept, without a link to the account)."""
    from hesk_py.models import Reply, Status, Ticket
    from hesk_py.models.workflow import STATUS_CLOSED

    rows = dict(db.session.execute(
        select(Status.kind == STATUS_CLOSED, func.count(Ticket.id))
        .join(Status, Status.id == Ticket.status_id)
        .where(Ticket.owner_id == target.id)
        .group_by(Status.kind == STATUS_CLOSED)
    ).all())
    replies = db.session.scalar(select(func.count()).select_from(Reply).where(Reply.staff_id == target.id)) or 0
    return {"open": int(rows.get(False, 0) or 0), "closed": int(rows.get(True, 0) or 0), "replies": int(replies)}


def delete_staff(actor: User, target: User) -> int:
    """Delete ``target``: their open tickets become unassigned (through the ticket service, with history),
    all in one transaction. Returns how many tickets were unassigned."""
    from hesk_py.models import Status, Ticket
    from hesk_py.models.workflow import STATUS_CLOSED
    from hesk_py.services import tickets

    if not may_manage(actor, target):
        raise TeamRuleBroken({"delete": str(_l("Only administrators can delete administrators."))})
    if target.id == actor.id:
        raise TeamRuleBroken({"delete": str(_l("You cannot delete your own account."))})
    if target.is_admin and _other_active_admins(target.id) == 0:
        raise TeamRuleBroken({"delete": str(_l("The last active administrator cannot be deleted."))})
    open_tickets = db.session.scalars(
        select(Ticket).join(Status, Status.id == Ticket.status_id)
        .where(Ticket.owner_id == target.id, Status.kind != STATUS_CLOSED).order_by(Ticket.id)
    ).all()
    actor_ref = tickets.Actor.staff(actor)
    with tickets.one_transaction():
        for ticket in open_tickets:
            tickets.assign(ticket, None, actor=actor_ref, notify=False)
        db.session.execute(update(Ticket).where(Ticket.owner_id == target.id).values(owner_id=None))
        db.session.delete(target)
    return len(open_tickets)


# --- permission groups (admin/team.py) -------------------------------------------------------------

class GroupInUse(HeskError):
    def __init__(self, count: int):
        super().__init__(f"group has {count} members")
        self.count = count


def groups_with_counts() -> list[tuple[Any, int]]:
    """Every group (by name) with its number of members: two queries."""
    from hesk_py.models import Group, UserGroup

    counts = dict(db.session.execute(
        select(UserGroup.group_id, func.count()).group_by(UserGroup.group_id)).all())
    groups = db.session.scalars(select(Group).order_by(Group.name, Group.id)).all()
    return [(g, int(counts.get(g.id, 0))) for g in groups]


def save_group(actor: User, group, *, name: str, description: str = "",
               category_ids: list[int] | set[int] = (), features: list[str] | set[str] = ()):
    """Create (``group`` None) or edit a permission group. A non-administrator grants only what they have."""
    from hesk_py.models import Category, Group, GroupCategory, GroupFeature

    errors: dict[str, str] = {}
    name = (name or "").strip()
    description = (description or "").strip()
    if not name:
        errors["name"] = str(_l("Enter a name."))
    elif len(name) > 100:
        errors["name"] = str(_l("At most %(n)s characters.", n=100))
    else:
        taken = select(func.count()).select_from(Group).where(func.lower(Group.name) == name.lower())
        if group is not None:
            taken = taken.where(Group.id != group.id)
        if db.session.scalar(taken):
            errors["name"] = str(_l("Another group has this name."))
    if len(description) > 255:
        errors["description"] = str(_l("At most %(n)s characters.", n=255))
    known = set(db.session.scalars(select(Category.id)))
    asked_cats = {int(c) for c in category_ids}
    if asked_cats - known:
        errors["categories"] = str(_l("Choose categories from the list."))
    asked_feats = set(features)
    if asked_feats - set(FEATURES):
        errors["features"] = str(_l("Unknown permissions: %(f)s", f=", ".join(sorted(asked_feats - set(FEATURES)))))
    allowed_cats, allowed_feats = grantable(actor)
    new_cats = _merge_grants(asked_cats & known, allowed_cats, group.category_ids if group else set(),
                             "categories", errors)
    new_feats = _merge_grants(asked_feats & set(FEATURES), allowed_feats, group.feature_keys if group else set(),
                              "features", errors)
    if errors:
        raise AccountError(errors)
    try:
        if group is None:
            group = Group(name=name, description=description)
            db.session.add(group)
        group.name, group.description = name, description
        group.categories = [c for c in group.categories if c.category_id in new_cats] + [
            GroupCategory(category_id=c) for c in sorted(new_cats - {c.category_id for c in group.categories})]
        group.features = [f for f in group.features if f.feature in new_feats] + [
            GroupFeature(feature=f) for f in sorted(new_feats - {f.feature for f in group.features})]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return group


def copy_group(actor: User, group):
    """A new group with the same categories and features, named "<name> (copy)" (or "(copy 2)", ...)."""
    from hesk_py.models import Group

    names = {n.lower() for n in db.session.scalars(select(Group.name))}
    n, name = 1, str(_l("%(name)s (copy)", name=group.name))[:100]
    while name.lower() in names:
        n += 1
        name = str(_l("%(name)s (copy %(n)s)", name=group.name, n=n))[:100]
    return save_group(actor, None, name=name, description=group.description,
                      category_ids=group.category_ids, features=group.feature_keys)


def delete_group(group) -> None:
    """Delete a group with no members; refused with the member count otherwise."""
    from hesk_py.models import UserGroup

    members = db.session.scalar(select(func.count()).select_from(UserGroup).where(UserGroup.group_id == group.id))
    if members:
        raise GroupInUse(int(members))
    db.session.delete(group)
    db.session.commit()


# --- the same union in SQL, for queries over many staff (auto-assign, notifications, owner lists) --------

def has_feature_clause(key: str):
    """SQL condition on ``User``: has this permission key, their own or through a group."""
    from hesk_py.models import GroupFeature, UserGroup

    own = select(UserFeature.user_id).where(UserFeature.user_id == User.id, UserFeature.feature == key)
    grouped = (select(UserGroup.user_id).join(GroupFeature, GroupFeature.group_id == UserGroup.group_id)
               .where(UserGroup.user_id == User.id, GroupFeature.feature == key))
    return own.exists() | grouped.exists()


def has_category_clause(category_id: int):
    """SQL condition on ``User``: has access to this category, their own or through a group."""
    from hesk_py.models import GroupCategory, UserGroup

    own = select(UserCategory.user_id).where(UserCategory.user_id == User.id,
                                             UserCategory.category_id == category_id)
    grouped = (select(UserGroup.user_id).join(GroupCategory, GroupCategory.group_id == UserGroup.group_id)
               .where(UserGroup.user_id == User.id, GroupCategory.category_id == category_id))
    return own.exists() | grouped.exists()


# --- users online (HESK's "Users online", settings online / online_min) --------------------------------

def users_online(minutes: int, *, including: User | None = None) -> list[tuple[int, str]]:
    """(id, name) of the active staff whose last request (``last_seen_at``, written at most once a minute
    by the staff panel) is at most ``minutes`` old, by name; ``including``: someone known to be online now
    (the viewer) whatever the stored time says."""
    since = utcnow() - timedelta(minutes=max(1, int(minutes)))
    rows = dict(db.session.execute(select(User.id, User.name).where(User.active.is_(True),
                                                                    User.last_seen_at >= since)).all())
    if including is not None:
        rows[including.id] = including.name
    return sorted(rows.items(), key=lambda row: (row[1].lower(), row[0]))
