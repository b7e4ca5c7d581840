"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:32:23.384095
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acl_templates",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("context_types", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acl_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_acl_templates_key")),
    )
    op.create_table(
        "audit_events",
        sa.Column("occurred_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_action_id", ["action", "id"], unique=False)
        batch_op.create_index("ix_audit_events_actor_id_id", ["actor_id", "id"], unique=False)
        batch_op.create_index("ix_audit_events_context_id_id", ["context_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index("ix_audit_events_target_id_id", ["target_id", "id"], unique=False)

    op.create_table(
        "contexts",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column(
            "path",
            sa.String(length=1200).with_variant(
                sa.String(length=1200, collation="C"), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("email_domains", sa.JSON(), nullable=False),
        sa.Column("has_access_policy", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["contexts.id"],
            name=op.f("fk_contexts_parent_id_contexts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contexts")),
        sa.UniqueConstraint("key", name=op.f("uq_contexts_key")),
        sa.UniqueConstraint("number", name=op.f("uq_contexts_number")),
    )
    with op.batch_alter_table("contexts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contexts_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_contexts_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contexts_path"), ["path"], unique=False)
        batch_op.create_index(
            "ix_contexts_single_root",
            ["type"],
            unique=True,
            sqlite_where=sa.text("type = 'root'"),
            postgresql_where=sa.text("type = 'root'"),
        )

    op.create_table(
        "modules",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("context_types", sa.JSON(), nullable=False),
        sa.Column("access_right", sa.String(length=100), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modules")),
        sa.UniqueConstraint("key", name=op.f("uq_modules_key")),
    )
    op.create_table(
        "user_domains",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("context_types", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_user_domains_name")),
    )
    op.create_table(
        "acls",
        sa.Column("module_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["modules.id"],
            name=op.f("fk_acls_module_id_modules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acls")),
        sa.UniqueConstraint("module_id", "key", name=op.f("uq_acls_module_id_key")),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("module_id", sa.Uuid(), nullable=True),
        sa.Column("secret_hash", sa.String(length=255), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_clients_module_id_modules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_clients_client_id")),
    )
    op.create_table(
        "user_groups",
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_user_groups_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_groups")),
        sa.UniqueConstraint("context_id", "name", name=op.f("uq_user_groups_context_id_name")),
    )
    with op.batch_alter_table("user_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_groups_context_id"), ["context_id"], unique=False)

    op.create_table(
        "users",
        sa.Column(
            "username",
            sa.String(length=150).with_variant(sa.String(length=150, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "email_key",
            sa.String(length=320).with_variant(sa.String(length=320, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "first_name_key",
            sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "last_name_key",
            sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("two_factor", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("security_stamp", sa.Uuid(), nullable=False),
        sa.Column("first_login_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["user_domains.id"], name=op.f("fk_users_domain_id_user_domains")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            "ix_users_domain_id_username", ["domain_id", "username"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_users_first_name_key"), ["first_name_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_users_last_name_key"), ["last_name_key"], unique=False)
        batch_op.create_index("ix_users_status_username", ["status", "username"], unique=False)

    op.create_table(
        "external_identities",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_external_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identities")),
        sa.UniqueConstraint("idp", "subject", name=op.f("uq_external_identities_idp_subject")),
    )
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_identities_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["user_groups.id"],
            name=op.f("fk_group_members_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_rights",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("acl_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"], ["acls.id"], name=op.f("fk_group_rights_acl_id_acls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["user_groups.id"],
            name=op.f("fk_group_rights_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "acl_id", name=op.f("pk_group_rights")),
    )
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_memberships_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "context_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memberships_context_id_user_id", ["context_id", "user_id"], unique=False
        )

    op.create_table(
        "one_time_tokens",
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_one_time_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_one_time_tokens_token_hash")),
    )
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_one_time_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "policy_rights",
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("acl_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"], ["acls.id"], name=op.f("fk_policy_rights_acl_id_acls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_policy_rights_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("context_id", "acl_id", name=op.f("pk_policy_rights")),
    )
    op.create_table(
        "template_rights",
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("acl_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"], ["acls.id"], name=op.f("fk_template_rights_acl_id_acls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["acl_templates.id"],
            name=op.f("fk_template_rights_template_id_acl_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("template_id", "acl_id", name=op.f("pk_template_rights")),
    )
    op.create_table(
        "user_rights",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=False),
        sa.Column("acl_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"], ["acls.id"], name=op.f("fk_user_rights_acl_id_acls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_user_rights_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_rights_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "context_id", "acl_id", name=op.f("pk_user_rights")),
    )


def downgrade() -> None:
    op.drop_table("user_rights")
    op.drop_table("template_rights")
    op.drop_table("policy_rights")
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_tokens_user_id"))

    op.drop_table("one_time_tokens")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_context_id_user_id")

    op.drop_table("memberships")
    op.drop_table("group_rights")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_user_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_identities_user_id"))

    op.drop_table("external_identities")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_status_username")
        batch_op.drop_index(batch_op.f("ix_users_last_name_key"))
        batch_op.drop_index(batch_op.f("ix_users_first_name_key"))
        batch_op.drop_index("ix_users_domain_id_username")

    op.drop_table("users")
    with op.batch_alter_table("user_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_groups_context_id"))

    op.drop_table("user_groups")
    op.drop_table("clients")
    op.drop_table("acls")
    op.drop_table("user_domains")
    op.drop_table("modules")
    with op.batch_alter_table("contexts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_contexts_single_root",
            sqlite_where=sa.text("type = 'root'"),
            postgresql_where=sa.text("type = 'root'"),
        )
        batch_op.drop_index(batch_op.f("ix_contexts_path"))
        batch_op.drop_index(batch_op.f("ix_contexts_parent_id"))
        batch_op.drop_index(batch_op.f("ix_contexts_name_key"))

    op.drop_table("contexts")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target_id_id")
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index("ix_audit_events_context_id_id")
        batch_op.drop_index("ix_audit_events_actor_id_id")
        batch_op.drop_index("ix_audit_events_action_id")

    op.drop_table("audit_events")
    op.drop_table("acl_templates")
