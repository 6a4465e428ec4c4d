"""Staff accounts, their category access and permission feature keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hesk_py.extensions import db
from hesk_py.models.types import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "hesk_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    nickname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    signature: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    autoassign: Mapped[bool] = mapped_column(Boolean, default=True)
    # HESK's per-user preferences and notify_* flags, as one JSON object.
    preferences: Mapped[Any] = mapped_column(JSON, nullable=True)
    # Bumped on password change or deactivation: sessions carrying an older value end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # The second factor: None, "totp" (authenticator app) or "email". The TOTP secret is stored encrypted
    # with a key derived from the app's secret key; the last accepted TOTP time step refuses replays.
    mfa_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    mfa_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    categories: Mapped[list[UserCategory]] = relationship(
        cascade="all, delete-orphan", lazy="select", back_populates="user"
    )
    features: Mapped[list[UserFeature]] = relationship(
        cascade="all, delete-orphan", lazy="select", back_populates="user"
    )

    @property
    def display_name(self) -> str:
        return self.nickname or self.name

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated staff cannot log in
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def category_ids(self) -> set[int]:
        return {c.category_id for c in self.categories}

    @property
    def feature_keys(self) -> set[str]:
        return {f.feature for f in self.features}

    def can(self, feature: str) -> bool:
        return self.is_admin or feature in self.feature_keys

    def can_access_category(self, category_id: int) -> bool:
        return self.is_admin or category_id in self.category_ids


class UserCategory(db.Model):
    __tablename__ = "hesk_user_categories"

    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    user: Mapped[User] = relationship(back_populates="categories")


class UserFeature(db.Model):
    __tablename__ = "hesk_user_features"

    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(40), primary_key=True)
    user: Mapped[User] = relationship(back_populates="features")


# --- authentication: remember-me tokens, password resets, second factor ---------------------------

class AuthToken(db.Model):
    """A "remember me" login (HESK's ``auth_tokens``): the cookie carries ``selector:validator``; only the
    sha256 of the validator is stored. The validator is rotated at each use; the selector stays, so a
    replayed old validator (a stolen cookie) is recognised and every token of the user is revoked."""

    __tablename__ = "hesk_auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(32), unique=True)
    validator_hash: Mapped[str] = mapped_column(String(64))
    # The validator replaced by the last rotation, honoured for a few seconds only: two tabs opened at once
    # both present the old cookie, and that is not theft.
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class PasswordReset(db.Model):
    """A password reset link (HESK's ``reset_password``): only the sha256 of the emailed token is stored."""

    __tablename__ = "hesk_password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MfaBackupCode(db.Model):
    """One of the ten single-use backup codes of a staff member's second factor (stored hashed)."""

    __tablename__ = "hesk_mfa_backup_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MfaEmailCode(db.Model):
    """A 6-digit sign-in code sent by email (keyed hash only), valid for a few minutes, used once."""

    __tablename__ = "hesk_mfa_email_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
