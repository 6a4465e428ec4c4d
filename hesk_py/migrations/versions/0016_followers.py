"""Ticket followers (Cc): further customers on a ticket who get its notifications (HESK's
``ticket_to_customer`` rows of type FOLLOWER; the requester stays ``hesk_tickets.customer_id``).

- ``hesk_ticket_followers``: one row per (ticket, customer), gone with the ticket or the customer.
- ``hesk_tickets.follower_count``: how many followers a ticket has, kept by the ticket service, so the
  staff list's "+N more" and every page of a ticket without followers cost no query.
- ``hesk_outbox.cc``: the Cc addresses of a customer notification (the followers), beside ``recipient`` (To).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_ticket_followers",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_followers_ticket_id_hesk_tickets")),
        sa.ForeignKeyConstraint(["customer_id"], ["hesk_customers.id"], ondelete="CASCADE",
                                name=op.f("fk_hesk_ticket_followers_customer_id_hesk_customers")),
        sa.PrimaryKeyConstraint("ticket_id", "customer_id", name=op.f("pk_hesk_ticket_followers")),
        **TABLE_OPTIONS,
    )
    # "tickets this address follows": search by email, forgot tracking ID
    op.create_index(op.f("ix_hesk_ticket_followers_customer_id"), "hesk_ticket_followers", ["customer_id"])
    op.add_column("hesk_tickets", sa.Column("follower_count", sa.SmallInteger(), nullable=False,
                                            server_default="0"))
    op.add_column("hesk_outbox", sa.Column("cc", sa.JSON(), nullable=True))


def downgrade():
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of hesk_tickets would lose the
    # full-text triggers of migration 0004
    op.drop_column("hesk_outbox", "cc")
    op.drop_column("hesk_tickets", "follower_count")
    # its index goes with it (MariaDB refuses to drop that first: the foreign key uses it)
    op.drop_table("hesk_ticket_followers")
