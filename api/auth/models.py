"""Users and the bidder numbers each may act for."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, DateTime, Enum, ForeignKey, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.database import Base


class Role(str, enum.Enum):
    supplier = "supplier"
    agent = "agent"


user_bidders = Table(
    "user_bidders",
    Base.metadata,
    Column("user_pk", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("bidder_pk", ForeignKey("bidders.id", ondelete="CASCADE"), primary_key=True),
)


class Bidder(Base):
    """A bidding organisation, identified by its bidder number."""

    __tablename__ = "bidders"

    id: Mapped[int] = mapped_column(primary_key=True)
    bidder_number: Mapped[str] = mapped_column(String(16), unique=True)
    organization: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A CMS IDM account: a supplier's user or a customer service agent."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), unique=True, comment="The CMS IDM user ID.")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.supplier)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    bidders: Mapped[list[Bidder]] = relationship(secondary=user_bidders, order_by=Bidder.bidder_number)

    @property
    def bidder_numbers(self) -> list[str]:
        return [b.bidder_number for b in self.bidders]


class UserSession(Base):
    """A signed-in session. Only a hash of its token is stored, so sessions can be listed and revoked."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ConversationBinding(Base):
    """Binds a chat conversation to the session of the user who signed in through the chat client.

    The action server, holding only the service credential and a conversation id, may act for that
    user while the session is valid, and for no one else.
    """

    __tablename__ = "conversation_bindings"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_pk: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True)
    bound_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    session: Mapped[UserSession] = relationship()
