"""chat: conversations, their messages (with per-conversation sequence numbers) and attached files

Revision ID: 0004_chat
Revises: 0001_users
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_chat"
down_revision = "0001_users"
branch_labels = None
depends_on = None

STATUSES = ("bot", "queued", "with_agent", "closed")
SENDERS = ("user", "bot", "agent", "system")
KINDS = ("text", "note", "event")
RELAY_STATES = ("pending", "done", "failed", "held")


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.String(length=64), nullable=False, comment="secrets.token_urlsafe; the Rasa sender id"),
        sa.Column("client_token_hash", sa.String(length=64), nullable=False, comment="SHA-256 of the client token"),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="conversationstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("prechat", sa.JSON(), nullable=False, comment="The normalized pre-chat answers"),
        sa.Column("last_seq", sa.Integer(), nullable=False, comment="Sequence number of the newest message"),
        sa.Column(
            "created_from", sa.String(length=64), nullable=False, comment="Client address, for the creation limit"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
    )
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_conversations_created_at"), ["created_at"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.Enum(*SENDERS, name="sender", native_enum=False, length=16), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="messagekind", native_enum=False, length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True, comment="buttons, image, custom payload, event details"),
        sa.Column("client_message_id", sa.String(length=64), nullable=True, comment="Set by the client; deduplicates"),
        sa.Column("relay_text", sa.Text(), nullable=True, comment="What is sent to Rasa for a user turn"),
        sa.Column(
            "relay_state", sa.Enum(*RELAY_STATES, name="relaystate", native_enum=False, length=16), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        sa.UniqueConstraint("conversation_id", "client_message_id", name="uq_chat_messages_conversation_client_id"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_messages_conversation_sender_created", ["conversation_id", "sender", "created_at"], unique=False
        )

    op.create_table(
        "chat_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("staged_file_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_chat_files_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_files")),
        sa.UniqueConstraint("conversation_id", "idempotency_key", name="uq_chat_files_conversation_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("chat_files")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_conversation_sender_created")
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_conversations_created_at"))
    op.drop_table("chat_conversations")
