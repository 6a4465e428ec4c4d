"""Categories, statuses and priorities: the lookups every ticket points at."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db

# Status classes decide what counts as open, waiting on the customer, or closed.
STATUS_OPEN = "open"
STATUS_WAITING = "waiting"  # waiting on the customer
STATUS_CLOSED = "closed"

# HESK's six built-in statuses (HESK numbers them 0-5; we keep the order, ids start at 1).
STATUS_NEW = 1
STATUS_WAITING_REPLY = 2  # the customer replied: waiting for staff
STATUS_REPLIED = 3  # staff replied: waiting on the customer
STATUS_RESOLVED = 4
STATUS_IN_PROGRESS = 5
STATUS_ON_HOLD = 6

PRIORITY_CRITICAL = 1
PRIORITY_HIGH = 2
PRIORITY_MEDIUM = 3
PRIORITY_LOW = 4


class Category(db.Model):
    __tablename__ = "hesk_categories"
    __table_args__ = (Index("uq_hesk_categories_name", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # unique index uq_hesk_categories_name (migration 0012)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # public (customers may choose it) or private (staff only)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    default_priority_id: Mapped[int | None] = mapped_column(db.ForeignKey("hesk_priorities.id"), nullable=True)
    autoassign: Mapped[bool] = mapped_column(Boolean, default=True)
    # None = any staff with access; {"mode": "only"|"except", "users": [ids]}
    autoassign_config: Mapped[Any] = mapped_column(JSON, nullable=True)
    default_due_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    default_due_unit: Mapped[str | None] = mapped_column(String(8), nullable=True)  # day/week/month

    def __repr__(self) -> str:
        return f"<Category {self.id} {self.name!r}>"


class Status(db.Model):
    __tablename__ = "hesk_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    # built-in statuses carry a key (new, waiting_reply, ...); custom ones have None
    key: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    names: Mapped[Any] = mapped_column(JSON, nullable=True)  # {"uk": "...", ...}
    kind: Mapped[str] = mapped_column(String(16), default=STATUS_OPEN)
    color: Mapped[str] = mapped_column(String(7), default="#6c757d")
    can_customers_change: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=0)

    @property
    def is_closed(self) -> bool:
        return self.kind == STATUS_CLOSED


class Priority(db.Model):
    __tablename__ = "hesk_priorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    names: Mapped[Any] = mapped_column(JSON, nullable=True)
    color: Mapped[str] = mapped_column(String(7), default="#6c757d")
    can_customers_select: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=0)
