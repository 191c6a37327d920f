"""Starting and leaving a task: who is signed in (for `utter_sign_in_required`), and cancel."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.api_client import ApiUnavailable, client
from actions.common import (
    FORM_SLOTS,
    MFA_DETAIL_SLOTS,
    MFA_SLOTS,
    UPLOAD_DETAIL_SLOTS,
    UPLOAD_SLOTS,
    fresh_start,
    latest_intent,
    leave_form,
    reset,
)

logger = logging.getLogger(__name__)

# Intents that start a task; `/signed_in` resumes one and keeps its answers.
TASK_STARTS = {"upload_document", "file_staged", "check_upload_history", "setup_mfa"}


class ActionCheckSignIn(Action):
    """Asks the API whether the conversation is bound to a signed-in user: sets `sign_in_status`.

    A task that starts afresh forgets the answers of an earlier one, except those given in the message
    that starts it ("upload my balance sheet for bidder 12345").
    """

    def name(self) -> str:
        return "action_check_sign_in"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        events = self._start_events(tracker)
        try:
            answer = client.me(tracker.sender_id)
        except ApiUnavailable as exc:
            logger.warning("Cannot check the sign-in: %s", exc)
            return [*events, SlotSet("sign_in_status", "unavailable")]
        status = "signed_in" if answer.ok else "not_signed_in"
        return [*events, SlotSet("sign_in_status", status)]

    @staticmethod
    def _start_events(tracker: Tracker) -> List[EventType]:
        events = reset(FORM_SLOTS)
        if latest_intent(tracker) not in TASK_STARTS:
            return events
        task = tracker.get_slot("task")
        active = tracker.active_loop.get("name")
        if task == "upload" and active != "upload_form":
            events += fresh_start(tracker, UPLOAD_SLOTS, UPLOAD_DETAIL_SLOTS)
            events += [SlotSet("upload_outcome", None), SlotSet("upload_failures", 0)]
        elif task == "mfa" and active != "mfa_form":
            events += [*fresh_start(tracker, MFA_SLOTS, MFA_DETAIL_SLOTS), SlotSet("mfa_outcome", None)]
        elif task == "history":
            events.append(SlotSet("history_outcome", None))
        return events


class ActionCancelTask(Action):
    """Leaves the task cleanly: ends the form, discards a staged file, forgets the answers."""

    def name(self) -> str:
        return "action_cancel_task"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        staged = tracker.get_slot("staged_file_id")
        if staged:
            with contextlib.suppress(ApiUnavailable):  # a staged file expires by itself after 24 hours
                client.discard_staged_file(tracker.sender_id, staged)
        return [
            *leave_form(tracker),
            *reset(UPLOAD_SLOTS + UPLOAD_DETAIL_SLOTS + MFA_SLOTS + MFA_DETAIL_SLOTS + FORM_SLOTS),
            SlotSet("upload_outcome", None),
            SlotSet("upload_failures", 0),
            SlotSet("mfa_outcome", None),
            SlotSet("task", None),
        ]
