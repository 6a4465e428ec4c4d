"""Settings features: when each staff member was last active (the users-online list) and the format of
a reply (plain text, or Markdown written by staff with "Ticket formatting (staff)" on).

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # written at most once a minute per user, only while the users-online list is on
    op.add_column("hesk_users", sa.Column("last_seen_at", sa.DateTime(), nullable=True))
    # "text" (shown escaped, links made clickable) or "markdown" (rendered and sanitised); stored as typed
    op.add_column("hesk_replies", sa.Column("message_format", sa.String(length=10), nullable=False,
                                            server_default="text"))


def downgrade():
    with op.batch_alter_table("hesk_replies") as batch:
        batch.drop_column("message_format")
    with op.batch_alter_table("hesk_users") as batch:
        batch.drop_column("last_seen_at")
