"""The knowledgebase: categories, articles, revisions, attachments, votes, word counts, the full-text index,
the root category.

Full-text search uses the database's own index: a FULLTEXT index over (title, content, keywords) on
MariaDB/MySQL, an external-content FTS5 table ``hesk_kb_articles_fts`` on SQLite, kept in sync with
``hesk_kb_articles`` by three triggers. A later SQLite batch migration that rebuilds
``hesk_kb_articles`` drops those triggers with the old table: it must create them again
(``_sqlite_fts_triggers`` below) and rebuild the index (``INSERT INTO hesk_kb_articles_fts
(hesk_kb_articles_fts) VALUES ('rebuild')``).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Article bodies can exceed MySQL's 64 KB TEXT.
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FTS = "hesk_kb_articles_fts"


def _sqlite_fts_triggers():
    cols = "title, content, keywords"
    new = "new.title, new.content, new.keywords"
    old = "old.title, old.content, old.keywords"
    return [
        f"CREATE TRIGGER hesk_kb_articles_fts_ai AFTER INSERT ON hesk_kb_articles BEGIN "
        f"INSERT INTO {FTS}(rowid, {cols}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER hesk_kb_articles_fts_ad AFTER DELETE ON hesk_kb_articles BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
        # Only when the indexed text changes: counting a view must not touch the index.
        f"CREATE TRIGGER hesk_kb_articles_fts_au AFTER UPDATE OF title, content, keywords ON hesk_kb_articles "
        f"BEGIN INSERT INTO {FTS}({FTS}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {FTS}(rowid, {cols}) VALUES (new.id, {new}); END",
    ]


def upgrade():
    op.create_table(
        "hesk_kb_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["hesk_kb_categories.id"],
                                name=op.f("fk_hesk_kb_categories_parent_id_hesk_kb_categories"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_kb_categories")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_kb_categories_parent_id"), "hesk_kb_categories", ["parent_id"])

    op.create_table(
        "hesk_kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("content", LongText, nullable=False),
        sa.Column("content_text", LongText, nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("sticky", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("helpful_votes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["hesk_kb_categories.id"],
                                name=op.f("fk_hesk_kb_articles_category_id_hesk_kb_categories"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["author_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_kb_articles_author_id_hesk_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_kb_articles")),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_hesk_kb_articles_category_type_order", "hesk_kb_articles",
                    ["category_id", "type", "sticky", "sort_order"])
    op.create_index("ix_hesk_kb_articles_type_views", "hesk_kb_articles", ["type", "views"])
    op.create_index("ix_hesk_kb_articles_type_created", "hesk_kb_articles", ["type", "created_at"])

    op.create_table(
        "hesk_kb_article_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("content", LongText, nullable=True),
        sa.Column("keywords", sa.String(length=500), nullable=True),
        sa.Column("type", sa.String(length=10), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("sticky", sa.Boolean(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["hesk_kb_articles.id"],
                                name=op.f("fk_hesk_kb_article_revisions_article_id_hesk_kb_articles"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_kb_article_revisions_user_id_hesk_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_kb_article_revisions")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_kb_article_revisions_article_id"), "hesk_kb_article_revisions",
                    ["article_id"])

    op.create_table(
        "hesk_kb_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("saved_name", sa.String(length=64), nullable=False),
        sa.Column("real_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["hesk_kb_articles.id"],
                                name=op.f("fk_hesk_kb_attachments_article_id_hesk_kb_articles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_kb_attachments")),
        sa.UniqueConstraint("saved_name", name=op.f("uq_hesk_kb_attachments_saved_name")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_kb_attachments_article_id"), "hesk_kb_attachments", ["article_id"])

    op.create_table(
        "hesk_kb_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["hesk_kb_articles.id"],
                                name=op.f("fk_hesk_kb_votes_article_id_hesk_kb_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_kb_votes")),
        sa.UniqueConstraint("article_id", "visitor", name="uq_hesk_kb_votes_article_visitor"),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "hesk_kb_terms",
        sa.Column("term", sa.String(length=84), nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_hesk_kb_terms")),
        **TABLE_OPTIONS,
    )

    dialect = op.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        op.create_index("ft_hesk_kb_articles_text", "hesk_kb_articles", ["title", "content", "keywords"],
                        mysql_prefix="FULLTEXT")
    elif dialect == "sqlite":
        # unicode61 folds case in every script (Cyrillic included); remove_diacritics 2 lets "lietotaja"
        # find "lietotāja", as MariaDB's utf8mb4_unicode_ci collation does.
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, content, keywords, content='hesk_kb_articles', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        for statement in _sqlite_fts_triggers():
            op.execute(statement)

    # The root category every other one hangs below (HESK's category 1).
    categories = sa.table(
        "hesk_kb_categories",
        sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("parent_id", sa.Integer),
        sa.column("is_public", sa.Boolean), sa.column("sort_order", sa.Integer),
    )
    op.bulk_insert(categories, [{"id": 1, "name": "Knowledgebase", "parent_id": None, "is_public": True,
                                 "sort_order": 0}])


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("hesk_kb_articles_fts_ai", "hesk_kb_articles_fts_ad", "hesk_kb_articles_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_table("hesk_kb_terms")
    op.drop_table("hesk_kb_votes")
    op.drop_table("hesk_kb_attachments")
    op.drop_table("hesk_kb_article_revisions")
    op.drop_table("hesk_kb_articles")
    op.drop_table("hesk_kb_categories")
