"""Staff panel tickets: bookmarks, links, reply drafts, viewers (collision notice), time-worked timers,
merged tracking IDs, the full-text search index, and an index for the ticket list's quick counts.

Full-text search: on MariaDB/MySQL, InnoDB FULLTEXT indexes with the default parser (ngram exists only on
MySQL; the default parser splits Cyrillic words like Latin ones). On SQLite, FTS5 tables with external
content (the text stays in the real tables), kept in sync by triggers, so every write path (the ticket
service, cascading deletes, bulk SQL) keeps the index right.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COUNTS_INDEX = ("status_id", "category_id", "owner_id", "priority_id", "tagged", "due_date")
# (FTS table, source table, indexed columns) for SQLite.
SQLITE_FTS = (
    ("hesk_tickets_fts", "hesk_tickets", ("subject", "message")),
    ("hesk_replies_fts", "hesk_replies", ("message",)),
    ("hesk_notes_fts", "hesk_notes", ("message",)),
)
# (index name, table, columns) for MySQL/MariaDB.
MYSQL_FULLTEXT = (
    ("ft_hesk_tickets_subject_message", "hesk_tickets", ("subject", "message")),
    ("ft_hesk_replies_message", "hesk_replies", ("message",)),
    ("ft_hesk_notes_message", "hesk_notes", ("message",)),
)


def upgrade():
    op.create_table(
        "hesk_ticket_bookmarks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_bookmarks_user_id_hesk_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_bookmarks_ticket_id_hesk_tickets")),
        sa.PrimaryKeyConstraint("user_id", "ticket_id", name=op.f("pk_hesk_ticket_bookmarks")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_ticket_bookmarks_ticket_id"), "hesk_ticket_bookmarks", ["ticket_id"])

    op.create_table(
        "hesk_ticket_links",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("linked_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_links_ticket_id_hesk_tickets")),
        sa.ForeignKeyConstraint(["linked_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_links_linked_id_hesk_tickets")),
        sa.ForeignKeyConstraint(["created_by_id"], ["hesk_users.id"], ondelete="SET NULL",
                                name=op.f("fk_hesk_ticket_links_created_by_id_hesk_users")),
        sa.PrimaryKeyConstraint("ticket_id", "linked_id", name=op.f("pk_hesk_ticket_links")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_ticket_links_linked_id"), "hesk_ticket_links", ["linked_id"])

    op.create_table(
        "hesk_reply_drafts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_reply_drafts_user_id_hesk_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_reply_drafts_ticket_id_hesk_tickets")),
        sa.PrimaryKeyConstraint("user_id", "ticket_id", name=op.f("pk_hesk_reply_drafts")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_reply_drafts_ticket_id"), "hesk_reply_drafts", ["ticket_id"])

    for table, time_col in (("hesk_ticket_viewers", "seen_at"), ("hesk_ticket_timers", "started_at")):
        op.create_table(
            table,
            sa.Column("ticket_id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column(time_col, sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_ticket_id_hesk_tickets")),
            sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{table}_user_id_hesk_users")),
            sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f(f"pk_{table}")),
            **TABLE_OPTIONS,
        )
        op.create_index(op.f(f"ix_{table}_user_id"), table, ["user_id"])

    op.create_table(
        "hesk_ticket_aliases",
        sa.Column("trackid", sa.String(length=13), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_aliases_ticket_id_hesk_tickets")),
        sa.PrimaryKeyConstraint("trackid", name=op.f("pk_hesk_ticket_aliases")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_ticket_aliases_ticket_id"), "hesk_ticket_aliases", ["ticket_id"])

    # the quick-filter counts of the ticket list read only this index (no row look-ups)
    op.create_index("ix_hesk_tickets_counts", "hesk_tickets", list(COUNTS_INDEX))

    dialect = op.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        for name, table, columns in MYSQL_FULLTEXT:
            op.create_index(name, table, list(columns), mysql_prefix="FULLTEXT")
    elif dialect == "sqlite":
        for fts, source, columns in SQLITE_FTS:
            _create_sqlite_fts(fts, source, columns)


def _create_sqlite_fts(fts, source, columns):
    cols = ", ".join(columns)
    new_vals = ", ".join(f"new.{c}" for c in columns)
    old_vals = ", ".join(f"old.{c}" for c in columns)
    # unicode61 folds case for Cyrillic and other scripts; remove_diacritics 2 folds accents too.
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{source}', content_rowid='id', "
               f"tokenize='unicode61 remove_diacritics 2')")
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {source} BEGIN "
               f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new_vals}); END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {source} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old_vals}); END")
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {source} BEGIN "
               f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old_vals}); "
               f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new_vals}); END")
    # index what is already there (an upgrade of a help desk with tickets)
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        for name, table, _columns in MYSQL_FULLTEXT:
            op.drop_index(name, table_name=table)
    elif dialect == "sqlite":
        for fts, _source, _columns in SQLITE_FTS:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    op.drop_index("ix_hesk_tickets_counts", table_name="hesk_tickets")
    for table in ("hesk_ticket_aliases", "hesk_ticket_timers", "hesk_ticket_viewers", "hesk_reply_drafts",
                  "hesk_ticket_links", "hesk_ticket_bookmarks"):
        op.drop_table(table)
