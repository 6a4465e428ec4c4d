"""Bans and mutes: muted email addresses (hesk_muted_emails). Tickets from a muted address are accepted,
but the help desk sends it no mail.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_muted_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("muted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["muted_by_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_muted_emails_muted_by_id_hesk_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_muted_emails")),
        sa.UniqueConstraint("email", name=op.f("uq_hesk_muted_emails_email")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("hesk_muted_emails")
