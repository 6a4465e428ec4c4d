"""Failed login and ticket look-up attempts per IP (brute-force protection).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_failed_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_failed_attempts")),
        sa.UniqueConstraint("ip", name=op.f("uq_hesk_failed_attempts_ip")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("hesk_failed_attempts")
