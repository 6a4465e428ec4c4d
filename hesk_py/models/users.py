"""Staff accounts, their category access and permission feature keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, event, Boolean, DateTime, ForeignKey, Integer, String, Text
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
    # The users-online list (settings online/online_min): the last request, written at most once a minute.
    # Deferred: a database still at an older revision (before 0018) must let staff log in to upgrade it;
    # the login loader asks for it once the schema is known to be current (accounts.load_user).
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, deferred=True)
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

    # Everything the user is granted, their own and their permission groups' (the union), loaded with one
    # query the first time a permission is checked on this instance. A fresh instance is loaded each request,
    # so a change made by a manager counts from the user's next request.
    _grants = None  # (frozenset of category ids, frozenset of feature keys) once loaded

    def grants(self) -> tuple[frozenset[int], frozenset[str]]:
        """(category ids, feature keys): the user's own grants and their groups' grants."""
        if self._grants is None:
            if self.id is None:
                return frozenset(), frozenset()
            from sqlalchemy import literal, select, union_all

            from hesk_py.extensions import db as _db

            own_cats = select(literal("c").label("kind"), UserCategory.category_id.label("cid"),
                              literal("").label("feature")).where(UserCategory.user_id == self.id)
            own_feats = select(literal("f").label("kind"), literal(0).label("cid"),
                               UserFeature.feature.label("feature")).where(UserFeature.user_id == self.id)
            group_cats = (select(literal("c").label("kind"), GroupCategory.category_id.label("cid"),
                                 literal("").label("feature"))
                          .join(UserGroup, UserGroup.group_id == GroupCategory.group_id)
                          .where(UserGroup.user_id == self.id))
            group_feats = (select(literal("f").label("kind"), literal(0).label("cid"),
                                  GroupFeature.feature.label("feature"))
                           .join(UserGroup, UserGroup.group_id == GroupFeature.group_id)
                           .where(UserGroup.user_id == self.id))
            rows = _db.session.execute(union_all(own_cats, own_feats, group_cats, group_feats)).all()
            self._grants = (frozenset(int(r.cid) for r in rows if r.kind == "c"),
                            frozenset(r.feature for r in rows if r.kind == "f"))
        return self._grants

    def forget_grants(self) -> None:
        """Load the grants again at the next check (after they changed in this session)."""
        self._grants = None

    @property
    def own_category_ids(self) -> set[int]:
        return {c.category_id for c in self.categories}

    @property
    def own_feature_keys(self) -> set[str]:
        return {f.feature for f in self.features}

    @property
    def category_ids(self) -> set[int]:
        """The categories the user has, their own and their groups' (the union)."""
        if self._own_grants_unsaved():
            return self.own_category_ids
        return set(self.grants()[0])

    @property
    def feature_keys(self) -> set[str]:
        """The permission keys the user has, their own and their groups' (the union)."""
        if self._own_grants_unsaved():
            return self.own_feature_keys
        return set(self.grants()[1])

    def _own_grants_unsaved(self) -> bool:
        """True for an account not yet in the database or with grant changes not yet flushed: the query
        would not see them, so its own grants (in memory) are the answer."""
        from sqlalchemy import inspect

        state = inspect(self)
        if self.id is None or state.transient or state.pending:
            return True
        return bool(state.attrs.categories.history.has_changes() or state.attrs.features.history.has_changes())

    def can(self, feature: str) -> bool:
        return self.is_admin or feature in self.feature_keys

    def can_access_category(self, category_id: int) -> bool:
        return self.is_admin or category_id in self.category_ids


def _forget_grants(target, *_args):
    target.forget_grants()


for _attr in (User.categories, User.features):
    for _event in ("append", "remove"):
        event.listen(_attr, _event, _forget_grants)


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


# --- permission groups: named sets of categories and features; members get the union ----------------

class Group(db.Model):
    __tablename__ = "hesk_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    categories: Mapped[list[GroupCategory]] = relationship(cascade="all, delete-orphan", lazy="select")
    features: Mapped[list[GroupFeature]] = relationship(cascade="all, delete-orphan", lazy="select")

    @property
    def category_ids(self) -> set[int]:
        return {c.category_id for c in self.categories}

    @property
    def feature_keys(self) -> set[str]:
        return {f.feature for f in self.features}


class GroupCategory(db.Model):
    __tablename__ = "hesk_group_categories"

    group_id: Mapped[int] = mapped_column(ForeignKey("hesk_groups.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GroupFeature(db.Model):
    __tablename__ = "hesk_group_features"

    group_id: Mapped[int] = mapped_column(ForeignKey("hesk_groups.id", ondelete="CASCADE"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(40), primary_key=True)


class UserGroup(db.Model):
    __tablename__ = "hesk_user_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("hesk_users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("hesk_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


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
