"""Looks up whether the customer service center is open now, for `utter_contact_center`."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.api_client import ApiUnavailable, client


class ActionCheckContactCenter(Action):
    def name(self) -> str:
        return "action_check_contact_center"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            status = client.contact_center()
        except ApiUnavailable:
            # utter_contact_center's unconditional variation still gives the number and hours.
            return [SlotSet("contact_center_open", None)]
        return [
            SlotSet("contact_center_open", status["open_now"]),
            SlotSet("contact_center_closed_reason", status["closed_reason"]),
            SlotSet("contact_center_next_opening", status["next_opening_text"]),
        ]
