"""Customers: people who file tickets, identified by their email address, and their accounts.

Every address that ever filed a ticket has a ``Customer`` row (the ticket service creates it). With
customer accounts on (HESK 3.5's ``customers`` table), a row may also hold an account: a password, a state
(``account_status``), a second factor. Links sent by email (verify the address, choose a password, confirm a
new address) are ``CustomerToken`` rows; "remember me" logins are ``CustomerAuthToken`` rows, as for staff.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import utcnow

# account_status: None is a ticket contact without an account.
ACCOUNT_UNVERIFIED = "unverified"  # registered or created by staff; the address is not confirmed yet
ACCOUNT_PENDING = "pending"  # the address is confirmed; staff must approve the account
ACCOUNT_ACTIVE = "active"
ACCOUNT_DISABLED = "disabled"  # deactivated by staff: cannot log in
ACCOUNT_STATUSES = (ACCOUNT_UNVERIFIED, ACCOUNT_PENDING, ACCOUNT_ACTIVE, ACCOUNT_DISABLED)

# CustomerToken.purpose
TOKEN_VERIFY = "verify"  # confirm the address of a registration
TOKEN_RESET = "reset"  # choose a new password (forgot password)
TOKEN_INVITE = "invite"  # choose a first password (an account created by staff)
TOKEN_EMAIL = "email"  # confirm a new address (profile)
TOKEN_PURPOSES = (TOKEN_VERIFY, TOKEN_RESET, TOKEN_INVITE, TOKEN_EMAIL)


class Customer(db.Model):
    __tablename__ = "hesk_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; an empty string is a customer without an address (staff-created tickets).
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # --- the account (all empty for a ticket contact) ---
    account_status: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Bumped on password change, deactivation, a new second factor: sessions with an older value end.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The second factor, exactly as for staff (hesk_py/services/mfa.py): None, "totp" or "email".
    mfa_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    mfa_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    account_created_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # When the customer last had a verification (or "already registered") mail sent: the cooldown
    # ``customer_accounts_verify_email_cooldown`` counts from here.
    mail_sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def has_account(self) -> bool:
        return self.account_status is not None

    @property
    def is_active(self) -> bool:
        """May log in (the remember-me service asks every account type this)."""
        return self.account_status == ACCOUNT_ACTIVE and bool(self.password_hash)

    @property
    def username(self) -> str:
        """What an authenticator app shows for this account."""
        return self.email


class CustomerToken(db.Model):
    """A link sent by email: only the sha256 of its token is stored; single use, expiring. A registration's
    link carries the password chosen with it (hashed), so whoever confirms the address gets that password,
    and only by typing it (nobody can register someone else's address and take the account over)."""

    __tablename__ = "hesk_customer_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("hesk_customers.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(255), nullable=True)  # TOKEN_EMAIL
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # TOKEN_VERIFY
    ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CustomerAuthToken(db.Model):
    """A customer's "remember me" login (HESK's ``auth_tokens`` with user_type CUSTOMER): the same
    selector:validator scheme as staff (hesk_py/services/accounts.py), rotated at each use."""

    __tablename__ = "hesk_customer_auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("hesk_customers.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(32), unique=True)
    validator_hash: Mapped[str] = mapped_column(String(64))
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class CustomerMfaBackupCode(db.Model):
    """One of a customer's ten single-use backup codes (stored hashed)."""

    __tablename__ = "hesk_customer_mfa_backup_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("hesk_customers.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CustomerMfaEmailCode(db.Model):
    """A 6-digit sign-in code sent to a customer by email (keyed hash only), valid minutes, used once."""

    __tablename__ = "hesk_customer_mfa_email_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("hesk_customers.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PipeRejection(db.Model):
    """HESK's ``pipe_rejections``: when a sender without an account was last told by email that their mail
    was not imported (``pipe_customer_rejection_email_cooldown_hours`` counts from here)."""

    __tablename__ = "hesk_pipe_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


__all__ = ["Customer", "CustomerAuthToken", "CustomerMfaBackupCode", "CustomerMfaEmailCode", "CustomerToken",
           "PipeRejection"]
