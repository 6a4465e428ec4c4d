"""Custom fields: extra questions on the ticket form, HESK's ``custom_fields`` (custom1 ... customN).

A field's id is the N of ``customN``: its value is stored in ``Ticket.custom`` as ``{"customN": value}``
and posted by the forms as ``customN``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db

FIELD_TYPES = ("text", "textarea", "radio", "select", "checkbox", "date", "email", "hidden")
VISIBILITY_PUBLIC = "public"  # on the customer form and the staff forms
VISIBILITY_STAFF = "staff"  # staff forms only
REQUIRED_NEVER = "never"
REQUIRED_CUSTOMERS = "customers"  # required on the customer form only
REQUIRED_ALWAYS = "always"
PLACE_BEFORE = "before"  # before the message
PLACE_AFTER = "after"


class CustomField(db.Model):
    __tablename__ = "hesk_custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    visibility: Mapped[str] = mapped_column(String(10), default=VISIBILITY_PUBLIC)
    type: Mapped[str] = mapped_column(String(10), default="text")
    required: Mapped[str] = mapped_column(String(10), default=REQUIRED_NEVER)
    place: Mapped[str] = mapped_column(String(6), default=PLACE_BEFORE)
    # None: every category; otherwise the list of category ids the field belongs to
    category_ids: Mapped[Any] = mapped_column(JSON, nullable=True)
    names: Mapped[Any] = mapped_column(JSON)  # {"en": "Order number", "uk": "..."}
    # per type: options (radio/select/checkbox), default, max_length (text), rows (textarea),
    # no_default (radio), select_prompt (select), min/max (date: "2026-01-31" or "+3d"/"-1w"/"+2m"/"+1y"),
    # multiple (email)
    options: Mapped[Any] = mapped_column(JSON, nullable=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, index=True)

    @property
    def form_name(self) -> str:
        return f"custom{self.id}"

    def option(self, key: str, default: Any = None) -> Any:
        return (self.options or {}).get(key, default)

    def __repr__(self) -> str:
        return f"<CustomField {self.id} {self.type}>"


__all__ = ["CustomField", "FIELD_TYPES"]
