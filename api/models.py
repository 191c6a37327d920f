"""Imports every domain's models so that Alembic and the tests see the whole schema."""

from api.auth.models import Bidder, ConversationBinding, User, UserSession, user_bidders

__all__ = ["Bidder", "ConversationBinding", "User", "UserSession", "user_bidders"]
