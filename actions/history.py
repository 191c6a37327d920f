"""My Upload History through the chat: "did my upload go through?", "what did I upload last week?"."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import common
from actions.api_client import ApiUnavailable, client
from actions.dates import date_range, describe_range

logger = logging.getLogger(__name__)

NEWEST = 5  # how many uploads the chat lists


def request_entities(tracker: Tracker) -> Dict[str, str]:
    """The filters the supplier gave when asking (the request may be answered later, after signing in)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") != "check_upload_history":
            continue
        found: Dict[str, str] = {}
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            found.setdefault(entity.get("entity"), str(entity.get("value")))
        return found
    return {}


def history_line(item: Dict[str, Any]) -> str:
    what = f"{item.get('description_name')} ({item.get('document_type_name')}"
    what += f", {item['cba_name']})" if item.get("cba_name") else ")"
    nickname = f' "{item["nickname"]}"' if item.get("nickname") else ""
    return (
        f"- {item.get('confirmation_number')}: {what}{nickname}, bidder {item.get('bidder_number')}, "
        f"uploaded {item.get('uploaded_at_text')}"
    )


def filter_text(bidder: Optional[str], doc_type: Optional[str], period: str) -> str:
    text = ""
    if doc_type:
        text += f" of {doc_type}"
    if bidder:
        text += f" for bidder {bidder}"
    return text + period


class ActionShowUploadHistory(Action):
    """Looks up the newest uploads (filtered by bidder, document type and a date phrase); sets `history_outcome`."""

    def name(self) -> str:
        return "action_show_upload_history"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        asked = request_entities(tracker)
        bidder = asked.get("bidder_number")
        doc_type = asked.get("document_type")
        period = date_range(asked.get("date_phrase"), common.today()) if asked.get("date_phrase") else None
        first, last = period or (None, None)
        try:
            answer = client.upload_history(
                tracker.sender_id,
                bidder_number=bidder,
                document_type=doc_type,
                uploaded_from=first.isoformat() if first else None,
                uploaded_to=last.isoformat() if last else None,
                page_size=NEWEST,
            )
        except ApiUnavailable as exc:
            logger.warning("Upload history unavailable: %s", exc)
            return [SlotSet("history_outcome", "unavailable")]
        if answer.status == 401:
            return [SlotSet("history_outcome", "not_signed_in")]
        if not answer.ok:
            return [SlotSet("history_outcome", "refused"), SlotSet("api_message", answer.detail)]
        items = answer.body.get("items") or []
        total = int(answer.body.get("total") or len(items))
        events: List[EventType] = [
            SlotSet("upload_history_filter_text", filter_text(bidder, doc_type, describe_range(first, last))),
            SlotSet("task", None),
        ]
        if not items:
            return [*events, SlotSet("history_outcome", "empty")]
        return [
            *events,
            SlotSet("history_outcome", "found"),
            SlotSet("upload_history_text", "\n".join(history_line(item) for item in items)),
            SlotSet("upload_history_count_text", f"{len(items)} of {total}"),
            SlotSet("upload_history_notice", answer.body.get("notice")),
        ]
