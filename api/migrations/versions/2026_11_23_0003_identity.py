"""identity: MFA devices, sign-in attempts, one-time codes, device set-ups, throttling, audit, outbox

Also adds users.locked_at and the step-up times of user_sessions.

Revision ID: 0003_identity
Revises: 0001_users
Create Date: 2026-11-23 16:40:20.976711
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_identity"
down_revision = "0001_users"
branch_labels = None
depends_on = None

DEVICE_KINDS = ("google_authenticator", "okta_verify", "text_message", "voice_call", "email")


def upgrade() -> None:
    op.create_table(
        "auth_failure_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failure_counters")),
        sa.UniqueConstraint("scope", "key", name="uq_auth_failure_counters_scope_key"),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_messages_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_recipient"), ["recipient"], unique=False)

    op.create_table(
        "auth_audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=True),
        sa.Column("attempted_user_id", sa.String(length=64), nullable=True, comment="As typed, for unknown users"),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_auth_audit_events_user_pk_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_audit_events")),
    )
    with op.batch_alter_table("auth_audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_audit_events_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_audit_events_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "mfa_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum(*DEVICE_KINDS, name="devicekind", native_enum=False, length=32), nullable=False),
        sa.Column(
            "status", sa.Enum("pending", "active", name="devicestatus", native_enum=False, length=16), nullable=False
        ),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True, comment="E.164, for text message and voice call"),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True, comment="Base32 TOTP secret (apps only)"),
        sa.Column(
            "last_totp_step",
            sa.Integer(),
            nullable=True,
            comment="Last accepted TOTP time step; a code of this step or older is refused (no replay).",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_mfa_devices_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_devices")),
    )
    with op.batch_alter_table("mfa_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mfa_devices_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_sign_in_attempts_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_attempts_token_hash")),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_attempts_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_attempts_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "mfa_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=True),
        sa.Column("attempt_pk", sa.Integer(), nullable=True),
        sa.Column("session_pk", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum(*DEVICE_KINDS, name="devicekind", native_enum=False, length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "verified",
                "failed",
                "expired",
                "cancelled",
                "locked",
                name="enrollmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=40), nullable=True, comment="Rule of the last refused code"),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_pk"],
            ["sign_in_attempts.id"],
            name=op.f("fk_mfa_enrollments_attempt_pk_sign_in_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"],
            ["mfa_devices.id"],
            name=op.f("fk_mfa_enrollments_device_pk_mfa_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["user_sessions.id"],
            name=op.f("fk_mfa_enrollments_session_pk_user_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_mfa_enrollments_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_enrollments")),
    )
    with op.batch_alter_table("mfa_enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mfa_enrollments_device_pk"), ["device_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_mfa_enrollments_user_pk"), ["user_pk"], unique=False)

    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("sign_in", "step_up", "enrollment", name="codepurpose", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempt_pk", sa.Integer(), nullable=True),
        sa.Column("session_pk", sa.Integer(), nullable=True),
        sa.Column("enrollment_pk", sa.Integer(), nullable=True),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_pk"],
            ["sign_in_attempts.id"],
            name=op.f("fk_one_time_codes_attempt_pk_sign_in_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["mfa_devices.id"], name=op.f("fk_one_time_codes_device_pk_mfa_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_pk"],
            ["mfa_enrollments.id"],
            name=op.f("fk_one_time_codes_enrollment_pk_mfa_enrollments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["user_sessions.id"],
            name=op.f("fk_one_time_codes_session_pk_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_one_time_codes_attempt_pk"), ["attempt_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_device_pk"), ["device_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_enrollment_pk"), ["enrollment_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_one_time_codes_session_pk"), ["session_pk"], unique=False)

    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "password_verified_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="When the password was last checked for this session.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "second_factor_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="When a second factor was last verified for this session (step-up).",
            )
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "locked_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="Set after 100 consecutive failed attempts; an agent unlocks.",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_at")

    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("second_factor_at")
        batch_op.drop_column("password_verified_at")

    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_codes_session_pk"))
        batch_op.drop_index(batch_op.f("ix_one_time_codes_enrollment_pk"))
        batch_op.drop_index(batch_op.f("ix_one_time_codes_device_pk"))
        batch_op.drop_index(batch_op.f("ix_one_time_codes_attempt_pk"))
    op.drop_table("one_time_codes")

    with op.batch_alter_table("mfa_enrollments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mfa_enrollments_user_pk"))
        batch_op.drop_index(batch_op.f("ix_mfa_enrollments_device_pk"))
    op.drop_table("mfa_enrollments")

    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_attempts_user_pk"))
        batch_op.drop_index(batch_op.f("ix_sign_in_attempts_conversation_id"))
    op.drop_table("sign_in_attempts")

    with op.batch_alter_table("mfa_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mfa_devices_user_pk"))
    op.drop_table("mfa_devices")

    with op.batch_alter_table("auth_audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_audit_events_user_pk"))
        batch_op.drop_index(batch_op.f("ix_auth_audit_events_event"))
        batch_op.drop_index(batch_op.f("ix_auth_audit_events_at"))
    op.drop_table("auth_audit_events")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_recipient"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_created_at"))
    op.drop_table("outbox_messages")

    op.drop_table("auth_failure_counters")
