"""Imports every domain's models so that Alembic and the tests see the whole schema."""

from api.auth.models import Bidder, User, user_bidders

__all__ = ["Bidder", "User", "user_bidders"]
