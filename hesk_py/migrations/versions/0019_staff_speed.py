"""Staff panel speed: ticket counts kept by triggers, and indexes for the ticket list's default view.

``hesk_ticket_counts`` holds the number of tickets per (status, category, owner, priority, tagged), kept
exact by triggers on ``hesk_tickets`` (insert, delete, and an update of one of those columns), so every
write path (the ticket service, bulk SQL, bench/seed.py) keeps it right. The ticket list's quick-filter
counts and its totals then read a few hundred counter rows instead of counting every open ticket (tens of
thousands on a help desk with a million tickets). Unassigned is owner 0. Where triggers cannot be created
(MySQL/MariaDB with binary logging, without SUPER and without ``log_bin_trust_function_creators``), the
table is dropped again and the list counts through the indexes as before (``search.counts_table_ready``).

Indexes, each readable without touching the table rows:
- ``ix_hesk_tickets_list`` (status, last change, id, priority, category, owner): the list's default order
  (last change, then id), status by status, with the priority and permission filters checked in the index;
  it replaces ``ix_hesk_tickets_status_updated`` (its first two columns);
- ``ix_hesk_tickets_critical`` (priority, status, last change, id, category, owner): the critical tickets
  the list shows on top; it replaces ``ix_hesk_tickets_priority_status``;
- ``ix_hesk_tickets_status_due`` (status, due date, category, owner): the "due soon" and "overdue" counts
  read only the open tickets that have a due date.

Revision ID: 0019
Revises: 0018
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
KEY = ("status_id", "category_id", "owner_id", "priority_id", "tagged")
INDEXES = (
    ("ix_hesk_tickets_list", ("status_id", "updated_at", "id", "priority_id", "category_id", "owner_id")),
    ("ix_hesk_tickets_critical", ("priority_id", "status_id", "updated_at", "id", "category_id", "owner_id")),
    ("ix_hesk_tickets_status_due", ("status_id", "due_date", "category_id", "owner_id")),
)
REPLACED = (
    ("ix_hesk_tickets_status_updated", ("status_id", "updated_at")),
    ("ix_hesk_tickets_priority_status", ("priority_id", "status_id")),
)
TRIGGERS = ("hesk_tickets_counts_ai", "hesk_tickets_counts_ad", "hesk_tickets_counts_au")

_COLS = ", ".join(KEY)


def _values(row: str) -> str:
    return f"{row}.status_id, {row}.category_id, COALESCE({row}.owner_id, 0), {row}.priority_id, {row}.tagged"


def _match(row: str) -> str:
    return (f"status_id = {row}.status_id AND category_id = {row}.category_id "
            f"AND owner_id = COALESCE({row}.owner_id, 0) AND priority_id = {row}.priority_id "
            f"AND tagged = {row}.tagged")


def _mysql_triggers() -> list[str]:
    inc = (f"INSERT INTO hesk_ticket_counts ({_COLS}, n) VALUES ({_values('NEW')}, 1) "
           f"ON DUPLICATE KEY UPDATE n = n + 1")
    dec = f"UPDATE hesk_ticket_counts SET n = n - 1 WHERE {_match('OLD')}"
    same = " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in KEY)
    old_key = f"({_values('OLD')})"
    new_key = f"({_values('NEW')})"
    return [
        f"CREATE TRIGGER hesk_tickets_counts_ai AFTER INSERT ON hesk_tickets FOR EACH ROW {inc}",
        f"CREATE TRIGGER hesk_tickets_counts_ad AFTER DELETE ON hesk_tickets FOR EACH ROW {dec}",
        # the two counter rows are locked in one order (the smaller key first), so two tickets moving
        # between the same two rows in opposite directions cannot deadlock
        f"CREATE TRIGGER hesk_tickets_counts_au AFTER UPDATE ON hesk_tickets FOR EACH ROW "
        f"BEGIN IF NOT ({same}) THEN "
        f"IF {old_key} < {new_key} THEN {dec}; {inc}; ELSE {inc}; {dec}; END IF; "
        f"END IF; END",
    ]


def _sqlite_triggers() -> list[str]:
    inc = (f"INSERT INTO hesk_ticket_counts ({_COLS}, n) VALUES ({_values('NEW')}, 1) "
           f"ON CONFLICT ({_COLS}) DO UPDATE SET n = n + 1;")
    dec = f"UPDATE hesk_ticket_counts SET n = n - 1 WHERE {_match('OLD')};"
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEY)
    return [
        f"CREATE TRIGGER hesk_tickets_counts_ai AFTER INSERT ON hesk_tickets BEGIN {inc} END",
        f"CREATE TRIGGER hesk_tickets_counts_ad AFTER DELETE ON hesk_tickets BEGIN {dec} END",
        f"CREATE TRIGGER hesk_tickets_counts_au AFTER UPDATE OF {_COLS} ON hesk_tickets "
        f"WHEN NOT ({same}) BEGIN {dec} {inc} END",
    ]


def upgrade():
    for name, columns in INDEXES:
        op.create_index(name, "hesk_tickets", list(columns))
    for name, _columns in REPLACED:
        op.drop_index(name, table_name="hesk_tickets")

    op.create_table(
        "hesk_ticket_counts",
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=False),
        sa.Column("tagged", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_hesk_ticket_counts")),
        **TABLE_OPTIONS,
    )
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        try:
            for statement in _mysql_triggers():
                op.execute(statement)
        except sa.exc.DBAPIError as exc:
            # e.g. 1419: binary logging on, no SUPER, log_bin_trust_function_creators off
            log.warning("Could not create the ticket-count triggers (%s); the ticket list counts through its "
                        "indexes instead.", exc.orig)
            for name in TRIGGERS:
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.drop_table("hesk_ticket_counts")
            return
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)
    # the tickets already there (the triggers count every change from now on)
    op.execute(f"INSERT INTO hesk_ticket_counts ({_COLS}, n) "
               f"SELECT status_id, category_id, COALESCE(owner_id, 0), priority_id, tagged, COUNT(*) "
               f"FROM hesk_tickets GROUP BY status_id, category_id, COALESCE(owner_id, 0), priority_id, tagged")


def downgrade():
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS hesk_ticket_counts")
    for name, columns in REPLACED:
        op.create_index(name, "hesk_tickets", list(columns))
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="hesk_tickets")
