"""Who is calling: a signed-in user (session token) or the action server acting for a conversation.

- A browser or API client sends `Authorization: Bearer <session token>`.
- The action server sends `Authorization: Bearer <ACTION_SERVICE_TOKEN>` and `X-Conversation-Id`;
  it then acts for the user whose valid session is bound to that conversation, and no one else.
- During sign-in the user's own client holds a short-lived sign-in token (`si_…`), good only for
  the second step and for setting up a first device (`ActorDep`).

Failures raise `Problem` (an HTTPException with a `rule`), answered as `{"detail", "rule"}`.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import service, sessions, throttle
from api.auth.errors import Problem
from api.auth.models import Role, User, UserSession
from api.config import get_settings
from api.database import SessionDep

bearer = HTTPBearer(
    auto_error=False, description="A session token, a sign-in token (`si_…`), or the action server's service token."
)

NOT_SIGNED_IN = "You are not signed in. Sign in with your IDM user ID and password, then try again."

# The chat's conversation id (Rasa sender id), as the action server sends it.
ConversationHeader = Annotated[str | None, Header(max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]


def is_service_token(token: str) -> bool:
    expected = get_settings().action_service_token
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())  # type: ignore[union-attr]


def _not_signed_in() -> Problem:
    return Problem(status.HTTP_401_UNAUTHORIZED, "not_signed_in", NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})


def _chat_not_signed_in() -> Problem:
    return Problem(
        status.HTTP_401_UNAUTHORIZED,
        "chat_not_signed_in",
        "This chat is not signed in. Ask the supplier to sign in through the chat first.",
    )


def get_current_session(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_conversation_id: ConversationHeader = None,
) -> UserSession:
    if credentials is None:
        raise _not_signed_in()
    token = credentials.credentials
    if is_service_token(token):
        if not x_conversation_id:
            raise Problem(
                status.HTTP_400_BAD_REQUEST, "conversation_id_required", "The X-Conversation-Id header is required."
            )
        row = sessions.session_for_conversation(db=db, conversation_id=x_conversation_id)
        if row is None:
            raise _chat_not_signed_in()
        return row
    row = sessions.session_for_token(db=db, token=token)
    if row is None:
        raise Problem(
            status.HTTP_401_UNAUTHORIZED,
            "not_signed_in",
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
        raise Problem(status.HTTP_403_FORBIDDEN, "agent_only", "Only customer service agents can do this.")
    return user


CurrentAgent = Annotated[User, Depends(get_current_agent)]


def require_service(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """For endpoints only the action server (or the relay) may call."""
    if credentials is None or not is_service_token(credentials.credentials):
        raise Problem(
            status.HTTP_401_UNAUTHORIZED, "service_credential_required", "A valid service credential is required."
        )


ServiceCaller = Annotated[None, Depends(require_service)]


# --- the user's own client ------------------------------------------------------------------------


def _user_credential_required() -> Problem:
    return Problem(
        status.HTTP_403_FORBIDDEN,
        "user_credential_required",
        "This step must come from the user's own chat window or browser, with the user's own token.",
    )


def get_actor(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> service.Actor:
    """The holder of a sign-in token or a session token; never the service credential."""
    if credentials is None:
        raise _not_signed_in()
    if is_service_token(credentials.credentials):
        raise _user_credential_required()
    return service.resolve_token(db=db, token=credentials.credentials)


ActorDep = Annotated[service.Actor, Depends(get_actor)]


def get_own_session(actor: ActorDep) -> UserSession:
    """A session presented by the user's own client (not a sign-in token, not the service)."""
    if actor.session is None:
        raise Problem(
            status.HTTP_403_FORBIDDEN,
            "not_signed_in",
            "Finish signing in first: this needs a session, not a sign-in token.",
        )
    return actor.session


OwnSession = Annotated[UserSession, Depends(get_own_session)]


def get_actor_or_chat(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_conversation_id: ConversationHeader = None,
) -> tuple[service.Actor, bool]:
    """(actor, own) for starting a device set-up or sending its code again: the user's own token (own=True),
    or the service for a chat bound to a session or named by a sign-in attempt still in its second step
    (own=False: the answer then holds no key or QR code, and only the user's own client can verify)."""
    if credentials is None:
        raise _not_signed_in()
    if not is_service_token(credentials.credentials):
        return service.resolve_token(db=db, token=credentials.credentials), True
    if not x_conversation_id:
        raise Problem(
            status.HTTP_400_BAD_REQUEST, "conversation_id_required", "The X-Conversation-Id header is required."
        )
    row = sessions.session_for_conversation(db=db, conversation_id=x_conversation_id)
    if row is not None:
        return service.Actor(user=row.user, session=row), False
    attempt = service.pending_attempt_for_conversation(db=db, conversation_id=x_conversation_id)
    if attempt is None:
        raise _chat_not_signed_in()
    if attempt.user.locked_at is not None:
        raise throttle.locked_problem()
    return service.Actor(user=attempt.user, attempt=attempt), False


ChatActor = Annotated[tuple[service.Actor, bool], Depends(get_actor_or_chat)]


def get_setup_viewer(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_conversation_id: ConversationHeader = None,
) -> tuple[User, bool]:
    """(user, own) for reading the device set-up state: the user's own token (own=True), or the service
    with a conversation bound to a session or named in a recent sign-in attempt (own=False)."""
    if credentials is None:
        raise _not_signed_in()
    if not is_service_token(credentials.credentials):
        return service.resolve_token(db=db, token=credentials.credentials).user, True
    if not x_conversation_id:
        raise Problem(
            status.HTTP_400_BAD_REQUEST, "conversation_id_required", "The X-Conversation-Id header is required."
        )
    row = sessions.session_for_conversation(db=db, conversation_id=x_conversation_id)
    if row is not None:
        return row.user, False
    attempt = service.latest_attempt_for_conversation(db=db, conversation_id=x_conversation_id)
    if attempt is None:
        raise _chat_not_signed_in()
    return attempt.user, False


SetupViewer = Annotated[tuple[User, bool], Depends(get_setup_viewer)]


def client_address(request: Request) -> str:
    """The caller's address, for throttling and the audit log (the API is the one public origin)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
