"""Categories admin: category names are unique (HESK refuses a second category with the same name).

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # a unique index, not a table constraint: SQLite would have to rebuild the table (and its foreign keys
    # refuse that while tickets point at the categories)
    op.create_index("uq_hesk_categories_name", "hesk_categories", ["name"], unique=True)


def downgrade():
    op.drop_index("uq_hesk_categories_name", table_name="hesk_categories")
