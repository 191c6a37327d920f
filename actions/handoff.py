"""Handing the chat to a person: asks the API to queue it, and says what the widget should show."""

from __future__ import annotations

import logging
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api_client import ApiUnavailable, client
from actions.common import latest_intent, leave_form

logger = logging.getLogger(__name__)

# Every hand-over rule says why first (data/rules/handoff.yml); that response names the reason.
REASON_OF_RESPONSE = {
    "utter_handoff_requested": "requested",
    "utter_handoff_not_understood": "not_understood",
    "utter_out_of_scope": "out_of_scope",
    "utter_account_locked": "account_locked",
}
STATES = {"queued", "with_agent", "closed_hours"}


def handoff_reason(tracker: Tracker) -> str:
    reason: Optional[str] = None
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            reason = REASON_OF_RESPONSE.get((event.get("metadata") or {}).get("utter_action"))
            if reason:
                break
    reason = reason or "requested"
    if reason == "requested" and tracker.get_slot("upload_outcome") == "refused_again":
        return "task_failed"
    return reason


class ActionHandoff(Action):
    """POST /api/v1/chat/conversations/{id}/handoff with the reason and topic; sets `handoff_state`.

    Without the hand-over service (not there yet, or failing) the state is `unavailable`: the supplier
    gets the phone number and hours, and the widget the `closed_hours` payload (a callback form).
    """

    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reason = handoff_reason(tracker)
        topic = tracker.get_slot("task") or latest_intent(tracker)
        try:
            answer = client.request_handoff(tracker.sender_id, reason=reason, topic=topic)
        except ApiUnavailable as exc:
            logger.warning("Hand-over not answered: %s", exc)
            state = "unavailable"
        else:
            state = answer.body.get("state") if answer.ok else "unavailable"
            if answer.ok and state not in STATES:
                state = "queued"
            if not answer.ok:
                logger.info("Hand-over refused (%s %s): %s", answer.status, answer.rule, answer.detail)
        # The chat leaves any form: a person takes it from here.
        return [SlotSet("handoff_state", state), *leave_form(tracker)]
