"""Staff authentication: remember-me tokens, password reset links, second factor (app, email, backup codes).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _user_fk(table):
    return sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"], name=op.f(f"fk_{table}_user_id_hesk_users"),
                                   ondelete="CASCADE")


def upgrade():
    with op.batch_alter_table("hesk_users") as batch:
        batch.add_column(sa.Column("mfa_method", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("mfa_secret", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("mfa_last_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))

    op.create_table(
        "hesk_auth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=32), nullable=False),
        sa.Column("validator_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=True),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        _user_fk("hesk_auth_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_auth_tokens")),
        sa.UniqueConstraint("selector", name=op.f("uq_hesk_auth_tokens_selector")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_auth_tokens_user_id"), "hesk_auth_tokens", ["user_id"])

    op.create_table(
        "hesk_password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _user_fk("hesk_password_resets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_hesk_password_resets_token_hash")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_password_resets_user_id"), "hesk_password_resets", ["user_id"])

    op.create_table(
        "hesk_mfa_backup_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _user_fk("hesk_mfa_backup_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_mfa_backup_codes")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_mfa_backup_codes_user_id"), "hesk_mfa_backup_codes", ["user_id"])

    op.create_table(
        "hesk_mfa_email_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _user_fk("hesk_mfa_email_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_mfa_email_codes")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_mfa_email_codes_user_id"), "hesk_mfa_email_codes", ["user_id"])


def downgrade():
    op.drop_table("hesk_mfa_email_codes")
    op.drop_table("hesk_mfa_backup_codes")
    op.drop_table("hesk_password_resets")
    op.drop_table("hesk_auth_tokens")
    with op.batch_alter_table("hesk_users") as batch:
        batch.drop_column("password_changed_at")
        batch.drop_column("mfa_last_step")
        batch.drop_column("mfa_secret")
        batch.drop_column("mfa_method")
