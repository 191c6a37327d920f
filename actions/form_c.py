"""Program dates in answers, from the API: the Form C due date (its business-day calendar) and the MFA date
(its configuration, compared with today in Eastern Time)."""

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


class ActionMfaDate(Action):
    """Sets `mfa_date` ("June 3, 2022") and `mfa_in_effect` from the API; clears both when it cannot say."""

    def name(self) -> str:
        return "action_mfa_date"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        unknown: List[EventType] = [SlotSet("mfa_date", None), SlotSet("mfa_in_effect", None)]
        try:
            answer = client.program_dates()
        except ApiUnavailable as exc:
            logger.warning("Program dates unavailable: %s", exc)
            return unknown
        try:
            day = dt.date.fromisoformat(str(answer.body.get("mfa_enforcement_date"))) if answer.ok else None
        except ValueError:
            day = None
        in_effect = answer.body.get("mfa_in_effect") if answer.ok else None
        if day is None or not isinstance(in_effect, bool):
            return unknown
        return [SlotSet("mfa_date", f"{day:%B} {day.day}, {day.year}"), SlotSet("mfa_in_effect", in_effect)]
