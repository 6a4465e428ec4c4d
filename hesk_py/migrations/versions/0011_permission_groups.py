"""Permission groups: named sets of categories and features; members get the union of their own
grants and their groups' grants.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hesk_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hesk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_hesk_groups_name")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "hesk_group_categories",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["hesk_groups.id"],
                                name=op.f("fk_hesk_group_categories_group_id_hesk_groups"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["category_id"], ["hesk_categories.id"],
                                name=op.f("fk_hesk_group_categories_category_id_hesk_categories"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "category_id", name=op.f("pk_hesk_group_categories")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_group_categories_category_id"), "hesk_group_categories", ["category_id"])
    op.create_table(
        "hesk_group_features",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("feature", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["hesk_groups.id"],
                                name=op.f("fk_hesk_group_features_group_id_hesk_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "feature", name=op.f("pk_hesk_group_features")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "hesk_user_groups",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["hesk_users.id"],
                                name=op.f("fk_hesk_user_groups_user_id_hesk_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["hesk_groups.id"],
                                name=op.f("fk_hesk_user_groups_group_id_hesk_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_hesk_user_groups")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_hesk_user_groups_group_id"), "hesk_user_groups", ["group_id"])


def downgrade():
    op.drop_index(op.f("ix_hesk_user_groups_group_id"), table_name="hesk_user_groups")
    op.drop_table("hesk_user_groups")
    op.drop_table("hesk_group_features")
    op.drop_index(op.f("ix_hesk_group_categories_category_id"), table_name="hesk_group_categories")
    op.drop_table("hesk_group_categories")
    op.drop_table("hesk_groups")
