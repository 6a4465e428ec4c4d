"""Email templates edited by an administrator (HESK's Tools > Email templates).

A row overrides one notification in one language: its subject, plain text and HTML. Without a row the
defaults are used: the subject in ``hesk_py/services/mailer.py`` ``SUBJECTS`` and the text in
``templates/email/<name>.txt``, both translated by Flask-Babel. "Reset to default" deletes the row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hesk_py.extensions import db
from hesk_py.models.types import LongText, utcnow


class EmailTemplate(db.Model):
    __tablename__ = "hesk_email_templates"
    # the mailer looks a template up by (name, language) for every mail it sends
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # new_ticket, new_reply_by_staff, ...
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(LongText, default="")
    body_html: Mapped[str] = mapped_column(LongText, default="")  # empty: made from the plain text
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"),
                                                   nullable=True)

    def __repr__(self) -> str:
        return f"<EmailTemplate {self.name} {self.language}>"
