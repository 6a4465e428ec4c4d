"""The knowledgebase: categories (a tree), articles, their revision history, attachments and votes.

Visibility is decided by the service (hesk_py/services/knowledgebase.py), never by a template: customers
see published articles whose category and every parent category are public. Article counts per category
are computed with one grouped query (indexed on category and type) instead of stored counters, so they
cannot drift.

Full-text search: on MariaDB/MySQL a FULLTEXT index over (title, content, keywords), declared here; on
SQLite an FTS5 table ``hesk_kb_articles_fts`` kept in sync by triggers (created by migration 0007, not
part of the metadata). ``KbTerm`` counts the articles holding each word, for planning searches.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hesk_py.extensions import db
from hesk_py.models.types import LongText, utcnow

# Article types (HESK: 0 published, 1 private, 2 draft).
ARTICLE_PUBLISHED = "published"
ARTICLE_PRIVATE = "private"  # staff only
ARTICLE_DRAFT = "draft"  # staff who manage the knowledgebase only
ARTICLE_TYPES = (ARTICLE_PUBLISHED, ARTICLE_PRIVATE, ARTICLE_DRAFT)

ROOT_CATEGORY_ID = 1
FTS_TABLE_SQLITE = "hesk_kb_articles_fts"


class KbCategory(db.Model):
    __tablename__ = "hesk_kb_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # None only for the root ("Knowledgebase", id 1); every other category hangs below it. The service
    # moves subcategories up before deleting a category; CASCADE only lets a whole-table delete (tests, a
    # reset) go through, and still stops at any category that holds articles (RESTRICT below).
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("hesk_kb_categories.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # public (customers see it, if its parents are public too) or private (staff only)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<KbCategory {self.id} {self.name!r}>"


class KbArticle(db.Model):
    __tablename__ = "hesk_kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("hesk_kb_categories.id", ondelete="RESTRICT"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(LongText, default="")  # Markdown source
    # The rendered article as plain text: previews, search excerpts, highlighting.
    content_text: Mapped[str] = mapped_column(LongText, default="")
    keywords: Mapped[str] = mapped_column(String(500), default="")
    type: Mapped[str] = mapped_column(String(10), default=ARTICLE_PUBLISHED)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    views: Mapped[int] = mapped_column(Integer, default=0)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    helpful_votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    category: Mapped[KbCategory] = relationship(lazy="joined", innerjoin=True)
    author = relationship("User", lazy="select")
    attachments: Mapped[list[KbAttachment]] = relationship(
        back_populates="article", order_by="KbAttachment.id", cascade="all, delete-orphan", lazy="select"
    )
    revisions: Mapped[list[KbArticleRevision]] = relationship(
        back_populates="article", order_by="KbArticleRevision.id.desc()", cascade="all, delete-orphan",
        lazy="select", passive_deletes=True,
    )

    __table_args__ = (
        # A category page: sticky first, then the staff's order.
        Index("ix_hesk_kb_articles_category_type_order", "category_id", "type", "sticky", "sort_order"),
        Index("ix_hesk_kb_articles_type_views", "type", "views"),  # popular articles
        Index("ix_hesk_kb_articles_type_created", "type", "created_at"),  # latest articles
        # MariaDB/MySQL full-text search (migration 0007 creates it there only).
        Index("ft_hesk_kb_articles_text", "title", "content", "keywords", mysql_prefix="FULLTEXT"),
    )

    @property
    def rating(self) -> float:
        """HESK's 1-5 scale: every "helpful" vote counts 5, every "not helpful" 1."""
        if not self.votes:
            return 0.0
        return round(1 + 4 * self.helpful_votes / self.votes, 1)

    def __repr__(self) -> str:
        return f"<KbArticle {self.id} {self.title!r}>"


class KbArticleRevision(db.Model):
    """One line of an article's history: who did what, when; content changes keep a snapshot."""

    __tablename__ = "hesk_kb_article_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("hesk_kb_articles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("hesk_users.id", ondelete="SET NULL"), nullable=True)
    user_name: Mapped[str] = mapped_column(String(255), default="")  # as it was, should the account go
    # created, modified, imported, restored, views_reset, votes_reset
    action: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # the snapshot (None for actions that do not change the content)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content: Mapped[str | None] = mapped_column(LongText, nullable=True)
    keywords: Mapped[str | None] = mapped_column(String(500), nullable=True)
    type: Mapped[str | None] = mapped_column(String(10), nullable=True)
    category_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sticky: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # imported: the tracking ID of the ticket
    note: Mapped[str] = mapped_column(String(255), default="")

    article: Mapped[KbArticle] = relationship(back_populates="revisions")

    @property
    def has_snapshot(self) -> bool:
        return self.content is not None


class KbAttachment(db.Model):
    """A file of an article. Stored outside static/ under ``saved_name`` (random), downloaded only
    through a route that checks the article's visibility."""

    __tablename__ = "hesk_kb_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("hesk_kb_articles.id", ondelete="CASCADE"), index=True)
    saved_name: Mapped[str] = mapped_column(String(64), unique=True)
    real_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    article: Mapped[KbArticle] = relationship(back_populates="attachments")


class KbVote(db.Model):
    """One "Was this article helpful?" answer. ``visitor`` is an HMAC of the visitor cookie and the IP
    address (never stored in clear); the unique key makes a second vote fail even under a race."""

    __tablename__ = "hesk_kb_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("hesk_kb_articles.id", ondelete="CASCADE"))
    visitor: Mapped[str] = mapped_column(String(64))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("article_id", "visitor", name="uq_hesk_kb_votes_article_visitor"),)


class KbTerm(db.Model):
    """How many articles hold each word (their title, text and keywords), kept by the service as articles
    change. Search uses it to leave out words that cannot match or that are in most articles, so a
    ticket's whole text can be matched without the index walking nearly every article. The row with
    the empty term counts the articles."""

    __tablename__ = "hesk_kb_terms"

    term: Mapped[str] = mapped_column(String(84), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "ARTICLE_DRAFT",
    "ARTICLE_PRIVATE",
    "ARTICLE_PUBLISHED",
    "ARTICLE_TYPES",
    "KbArticle",
    "KbArticleRevision",
    "KbAttachment",
    "KbCategory",
    "KbTerm",
    "KbVote",
    "ROOT_CATEGORY_ID",
]
