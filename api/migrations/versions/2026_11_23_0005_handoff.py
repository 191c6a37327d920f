"""handoff: the queue of handoffs to agents, callback requests, satisfaction ratings, agent WebSocket tickets

Revision ID: 0005_handoff
Revises: 0004_chat
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_handoff"
down_revision = "0004_chat"
branch_labels = None
depends_on = None

REASONS = ("asked_for_person", "not_understood", "task_failed", "account_locked", "not_allowed_topic")
STATES = ("queued", "with_agent", "after_hours", "left", "closed", "abandoned")
CALLBACK_STATES = ("waiting", "claimed", "done")


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Enum(*REASONS, name="handoffreason", native_enum=False, length=32), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False, comment="Topic code or free text from the bot"),
        sa.Column("detail", sa.String(length=1000), nullable=True, comment="Optional detail from the bot"),
        sa.Column("state", sa.Enum(*STATES, name="handoffstate", native_enum=False, length=16), nullable=False),
        sa.Column("prechat", sa.JSON(), nullable=False, comment="The pre-chat answers when it was made"),
        sa.Column("user_pk", sa.Integer(), nullable=True, comment="The signed-in supplier, if any"),
        sa.Column("bidder_numbers", sa.JSON(), nullable=False, comment="The signed-in supplier's bidder numbers"),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "waiting_since",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Queue order: oldest first (kept when sent back to the queue)",
        ),
        sa.Column(
            "opens_at", sa.DateTime(timezone=True), nullable=True, comment="When the center opens next (after hours)"
        ),
        sa.Column(
            "announced_position", sa.Integer(), nullable=True, comment="The queue position last told to the supplier"
        ),
        sa.Column("agent_pk", sa.Integer(), nullable=True, comment="The agent who has it"),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True, comment="The agent's closing note"),
        sa.Column(
            "internal_notes",
            sa.Text(),
            nullable=True,
            comment="Agents' notes on transfers (never shown to the supplier)",
        ),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_handoffs_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_pk"], ["users.id"], name=op.f("fk_handoffs_user_pk_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["agent_pk"], ["users.id"], name=op.f("fk_handoffs_agent_pk_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoffs_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoffs_user_pk"), ["user_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoffs_agent_pk"), ["agent_pk"], unique=False)
        batch_op.create_index("ix_handoffs_state_waiting_since", ["state", "waiting_since"], unique=False)

    op.create_table(
        "handoff_callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False, comment="E.164"),
        sa.Column("best_time", sa.String(length=200), nullable=False, comment="When to call, in the supplier's words"),
        sa.Column(
            "state", sa.Enum(*CALLBACK_STATES, name="callbackstate", native_enum=False, length=16), nullable=False
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "available_from", sa.DateTime(timezone=True), nullable=False, comment="The next opening after the request"
        ),
        sa.Column("agent_pk", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_callback_requests_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_conversations.id"],
            name=op.f("fk_handoff_callback_requests_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_pk"],
            ["users.id"],
            name=op.f("fk_handoff_callback_requests_agent_pk_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_callback_requests")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_handoff_callback_requests_handoff_id")),
    )
    with op.batch_alter_table("handoff_callback_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_callback_requests_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_handoff_callback_requests_state"), ["state"], unique=False)

    op.create_table(
        "handoff_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("agent_pk", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_handoff_ratings_handoff_id_handoffs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_pk"], ["users.id"], name=op.f("fk_handoff_ratings_agent_pk_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_ratings")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_handoff_ratings_handoff_id")),
    )
    with op.batch_alter_table("handoff_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_ratings_agent_pk"), ["agent_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_ratings_created_at"), ["created_at"], unique=False)

    op.create_table(
        "agent_ws_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("session_pk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["user_sessions.id"],
            name=op.f("fk_agent_ws_tickets_session_pk_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_ws_tickets")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_agent_ws_tickets_ticket_hash")),
    )
    with op.batch_alter_table("agent_ws_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_ws_tickets_session_pk"), ["session_pk"], unique=False)


def downgrade() -> None:
    op.drop_table("agent_ws_tickets")
    op.drop_table("handoff_ratings")
    op.drop_table("handoff_callback_requests")
    op.drop_table("handoffs")
