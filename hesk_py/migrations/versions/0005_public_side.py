"""The customer side: custom fields, banned emails and IPs, rate-limit counters, spent form tokens.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_custom_fields",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("required", sa.String(length=10), nullable=False),
        sa.Column("place", sa.String(length=6), nullable=False),
        sa.Column("category_ids", sa.JSON(), nullable=True),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_custom_fields")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_custom_fields_sort_order"), "hesk_custom_fields", ["sort_order"])

    op.create_table(
        "hesk_banned_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("banned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["banned_by_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_banned_emails_banned_by_id_hesk_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_banned_emails")),
        sa.UniqueConstraint("email", name=op.f("uq_hesk_banned_emails_email")),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "hesk_banned_ips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ip_from", sa.String(length=32), nullable=False),
        sa.Column("ip_to", sa.String(length=32), nullable=False),
        sa.Column("ip_display", sa.String(length=100), nullable=False),
        sa.Column("banned_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["banned_by_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_banned_ips_banned_by_id_hesk_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_banned_ips")),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_hesk_banned_ips_range", "hesk_banned_ips", ["ip_from", "ip_to"])

    op.create_table(
        "hesk_rate_limits",
        sa.Column("key", sa.String(length=191), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hesk_rate_limits")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_rate_limits_expires_at"), "hesk_rate_limits", ["expires_at"])

    op.create_table(
        "hesk_used_form_tokens",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("trackid", sa.String(length=13), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_hesk_used_form_tokens")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_used_form_tokens_created_at"), "hesk_used_form_tokens", ["created_at"])


def downgrade():
    op.drop_table("hesk_used_form_tokens")
    op.drop_table("hesk_rate_limits")
    op.drop_table("hesk_banned_ips")
    op.drop_table("hesk_banned_emails")
    op.drop_table("hesk_custom_fields")
