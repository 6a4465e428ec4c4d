"""Service messages on the customer home page (hesk_service_messages).

Revision ID: 0008
Revises: 0007
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

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_service_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", LongText, nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("style", sa.String(length=10), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["hesk_users.id"], ondelete="SET NULL",
                                name=op.f("fk_hesk_service_messages_author_id_hesk_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_service_messages")),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_hesk_service_messages_published_order", "hesk_service_messages",
                    ["is_published", "sort_order"])


def downgrade():
    op.drop_index("ix_hesk_service_messages_published_order", table_name="hesk_service_messages")
    op.drop_table("hesk_service_messages")
