"""The knowledgebase rules: who sees what, articles with their revision history, Markdown rendering and
sanitising, full-text search and suggestions, votes, views and attachments.

Visibility (the one rule, used by every page, search, suggestion, related list and download):
customers see published articles whose category and every parent category are public; staff also see
private articles and private categories (marked); drafts are only for staff who manage the knowledgebase.

Articles are written in Markdown (markdown-it-py, "js-default" preset: raw HTML is escaped) and the
rendered HTML is cleaned again with nh3 against an allow-list, so a compromised staff account cannot put
scripts, event handlers, ``javascript:``/``data:`` URLs, iframes or styles in front of customers.

Search uses the database's full-text index: MariaDB/MySQL ``MATCH ... AGAINST`` in natural language mode
over the FULLTEXT index, SQLite FTS5 (``bm25``). Both ignore words shorter than InnoDB's
``innodb_ft_min_token_size`` (3 unless the server says otherwise) and InnoDB's default stopwords, so a
query behaves the same on both; those words are reported back as "ignored" for the page to say so.

Services never touch the request: views pass the user agent, the visitor id, uploaded files.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import html
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import nh3
from flask import current_app
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import Float, delete, func, literal_column, select, table, column, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, selectinload

from hesk_py import settings, shared_cache
from hesk_py.extensions import db
from hesk_py.models import KbArticle, KbArticleRevision, KbAttachment, KbCategory, KbTerm, KbVote
from hesk_py.models.knowledgebase import (
    ARTICLE_DRAFT, ARTICLE_PRIVATE, ARTICLE_PUBLISHED, ARTICLE_TYPES, FTS_TABLE_SQLITE, ROOT_CATEGORY_ID,
)
from hesk_py.models.types import utcnow
from hesk_py.services import attachments
from hesk_py.services.errors import AttachmentRefused, HeskError

MAX_TITLE = 255
MAX_KEYWORDS = 500
MAX_CONTENT = 500_000
MAX_CATEGORY_NAME = 255
MAX_QUERY = 2000  # characters of a query looked at (suggestions send subject + message)
MAX_TERMS = 32
SUGGEST_CUTOFF = 0.25  # suggestions below a quarter of the best score are dropped (HESK)
RELATED_CUTOFF = 0.10  # related articles: at least a tenth of the best score (HESK)


class ArticleNotFound(HeskError):
    """No such article, or not one this audience may see (the same answer, on purpose)."""


class CategoryNotFound(HeskError):
    pass


class InvalidKbData(HeskError):
    """``errors`` maps form field names to messages for the user."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- who sees what ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Audience:
    """What a reader may see: customers (published, public), staff (also private), managers (also drafts)."""

    private: bool = False
    drafts: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        if self.drafts:
            return ARTICLE_TYPES
        if self.private:
            return (ARTICLE_PUBLISHED, ARTICLE_PRIVATE)
        return (ARTICLE_PUBLISHED,)


CUSTOMERS = Audience()
STAFF = Audience(private=True)
MANAGERS = Audience(private=True, drafts=True)


def audience_for(user) -> Audience:
    """Staff see private articles; staff with ``can_man_kb`` also see drafts."""
    if user is None or not getattr(user, "is_authenticated", False):
        return CUSTOMERS
    return MANAGERS if user.can("can_man_kb") else STAFF


@dataclass(frozen=True)
class CategoryInfo:
    """A snapshot of a category row (plain data: it survives commits without reloading)."""

    id: int
    name: str
    parent_id: int | None
    is_public: bool
    sort_order: int
    # public itself and every parent public: what customers may see
    visible_to_customers: bool = True
    depth: int = 0
    path: tuple[int, ...] = ()

    @property
    def is_root(self) -> bool:
        return self.id == ROOT_CATEGORY_ID

    @property
    def label(self) -> str:
        return category_label(self)


def category_label(cat) -> str:
    """The root's built-in name in the page's language (unless renamed); other names as typed."""
    if cat.id == ROOT_CATEGORY_ID and cat.name == "Knowledgebase":
        return _("Knowledgebase")
    return cat.name


@dataclass
class Catalogue:
    """Every category of the knowledgebase, loaded with one query and cached for the request."""

    by_id: dict[int, CategoryInfo]
    children: dict[int | None, list[CategoryInfo]]

    def get(self, category_id: int) -> CategoryInfo | None:
        return self.by_id.get(category_id)

    def visible_ids(self, audience: Audience) -> set[int] | None:
        """The categories ``audience`` may see; None means all of them (staff)."""
        if audience.private:
            return None
        return {c.id for c in self.by_id.values() if c.visible_to_customers}

    def can_see(self, category_id: int, audience: Audience) -> bool:
        cat = self.by_id.get(category_id)
        return cat is not None and (audience.private or cat.visible_to_customers)

    def subcategories(self, category_id: int, audience: Audience) -> list[CategoryInfo]:
        return [c for c in self.children.get(category_id, []) if audience.private or c.visible_to_customers]

    def ancestors(self, category_id: int) -> list[CategoryInfo]:
        """The path from the root down to the category, both included."""
        cat = self.by_id.get(category_id)
        return [self.by_id[i] for i in cat.path] if cat else []

    def descendant_ids(self, category_id: int) -> set[int]:
        out: set[int] = set()
        stack = [category_id]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child.id not in out:
                    out.add(child.id)
                    stack.append(child.id)
        return out

    def walk(self, audience: Audience = MANAGERS) -> list[CategoryInfo]:
        """Depth-first, in the staff's order: for trees and select boxes."""
        out: list[CategoryInfo] = []

        def visit(cat: CategoryInfo):
            out.append(cat)
            for child in self.subcategories(cat.id, audience):
                visit(child)

        root = self.by_id.get(ROOT_CATEGORY_ID)
        if root is not None:
            visit(root)
        return out


def catalogue() -> Catalogue:
    """Every category, the same for every reader: cached per process until a category changes
    (hesk_py/shared_cache.py: at once on this machine, within ``[cache] check_seconds`` on other app servers;
    a transaction that changes categories reads its own changes). Which articles a reader may see is never
    cached: their type is checked in each query."""
    return shared_cache.cached("kb.catalogue", _load_catalogue)


def _load_catalogue() -> Catalogue:
    rows = db.session.execute(
        select(KbCategory.id, KbCategory.name, KbCategory.parent_id, KbCategory.is_public, KbCategory.sort_order)
        .order_by(KbCategory.sort_order, KbCategory.id)
    ).all()
    raw = {r.id: r for r in rows}
    by_id: dict[int, CategoryInfo] = {}

    def info(cid: int, seen: tuple[int, ...] = ()) -> CategoryInfo | None:
        if cid in by_id:
            return by_id[cid]
        r = raw.get(cid)
        if r is None or cid in seen:  # a loop (edited by hand) is treated as not visible
            return None
        parent = info(r.parent_id, seen + (cid,)) if r.parent_id is not None else None
        if r.parent_id is not None and parent is None:
            visible, depth, path = False, 0, (cid,)
        elif parent is None:
            visible, depth, path = bool(r.is_public), 0, (cid,)
        else:
            visible = parent.visible_to_customers and bool(r.is_public)
            depth, path = parent.depth + 1, parent.path + (cid,)
        by_id[cid] = CategoryInfo(r.id, r.name, r.parent_id, bool(r.is_public), r.sort_order, visible, depth, path)
        return by_id[cid]

    for cid in raw:
        info(cid)
    children: dict[int | None, list[CategoryInfo]] = {}
    for r in rows:  # rows are in the staff's order
        if r.id in by_id:
            children.setdefault(r.parent_id, []).append(by_id[r.id])
    return Catalogue(by_id, children)


def _forget_catalogue() -> None:
    shared_cache.forget_context()


def _visibility(stmt, audience: Audience):
    """Limit an article query to what ``audience`` may see."""
    types = audience.types
    stmt = stmt.where(KbArticle.type == types[0]) if len(types) == 1 else stmt.where(KbArticle.type.in_(types))
    ids = catalogue().visible_ids(audience)
    if ids is not None:
        stmt = stmt.where(KbArticle.category_id.in_(sorted(ids) or [0]))
    return stmt


def get_article(article_id: int, audience: Audience, *, attachments: bool = False) -> KbArticle:
    """The article if ``audience`` may see it, else ArticleNotFound (drafts, private articles and
    articles in private categories look exactly like missing ones to customers)."""
    try:
        article_id = int(article_id)
    except (TypeError, ValueError):
        raise ArticleNotFound(str(article_id)) from None
    stmt = _visibility(select(KbArticle).where(KbArticle.id == article_id), audience)
    if attachments:
        stmt = stmt.options(selectinload(KbArticle.attachments))
    article = db.session.scalar(stmt)
    if article is None:
        raise ArticleNotFound(str(article_id))
    return article


def get_category(category_id: int, audience: Audience) -> CategoryInfo:
    try:
        category_id = int(category_id)
    except (TypeError, ValueError):
        raise CategoryNotFound(str(category_id)) from None
    cat = catalogue().get(category_id)
    if cat is None or not catalogue().can_see(category_id, audience):
        raise CategoryNotFound(str(category_id))
    return cat


def category_articles(category_id: int, audience: Audience, limit: int | None = None) -> list[KbArticle]:
    """Sticky articles first, then the staff's order."""
    stmt = _visibility(select(KbArticle).options(defer(KbArticle.content)), audience).where(
        KbArticle.category_id == category_id
    ).order_by(KbArticle.sticky.desc(), KbArticle.sort_order, KbArticle.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def previews_by_category(category_ids: Iterable[int], audience: Audience, per_category: int) -> dict[int, list]:
    """The first ``per_category`` articles of each category, in one query (a window function)."""
    ids = sorted(set(category_ids))
    if not ids or per_category <= 0:
        return {}
    rn = func.row_number().over(
        partition_by=KbArticle.category_id,
        order_by=(KbArticle.sticky.desc(), KbArticle.sort_order, KbArticle.id),
    ).label("rn")
    inner = _visibility(select(KbArticle.id, rn), audience).where(KbArticle.category_id.in_(ids)).subquery()
    stmt = (
        select(KbArticle).options(defer(KbArticle.content))
        .join(inner, inner.c.id == KbArticle.id)
        .where(inner.c.rn <= per_category)
        .order_by(KbArticle.category_id, inner.c.rn)
    )
    out: dict[int, list] = {}
    for article in db.session.scalars(stmt):
        out.setdefault(article.category_id, []).append(article)
    return out


def article_counts(audience: Audience | None = None) -> dict[int, dict[str, int]]:
    """{category id: {type: number of articles}} in one grouped query (staff tree, category boxes)."""
    stmt = select(KbArticle.category_id, KbArticle.type, func.count()).group_by(KbArticle.category_id, KbArticle.type)
    if audience is not None:
        stmt = _visibility(stmt, audience)
    out: dict[int, dict[str, int]] = {}
    for cid, typ, n in db.session.execute(stmt):
        out.setdefault(cid, {})[typ] = n
    return out


# Lists of articles show titles: the texts are not loaded (loaded on access should a page want them).
_LIST_DEFER = (defer(KbArticle.content), defer(KbArticle.content_text), defer(KbArticle.keywords))
_POPULAR_ORDER = (KbArticle.views.desc(), KbArticle.id.desc())
_LATEST_ORDER = (KbArticle.created_at.desc(), KbArticle.id.desc())


def popular(limit: int, audience: Audience) -> list[KbArticle]:
    if limit <= 0:
        return []
    stmt = _visibility(select(KbArticle).options(*_LIST_DEFER), audience)
    return list(db.session.scalars(stmt.order_by(*_POPULAR_ORDER).limit(limit)))


def latest(limit: int, audience: Audience) -> list[KbArticle]:
    if limit <= 0:
        return []
    stmt = _visibility(select(KbArticle).options(*_LIST_DEFER), audience)
    return list(db.session.scalars(stmt.order_by(*_LATEST_ORDER).limit(limit)))


@dataclass(frozen=True)
class ArticleLink:
    """An article in a list of links: what the help desk home page shows."""

    id: int
    title: str


def home_lists(popular_limit: int, latest_limit: int) -> dict[str, list[ArticleLink]]:
    """The customer home page's "Top articles" and "Latest articles" (``kb_index_popart``,
    ``kb_index_latest``): the same for every visitor, so cached per process until an article or category
    changes (hesk_py/shared_cache.py: an article made private or a draft leaves the list with the commit in
    this process and in the others of this machine, within ``[cache] check_seconds`` on other app servers).
    View counts do not change the cache: the order of "Top articles" follows them within ``[cache] max_age``."""
    def links(order, limit):
        if limit <= 0:
            return []
        stmt = _visibility(select(KbArticle.id, KbArticle.title), CUSTOMERS).order_by(*order).limit(limit)
        return [ArticleLink(i, t) for i, t in db.session.execute(stmt)]

    def load():
        return {"popular": links(_POPULAR_ORDER, popular_limit), "latest": links(_LATEST_ORDER, latest_limit)}

    lists = shared_cache.cached(f"kb.home:{popular_limit}:{latest_limit}", load)
    return {name: list(items) for name, items in lists.items()}


def articles_of_type(article_type: str, limit: int = 500) -> list[KbArticle]:
    """Staff lists: every private article, every draft."""
    stmt = (select(KbArticle).options(defer(KbArticle.content)).where(KbArticle.type == article_type)
            .order_by(KbArticle.updated_at.desc(), KbArticle.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


# --- Markdown, sanitising, plain text --------------------------------------------------------------

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
# No javascript:, vbscript:, data: (images included), file: or anything else a browser might run.
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_ALIGN_RE = re.compile(r"^text-align:(left|right|center)$")


def _table_align(state) -> None:
    """markdown-it writes column alignment as a style attribute, which the sanitiser removes (no styles
    at all); turn it into the ``align`` attribute instead."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs.get("style"):
            match = _ALIGN_RE.match(str(token.attrs["style"]))
            token.attrs.pop("style")
            if match:
                token.attrs["align"] = match.group(1)


_MARKDOWN: MarkdownIt | None = None
_BLOCK_END_RE = re.compile(r"</(?:p|h[1-6]|li|td|th|pre|blockquote|tr|dd|dt)>|<br\s*/?>|<hr\s*/?>", re.IGNORECASE)


def _markdown() -> MarkdownIt:
    global _MARKDOWN
    if _MARKDOWN is None:
        md = MarkdownIt("js-default")  # html off: raw HTML in an article is shown as text
        md.core.ruler.push("hesk_table_align", _table_align)
        _MARKDOWN = md
    return _MARKDOWN


def sanitize_html(value: str) -> str:
    """The allow-list every article passes through before a browser sees it."""
    return nh3.clean(
        value or "",
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render(markdown_text: str) -> Markup:
    """An article's Markdown as safe HTML."""
    return Markup(sanitize_html(_markdown().render(markdown_text or "")))


def plain_text(markdown_text: str) -> str:
    """The rendered article without markup, on one line: previews, excerpts, highlighting."""
    rendered = _BLOCK_END_RE.sub(r"\g<0> ", _markdown().render(markdown_text or ""))  # "a</p><p>b": two words
    return re.sub(r"\s+", " ", html.unescape(nh3.clean(rendered, tags=set()))).strip()


def reply_text(markdown_text: str) -> str:
    """The rendered article as plain text with its paragraphs and lines kept: for pasting into a reply."""
    rendered = _markdown().render(markdown_text or "")
    rendered = re.sub(r"<br\s*/?>", "\n", rendered, flags=re.IGNORECASE)
    rendered = re.sub(r"<li>", "- ", rendered, flags=re.IGNORECASE)
    rendered = _BLOCK_END_RE.sub(lambda m: m.group(0) + "\n", rendered)
    text = html.unescape(nh3.clean(rendered, tags=set()))
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def article_texts(article_ids: Iterable[int]) -> dict[int, str]:
    """{id: reply_text} for several articles in one query."""
    ids = sorted({int(i) for i in article_ids})
    if not ids:
        return {}
    rows = db.session.execute(select(KbArticle.id, KbArticle.content).where(KbArticle.id.in_(ids)))
    return {aid: reply_text(content) for aid, content in rows}


def preview(text: str, length: int) -> str:
    """The first ``length`` characters, cut at a word boundary."""
    text = text or ""
    if len(text) <= length:
        return text
    cut = text[:length]
    space = cut.rfind(" ")
    if space > length // 2:  # a word cut in half reads badly; a very long word is cut anyway
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


def excerpt(text: str, terms: list[str], length: int) -> str:
    """A preview that starts near the first searched word, so the reader sees why it matched."""
    text = text or ""
    if len(text) <= length or not terms:
        return preview(text, length)
    match = _terms_regex(terms).search(text)
    if match is None or match.start() < length * 0.6:
        return preview(text, length)
    start = max(0, match.start() - length // 4)
    space = text.rfind(" ", 0, start)
    start = space + 1 if space > start - 30 else start
    return "…" + preview(text[start:], length)


def _terms_regex(terms: list[str]) -> re.Pattern:
    return _compiled_terms(tuple(sorted(set(terms), key=len, reverse=True)))


@functools.lru_cache(maxsize=256)
def _compiled_terms(terms: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(re.escape(t) for t in terms)
    # whole words only: the index matched whole words, so "print" must not light up inside "printer"
    return re.compile(rf"(?<![^\W_])({alternatives})(?![^\W_])", re.IGNORECASE)


def highlight(text: str, terms: list[str]) -> Markup:
    """``text`` escaped, then each searched word wrapped in <mark>: the text is split on the words first,
    so no markup (and no entity) can come from the text itself."""
    if not terms or not text:
        return Markup(escape(text or ""))
    parts = _terms_regex(terms).split(text)
    # re.split with one group: odd items are the matches
    return Markup("".join(f"<mark>{escape(part)}</mark>" if i % 2 else str(escape(part))
                          for i, part in enumerate(parts)))


# --- search --------------------------------------------------------------------------------------------

# InnoDB's built-in stopword list (INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD); SQLite searches drop
# them too, so a query finds the same articles on both databases.
STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when "
    "where who will with und www".split()
)
_WORD_RE = re.compile(r"[^\W_]+")
_MIN_TOKEN: dict[str, int] = {}


def min_word_length() -> int:
    """The shortest word the full-text index holds: MariaDB's ``innodb_ft_min_token_size`` (read once per
    server), 3 on SQLite to behave the same."""
    engine = db.engine
    key = str(engine.url)
    if key not in _MIN_TOKEN:
        value = 3
        if engine.dialect.name == "mysql":
            try:
                with engine.connect() as conn:
                    value = int(conn.exec_driver_sql("SELECT @@innodb_ft_min_token_size").scalar() or 3)
            except Exception:  # a server without InnoDB's variable: keep the documented default
                value = 3
        _MIN_TOKEN[key] = max(1, value)
    return _MIN_TOKEN[key]


@dataclass
class Query:
    terms: list[str]  # the words searched
    ignored: list[str]  # too short or too common for the index

    @property
    def text(self) -> str:
        return " ".join(self.terms)


def parse_query(q: str | None) -> Query:
    minimum = min_word_length()
    terms: list[str] = []
    ignored: list[str] = []
    for word in dict.fromkeys(_WORD_RE.findall((q or "")[:MAX_QUERY].lower())):
        if len(word) < minimum or word in STOPWORDS:
            ignored.append(word)
        elif len(terms) < MAX_TERMS:
            terms.append(word)
    return Query(terms, ignored)


# --- word counts: planning a search ---------------------------------------------------------------------
# The full-text index does work in proportion to the articles holding the searched words. A ticket's
# text has dozens of words, several of them in most articles ("click", "settings"): searched as they
# are, nearly every article is scored. So the words are looked up in ``hesk_kb_terms`` first: words in
# more than COMMON_SHARE of the articles are left out when rarer ones remain (they add almost nothing to
# the ranking: their weight is log(articles/holders), squared), and at most MAX_SEARCH_TERMS of the
# rarest are searched. Small knowledgebases are searched as typed.

COMMON_SHARE = 0.4
MAX_SEARCH_TERMS = 8
MIN_ARTICLES_TO_PRUNE = 100
TERM_MAX = 84  # InnoDB's innodb_ft_max_token_size


def _term_key(word: str) -> str:
    """A word as counted: lower case, accents dropped (the databases' full-text matching ignores both)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))[:TERM_MAX]


def _article_terms(title: str | None, content: str | None, keywords: str | None) -> set[str]:
    minimum = min_word_length()
    words = _WORD_RE.findall(f"{title or ''} {content or ''} {keywords or ''}".lower())
    return {_term_key(w) for w in set(words) if minimum <= len(w) <= TERM_MAX and w not in STOPWORDS}


def _upsert_add(rows: list[dict]) -> None:
    """Add ``docs`` to each term's count, creating missing rows (one statement per chunk)."""
    table = KbTerm.__table__
    dialect = db.engine.dialect.name
    for start in range(0, len(rows), 400):
        chunk = rows[start:start + 400]
        if dialect == "mysql":
            from sqlalchemy.dialects.mysql import insert as upsert

            stmt = upsert(table).values(chunk)
            stmt = stmt.on_duplicate_key_update(docs=table.c.docs + stmt.inserted.docs)
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert

            stmt = upsert(table).values(chunk)
            stmt = stmt.on_conflict_do_update(index_elements=["term"], set_={"docs": table.c.docs + stmt.excluded.docs})
        db.session.execute(stmt)


def _count_terms(added: set[str], removed: set[str]) -> None:
    """An article gained the words ``added`` and lost ``removed`` (same transaction as the change)."""
    table = KbTerm.__table__
    if added:
        _upsert_add([{"term": t, "docs": 1} for t in sorted(added)])
    gone = sorted(removed)
    for start in range(0, len(gone), 400):
        chunk = gone[start:start + 400]
        db.session.execute(update(table).where(table.c.term.in_(chunk)).values(docs=table.c.docs - 1))
        db.session.execute(delete(table).where(table.c.term.in_(chunk), table.c.docs <= 0))


def rebuild_term_counts(batch: int = 500) -> int:
    """Count every article's words again (after a bulk import that bypassed the service, or a restore).
    Returns the number of articles counted."""
    from collections import Counter

    counts: Counter = Counter()
    total, last = 0, 0
    while True:
        rows = db.session.execute(
            select(KbArticle.id, KbArticle.title, KbArticle.content, KbArticle.keywords)
            .where(KbArticle.id > last).order_by(KbArticle.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            counts.update(_article_terms(row.title, row.content, row.keywords))
        total += len(rows)
        last = rows[-1].id
    db.session.execute(delete(KbTerm))
    rows = [{"term": t, "docs": n} for t, n in counts.items()]
    rows.append({"term": "", "docs": total})
    _upsert_add(rows)
    db.session.commit()
    return total


_TERM_STATS_MAX = 50_000


def _term_stats(keys: set[str]) -> dict[str, int]:
    """Articles holding each word, for planning only (never for who sees what): the counts already looked up
    are kept per process until an article changes (hesk_py/shared_cache.py)."""
    known: dict[str, int] = shared_cache.cached("kb.terms", dict)
    missing = sorted(k for k in keys if k not in known)
    if not missing:
        return {k: known[k] for k in keys}
    found = dict(db.session.execute(select(KbTerm.term, KbTerm.docs).where(KbTerm.term.in_(missing))).all())
    fresh = {k: int(found.get(k, 0)) for k in missing}
    if len(known) < _TERM_STATS_MAX:
        known.update(fresh)
    return {k: (fresh[k] if k in fresh else known[k]) for k in keys}


def plan_query(query: Query) -> Query:
    """The words worth asking the index for (see above); the ones left out join ``ignored``."""
    if len(query.terms) <= 1:
        return query
    keys = {t: _term_key(t) for t in query.terms}
    stats = _term_stats(set(keys.values()) | {""})
    total = stats.get("", 0)
    # a word not counted (a typo, or a spelling the database folds differently) costs the index nothing
    docs = {t: stats.get(keys[t], 0) for t in query.terms}
    terms, ignored = list(query.terms), list(query.ignored)
    if total >= MIN_ARTICLES_TO_PRUNE:
        common = [t for t in terms if docs[t] > total * COMMON_SHARE]
        if len(common) < len(terms):
            ignored += common
            terms = [t for t in terms if t not in common]
    if len(terms) > MAX_SEARCH_TERMS:
        keep = set(sorted(terms, key=lambda t: (docs[t], -len(t)))[:MAX_SEARCH_TERMS])
        terms = [t for t in terms if t in keep]
    return Query(terms, ignored)


@dataclass
class Hit:
    article: KbArticle
    score: float


@dataclass
class SearchResult:
    hits: list[Hit]
    terms: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def articles(self) -> list[KbArticle]:
        return [h.article for h in self.hits]


def _ranked(query: Query, n: int) -> list[tuple[int, float]]:
    """(article id, score) of the ``n`` best matches, from the full-text index alone.

    Only the index is read here (no row, no join, no filter): on InnoDB a MATCH that must also read
    every matching row to test its type and category costs several times more when a word is in
    thousands of articles. Visibility is applied to the few ids this returns (``_fulltext``)."""
    dialect = db.engine.dialect.name
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import match

        matching = match(KbArticle.title, KbArticle.content, KbArticle.keywords,
                         against=query.text).in_natural_language_mode()
        score = type_coerce(matching, Float).label("score")
        stmt = select(KbArticle.id, score).where(matching).order_by(score.desc(), KbArticle.id.desc()).limit(n)
    elif dialect == "sqlite":
        fts = table(FTS_TABLE_SQLITE, column("rowid"))
        fts_ref = literal_column(FTS_TABLE_SQLITE)
        # Every word quoted (no FTS5 operators from user input), any of them may match: like MariaDB's
        # natural language mode. bm25 is lower for better matches; titles weigh most, then keywords.
        fts_query = " OR ".join('"' + t.replace('"', '""') + '"' for t in query.terms)
        score = type_coerce(-func.bm25(fts_ref, 10.0, 1.0, 5.0), Float).label("score")
        stmt = (select(fts.c.rowid, score).select_from(fts).where(fts_ref.op("MATCH")(fts_query))
                .order_by(score.desc(), fts.c.rowid.desc()).limit(n))
    else:  # pragma: no cover - only MariaDB/MySQL and SQLite are supported
        raise RuntimeError(f"full-text search is not available on {dialect}")
    return [(int(i), float(sc or 0.0)) for i, sc in db.session.execute(stmt)]


def _fulltext(query: Query, audience: Audience, limit: int, exclude_id: int | None = None) -> list[Hit]:
    """The ``limit`` best matches ``audience`` may see. The index is asked for a few more than needed
    (some matches may be private, drafts or in private categories); if too many of those were hidden,
    it is asked again for more."""
    if not query.terms or limit <= 0:
        return []
    fetch = limit + 1 if audience.drafts else limit + limit // 2 + 5
    while True:
        ranked = _ranked(query, fetch)
        ids = [i for i, _s in ranked if i != exclude_id]
        rows = {}
        if ids:
            stmt = _visibility(select(KbArticle).options(defer(KbArticle.content)), audience)
            rows = {a.id: a for a in db.session.scalars(stmt.where(KbArticle.id.in_(ids)))}
        hits = [Hit(rows[i], sc) for i, sc in ranked if i in rows][:limit]
        if len(hits) >= limit or len(ranked) < fetch or fetch >= 20_000:
            return hits
        fetch *= 4


def search(q: str | None, limit: int | None = None, include_private: bool = False, *,
           audience: Audience | None = None) -> SearchResult:
    """Full-text search, best first, at most ``limit`` (``kb_search_limit``) articles."""
    audience = audience or (STAFF if include_private else CUSTOMERS)
    limit = int(settings.get("kb_search_limit")) if limit is None else int(limit)
    query = plan_query(parse_query(q))
    return SearchResult(_fulltext(query, audience, limit), query.terms, query.ignored)


def suggest(q: str | None, limit: int | None = None, include_private: bool = False, *,
            audience: Audience | None = None) -> SearchResult:
    """Articles that may answer a ticket being typed: like search, minus those below a quarter of the
    best score (a word in common is not an answer)."""
    result = search(q, limit, include_private, audience=audience)
    if result.hits:
        best = result.hits[0].score
        result.hits = [h for h in result.hits if h.score >= best * SUGGEST_CUTOFF]
    return result


def related(article: KbArticle, limit: int, audience: Audience) -> list[KbArticle]:
    """Articles like this one (its title and keywords searched), at least a tenth of the best score."""
    if limit <= 0:
        return []
    query = plan_query(parse_query(f"{article.title} {article.keywords}"))
    hits = _fulltext(query, audience, limit, exclude_id=article.id)
    if not hits:
        return []
    best = hits[0].score
    return [h.article for h in hits if h.score >= best * RELATED_CUTOFF]


def rebuild_search_index() -> None:
    """Rebuild SQLite's FTS5 table from the articles (after a restore or a hand edit). MariaDB keeps
    its FULLTEXT index itself."""
    if db.engine.dialect.name == "sqlite":
        db.session.connection().exec_driver_sql(
            f"INSERT INTO {FTS_TABLE_SQLITE}({FTS_TABLE_SQLITE}) VALUES ('rebuild')"
        )
        db.session.commit()


# --- views and votes -------------------------------------------------------------------------------

# Crawlers, link previewers, monitors and scripts: their visits are not counted as views.
BOT_RE = re.compile(
    r"bot\b|bot/|bot;|crawl|spider|slurp|archiver|mediapartners|facebookexternalhit|embedly|preview|"
    r"feedfetcher|validator|pingdom|uptime|monitor|lighthouse|curl/|wget/|python-requests|python-urllib|"
    r"httpclient|go-http-client|okhttp|java/|libwww|scrapy|phantomjs|yandex|baiduspider|ahrefs|semrush",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None) -> bool:
    """An empty user agent is a script, not a reader."""
    return not (user_agent or "").strip() or bool(BOT_RE.search(user_agent))


def count_view(article_id: int, user_agent: str | None) -> bool:
    """Add a view unless the visitor is a bot (one atomic UPDATE, no read-modify-write)."""
    if is_bot(user_agent):
        return False
    db.session.execute(update(KbArticle).where(KbArticle.id == article_id).values(views=KbArticle.views + 1))
    db.session.commit()
    return True


def visitor_id(cookie_value: str, ip: str) -> str:
    """Who votes: an HMAC (keyed with the app's secret) of the visitor cookie and the IP address, so
    neither is stored as such and clearing one of them alone is not a new visitor from this address."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"kb-vote|{cookie_value}|{ip}".encode(), hashlib.sha256).hexdigest()


def has_voted(article_id: int, visitor: str) -> bool:
    return db.session.scalar(
        select(KbVote.id).where(KbVote.article_id == article_id, KbVote.visitor == visitor)
    ) is not None


def vote(article_id: int, visitor: str, helpful: bool) -> bool:
    """Record "Was this article helpful?" once per visitor. False when this visitor already voted (the
    unique key decides, so two clicks at once still count once)."""
    try:
        with db.session.begin_nested():
            db.session.add(KbVote(article_id=article_id, visitor=visitor, helpful=bool(helpful)))
    except IntegrityError:
        db.session.rollback()
        return False
    values = {"votes": KbArticle.votes + 1}
    if helpful:
        values["helpful_votes"] = KbArticle.helpful_votes + 1
    db.session.execute(update(KbArticle).where(KbArticle.id == article_id).values(**values))
    db.session.commit()
    return True


# --- categories (staff) -----------------------------------------------------------------------------

def _check_category(name: str, parent_id: int | None, category_id: int | None) -> tuple[str, int]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Type a name for the category.")
    elif len(name) > MAX_CATEGORY_NAME:
        errors["name"] = _("At most %(n)s characters.", n=MAX_CATEGORY_NAME)
    cat = catalogue()
    try:
        parent_id = int(parent_id) if parent_id is not None else ROOT_CATEGORY_ID
    except (TypeError, ValueError):
        parent_id = -1
    if cat.get(parent_id) is None:
        errors["parent_id"] = _("Choose a parent category.")
    elif category_id is not None and (parent_id == category_id or parent_id in cat.descendant_ids(category_id)):
        errors["parent_id"] = _("A category cannot be inside itself or one of its subcategories.")
    if errors:
        raise InvalidKbData(errors)
    return name, parent_id


def create_category(name: str, parent_id: int | None = None, is_public: bool = True) -> KbCategory:
    name, parent_id = _check_category(name, parent_id, None)
    last = db.session.scalar(select(func.max(KbCategory.sort_order)).where(KbCategory.parent_id == parent_id))
    category = KbCategory(name=name, parent_id=parent_id, is_public=bool(is_public), sort_order=(last or 0) + 10)
    db.session.add(category)
    db.session.commit()
    _forget_catalogue()
    return category


def _category_row(category_id: int) -> KbCategory:
    try:
        row = db.session.get(KbCategory, int(category_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise CategoryNotFound(str(category_id))
    return row


def update_category(category_id: int, name: str, parent_id: int | None, is_public: bool) -> KbCategory:
    row = _category_row(category_id)
    if row.id == ROOT_CATEGORY_ID:
        # The root stays the root: only its name and type change.
        name = (name or "").strip()
        if not name or len(name) > MAX_CATEGORY_NAME:
            raise InvalidKbData({"name": _("Type a name for the category (at most %(n)s characters).",
                                           n=MAX_CATEGORY_NAME)})
        row.name = name
    else:
        name, parent_id = _check_category(name, parent_id, row.id)
        if parent_id != row.parent_id:
            last = db.session.scalar(select(func.max(KbCategory.sort_order)).where(KbCategory.parent_id == parent_id))
            row.sort_order = (last or 0) + 10
        row.name, row.parent_id = name, parent_id
    row.is_public = bool(is_public)
    db.session.commit()
    _forget_catalogue()
    return row


DELETE_MOVE = "move"
DELETE_ARTICLES = "delete"


def delete_category(category_id: int, articles: str) -> int:
    """Delete a category (never the root). Its subcategories move to its parent; its articles move to
    the parent too (``articles="move"``) or are deleted with their files (``"delete"``). Returns the
    number of articles moved or deleted."""
    row = _category_row(category_id)
    if row.id == ROOT_CATEGORY_ID:
        raise InvalidKbData({"category": _("The knowledgebase's main category cannot be deleted.")})
    if articles not in (DELETE_MOVE, DELETE_ARTICLES):
        raise InvalidKbData({"articles": _("Choose what happens to the articles.")})
    parent_id = row.parent_id or ROOT_CATEGORY_ID
    db.session.execute(update(KbCategory).where(KbCategory.parent_id == row.id).values(parent_id=parent_id))
    doomed = list(db.session.scalars(
        select(KbArticle).where(KbArticle.category_id == row.id).options(selectinload(KbArticle.attachments))
    ))
    files: list[str] = []
    if articles == DELETE_MOVE:
        last = db.session.scalar(select(func.max(KbArticle.sort_order)).where(KbArticle.category_id == parent_id))
        for i, article in enumerate(doomed, start=1):
            article.category_id = parent_id
            article.sort_order = (last or 0) + 10 * i
    else:
        for article in doomed:
            files += [a.saved_name for a in article.attachments]
            _count_terms(set(), _article_terms(article.title, article.content, article.keywords) | {""})
            db.session.delete(article)
    db.session.flush()
    db.session.delete(row)
    db.session.commit()
    _forget_catalogue()
    for name in files:
        _remove_file(name)
    return len(doomed)


def move_category(category_id: int, direction: int) -> None:
    """One place up (-1) or down (+1) among its siblings."""
    row = _category_row(category_id)
    siblings = list(db.session.scalars(
        select(KbCategory).where(KbCategory.parent_id == row.parent_id).order_by(KbCategory.sort_order, KbCategory.id)
    ))
    _swap(siblings, row, direction)
    db.session.commit()
    _forget_catalogue()


def _swap(items: list, row, direction: int) -> None:
    i = items.index(row)
    j = i + (1 if direction > 0 else -1)
    if 0 <= j < len(items):
        items[i], items[j] = items[j], items[i]
    for n, item in enumerate(items, start=1):  # renumber: equal values from old data cannot stick
        item.sort_order = n * 10


# --- articles (staff) -------------------------------------------------------------------------------

def _check_article(title, content, keywords, article_type, category_id) -> dict:
    errors: dict[str, str] = {}
    title = (title or "").strip()
    content = (content or "").replace("\r\n", "\n")
    keywords = re.sub(r"\s+", " ", (keywords or "").strip())
    if not title:
        errors["title"] = _("Type a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = _("At most %(n)s characters.", n=MAX_TITLE)
    if not content.strip():
        errors["content"] = _("Write the article.")
    elif len(content) > MAX_CONTENT:
        errors["content"] = _("At most %(n)s characters.", n=MAX_CONTENT)
    if len(keywords) > MAX_KEYWORDS:
        errors["keywords"] = _("At most %(n)s characters.", n=MAX_KEYWORDS)
    if article_type not in ARTICLE_TYPES:
        errors["type"] = _("Choose published, private or draft.")
    try:
        category_id = int(category_id)
    except (TypeError, ValueError):
        category_id = -1
    if catalogue().get(category_id) is None:
        errors["category_id"] = _("Choose a category.")
    if errors:
        raise InvalidKbData(errors)
    return {"title": title, "content": content, "keywords": keywords, "type": article_type,
            "category_id": category_id}


def _revision(article: KbArticle, user, action: str, *, snapshot: bool = True, note: str = "") -> None:
    values = {}
    if snapshot:
        values = {"title": article.title, "content": article.content, "keywords": article.keywords,
                  "type": article.type, "category_id": article.category_id, "sticky": article.sticky}
    rev = KbArticleRevision(user_id=getattr(user, "id", None), user_name=getattr(user, "name", "") or "",
                            action=action, created_at=utcnow(), note=note[:255], **values)
    if article.id is not None:
        rev.article_id = article.id  # no need to load the article's whole history to add one line
        db.session.add(rev)
    else:
        rev.article = article  # a new article: written with it
        db.session.add(rev)


def create_article(*, title: str, content: str, keywords: str = "", type: str = ARTICLE_PUBLISHED,
                   sticky: bool = False, category_id: int = ROOT_CATEGORY_ID, author=None,
                   files: Iterable = (), action: str = "created", note: str = "") -> KbArticle:
    """A new article, its first revision and its attachments, in one transaction (files written first
    and removed again if anything is refused)."""
    data = _check_article(title, content, keywords, type, category_id)
    files = [f for f in files if f is not None and getattr(f, "filename", "")]
    stored = _store_files(files)
    try:
        now = utcnow()
        last = db.session.scalar(
            select(func.max(KbArticle.sort_order)).where(KbArticle.category_id == data["category_id"])
        )
        article = KbArticle(**data, content_text=plain_text(data["content"]), sticky=bool(sticky),
                            sort_order=(last or 0) + 10, author_id=getattr(author, "id", None),
                            created_at=now, updated_at=now)
        db.session.add(article)
        for att in stored:
            article.attachments.append(att)
        _revision(article, author, action, note=note)
        _count_terms(_article_terms(data["title"], data["content"], data["keywords"]) | {""}, set())
        db.session.commit()
    except Exception:
        db.session.rollback()
        for att in stored:
            _remove_file(att.saved_name)
        raise
    return article


def _manage_row(article_id: int) -> KbArticle:
    try:
        article = db.session.get(KbArticle, int(article_id))
    except (TypeError, ValueError):
        article = None
    if article is None:
        raise ArticleNotFound(str(article_id))
    return article


def update_article(article_id: int, *, title: str, content: str, keywords: str = "", type: str,
                   sticky: bool = False, category_id: int, editor=None, files: Iterable = (),
                   remove_attachment_ids: Iterable[int] = ()) -> KbArticle:
    article = _manage_row(article_id)
    data = _check_article(title, content, keywords, type, category_id)
    files = [f for f in files if f is not None and getattr(f, "filename", "")]
    stored = _store_files(files)
    removed: list[str] = []
    try:
        if data["category_id"] != article.category_id:
            last = db.session.scalar(
                select(func.max(KbArticle.sort_order)).where(KbArticle.category_id == data["category_id"])
            )
            article.sort_order = (last or 0) + 10
        old_terms = _article_terms(article.title, article.content, article.keywords)
        new_terms = _article_terms(data["title"], data["content"], data["keywords"])
        _count_terms(new_terms - old_terms, old_terms - new_terms)
        for key, value in data.items():
            setattr(article, key, value)
        article.content_text = plain_text(data["content"])
        article.sticky = bool(sticky)
        article.updated_at = utcnow()
        drop = {int(i) for i in remove_attachment_ids}
        for att in list(article.attachments):
            if att.id in drop:
                removed.append(att.saved_name)
                article.attachments.remove(att)
        for att in stored:
            article.attachments.append(att)
        _revision(article, editor, "modified")
        db.session.commit()
    except Exception:
        db.session.rollback()
        for att in stored:
            _remove_file(att.saved_name)
        raise
    for name in removed:
        _remove_file(name)
    return article


def restore_revision(article_id: int, revision_id: int, editor=None) -> KbArticle:
    """Bring back the text of an earlier revision (recorded as a new revision; nothing is lost)."""
    article = _manage_row(article_id)
    rev = db.session.get(KbArticleRevision, int(revision_id))
    if rev is None or rev.article_id != article.id or not rev.has_snapshot:
        raise ArticleNotFound(str(revision_id))
    category_id = rev.category_id if catalogue().get(rev.category_id or -1) else article.category_id
    old_terms = _article_terms(article.title, article.content, article.keywords)
    new_terms = _article_terms(rev.title, rev.content, rev.keywords)
    _count_terms(new_terms - old_terms, old_terms - new_terms)
    article.title, article.content, article.keywords = rev.title, rev.content, rev.keywords or ""
    article.type, article.category_id, article.sticky = rev.type or article.type, category_id, bool(rev.sticky)
    article.content_text = plain_text(article.content)
    article.updated_at = utcnow()
    _revision(article, editor, "restored", note=f"#{rev.id}")
    db.session.commit()
    return article


def delete_article(article_id: int) -> None:
    article = _manage_row(article_id)
    files = [a.saved_name for a in article.attachments]
    _count_terms(set(), _article_terms(article.title, article.content, article.keywords) | {""})
    db.session.delete(article)
    db.session.commit()
    for name in files:
        _remove_file(name)


def set_sticky(article_id: int, sticky: bool, editor=None) -> KbArticle:
    article = _manage_row(article_id)
    article.sticky = bool(sticky)
    _revision(article, editor, "modified")
    db.session.commit()
    return article


def move_article(article_id: int, direction: int) -> None:
    """One place up or down among the articles of its category with the same stickiness."""
    article = _manage_row(article_id)
    siblings = list(db.session.scalars(
        select(KbArticle).options(defer(KbArticle.content), defer(KbArticle.content_text))
        .where(KbArticle.category_id == article.category_id, KbArticle.sticky == article.sticky)
        .order_by(KbArticle.sort_order, KbArticle.id)
    ))
    _swap(siblings, article, direction)
    db.session.commit()


def reset_views(article_id: int, editor=None) -> None:
    article = _manage_row(article_id)
    article.views = 0
    _revision(article, editor, "views_reset", snapshot=False)
    db.session.commit()


def reset_votes(article_id: int, editor=None) -> None:
    """Zero the rating and forget who voted, so everyone may vote again."""
    article = _manage_row(article_id)
    db.session.execute(delete(KbVote).where(KbVote.article_id == article.id))
    article.votes = 0
    article.helpful_votes = 0
    _revision(article, editor, "votes_reset", snapshot=False)
    db.session.commit()


def revisions(article_id: int) -> list[KbArticleRevision]:
    return list(db.session.scalars(
        select(KbArticleRevision).where(KbArticleRevision.article_id == article_id)
        .order_by(KbArticleRevision.id.desc())
    ))


def get_revision(article_id: int, revision_id: int) -> KbArticleRevision:
    rev = db.session.get(KbArticleRevision, int(revision_id))
    if rev is None or rev.article_id != int(article_id):
        raise ArticleNotFound(str(revision_id))
    return rev


def draft_from_ticket(ticket) -> dict[str, str]:
    """Title and Markdown text for an article made from a ticket: the question and the replies, without
    names or email addresses (staff still have to remove private data from the text itself)."""
    parts = [ticket.message.strip()]
    for reply in ticket.replies:
        who = _("Staff reply") if reply.author_type == "staff" else _("Customer reply")
        parts.append(f"**{who}:**\n\n{reply.message.strip()}")
    return {"title": (ticket.subject or "")[:MAX_TITLE], "content": "\n\n---\n\n".join(p for p in parts if p)}


# --- attachments -------------------------------------------------------------------------------------
# The help desk's one attachment store (hesk_py/services/attachments.py): the same settings and checks as
# ticket files (type by content, size, count), random names outside static/, downloads only through an
# access-checked route.

def _store_files(files: list) -> list[KbAttachment]:
    """Check every file and write them. All or nothing: a refused file stores none."""
    if not files:
        return []
    try:
        uploads = attachments.check_uploads(files)
    except AttachmentRefused as exc:
        raise InvalidKbData({"attachments": str(exc)}) from None
    return [KbAttachment(**row, created_at=utcnow()) for row in attachments.store(uploads)]


def _remove_file(saved_name: str) -> None:
    attachments.storage().delete(saved_name)


def attachment_path(att: KbAttachment) -> Path:
    try:
        return attachments.storage().path(att.saved_name)
    except FileNotFoundError:  # not one of our names (a row edited by hand)
        raise ArticleNotFound(str(att.id)) from None


def download_type(att: KbAttachment) -> str:
    return attachments.download_type(att.content_type)


def get_attachment(attachment_id: int, audience: Audience) -> KbAttachment:
    """An attachment whose article ``audience`` may see (the article's rule, nothing looser)."""
    try:
        att = db.session.get(KbAttachment, int(attachment_id))
    except (TypeError, ValueError):
        att = None
    if att is None:
        raise ArticleNotFound(str(attachment_id))
    get_article(att.article_id, audience)  # raises ArticleNotFound when the article is not visible
    return att
