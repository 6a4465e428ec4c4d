"""Canned responses and ticket templates (hesk_canned_responses, hesk_ticket_templates).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", LongText, nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_canned_responses")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_canned_responses_sort_order"), "hesk_canned_responses", ["sort_order"])
    op.create_table(
        "hesk_ticket_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("message", LongText, nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_ticket_templates")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_ticket_templates_sort_order"), "hesk_ticket_templates", ["sort_order"])


def downgrade():
    op.drop_index(op.f("ix_hesk_ticket_templates_sort_order"), table_name="hesk_ticket_templates")
    op.drop_table("hesk_ticket_templates")
    op.drop_index(op.f("ix_hesk_canned_responses_sort_order"), table_name="hesk_canned_responses")
    op.drop_table("hesk_canned_responses")
