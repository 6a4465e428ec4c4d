"""Service messages: short notices staff put on the customer home page (HESK's ``service_messages``)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import LongText, utcnow

# How a message looks (HESK's styles; the page maps each to a notice colour).
STYLE_INFO = "info"
STYLE_NOTICE = "notice"
STYLE_SUCCESS = "success"
STYLE_ERROR = "error"
STYLES = (STYLE_INFO, STYLE_NOTICE, STYLE_SUCCESS, STYLE_ERROR)

# How the text is written.
FORMAT_PLAIN = "plain"
FORMAT_MARKDOWN = "markdown"
FORMATS = (FORMAT_PLAIN, FORMAT_MARKDOWN)


class ServiceMessage(db.Model):
    __tablename__ = "hesk_service_messages"
    # the home page asks for published messages in order: one indexed range
    __table_args__ = (Index("ix_hesk_service_messages_published_order", "is_published", "sort_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(LongText, default="")  # exactly as typed
    format: Mapped[str] = mapped_column(String(10), default=FORMAT_PLAIN)
    style: Mapped[str] = mapped_column(String(10), default=STYLE_INFO)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)  # False: a draft only staff see
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # None: every language; else shown only to customers reading the help desk in this language
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)

    def __repr__(self) -> str:
        return f"<ServiceMessage {self.id} {self.title!r}>"
