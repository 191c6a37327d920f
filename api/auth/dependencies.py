"""Who is calling: a signed-in user (session token) or the action server acting for a conversation.

- A browser or API client sends `Authorization: Bearer <session token>`.
- The action server sends `Authorization: Bearer <ACTION_SERVICE_TOKEN>` and `X-Conversation-Id`;
  it then acts for the user whose valid session is bound to that conversation, and no one else.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import sessions
from api.auth.models import Role, User, UserSession
from api.config import get_settings
from api.database import SessionDep

bearer = HTTPBearer(auto_error=False, description="A session token, or the action server's service token.")

NOT_SIGNED_IN = "You are not signed in. Sign in with your IDM user ID and password, then try again."


def is_service_token(token: str) -> bool:
    expected = get_settings().action_service_token
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())  # type: ignore[union-attr]


def get_current_session(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_conversation_id: Annotated[str | None, Header(max_length=64)] = None,
) -> UserSession:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    if is_service_token(token):
        if not x_conversation_id:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "The X-Conversation-Id header is required.")
        row = sessions.session_for_conversation(db=db, conversation_id=x_conversation_id)
        if row is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "This chat is not signed in. Ask the supplier to sign in through the chat first.",
            )
        return row
    row = sessions.session_for_token(db=db, token=token)
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Your session has ended. Sign in again to continue.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return row


CurrentSession = Annotated[UserSession, Depends(get_current_session)]


def get_current_user(session: CurrentSession) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_agent(user: CurrentUser) -> User:
    if user.role is not Role.agent:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only customer service agents can do this.")
    return user


CurrentAgent = Annotated[User, Depends(get_current_agent)]


def require_service(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """For endpoints only the action server (or the relay) may call."""
    if credentials is None or not is_service_token(credentials.credentials):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "A valid service credential is required.")


ServiceCaller = Annotated[None, Depends(require_service)]
