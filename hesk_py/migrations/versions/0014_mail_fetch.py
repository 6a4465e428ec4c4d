"""Mail fetching and the other cron jobs: a lease on each job's row in hesk_job_runs, so two runs of a job
(IMAP or POP3 fetching, auto-close, overdue notifications) never work at the same time. A row lease rather
than GET_LOCK, so it also works on Galera.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("hesk_job_runs", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    op.add_column("hesk_job_runs", sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("hesk_job_runs") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
