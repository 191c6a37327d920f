"""What the task actions share: slot names, the clock in Eastern Time, reading the tracker."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any, Dict, Iterable, List, Optional
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

QUESTION = "utter_ask_current_question"

# Values that stand for "no answer needed" in a required slot of a form.
NOT_APPLICABLE = "not_applicable"  # cba, for a document type without a CBA
NO_NICKNAME = "none"  # nickname, when skipped
APP_DEVICE = "app"  # mfa_destination, for an authenticator app
ACCOUNT_DESTINATION = "account"  # mfa_destination: the phone or email on the account

UPLOAD_SLOTS = (
    "bidder_number",
    "document_type",
    "description",
    "cba",
    "nickname",
    "staged_file_id",
    "certification_user_id",
)
UPLOAD_DETAIL_SLOTS = (
    "document_type_name",
    "description_name",
    "cba_name",
    "cba_choices",
    "cba_match_count",
    "staged_file_name",
)
MFA_SLOTS = ("mfa_device_type", "mfa_destination")
MFA_DETAIL_SLOTS = ("mfa_device_name", "mfa_enrollment_id", "mfa_sent_to")
FORM_SLOTS = ("form_problem", "form_rejected_answer", "form_choices")

# The entity behind each slot a supplier can give in the sentence that starts a task.
ENTITY_OF_SLOT = {
    "bidder_number": "bidder_number",
    "document_type": "document_type",
    "description": "document_description",
    "cba": "cba",
    "nickname": "nickname",
    "staged_file_id": "staged_file_id",
    "mfa_device_type": "mfa_device",
}


def business_timezone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("BUSINESS_TIMEZONE", "America/New_York"))


def today() -> dt.date:
    """Today in the customer service center's time zone (Eastern Time)."""
    return dt.datetime.now(business_timezone()).date()


def said_since_last_user_message(tracker: Tracker, response: str) -> bool:
    """Whether the bot already said `response` since the supplier's last message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == response:
            return True
    return False


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def entities_of_latest_message(tracker: Tracker) -> set:
    return {entity.get("entity") for entity in tracker.latest_message.get("entities") or []}


def reset(slots: Iterable[str], keep: Iterable[str] = ()) -> List[EventType]:
    kept = set(keep)
    return [SlotSet(name, None) for name in slots if name not in kept]


def fresh_start(tracker: Tracker, slots: Iterable[str], details: Iterable[str]) -> List[EventType]:
    """Clear a task's answers, except those the supplier gave in the message that starts it."""
    given = entities_of_latest_message(tracker)
    keep = [slot for slot in slots if ENTITY_OF_SLOT.get(slot) in given]
    return reset(slots, keep) + reset(details)


def leave_form(tracker: Tracker) -> List[EventType]:
    """Events that end the active form, if any."""
    if tracker.active_loop.get("name"):
        return [ActiveLoop(None), SlotSet("requested_slot", None)]
    return []


def int_slot(tracker: Tracker, name: str) -> int:
    value = tracker.get_slot(name)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def words_list(items: List[str], last: str = "or") -> str:
    """'a', 'a or b', 'a, b or c'."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def inform_payload(entity: str, value: str) -> str:
    """A button payload that answers with an entity, e.g. /inform{"bidder_number": "12345"}."""
    return "/inform" + json.dumps({entity: value})


def first_problem(events: List[Dict[str, Any]]) -> Optional[str]:
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "form_problem" and event.get("value"):
            return event["value"]
    return None
