"""Service messages: notices staff write for the customer home page (outages, holidays, news).

Published messages show on ``/`` in the staff's order, to every customer or only to those reading the
help desk in one language; drafts are seen by staff only. The text is Markdown (rendered and sanitised
like knowledgebase articles) or plain text (escaped, addresses made into links); it is stored exactly as
typed.
"""
from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, or_, select

from hesk_py import shared_cache
from hesk_py.extensions import db
from hesk_py.i18n import LANGUAGES
from hesk_py.models.service_messages import FORMAT_MARKDOWN, FORMATS, STYLES, ServiceMessage
from hesk_py.services.errors import HeskError

MAX_TITLE = 255
MAX_MESSAGE = 65_000


class ServiceMessageNotFound(HeskError):
    pass


class InvalidServiceMessage(HeskError):
    """``errors`` maps form field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _published_stmt(language: str | None):
    """The messages customers see, in order: published, for every language or for ``language``."""
    stmt = select(ServiceMessage).where(ServiceMessage.is_published.is_(True))
    if language:
        stmt = stmt.where(or_(ServiceMessage.language.is_(None), ServiceMessage.language == language))
    else:
        stmt = stmt.where(ServiceMessage.language.is_(None))
    return stmt.order_by(ServiceMessage.sort_order, ServiceMessage.id)



def all_messages() -> list[ServiceMessage]:
    """Every message, drafts included, in the staff's order."""
    return list(db.session.scalars(select(ServiceMessage).order_by(ServiceMessage.sort_order, ServiceMessage.id)))


def get_message(message_id: int) -> ServiceMessage:
    try:
        row = db.session.get(ServiceMessage, int(message_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise ServiceMessageNotFound(str(message_id))
    return row


def _check(title, message, style, fmt, language) -> dict:
    errors: dict[str, str] = {}
    title = (title or "").strip()
    message = message or ""
    if not title:
        errors["title"] = _("Type a title for the message.")
    elif len(title) > MAX_TITLE:
        errors["title"] = _("At most %(n)s characters.", n=MAX_TITLE)
    if "\r" in title or "\n" in title:
        errors["title"] = _("The title must be a single line.")
    if not message.strip():
        errors["message"] = _("Write the message.")
    elif len(message) > MAX_MESSAGE:
        errors["message"] = _("The message is too long.")
    if style not in STYLES:
        errors["style"] = _("Choose a style.")
    if fmt not in FORMATS:
        errors["format"] = _("Choose how the message is written.")
    language = (language or "").strip() or None
    if language is not None and language not in LANGUAGES:
        errors["language"] = _("Choose a language.")
    if errors:
        raise InvalidServiceMessage(errors)
    return {"title": title, "message": message, "style": style, "format": fmt, "language": language}


def create_message(*, title: str, message: str, style: str, format: str, published: bool,
                   language: str | None = None, author=None) -> ServiceMessage:
    """A new message at the end of the list. Raises InvalidServiceMessage; writes nothing then."""
    values = _check(title, message, style, format, language)
    last = db.session.scalar(select(func.max(ServiceMessage.sort_order)))
    row = ServiceMessage(**values, is_published=bool(published), sort_order=(last or 0) + 10,
                         author_id=getattr(author, "id", None))
    db.session.add(row)
    db.session.commit()
    return row


def update_message(message_id: int, *, title: str, message: str, style: str, format: str, published: bool,
                   language: str | None = None) -> ServiceMessage:
    row = get_message(message_id)
    values = _check(title, message, style, format, language)
    for key, value in values.items():
        setattr(row, key, value)
    row.is_published = bool(published)
    db.session.commit()
    return row


def delete_message(message_id: int) -> None:
    row = get_message(message_id)
    db.session.delete(row)
    db.session.commit()


def move_message(message_id: int, direction: int) -> None:
    """One place up (-1) or down (+1); the list is renumbered so old equal values cannot stick."""
    row = get_message(message_id)
    rows = all_messages()
    i = rows.index(row)
    j = i + (1 if direction > 0 else -1)
    if 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
    for n, item in enumerate(rows, start=1):
        item.sort_order = n * 10
    db.session.commit()


def render(row: ServiceMessage) -> Markup | None:
    """A Markdown message as safe HTML (the knowledgebase's renderer and sanitiser); None for plain
    text, which the page escapes itself (the ``linkify`` filter)."""
    if row.format != FORMAT_MARKDOWN:
        return None
    from hesk_py.services.knowledgebase import render as render_markdown

    return render_markdown(row.message)


def for_page(language: str | None) -> list[tuple[ServiceMessage, Markup | None]]:
    """What the home page shows: (message, its HTML or None for plain text). The same for every visitor
    reading in ``language``: cached per process, rendered once, until a message changes
    (hesk_py/shared_cache.py); the rows belong to no session."""
    def load():
        stmt = _published_stmt(language)
        return tuple((row, render(row)) for row in shared_cache.transient_rows(ServiceMessage, stmt))

    return list(shared_cache.cached(f"service_messages:{language or ''}", load))
