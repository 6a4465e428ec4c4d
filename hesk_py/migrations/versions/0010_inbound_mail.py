"""Inbound mail (email piping): the receipt log, the quarantine, and an index on the outbox Message-ID
(replies are threaded by In-Reply-To/References).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

RawMail = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["hesk_tickets.id"],
                                name=op.f("fk_hesk_inbound_mail_ticket_id_hesk_tickets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_inbound_mail")),
        sa.UniqueConstraint("message_key", name=op.f("uq_hesk_inbound_mail_message_key")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_inbound_mail_ticket_id"), "hesk_inbound_mail", ["ticket_id"])
    op.create_index("ix_hesk_inbound_mail_sender_received", "hesk_inbound_mail", ["sender", "received_at"])
    op.create_table(
        "hesk_mail_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", RawMail, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_mail_quarantine")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_mail_quarantine_received_at"), "hesk_mail_quarantine", ["received_at"])
    op.create_index(op.f("ix_hesk_outbox_message_id"), "hesk_outbox", ["message_id"])


def downgrade():
    op.drop_index(op.f("ix_hesk_outbox_message_id"), table_name="hesk_outbox")
    op.drop_index(op.f("ix_hesk_mail_quarantine_received_at"), table_name="hesk_mail_quarantine")
    op.drop_table("hesk_mail_quarantine")
    op.drop_index("ix_hesk_inbound_mail_sender_received", table_name="hesk_inbound_mail")
    op.drop_index(op.f("ix_hesk_inbound_mail_ticket_id"), table_name="hesk_inbound_mail")
    op.drop_table("hesk_inbound_mail")
