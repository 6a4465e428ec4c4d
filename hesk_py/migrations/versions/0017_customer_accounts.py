"""Customer accounts: registration, verification, login, my tickets.

The account lives on the existing ``hesk_customers`` row (every address that filed a ticket has one), so
the tickets a customer filed before registering are theirs at once. New tables: the links sent by email
(verification, password reset, invitation, new address), remember-me logins, the second factor's backup and
email codes, and when a sender without an account was last told their email was refused.

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _customer_fk(table):
    return sa.ForeignKeyConstraint(["customer_id"], ["hesk_customers.id"],
                                   name=op.f(f"fk_{table}_customer_id_hesk_customers"), ondelete="CASCADE")


def upgrade():
    with op.batch_alter_table("hesk_customers") as batch:
        batch.add_column(sa.Column("account_status", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("mfa_method", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("mfa_secret", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("mfa_last_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("account_created_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_login_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("mail_sent_at", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_hesk_customers_account_status"), "hesk_customers", ["account_status"])

    op.create_table(
        "hesk_customer_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("new_email", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _customer_fk("hesk_customer_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_customer_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_hesk_customer_tokens_token_hash")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_customer_tokens_customer_id"), "hesk_customer_tokens", ["customer_id"])

    op.create_table(
        "hesk_customer_auth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=32), nullable=False),
        sa.Column("validator_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=True),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        _customer_fk("hesk_customer_auth_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_customer_auth_tokens")),
        sa.UniqueConstraint("selector", name=op.f("uq_hesk_customer_auth_tokens_selector")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_customer_auth_tokens_customer_id"), "hesk_customer_auth_tokens",
                    ["customer_id"])

    op.create_table(
        "hesk_customer_mfa_backup_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _customer_fk("hesk_customer_mfa_backup_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_customer_mfa_backup_codes")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_customer_mfa_backup_codes_customer_id"), "hesk_customer_mfa_backup_codes",
                    ["customer_id"])

    op.create_table(
        "hesk_customer_mfa_email_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _customer_fk("hesk_customer_mfa_email_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_customer_mfa_email_codes")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_customer_mfa_email_codes_customer_id"), "hesk_customer_mfa_email_codes",
                    ["customer_id"])

    op.create_table(
        "hesk_pipe_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_pipe_rejections")),
        sa.UniqueConstraint("email", name=op.f("uq_hesk_pipe_rejections_email")),
        **TABLE_OPTIONS,
    )


def downgrade():
    op.drop_table("hesk_pipe_rejections")
    op.drop_table("hesk_customer_mfa_email_codes")
    op.drop_table("hesk_customer_mfa_backup_codes")
    op.drop_table("hesk_customer_auth_tokens")
    op.drop_table("hesk_customer_tokens")
    op.drop_index(op.f("ix_hesk_customers_account_status"), table_name="hesk_customers")
    with op.batch_alter_table("hesk_customers") as batch:
        for column in ("mail_sent_at", "last_login_at", "password_changed_at", "account_created_at",
                       "mfa_last_step", "mfa_secret", "mfa_method", "session_version", "password_hash",
                       "account_status"):
            batch.drop_column(column)
