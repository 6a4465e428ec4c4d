"""Staff accounts: creating them, checking passwords (scrypt), permissions."""
from __future__ import annotations

import functools
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from hesk_py.extensions import db
from hesk_py.models import User, UserCategory, UserFeature
from hesk_py.services.errors import HeskError
from hesk_py.services.permissions import DEFAULT_FEATURES, FEATURES

MIN_PASSWORD_LENGTH = 8
_USERNAME_RE = re.compile(r"^[\w.@+-]{1,50}$")


class AccountError(HeskError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


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
        if user.active and check_password_hash(user.password_hash, password):
            return user
    if not users:
        # same work as a real check, so timing does not reveal which usernames exist
        check_password_hash(_dummy_hash(), password)
    return None


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password", method="scrypt")


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version, so a password change ends sessions."""
    try:
        uid, version = (int(p) for p in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
