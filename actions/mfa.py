"""Setting up an MFA device through the chat.

The bot chooses the device with the supplier (`mfa_form`) and starts the set-up through the API. The
secret parts never pass through Rasa: the widget fetches an app's QR code and key from the API itself
(`mfa_qr`), and the supplier types the code into the widget's secure field, which posts it to the API
(`secure_input`). The bot learns only the outcome (`GET /api/v1/me/mfa-setup`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api_client import ApiUnavailable, client
from actions.choices import APP_KINDS, DEVICE_NAMES, PHONE_KINDS, email_address, match_device, us_phone
from actions.common import ACCOUNT_DESTINATION, APP_DEVICE, MFA_DETAIL_SLOTS, MFA_SLOTS, reset
from actions.upload import AskFormQuestion, problem, settle_problem

logger = logging.getLogger(__name__)

OTHER_DESTINATION = "other"  # "another number" was chosen: ask for it
LOCKED_RULES = {"account_locked"}
NOT_SIGNED_IN_RULES = {"not_signed_in", "chat_not_signed_in", "sign_in_expired"}


class ValidateMfaForm(FormValidationAction):
    """Checks the device kind and where its codes go."""

    def name(self) -> str:
        return "validate_mfa_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        return settle_problem(await super().run(dispatcher, tracker, domain), tracker)

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Optional[EventType]:
        missing = (slot for slot in self.domain_slots(domain) if tracker.slots.get(slot) is None)
        return SlotSet("requested_slot", next(missing, None))

    def validate_mfa_device_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        kind = match_device(value)
        if kind is None:
            return problem("mfa_device_type", "device_unknown", value)
        # An app needs no phone or email; for the others, ask where the codes go.
        destination = APP_DEVICE if kind in APP_KINDS else None
        return {"mfa_device_type": kind, "mfa_device_name": DEVICE_NAMES[kind], "mfa_destination": destination}

    def validate_mfa_destination(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        kind = tracker.get_slot("mfa_device_type")
        wants_email = kind == "email"
        if value == APP_DEVICE:
            return {"mfa_destination": APP_DEVICE if kind in APP_KINDS else None}
        if value == ACCOUNT_DESTINATION:
            return {"mfa_destination": ACCOUNT_DESTINATION}
        if value == OTHER_DESTINATION:
            return problem("mfa_destination", "email_wanted" if wants_email else "phone_wanted")
        if wants_email:
            address = email_address(value)
            return {"mfa_destination": address} if address else problem("mfa_destination", "email_invalid", value)
        phone = us_phone(value)
        return {"mfa_destination": phone} if phone else problem("mfa_destination", "phone_invalid", value)


class ActionAskMfaDeviceType(AskFormQuestion):
    slot = "mfa_device_type"


class ActionAskMfaDestination(AskFormQuestion):
    slot = "mfa_destination"


class ActionStartMfaEnrollment(Action):
    """Starts setting up the chosen device through the API; sets `mfa_outcome`."""

    def name(self) -> str:
        return "action_start_mfa_enrollment"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kind = tracker.get_slot("mfa_device_type")
        destination = tracker.get_slot("mfa_destination")
        chosen = None if destination in (APP_DEVICE, ACCOUNT_DESTINATION, None) else destination
        try:
            answer = client.start_mfa_enrollment(
                tracker.sender_id,
                kind=kind,
                phone=chosen if kind in PHONE_KINDS else None,
                email=chosen if kind == "email" else None,
            )
        except ApiUnavailable as exc:
            logger.warning("MFA set-up not started: %s", exc)
            return [SlotSet("mfa_outcome", "unavailable")]
        if answer.ok:
            enrollment_id = str(answer.body.get("enrollment_id"))
            if kind in APP_KINDS or answer.body.get("qr_code_available"):
                return [SlotSet("mfa_outcome", "app_started"), SlotSet("mfa_enrollment_id", enrollment_id)]
            return [
                SlotSet("mfa_outcome", "code_sent"),
                SlotSet("mfa_enrollment_id", enrollment_id),
                SlotSet("mfa_sent_to", answer.body.get("sent_to") or "your device"),
            ]
        return refusal_events(answer.status, answer.rule, answer.detail)


def refusal_events(status: int, rule: Optional[str], detail: str) -> List[EventType]:
    if rule in LOCKED_RULES:
        return [SlotSet("mfa_outcome", "locked"), SlotSet("handoff_state", None)]
    if status == 401 or rule in NOT_SIGNED_IN_RULES:
        return [SlotSet("mfa_outcome", "not_signed_in")]
    if rule == "fresh_verification_required":
        return [SlotSet("mfa_outcome", "sign_in_again"), SlotSet("api_message", detail)]
    return [SlotSet("mfa_outcome", "refused"), SlotSet("api_message", detail or "The device could not be set up.")]


class ActionCheckMfaSetup(Action):
    """After the widget's secure code field: reads how the set-up went from the API, not from the widget.

    The payload's `outcome` is only a hint (anyone can type `/secure_input_done`); the API's answer is
    what the bot says.
    """

    def name(self) -> str:
        return "action_check_mfa_setup"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            answer = client.mfa_setup_state(tracker.sender_id)
        except ApiUnavailable as exc:
            logger.warning("MFA set-up state unavailable: %s", exc)
            return [SlotSet("mfa_outcome", "unavailable")]
        if not answer.ok:
            return refusal_events(answer.status, answer.rule, answer.detail)
        status = answer.body.get("status")
        message = answer.body.get("message") or ""
        enrollment = answer.body.get("enrollment") or {}
        if status == "verified":
            return [
                SlotSet("mfa_outcome", "verified"),
                SlotSet("api_message", message),
                SlotSet("task", None),
                *reset(MFA_SLOTS + MFA_DETAIL_SLOTS),
            ]
        if status == "locked":
            return [SlotSet("mfa_outcome", "locked")]
        if status == "pending":
            # The code was not accepted (yet): the same set-up takes another code.
            return [
                SlotSet("mfa_outcome", "wrong_code"),
                SlotSet("mfa_enrollment_id", str(enrollment.get("enrollment_id"))),
            ]
        if status == "failed":
            return [SlotSet("mfa_outcome", "failed"), SlotSet("api_message", message), *reset(MFA_SLOTS)]
        # expired, cancelled (replaced by a newer set-up) or none started
        return [SlotSet("mfa_outcome", "expired"), SlotSet("api_message", message), *reset(MFA_SLOTS)]
