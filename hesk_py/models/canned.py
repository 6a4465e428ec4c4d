"""Canned responses and ticket templates: texts staff keep ready (HESK's ``std_replies`` and
``ticket_templates``). A canned response is inserted into a reply, a ticket template into the staff
"New ticket" form; both may hold HESK's %%HESK_...%% tags, filled by hesk_py/services/canned.py."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import LongText


class CannedResponse(db.Model):
    __tablename__ = "hesk_canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(LongText, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0, index=True)

    def __repr__(self) -> str:
        return f"<CannedResponse {self.id} {self.title!r}>"


class TicketTemplate(db.Model):
    __tablename__ = "hesk_ticket_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    # the new ticket's subject; empty: the title is used
    subject: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(LongText, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0, index=True)

    def __repr__(self) -> str:
        return f"<TicketTemplate {self.id} {self.title!r}>"
