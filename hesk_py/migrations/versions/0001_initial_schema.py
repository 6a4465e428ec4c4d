"""Initial schema: tickets, replies, notes, attachments, history, customers, staff, lookups, outbox, settings.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:08:35.793754

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# InnoDB and utf8mb4 on MySQL/MariaDB (ignored by SQLite).
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hesk_customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_hesk_customers_email')),
    **TABLE_OPTIONS
    )
    op.create_table('hesk_priorities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('names', sa.JSON(), nullable=True),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('can_customers_select', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_priorities')),
    sa.UniqueConstraint('key', name=op.f('uq_hesk_priorities_key')),
    **TABLE_OPTIONS
    )
    op.create_table('hesk_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_hesk_settings')),
    **TABLE_OPTIONS
    )
    op.create_table('hesk_statuses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('names', sa.JSON(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('can_customers_change', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_statuses')),
    sa.UniqueConstraint('key', name=op.f('uq_hesk_statuses_key')),
    **TABLE_OPTIONS
    )
    op.create_table('hesk_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('nickname', sa.String(length=255), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('autoassign', sa.Boolean(), nullable=False),
    sa.Column('preferences', sa.JSON(), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_hesk_users_username')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_users_email'), ['email'], unique=False)

    op.create_table('hesk_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('default_priority_id', sa.Integer(), nullable=True),
    sa.Column('autoassign', sa.Boolean(), nullable=False),
    sa.Column('autoassign_config', sa.JSON(), nullable=True),
    sa.Column('default_due_amount', sa.Integer(), nullable=True),
    sa.Column('default_due_unit', sa.String(length=8), nullable=True),
    sa.ForeignKeyConstraint(['default_priority_id'], ['hesk_priorities.id'], name=op.f('fk_hesk_categories_default_priority_id_hesk_priorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_categories')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_categories_sort_order'), ['sort_order'], unique=False)

    op.create_table('hesk_user_features',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('feature', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['hesk_users.id'], name=op.f('fk_hesk_user_features_user_id_hesk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'feature', name=op.f('pk_hesk_user_features')),
    **TABLE_OPTIONS
    )
    op.create_table('hesk_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trackid', sa.String(length=13), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('priority_id', sa.Integer(), nullable=False),
    sa.Column('status_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('autoassigned', sa.Boolean(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('opened_by', sa.String(length=10), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('first_reply_at', sa.DateTime(), nullable=True),
    sa.Column('first_reply_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=10), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('reopened_count', sa.SmallInteger(), nullable=False),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('staff_reply_count', sa.Integer(), nullable=False),
    sa.Column('last_replier', sa.String(length=10), nullable=False),
    sa.Column('last_replier_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.DateTime(), nullable=True),
    sa.Column('overdue_email_sent', sa.Boolean(), nullable=False),
    sa.Column('time_worked', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('tagged', sa.Boolean(), nullable=False),
    sa.Column('merged_ids', sa.JSON(), nullable=True),
    sa.Column('suggested_articles', sa.JSON(), nullable=True),
    sa.Column('custom', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['hesk_users.id'], name=op.f('fk_hesk_tickets_assigned_by_id_hesk_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['hesk_categories.id'], name=op.f('fk_hesk_tickets_category_id_hesk_categories')),
    sa.ForeignKeyConstraint(['customer_id'], ['hesk_customers.id'], name=op.f('fk_hesk_tickets_customer_id_hesk_customers')),
    sa.ForeignKeyConstraint(['owner_id'], ['hesk_users.id'], name=op.f('fk_hesk_tickets_owner_id_hesk_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['priority_id'], ['hesk_priorities.id'], name=op.f('fk_hesk_tickets_priority_id_hesk_priorities')),
    sa.ForeignKeyConstraint(['status_id'], ['hesk_statuses.id'], name=op.f('fk_hesk_tickets_status_id_hesk_statuses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_tickets')),
    sa.UniqueConstraint('trackid', name=op.f('uq_hesk_tickets_trackid')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_hesk_tickets_category_status_updated', ['category_id', 'status_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_hesk_tickets_created', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hesk_tickets_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_hesk_tickets_due', ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_hesk_tickets_email'), ['email'], unique=False)
        batch_op.create_index('ix_hesk_tickets_owner_status_updated', ['owner_id', 'status_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_hesk_tickets_priority_status', ['priority_id', 'status_id'], unique=False)
        batch_op.create_index('ix_hesk_tickets_status_updated', ['status_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_hesk_tickets_updated', ['updated_at'], unique=False)

    op.create_table('hesk_user_categories',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['hesk_categories.id'], name=op.f('fk_hesk_user_categories_category_id_hesk_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['hesk_users.id'], name=op.f('fk_hesk_user_categories_user_id_hesk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'category_id', name=op.f('pk_hesk_user_categories')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_user_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_user_categories_category_id'), ['category_id'], unique=False)

    op.create_table('hesk_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['hesk_tickets.id'], name=op.f('fk_hesk_notes_ticket_id_hesk_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['hesk_users.id'], name=op.f('fk_hesk_notes_user_id_hesk_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_notes')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_notes_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('hesk_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=50), nullable=False),
    sa.Column('recipient', sa.String(length=255), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['hesk_tickets.id'], name=op.f('fk_hesk_outbox_ticket_id_hesk_tickets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_outbox')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_hesk_outbox_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hesk_outbox_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('hesk_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('author_type', sa.String(length=10), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('read', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['hesk_customers.id'], name=op.f('fk_hesk_replies_customer_id_hesk_customers')),
    sa.ForeignKeyConstraint(['staff_id'], ['hesk_users.id'], name=op.f('fk_hesk_replies_staff_id_hesk_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['hesk_tickets.id'], name=op.f('fk_hesk_replies_ticket_id_hesk_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_replies')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_replies_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('hesk_ticket_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('actor_type', sa.String(length=10), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['hesk_tickets.id'], name=op.f('fk_hesk_ticket_history_ticket_id_hesk_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_ticket_history')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_ticket_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_ticket_history_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('hesk_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=True),
    sa.Column('note_id', sa.Integer(), nullable=True),
    sa.Column('saved_name', sa.String(length=64), nullable=False),
    sa.Column('real_name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['note_id'], ['hesk_notes.id'], name=op.f('fk_hesk_attachments_note_id_hesk_notes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reply_id'], ['hesk_replies.id'], name=op.f('fk_hesk_attachments_reply_id_hesk_replies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['hesk_tickets.id'], name=op.f('fk_hesk_attachments_ticket_id_hesk_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hesk_attachments')),
    sa.UniqueConstraint('saved_name', name=op.f('uq_hesk_attachments_saved_name')),
    **TABLE_OPTIONS
    )
    with op.batch_alter_table('hesk_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hesk_attachments_note_id'), ['note_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hesk_attachments_reply_id'), ['reply_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hesk_attachments_ticket_id'), ['ticket_id'], unique=False)



def downgrade():
    with op.batch_alter_table('hesk_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_attachments_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_hesk_attachments_reply_id'))
        batch_op.drop_index(batch_op.f('ix_hesk_attachments_note_id'))

    op.drop_table('hesk_attachments')
    with op.batch_alter_table('hesk_ticket_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_ticket_history_ticket_id'))

    op.drop_table('hesk_ticket_history')
    with op.batch_alter_table('hesk_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_replies_ticket_id'))

    op.drop_table('hesk_replies')
    with op.batch_alter_table('hesk_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_outbox_ticket_id'))
        batch_op.drop_index('ix_hesk_outbox_status_next')

    op.drop_table('hesk_outbox')
    with op.batch_alter_table('hesk_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_notes_ticket_id'))

    op.drop_table('hesk_notes')
    with op.batch_alter_table('hesk_user_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_user_categories_category_id'))

    op.drop_table('hesk_user_categories')
    with op.batch_alter_table('hesk_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_hesk_tickets_updated')
        batch_op.drop_index('ix_hesk_tickets_status_updated')
        batch_op.drop_index('ix_hesk_tickets_priority_status')
        batch_op.drop_index('ix_hesk_tickets_owner_status_updated')
        batch_op.drop_index(batch_op.f('ix_hesk_tickets_email'))
        batch_op.drop_index('ix_hesk_tickets_due')
        batch_op.drop_index(batch_op.f('ix_hesk_tickets_customer_id'))
        batch_op.drop_index('ix_hesk_tickets_created')
        batch_op.drop_index('ix_hesk_tickets_category_status_updated')

    op.drop_table('hesk_tickets')
    op.drop_table('hesk_user_features')
    with op.batch_alter_table('hesk_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_categories_sort_order'))

    op.drop_table('hesk_categories')
    with op.batch_alter_table('hesk_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hesk_users_email'))

    op.drop_table('hesk_users')
    op.drop_table('hesk_statuses')
    op.drop_table('hesk_settings')
    op.drop_table('hesk_priorities')
    op.drop_table('hesk_customers')
