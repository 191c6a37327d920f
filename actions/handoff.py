"""Handing the chat to a person: asks the API to queue it, and says what the widget should show."""

from __future__ import annotations

import logging
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api_client import ApiUnavailable, client
from actions.common import leave_form

logger = logging.getLogger(__name__)

# Every hand-over rule says why first (data/rules/handoff.yml); that response names the reason
# (the reasons of api/handoff: HandoffReason).
REASON_OF_RESPONSE = {
    "utter_handoff_requested": "asked_for_person",
    "utter_handoff_not_understood": "not_understood",
    "utter_out_of_scope": "not_allowed_topic",
    "utter_account_locked": "account_locked",
}
# The task -> the pre-chat topic code the agents see (bot/widget/prechat.json); none: the pre-chat topic.
TOPIC_OF_TASK = {"upload": "uploading_documents", "history": "upload_history", "mfa": "sign_in_mfa"}
STATES = {"queued", "with_agent", "closed_hours"}


def handoff_reason(tracker: Tracker) -> str:
    reason: Optional[str] = None
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            reason = REASON_OF_RESPONSE.get(str((event.get("metadata") or {}).get("utter_action")))
            if reason:
                break
    reason = reason or "asked_for_person"
    if reason == "asked_for_person" and tracker.get_slot("upload_outcome") == "refused_again":
        return "task_failed"
    return reason


class ActionHandoff(Action):
    """POST /api/v1/chat/conversations/{id}/handoff with the reason and topic; sets `handoff_state`.

    `queued` (with the position and wait), `closed_hours` (the center is closed: the widget offers a
    callback), `with_agent` (already handed over). When the hand-over cannot be made (the API is down, or
    the conversation is not a Chat Now chat) the state is `unavailable`: the supplier gets the phone
    number and hours, and the widget the `closed_hours` payload.
    """

    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reason = handoff_reason(tracker)
        topic = TOPIC_OF_TASK.get(tracker.get_slot("task") or "", "")
        try:
            answer = client.request_handoff(tracker.sender_id, reason=reason, topic=topic)
        except ApiUnavailable as exc:
            logger.warning("Hand-over not answered: %s", exc)
            return [SlotSet("handoff_state", "unavailable"), *leave_form(tracker)]
        events: List[EventType] = leave_form(tracker)  # a person takes it from here
        if answer.rule == "already_with_agent":
            return [SlotSet("handoff_state", "with_agent"), *events]
        if not answer.ok:
            logger.info("Hand-over refused (%s %s): %s", answer.status, answer.rule, answer.detail)
            return [SlotSet("handoff_state", "unavailable"), *events]
        state = answer.body.get("state")
        position = answer.body.get("position")
        wait = answer.body.get("estimated_wait_minutes")
        return [
            SlotSet("handoff_state", state if state in STATES else "queued"),
            SlotSet("handoff_position", str(position) if position else "1"),
            SlotSet("handoff_wait_minutes", str(wait) if wait else "a few"),
            *events,
        ]
