"""Held-out questions sent through the running stack get answers that carry the right facts.

Not only the right intent: each held-out message of an FAQ or conversation intent goes to Rasa's REST
channel of a live stack (API, action server, Rasa; tests/live_stack.py) in a fresh conversation, and the
reply must contain the facts in FACTS for that intent ("50 MB" for the size limit, the configured MFA
date, the phone number for what the bot cannot answer). A misunderstood message, or one the bot only
asks to rephrase, fails. The task intents are left to the task conversations' own tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from api.config import get_settings
from api.contact_center import PHONE
from api.documents.upload_body import MAX_FILE_BYTES
from tests.nlu.nludata import KNOWLEDGE_FILES, REPORTS, by_intent, heldout_examples, read_nlu_file
from tests.nlu.test_answer_facts import form_c_due_date, round_2021, spoken

pytestmark = pytest.mark.stack

# 95.3% (385 of 404) with DIET classifying intents (2026-11-23), 98.0% (396 of 404) with the encoder
# classifier (2026-11-24; the report is var/reports/nlu-answers-e2e.md).
MIN_SHARE_WITH_FACTS = 0.95

MFA_DATE = spoken(get_settings().mfa_enforcement_date)
SIZE = f"{MAX_FILE_BYTES // (1024 * 1024)} MB"

# intent -> text every reply to it must contain (case-sensitive).
FACTS: dict[str, list[str]] = {
    "faq_upload_file_format": ["PDF"],
    "faq_upload_size_limit": [SIZE],
    "faq_upload_password_protected": ["must not have a password"],
    "faq_upload_steps": ["Upload a Document", "Confirm & Upload"],
    "faq_upload_how_to_start": ["CBIC website", "Access Connexion"],
    "faq_upload_mail_fax_email": ["mail, fax or email", "not considered"],
    "faq_upload_cba_for_bond": ["Please select a CBA", "one bond for each CBA"],
    "faq_upload_nickname": ["optional"],
    "faq_upload_certification": ["IDM user ID"],
    "faq_upload_failed_what_to_do": ["try it again", SIZE, PHONE],
    "faq_upload_history_confirms_receipt_only": ["received", "does not mean the document is correct or complete"],
    "faq_what_is_bid_cycle": ["Round 2021"],
    "faq_what_is_bidder_number": ["identifies the company"],
    "faq_what_is_cba": ["competitive bidding area", f"{len(round_2021()['cbas'])} CBAs"],
    "faq_financial_documents": [
        "Balance Sheet",
        "Income Statement",
        "Statement of Cash Flows",
        "Tax Return Extract",
        "Credit Report",
    ],
    "faq_bid_surety_bond": ["one bid surety bond for each CBA", "after the bid window closes"],
    "faq_documents_after_window": ["asked you for in writing", "covered document review"],
    "faq_what_is_connexion": ["secure website"],
    "faq_what_is_cbic": ["Competitive Bidding Implementation Contractor"],
    "faq_what_is_idm": ["Identity Management System"],
    "faq_contract_period": [
        spoken(dt.date.fromisoformat(round_2021()["contract_start"])),
        spoken(dt.date.fromisoformat(round_2021()["contract_end"])),
    ],
    "faq_official_source": ["official source"],
    "faq_mfa_what_is": ["multi-factor authentication"],
    "faq_mfa_why_required": [MFA_DATE],
    "faq_mfa_deadline": [MFA_DATE],
    "faq_mfa_device_options": ["Text message", "Phone call", "Email", "Google Authenticator", "Okta Verify"],
    "faq_mfa_setup_app": ["Install the app", "Scan the code"],
    "faq_mfa_setup_sms": ["Text Message (SMS)"],
    "faq_mfa_setup_voice": ["Interactive Voice Response (IVR)"],
    "faq_mfa_setup_email": ["choose Email"],
    "faq_mfa_more_than_one_device": ["more than one MFA device"],
    "faq_mfa_existing_user_next_sign_in": ["next time you sign in"],
    "faq_mfa_new_user": ["New User Registration"],
    "faq_mfa_lost_phone": ["another MFA device", PHONE],
    "faq_mfa_no_text_received": ["ask for a new code"],
    "faq_mfa_code_not_working": ["clock"],
    "faq_form_c_what_is": ["twice a year"],
    "faq_form_c_mfa_needed": [MFA_DATE],
    "faq_form_c_due_date": [spoken(form_c_due_date(), weekday=True)],
    "greet": ["Chat Now assistant"],
    "goodbye": ["Goodbye"],
    "thank": ["welcome"],
    "bot_challenge": ["automated assistant"],
    "ask_capabilities": ["upload", "MFA"],
    "request_human": [PHONE],
    "ask_contact_hours": [PHONE],
    "frustration": ["sorry", "person"],
    "out_of_scope": [PHONE],
    "chitchat": ["bid document uploads", PHONE],
}


def test_every_faq_and_conversation_intent_has_facts_to_check():
    knowledge = {ex.intent for path in KNOWLEDGE_FILES for ex in read_nlu_file(path)}
    assert set(FACTS) == knowledge


def test_held_out_questions_get_the_right_facts(live_stack):
    checked, failures = 0, []
    for intent, examples in sorted(by_intent(heldout_examples()).items()):
        if intent not in FACTS:
            continue
        for example in examples:
            replies = live_stack.say(f"facts-{uuid.uuid4().hex}", example.text)
            reply = " ".join(r.get("text") or "" for r in replies)
            missing = [fact for fact in FACTS[intent] if fact not in reply]
            checked += 1
            if missing:
                failures.append((example.text, intent, missing, reply))
    share = 1 - len(failures) / checked
    write_report(checked, failures)
    assert share >= MIN_SHARE_WITH_FACTS, (
        f"{len(failures)} of {checked} held-out questions got an answer without the right facts "
        f"({share:.1%} right, at least {MIN_SHARE_WITH_FACTS:.0%} needed); see var/reports/nlu-answers-e2e.md:\n"
        + "\n".join(
            f"- {text!r} ({intent}) lacks {missing}: {reply[:120]!r}" for text, intent, missing, reply in failures
        )
    )


def write_report(checked: int, failures: list[tuple[str, str, list[str], str]]) -> Path:
    lines = [
        "# Held-out questions through the live stack",
        "",
        f"{dt.date.today():%Y-%m-%d}: {checked - len(failures)} of {checked} replies carried the right facts "
        f"({1 - len(failures) / checked:.1%}).",
        "",
        "| message | intent | missing | reply |",
        "|---|---|---|---|",
    ]
    for text, intent, missing, reply in failures:
        lines.append(f"| {text} | {intent} | {', '.join(missing)} | {reply[:160].replace('|', '/')} |")
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / "nlu-answers-e2e.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
