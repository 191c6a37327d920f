"""The Form C due date, computed by the API's business-day calendar (weekends and federal holidays)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api_client import ApiUnavailable, client
from actions.dates import describe

logger = logging.getLogger(__name__)

# The semi-annual report is due no later than ten business days after its reporting date.
FORM_C_REPORTING_DATE = dt.date(2022, 7, 1)
FORM_C_BUSINESS_DAYS = 10


class ActionFormCDueDate(Action):
    """Sets `form_c_due_date` ("Monday, July 18, 2022"), or clears it when the API cannot say."""

    def name(self) -> str:
        return "action_form_c_due_date"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            answer = client.business_day_after(FORM_C_REPORTING_DATE.isoformat(), FORM_C_BUSINESS_DAYS)
        except ApiUnavailable as exc:
            logger.warning("Business-day calendar unavailable: %s", exc)
            return [SlotSet("form_c_due_date", None)]
        try:
            due = dt.date.fromisoformat(str(answer.body.get("date"))) if answer.ok else None
        except ValueError:
            due = None
        return [SlotSet("form_c_due_date", describe(due) if due else None)]
