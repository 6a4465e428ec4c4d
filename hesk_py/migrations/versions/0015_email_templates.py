"""Email templates: an admin's override of a notification's subject, plain text and HTML per language.

Revision ID: 0015
Revises: 0014
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

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", LongText, nullable=False),
        sa.Column("body_html", LongText, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["hesk_users.id"], ondelete="SET NULL",
                                name=op.f("fk_hesk_email_templates_updated_by_hesk_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_email_templates")),
        sa.UniqueConstraint("name", "language", name=op.f("uq_hesk_email_templates_name")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("hesk_email_templates")
