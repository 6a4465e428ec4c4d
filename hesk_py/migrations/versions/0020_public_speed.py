"""Customer side speed: the change marker of the per-process caches (hesk_py/shared_cache.py).

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_cache_generation",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_hesk_cache_generation")),
    )


def downgrade():
    op.drop_table("hesk_cache_generation")
