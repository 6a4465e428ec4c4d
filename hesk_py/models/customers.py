"""Customers: people who file tickets, identified by their email address."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import utcnow


class Customer(db.Model):
    __tablename__ = "hesk_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; an empty string is a customer without an address (staff-created tickets).
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
