"""Uploading a document through the chat: the form's validator, its questions, the upload, corrections.

The form (`upload_form`) asks the questions of Connexion's upload page in order. Each answer is checked
against what the API offers the signed-in user; an answer that is not taken sets `form_problem`, and the
question is asked again with the reason (a variation of `utter_ask_current_question`). Nothing is uploaded
until the supplier confirms the summary; then `action_upload_document` posts the staged file once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.api_client import ApiUnavailable, client
from actions.choices import fold, idm_user_id, match_bidder, match_choice
from actions.common import (
    NO_NICKNAME,
    NOT_APPLICABLE,
    QUESTION,
    UPLOAD_DETAIL_SLOTS,
    UPLOAD_SLOTS,
    inform_payload,
    int_slot,
    reset,
    said_since_last_user_message,
    words_list,
)

logger = logging.getLogger(__name__)

MAX_NICKNAME = 80
MAX_CBA_BUTTONS = 8
STAGED_FILE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
SKIP_WORDS = {"none", "no", "skip", "no nickname", "n a", "na", "nope", "no thanks"}
# "call it Acme Q3": the nickname is what follows.
NAMING = re.compile(r"^(?:please\s+)?(?:call it|name it|nickname it|the nickname is|nickname)\s*[:-]?\s+", re.I)

# Which question a problem belongs to; None: any question (the answer could not be checked at all).
PROBLEM_SLOT: Dict[str, Optional[str]] = {
    "bidder_not_yours": "bidder_number",
    "no_bidders": "bidder_number",
    "type_unknown": "document_type",
    "description_unknown": "description",
    "cba_choose": "cba",
    "cba_no_match": "cba",
    "nickname_too_long": "nickname",
    "file_missing": "staged_file_id",
    "file_not_found": "staged_file_id",
    "certification_format": "certification_user_id",
    "device_unknown": "mfa_device_type",
    "phone_wanted": "mfa_destination",
    "email_wanted": "mfa_destination",
    "phone_invalid": "mfa_destination",
    "email_invalid": "mfa_destination",
    "signed_out": None,
    "service_unavailable": None,
    "options_refused": None,
}

# The upload field the API names in a refusal -> the question that answers it.
FIELD_SLOT = {
    "bidder_number": "bidder_number",
    "document_type": "document_type",
    "description": "description",
    "cba": "cba",
    "nickname": "nickname",
    "certification_user_id": "certification_user_id",
    "staged_file_id": "staged_file_id",
    "file": "staged_file_id",
}

# Changing one answer also forgets what depended on it.
DEPENDENT_SLOTS = {
    "bidder_number": ("bidder_number",),
    "document_type": ("document_type", "document_type_name", "description", "description_name", "cba", "cba_name"),
    "description": ("description", "description_name"),
    "cba": ("cba", "cba_name", "cba_choices", "cba_match_count"),
    "nickname": ("nickname",),
    "staged_file_id": ("staged_file_id", "staged_file_name"),
    "certification_user_id": ("certification_user_id",),
}


def problem(slot: str, code: str, answer: Any = None, **more: Any) -> Dict[str, Any]:
    """A validator's answer for an answer that is not taken: ask again, and say why."""
    rejected = re.sub(r"\s+", " ", str(answer or "")).strip()[:60] or None
    return {slot: None, "form_problem": code, "form_rejected_answer": rejected, **more}


def settle_problem(events: List[EventType], tracker: Tracker) -> List[EventType]:
    """Keep `form_problem` only when it explains the question asked next; clear it after good answers.

    When no answer was given at all nothing is added: the form must then be rejected, so that a rule
    can answer the question or request the supplier made instead.
    """
    answered = any(e.get("event") == "slot" and e.get("name") not in ("requested_slot", "form_problem") for e in events)
    if not answered:
        return events
    requested = tracker.get_slot("requested_slot")
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
    code = next((e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == "form_problem"), None)
    kept = [e for e in events if not (e.get("event") == "slot" and e.get("name") == "form_problem")]
    if code and PROBLEM_SLOT.get(code, requested) in (None, requested):
        return [*kept, SlotSet("form_problem", code)]
    return [*kept, SlotSet("form_problem", None)]


def options_or_problem(tracker: Tracker) -> Tuple[Optional[Dict[str, Any]], Dict[str, Any]]:
    """The upload options of the signed-in user, or the slots that say why they are missing."""
    try:
        answer = client.upload_options(tracker.sender_id)
    except ApiUnavailable as exc:
        logger.warning("Upload options unavailable: %s", exc)
        return None, {"form_problem": "service_unavailable"}
    if answer.status == 401:
        return None, {"form_problem": "signed_out"}
    if not answer.ok:
        return None, {"form_problem": "options_refused", "api_message": answer.detail}
    return answer.body, {}


def document_type_of(options: Dict[str, Any], code: Optional[str]) -> Optional[Dict[str, Any]]:
    return next((t for t in options.get("document_types", []) if t.get("code") == code), None)


class ValidateUploadForm(FormValidationAction):
    """Checks each answer of `upload_form` against the API, in the order of Connexion's upload page."""

    def name(self) -> str:
        return "validate_upload_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        return settle_problem(await super().run(dispatcher, tracker, domain), tracker)

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Optional[EventType]:
        # Always name the next question, so that it is asked with the right variation.
        missing = (slot for slot in self.domain_slots(domain) if tracker.slots.get(slot) is None)
        return SlotSet("requested_slot", next(missing, None))

    def validate_bidder_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        options, why = options_or_problem(tracker)
        if options is None:
            return {"bidder_number": None, **why}
        bidders = options.get("bidder_numbers") or []
        if not bidders:
            return problem("bidder_number", "no_bidders")
        number = match_bidder(value, bidders)
        if number is None:
            return problem("bidder_number", "bidder_not_yours", value)
        return {"bidder_number": number, "bid_cycle": (options.get("bid_cycle") or {}).get("name")}

    def validate_document_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        options, why = options_or_problem(tracker)
        if options is None:
            return {"document_type": None, **why}
        doc_type = match_choice(value, options.get("document_types", []))
        if doc_type is None:
            return problem("document_type", "type_unknown", value)
        result: Dict[str, Any] = {"document_type": doc_type["code"], "document_type_name": doc_type["name"]}
        if not doc_type.get("requires_cba"):
            result.update(cba=NOT_APPLICABLE, cba_name=None)
        elif tracker.get_slot("cba") == NOT_APPLICABLE:
            result.update(cba=None, cba_name=None)
        descriptions = doc_type.get("descriptions") or []
        if len(descriptions) == 1:  # a bid surety bond is only ever a "Bid Surety Bond"
            result.update(description=descriptions[0]["code"], description_name=descriptions[0]["name"])
        elif tracker.get_slot("description") not in {d["code"] for d in descriptions}:
            result.update(description=None, description_name=None)
        return result

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        options, why = options_or_problem(tracker)
        if options is None:
            return {"description": None, **why}
        doc_type = document_type_of(options, tracker.get_slot("document_type"))
        if doc_type is not None:
            candidates = doc_type.get("descriptions") or []
        else:  # said before the type: any description; the type's check keeps it only if it fits
            candidates = list(
                {d["code"]: d for t in options.get("document_types", []) for d in t["descriptions"]}.values()
            )
        description = match_choice(value, candidates)
        if description is None:
            return problem("description", "description_unknown", value)
        return {"description": description["code"], "description_name": description["name"]}

    def validate_cba(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if value == NOT_APPLICABLE:
            return {"cba": NOT_APPLICABLE}
        if tracker.get_slot("document_type"):
            options, why = options_or_problem(tracker)
            if options is None:
                return {"cba": None, **why}
            doc_type = document_type_of(options, tracker.get_slot("document_type"))
            if doc_type is not None and not doc_type.get("requires_cba"):
                return {"cba": NOT_APPLICABLE, "cba_name": None}  # only a bid surety bond names a CBA
        offered = tracker.get_slot("cba_choices") or []
        chosen = next((c for c in offered if fold(c.get("name")) == fold(value) or c.get("code") == value), None)
        if chosen:
            return {"cba": chosen["name"], "cba_name": chosen["name"], "cba_choices": None}
        try:
            answer = client.search_cbas(str(value), limit=MAX_CBA_BUTTONS)
        except ApiUnavailable:
            return {"cba": None, "form_problem": "service_unavailable"}
        items = (answer.body.get("items") or []) if answer.ok else []
        total = int(answer.body.get("total") or len(items)) if answer.ok else 0
        exact = [c for c in items if fold(c.get("name")) == fold(value) or c.get("code") == value]
        if exact or total == 1:
            cba = (exact or items)[0]
            return {"cba": cba["name"], "cba_name": cba["name"], "cba_choices": None}
        if not items:
            return problem("cba", "cba_no_match", value, cba_choices=None)
        choices = [{"code": c["code"], "name": c["name"]} for c in items]
        return problem("cba", "cba_choose", value, cba_choices=choices, cba_match_count=str(total))

    def validate_nickname(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = NAMING.sub("", re.sub(r"[\x00-\x1f\x7f]", " ", str(value or "")).strip()).strip(" \"'")
        if not text or fold(text) in SKIP_WORDS:
            return {"nickname": NO_NICKNAME}
        if len(text) > MAX_NICKNAME:
            return problem("nickname", "nickname_too_long")
        return {"nickname": text}

    def validate_staged_file_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        staged_file_id = str(value or "").strip()
        if not STAGED_FILE_ID.fullmatch(staged_file_id):  # typed words, not a reference from the widget
            return problem("staged_file_id", "file_missing")
        try:
            answer = client.staged_file(tracker.sender_id, staged_file_id)
        except ApiUnavailable:
            return {"staged_file_id": None, "form_problem": "service_unavailable"}
        if answer.status == 401:
            return {"staged_file_id": None, "form_problem": "signed_out"}
        if not answer.ok:
            return problem("staged_file_id", "file_not_found")
        pages = answer.body.get("pages")
        name = answer.body.get("file_name") or "your PDF"
        if pages:
            name = f"{name} ({pages} page{'' if pages == 1 else 's'})"
        return {"staged_file_id": staged_file_id, "staged_file_name": name}

    def validate_certification_user_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        # The format only: the API checks at the upload that it is the signed-in user's own user ID.
        user_id = idm_user_id(value)
        if user_id is None:
            return problem("certification_user_id", "certification_format", value)
        return {"certification_user_id": user_id}


class AskFormQuestion(Action, ABC):
    """Asks one question of a form (`utter_ask_current_question`), with the buttons the API offers.

    A help rule may have asked the question already in this turn (rules must name every response the
    bot says); then it is not asked twice.
    """

    default_choices: Optional[str] = None

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot this action asks for."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def choices(self, tracker: Tracker) -> List[Tuple[str, str]]:
        """(title, payload) of each choice."""
        return []

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if said_since_last_user_message(tracker, QUESTION):
            return []
        choices = self.choices(tracker)
        words = words_list([title for title, _ in choices]) or self.default_choices
        buttons = [{"title": title, "payload": payload} for title, payload in choices]
        dispatcher.utter_message(response=QUESTION, buttons=buttons, form_choices=words)
        return [SlotSet("form_choices", words)]


class ActionAskBidderNumber(AskFormQuestion):
    slot = "bidder_number"
    default_choices = "the bidder numbers linked to your account"

    def choices(self, tracker: Tracker) -> List[Tuple[str, str]]:
        options, _ = options_or_problem(tracker)
        bidders = (options or {}).get("bidder_numbers") or []
        return [
            (f"{b['bidder_number']} ({b['organization']})", inform_payload("bidder_number", b["bidder_number"]))
            for b in bidders
        ]


class ActionAskDocumentType(AskFormQuestion):
    slot = "document_type"
    default_choices = "financial documents, a bid surety bond or a covered document review response"

    def choices(self, tracker: Tracker) -> List[Tuple[str, str]]:
        options, _ = options_or_problem(tracker)
        types = (options or {}).get("document_types") or []
        return [(t["name"], inform_payload("document_type", t["code"])) for t in types]


class ActionAskDescription(AskFormQuestion):
    slot = "description"
    default_choices = "the description that fits"

    def choices(self, tracker: Tracker) -> List[Tuple[str, str]]:
        options, _ = options_or_problem(tracker)
        doc_type = document_type_of(options or {}, tracker.get_slot("document_type"))
        descriptions = (doc_type or {}).get("descriptions") or []
        return [(d["name"], inform_payload("document_description", d["code"])) for d in descriptions]


class ActionAskCba(AskFormQuestion):
    slot = "cba"

    def choices(self, tracker: Tracker) -> List[Tuple[str, str]]:
        if tracker.get_slot("form_problem") != "cba_choose":
            return []
        offered = tracker.get_slot("cba_choices") or []
        return [(c["name"], inform_payload("cba", c["name"])) for c in offered[:MAX_CBA_BUTTONS]]


class ActionAskNickname(AskFormQuestion):
    slot = "nickname"


class ActionAskStagedFileId(AskFormQuestion):
    slot = "staged_file_id"


class ActionAskCertificationUserId(AskFormQuestion):
    slot = "certification_user_id"


def idempotency_key(conversation_id: str, attempt: int) -> str:
    """The same conversation and attempt give the same key, so a retried request is recorded once."""
    return hashlib.sha256(f"chat-upload:{conversation_id}:{attempt}".encode()).hexdigest()[:48]


class ActionUploadDocument(Action):
    """Confirm & Upload: posts the staged file with the answers, and sets `upload_outcome`.

    A refusal names the one answer to fix (the API's `field`): only that answer is forgotten, and the
    form asks for it again. The second refusal offers a person.
    """

    def name(self) -> str:
        return "action_upload_document"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        attempt = int_slot(tracker, "upload_attempt") + 1
        cba = tracker.get_slot("cba")
        nickname = tracker.get_slot("nickname")
        fields = {
            "bid_cycle": tracker.get_slot("bid_cycle"),
            "bidder_number": tracker.get_slot("bidder_number"),
            "document_type": tracker.get_slot("document_type"),
            "description": tracker.get_slot("description"),
            "cba": None if cba == NOT_APPLICABLE else cba,
            "nickname": None if nickname == NO_NICKNAME else nickname,
            "certification_user_id": tracker.get_slot("certification_user_id"),
            "staged_file_id": tracker.get_slot("staged_file_id"),
        }
        try:
            answer = client.upload_staged_file(
                tracker.sender_id,
                {key: value for key, value in fields.items() if value is not None},
                idempotency_key=idempotency_key(tracker.sender_id, attempt),
            )
        except ApiUnavailable as exc:
            # The attempt is not counted, so trying again sends the same Idempotency-Key.
            logger.warning("Upload not answered: %s", exc)
            return [SlotSet("upload_outcome", "unavailable")]
        if answer.ok:
            return [
                SlotSet("upload_outcome", "uploaded"),
                SlotSet("upload_result_message", answer.body.get("message")),
                SlotSet("upload_notice", answer.body.get("notice")),
                SlotSet("upload_confirmation_number", answer.body.get("confirmation_number")),
                SlotSet("upload_attempt", attempt),
                SlotSet("upload_failures", 0),
                SlotSet("task", None),
                *reset(UPLOAD_SLOTS + UPLOAD_DETAIL_SLOTS),
            ]
        if answer.status == 401:
            return [SlotSet("upload_outcome", "not_signed_in")]
        failures = int_slot(tracker, "upload_failures") + 1
        events: List[EventType] = [
            SlotSet("upload_result_message", answer.detail or "The upload was refused."),
            SlotSet("upload_attempt", attempt),
            SlotSet("upload_failures", failures),
        ]
        slot = FIELD_SLOT.get(answer.field or "")
        if slot is None:
            return [*events, SlotSet("upload_outcome", "refused_final"), *reset(UPLOAD_SLOTS + UPLOAD_DETAIL_SLOTS)]
        outcome = "refused_again" if failures >= 2 else "refused"
        return [
            *events,
            *reset(DEPENDENT_SLOTS[slot]),
            SlotSet("form_problem", None),
            SlotSet("upload_outcome", outcome),
        ]


UPLOAD_FIELD_WORDS = [
    ("bidder_number", ("bidder", "bidder number")),
    ("document_type", ("type", "document type", "kind")),
    ("description", ("description", "includes")),
    ("cba", ("cba", "area", "bidding area")),
    ("nickname", ("nickname", "name")),
    ("staged_file_id", ("file", "pdf", "attachment", "document")),
    ("certification_user_id", ("signature", "certification", "user id", "userid", "sign")),
]


def upload_field(value: Any) -> Optional[str]:
    """The upload question a word names ("file" -> staged_file_id)."""
    text = fold(value)
    if text.replace(" ", "_") in DEPENDENT_SLOTS:
        return text.replace(" ", "_")
    padded = f" {text} "
    return next((slot for slot, words in UPLOAD_FIELD_WORDS if any(f" {w} " in padded for w in words)), None)


class ActionChangeUploadAnswer(Action):
    """Forgets one answer (and what depends on it) so that the form asks it again."""

    def name(self) -> str:
        return "action_change_upload_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        slot = upload_field(tracker.get_slot("upload_field"))
        events: List[EventType] = [SlotSet("upload_field", None), SlotSet("form_problem", None)]
        if slot is None or (slot == "cba" and tracker.get_slot("cba") == NOT_APPLICABLE):
            return events  # nothing to forget: the form shows the summary again
        staged = tracker.get_slot("staged_file_id")
        if slot == "staged_file_id" and staged:
            with contextlib.suppress(ApiUnavailable):  # it expires by itself after 24 hours
                client.discard_staged_file(tracker.sender_id, staged)
        return [*events, *reset(DEPENDENT_SLOTS[slot])]
