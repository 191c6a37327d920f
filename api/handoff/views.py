"""Routes of the handoff: the bot's request for a person, the widget's queue, callback and rating calls, and the
agent console's REST API; `router` also carries the agent WebSocket and the console pages.

- Bot (service credential): `POST /api/v1/chat/conversations/{id}/handoff`.
- Widget (`X-Chat-Token`, the chat's client token): `GET .../queue`, `POST .../queue/leave`, `POST .../callback`,
  `POST .../rating`, `POST .../start-over`, `POST .../typing`.
- Agent console (the agent's own session token as Bearer; suppliers get 403): `/api/v1/agent/...`.
"""

from __future__ import annotations

from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, Depends, Path, Response, status

from api.auth.dependencies import OwnSession, ServiceCaller
from api.auth.errors import Problem
from api.auth.models import Role, User, UserSession
from api.chat import transport
from api.chat.errors import ChatRoute
from api.chat.schemas import MessagePublic
from api.chat.views import ConversationIdPath, ValidConversation
from api.database import SessionDep
from api.handoff import pages, service, ws
from api.handoff.errors import responses
from api.handoff.schemas import (
    AgentMessageCreate,
    AgentPublic,
    CallbackCreate,
    CallbackPublic,
    CannedReply,
    CloseCreate,
    HandoffAnswer,
    HandoffCreate,
    HandoffDetail,
    HandoffSummary,
    QueuePublic,
    QueueStatus,
    RatingCreate,
    RatingPublic,
    SupervisorStats,
    TicketPublic,
    TransferCreate,
    TypingAck,
    TypingCreate,
)

chat_router = APIRouter(prefix="/api/v1/chat", tags=["handoff"], route_class=ChatRoute)
agent_router = APIRouter(prefix="/api/v1/agent", tags=["agent console"], route_class=ChatRoute)

TOKEN_ERRORS = ("chat_token_required", "conversation_not_found")
AGENT_ERRORS = ("not_signed_in", "user_credential_required", "agent_only")
HandoffId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The handoff id, from the queue.")]
CallbackId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The callback request id, from the queue.")]


def console_session(session: OwnSession) -> UserSession:
    """The agent's own session (never the service credential or a sign-in token); suppliers are refused."""
    if session.user.role is not Role.agent:
        raise Problem(
            status.HTTP_403_FORBIDDEN, "agent_only", "Only customer service agents can use the agent console."
        )
    return session


ConsoleSession = Annotated[UserSession, Depends(console_session)]


def console_agent(session: ConsoleSession) -> User:
    return session.user


ConsoleAgent = Annotated[User, Depends(console_agent)]


# --- the bot -------------------------------------------------------------------------------------------------


@chat_router.post(
    "/conversations/{conversation_id}/handoff",
    response_model=HandoffAnswer,
    responses=responses(
        "service_credential_required", "conversation_not_found", "conversation_closed", "already_with_agent"
    ),
)
def request_handoff(
    conversation_id: ConversationIdPath, data: HandoffCreate, db: SessionDep, _service: ServiceCaller
) -> HandoffAnswer:
    """Hand the conversation to a person (action server only, with the service credential).

    While the center is open (9 a.m. to 5:30 p.m. Eastern, Monday to Friday, except federal holidays) the
    chat joins the queue and the bot falls silent: `state` `queued` with the position and an estimate.
    Otherwise `state` `closed_hours` with when the center opens; the widget offers a callback. Asking
    again while queued answers the current position.
    """
    return service.request_handoff(db=db, conversation_id=conversation_id, data=data)


# --- the widget ----------------------------------------------------------------------------------------------


@chat_router.get(
    "/conversations/{conversation_id}/queue", response_model=QueueStatus, responses=responses(*TOKEN_ERRORS)
)
def queue_status(conversation: ValidConversation, db: SessionDep) -> QueueStatus:
    """Where the chat's request for a person stands: queue position and estimate, agent, callback, rating."""
    return service.queue_status(db=db, conversation=conversation)


@chat_router.post(
    "/conversations/{conversation_id}/queue/leave",
    response_model=QueueStatus,
    responses=responses(*TOKEN_ERRORS, "not_in_queue"),
)
def leave_queue(conversation: ValidConversation, db: SessionDep) -> QueueStatus:
    """Leave the queue: the assistant answers again, and a system message says so."""
    return service.leave_queue(db=db, conversation=conversation)


@chat_router.post(
    "/conversations/{conversation_id}/callback",
    response_model=CallbackPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": CallbackPublic, "description": "The callback request was updated (phone or best time)."},
        **responses(
            *TOKEN_ERRORS, "invalid_phone", "best_time_required", "callback_not_offered", "callback_not_waiting"
        ),
    },
)
def request_callback(
    data: CallbackCreate, conversation: ValidConversation, db: SessionDep, response: Response
) -> CallbackPublic:
    """Ask to be called back when the center opens (offered after hours); it waits in the agents' queue."""
    public, created = service.request_callback(db=db, conversation=conversation, data=data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return public


@chat_router.post(
    "/conversations/{conversation_id}/rating",
    response_model=RatingPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        *TOKEN_ERRORS, "rating_out_of_range", "comment_too_long", "rating_not_requested", "already_rated"
    ),
)
def rate(data: RatingCreate, conversation: ValidConversation, db: SessionDep) -> RatingPublic:
    """Rate the chat an agent closed: 1 (poor) to 5 (excellent), with an optional comment (1,000 characters)."""
    return service.rate(db=db, conversation=conversation, data=data)


@chat_router.post(
    "/conversations/{conversation_id}/start-over",
    response_model=QueueStatus,
    responses=responses(*TOKEN_ERRORS, "cannot_start_over"),
)
def start_over(conversation: ValidConversation, db: SessionDep) -> QueueStatus:
    """After an agent closed the chat, go back to the assistant in the same chat (it greets again)."""
    before = conversation.status
    answer = service.start_over(db=db, conversation=conversation)
    if before.value != answer.conversation_status:
        from_thread.run_sync(transport.spawn_turn, conversation.id, None)
    return answer


@chat_router.post(
    "/conversations/{conversation_id}/typing", response_model=TypingAck, responses=responses(*TOKEN_ERRORS)
)
def supplier_typing(data: TypingCreate, conversation: ValidConversation, db: SessionDep) -> TypingAck:
    """The supplier started or stopped typing: shown to the agent who has the chat (nothing is stored)."""
    return TypingAck(delivered=service.supplier_typing(db=db, conversation=conversation, on=data.on))


# --- the agent console -----------------------------------------------------------------------------------------


@agent_router.post("/ws-ticket", response_model=TicketPublic, responses=responses(*AGENT_ERRORS))
def ws_ticket(db: SessionDep, session: ConsoleSession) -> TicketPublic:
    """A single-use ticket (30 seconds) for the agent WebSocket: send it in the first frame, never the token."""
    return service.issue_ticket(db=db, session=session)


@agent_router.get("/me", response_model=AgentPublic, responses=responses(*AGENT_ERRORS))
def who_am_i(agent: ConsoleAgent) -> AgentPublic:
    """The signed-in agent."""
    return AgentPublic(user_id=agent.user_id, name=f"{agent.first_name} {agent.last_name}")


@agent_router.get("/queue", response_model=QueuePublic, responses=responses(*AGENT_ERRORS))
def queue(db: SessionDep, _agent: ConsoleAgent) -> QueuePublic:
    """Waiting chats and callback requests, oldest first, with waiting time, topic, reason and pre-chat answers."""
    return service.agent_queue(db=db)


@agent_router.get("/conversations", response_model=list[HandoffSummary], responses=responses(*AGENT_ERRORS))
def my_conversations(db: SessionDep, agent: ConsoleAgent) -> list[HandoffSummary]:
    """The chats the signed-in agent has now."""
    return service.my_conversations(db=db, agent=agent)


@agent_router.get(
    "/handoffs/{handoff_id}", response_model=HandoffDetail, responses=responses(*AGENT_ERRORS, "handoff_not_found")
)
def handoff_detail(handoff_id: HandoffId, db: SessionDep, _agent: ConsoleAgent) -> HandoffDetail:
    """A handoff with the pre-chat answers, reason, topic, the signed-in supplier and bidder numbers, the
    whole transcript and the supplier's upload history. Never a password, code, key or token."""
    return service.handoff_detail(db=db, handoff_id=handoff_id)


@agent_router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=HandoffDetail,
    responses=responses(*AGENT_ERRORS, "handoff_not_found", "already_claimed"),
)
def claim(handoff_id: HandoffId, db: SessionDep, agent: ConsoleAgent) -> HandoffDetail:
    """Claim a waiting chat. Of agents claiming at once exactly one wins; the others get 409 `already_claimed`."""
    return service.claim(db=db, agent=agent, handoff_id=handoff_id)


@agent_router.post(
    "/handoffs/{handoff_id}/messages",
    response_model=MessagePublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        *AGENT_ERRORS,
        "handoff_not_found",
        "handoff_closed",
        "not_your_conversation",
        "text_required",
        "conversation_closed",
    ),
)
def reply(handoff_id: HandoffId, data: AgentMessageCreate, db: SessionDep, agent: ConsoleAgent) -> MessagePublic:
    """Reply to the supplier (stored, then delivered to the widget at once)."""
    return service.agent_reply(db=db, agent=agent, handoff_id=handoff_id, text=data.text)


@agent_router.post(
    "/handoffs/{handoff_id}/transfer",
    response_model=HandoffDetail,
    responses=responses(
        *AGENT_ERRORS,
        "handoff_not_found",
        "handoff_closed",
        "not_your_conversation",
        "agent_not_found",
        "text_required",
    ),
)
def transfer(handoff_id: HandoffId, data: TransferCreate, db: SessionDep, agent: ConsoleAgent) -> HandoffDetail:
    """Give the chat to another agent (`to_agent`: their user ID), or back to the queue (`to_agent` empty)."""
    return service.transfer(db=db, agent=agent, handoff_id=handoff_id, data=data)


@agent_router.post(
    "/handoffs/{handoff_id}/close",
    response_model=HandoffDetail,
    responses=responses(*AGENT_ERRORS, "handoff_not_found", "handoff_closed", "not_your_conversation", "text_required"),
)
def close(handoff_id: HandoffId, data: CloseCreate, db: SessionDep, agent: ConsoleAgent) -> HandoffDetail:
    """Close the chat with a disposition note; the supplier is asked for a rating and may start over."""
    return service.close(db=db, agent=agent, handoff_id=handoff_id, disposition=data.disposition)


@agent_router.post(
    "/callbacks/{callback_id}/claim",
    response_model=HandoffDetail,
    responses=responses(*AGENT_ERRORS, "callback_not_found", "callback_not_waiting"),
)
def claim_callback(callback_id: CallbackId, db: SessionDep, agent: ConsoleAgent) -> HandoffDetail:
    """Take a callback request to call the supplier (one agent only)."""
    return service.claim_callback(db=db, agent=agent, callback_id=callback_id)


@agent_router.post(
    "/callbacks/{callback_id}/complete",
    response_model=HandoffDetail,
    responses=responses(*AGENT_ERRORS, "callback_not_found", "callback_not_yours", "text_required"),
)
def complete_callback(callback_id: CallbackId, data: CloseCreate, db: SessionDep, agent: ConsoleAgent) -> HandoffDetail:
    """Record how the call went (disposition note); the request leaves the queue."""
    return service.complete_callback(db=db, agent=agent, callback_id=callback_id, disposition=data.disposition)


@agent_router.get("/agents", response_model=list[AgentPublic], responses=responses(*AGENT_ERRORS))
def agents(db: SessionDep, _agent: ConsoleAgent) -> list[AgentPublic]:
    """The agents a chat can be transferred to."""
    return service.list_agents(db=db)


@agent_router.get("/canned-replies", response_model=list[CannedReply], responses=responses(*AGENT_ERRORS))
def canned_replies(_agent: ConsoleAgent) -> list[CannedReply]:
    """Ready-made replies (from `api/handoff/canned_replies.json`)."""
    return service.canned_replies()


@agent_router.get("/supervisor", response_model=SupervisorStats, responses=responses(*AGENT_ERRORS))
def supervisor(db: SessionDep, _agent: ConsoleAgent) -> SupervisorStats:
    """Queue length, longest wait, chats per agent and satisfaction averages by day (with an SVG chart)."""
    return service.supervisor_stats(db=db)


router = APIRouter()
router.include_router(chat_router)
router.include_router(agent_router)
router.include_router(ws.router)
router.include_router(pages.router)
