"""The upload form's validator and questions, the upload itself, and changing one answer."""

from __future__ import annotations

from actions.common import NO_NICKNAME, NOT_APPLICABLE
from actions.upload import (
    ActionAskBidderNumber,
    ActionAskCba,
    ActionAskDescription,
    ActionAskNickname,
    ActionChangeUploadAnswer,
    ActionUploadDocument,
    ValidateUploadForm,
    idempotency_key,
    upload_field,
)
from tests.actions.helpers import SENDER, form_turn, run, slots_of, tracker, tracker_from_json

OPTIONS = {
    "bid_cycle": {"name": "Round 2021", "is_open": True},
    "bidder_numbers": [
        {"bidder_number": "12345", "organization": "Acme Home Medical LLC"},
        {"bidder_number": "67890", "organization": "Acme Mobility Supplies Inc"},
    ],
    "document_types": [
        {
            "code": "financial",
            "name": "Financial documents",
            "requires_cba": False,
            "descriptions": [
                {"code": "balance_sheet", "name": "Balance Sheet"},
                {"code": "income_statement", "name": "Income Statement"},
                {"code": "statement_of_cash_flows", "name": "Statement of Cash Flows"},
                {"code": "tax_return_extract", "name": "Tax Return Extract"},
                {"code": "credit_report", "name": "Credit Report"},
            ],
        },
        {
            "code": "bid_surety_bond",
            "name": "Bid surety bond",
            "requires_cba": True,
            "descriptions": [{"code": "bid_surety_bond", "name": "Bid Surety Bond"}],
        },
        {
            "code": "covered_document_review",
            "name": "Covered document review response",
            "requires_cba": False,
            "descriptions": [
                {"code": "balance_sheet", "name": "Balance Sheet"},
                {"code": "other_requested_document", "name": "Other document requested by the CBIC"},
            ],
        },
    ],
}
OPTIONS_PATH = ("GET", "/api/v1/documents/options")
FILLED = {
    "bid_cycle": "Round 2021",
    "bidder_number": "12345",
    "document_type": "financial",
    "document_type_name": "Financial documents",
    "description": "balance_sheet",
    "description_name": "Balance Sheet",
    "cba": NOT_APPLICABLE,
    "nickname": NO_NICKNAME,
    "staged_file_id": "stg_AbCdEfGhIjKlMnOpQrSt",
    "staged_file_name": "balance.pdf (3 pages)",
    "certification_user_id": "demo.supplier",
}


def validate(domain, slots, candidates, requested):
    """Run validate_upload_form on one turn's answers; return the slots it sets."""
    events, messages = run(
        ValidateUploadForm(), form_turn(slots, candidates, requested=requested, form="upload_form"), domain
    )
    assert messages == []  # the reason is said by the question that follows, not by the validator
    return slots_of(events)


# --- validate_upload_form ----------------------------------------------------------------------------


def test_own_bidder_number_is_taken_and_the_next_question_named(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    slots = validate(domain, {}, {"bidder_number": "bidder 67890"}, "bidder_number")
    assert slots["bidder_number"] == "67890"
    assert slots["bid_cycle"] == "Round 2021"
    assert slots["requested_slot"] == "document_type"
    assert slots["form_problem"] is None
    assert api.called(*OPTIONS_PATH)[0].conversation_id == SENDER


def test_bidder_number_by_organization_name(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    assert validate(domain, {}, {"bidder_number": "acme mobility"}, "bidder_number")["bidder_number"] == "67890"


def test_someone_elses_bidder_number_is_asked_again_with_the_reason(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    slots = validate(domain, {}, {"bidder_number": "99999"}, "bidder_number")
    assert slots["bidder_number"] is None
    assert slots["form_problem"] == "bidder_not_yours"
    assert slots["form_rejected_answer"] == "99999"
    assert slots["requested_slot"] == "bidder_number"


def test_an_account_without_bidder_numbers(api, domain):
    api.on(*OPTIONS_PATH, (200, {**OPTIONS, "bidder_numbers": []}))
    assert validate(domain, {}, {"bidder_number": "12345"}, "bidder_number")["form_problem"] == "no_bidders"


def test_a_session_that_ended_asks_to_sign_in_again(api, domain):
    api.on(*OPTIONS_PATH, (401, {"detail": "This chat is not signed in.", "rule": "chat_not_signed_in"}))
    slots = validate(domain, {}, {"bidder_number": "12345"}, "bidder_number")
    assert slots["bidder_number"] is None and slots["form_problem"] == "signed_out"


def test_the_api_down_keeps_the_question(api, domain):
    api.down(*OPTIONS_PATH)
    slots = validate(domain, {}, {"bidder_number": "12345"}, "bidder_number")
    assert slots["bidder_number"] is None and slots["form_problem"] == "service_unavailable"


def test_financial_documents_need_no_cba(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    slots = validate(domain, {"bidder_number": "12345"}, {"document_type": "Financial documents"}, "document_type")
    assert slots["document_type"] == "financial"
    assert slots["document_type_name"] == "Financial documents"
    assert slots["cba"] == NOT_APPLICABLE
    assert slots["requested_slot"] == "description"


def test_a_bond_has_one_description_and_asks_for_its_cba(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    before = {"bidder_number": "12345", "cba": NOT_APPLICABLE}
    slots = validate(domain, before, {"document_type": "surety bond"}, "document_type")
    assert slots["document_type"] == "bid_surety_bond"
    assert slots["description"] == "bid_surety_bond"
    assert slots["description_name"] == "Bid Surety Bond"
    assert slots["cba"] is None
    assert slots["requested_slot"] == "cba"


def test_an_unknown_document_type(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    slots = validate(domain, {"bidder_number": "12345"}, {"document_type": "a letter"}, "document_type")
    assert slots["document_type"] is None and slots["form_problem"] == "type_unknown"


def test_changing_the_type_forgets_a_description_that_does_not_fit(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    before = {"bidder_number": "12345", "description": "income_statement", "cba": NOT_APPLICABLE}
    slots = validate(domain, before, {"document_type": "covered document review"}, "document_type")
    assert slots["document_type"] == "covered_document_review"
    assert slots["description"] is None


def test_descriptions_of_the_type_by_words(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    before = {"bidder_number": "12345", "document_type": "financial", "cba": NOT_APPLICABLE}
    assert validate(domain, before, {"description": "cash flow"}, "description")["description"] == (
        "statement_of_cash_flows"
    )
    assert validate(domain, before, {"description": "Credit Report"}, "description")["description"] == "credit_report"
    assert validate(domain, before, {"description": "P&L"}, "description")["description"] == "income_statement"


def test_a_description_of_another_type_is_refused(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    before = {"bidder_number": "12345", "document_type": "financial", "cba": NOT_APPLICABLE}
    slots = validate(domain, before, {"description": "something else entirely"}, "description")
    assert slots["form_problem"] == "description_unknown"


def test_one_cba_found_is_taken_by_name(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    api.on("GET", "/api/v1/cbas", (200, {"total": 1, "items": [{"code": "001", "name": "Akron, OH"}]}))
    before = {"bidder_number": "12345", "document_type": "bid_surety_bond", "description": "bid_surety_bond"}
    slots = validate(domain, before, {"cba": "akron"}, "cba")
    assert slots["cba"] == "Akron, OH" and slots["cba_name"] == "Akron, OH"
    assert api.called("GET", "/api/v1/cbas")[0].kwargs["params"] == {"q": "akron", "limit": 8}


def test_several_cbas_are_offered_to_choose_from(api, domain):
    items = [{"code": "029", "name": "Columbus, OH"}, {"code": "028", "name": "Columbus, GA-AL"}]
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    api.on("GET", "/api/v1/cbas", (200, {"total": 2, "items": items}))
    before = {"bidder_number": "12345", "document_type": "bid_surety_bond", "description": "bid_surety_bond"}
    slots = validate(domain, before, {"cba": "columbus"}, "cba")
    assert slots["cba"] is None
    assert slots["form_problem"] == "cba_choose"
    assert slots["cba_match_count"] == "2"
    assert slots["cba_choices"] == items
    # The button then names one of them: taken without another search.
    chosen = validate(domain, {**before, "cba_choices": items}, {"cba": "Columbus, OH"}, "cba")
    assert chosen["cba"] == "Columbus, OH"
    assert len(api.called("GET", "/api/v1/cbas")) == 1


def test_no_cba_found(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    api.on("GET", "/api/v1/cbas", (200, {"total": 0, "items": []}))
    before = {"bidder_number": "12345", "document_type": "bid_surety_bond", "description": "bid_surety_bond"}
    assert validate(domain, before, {"cba": "atlantis"}, "cba")["form_problem"] == "cba_no_match"


def test_a_cba_for_financial_documents_is_not_needed(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    before = {"bidder_number": "12345", "document_type": "financial", "description": "balance_sheet"}
    assert validate(domain, before, {"cba": "Akron"}, "cba")["cba"] == NOT_APPLICABLE


def test_nickname_skipped_or_too_long(api, domain):
    before = {k: FILLED[k] for k in ("bidder_number", "document_type", "description", "cba")}
    assert validate(domain, before, {"nickname": NO_NICKNAME}, "nickname")["nickname"] == NO_NICKNAME
    assert validate(domain, before, {"nickname": "no nickname"}, "nickname")["nickname"] == NO_NICKNAME
    assert validate(domain, before, {"nickname": "Acme Q3 set"}, "nickname")["nickname"] == "Acme Q3 set"
    assert validate(domain, before, {"nickname": "call it Acme Columbus bond"}, "nickname")["nickname"] == (
        "Acme Columbus bond"
    )
    slots = validate(domain, before, {"nickname": "x" * 81}, "nickname")
    assert slots["nickname"] is None and slots["form_problem"] == "nickname_too_long"


def test_a_staged_file_is_checked_with_the_api(api, domain):
    path = "/api/v1/documents/staged/stg_AbCdEfGhIjKlMnOpQrSt"
    api.on("GET", path, (200, {"staged_file_id": "stg_AbCdEfGhIjKlMnOpQrSt", "file_name": "bal.pdf", "pages": 3}))
    before = {k: FILLED[k] for k in ("bidder_number", "document_type", "description", "cba", "nickname")}
    slots = validate(domain, before, {"staged_file_id": "stg_AbCdEfGhIjKlMnOpQrSt"}, "staged_file_id")
    assert slots["staged_file_id"] == "stg_AbCdEfGhIjKlMnOpQrSt"
    assert slots["staged_file_name"] == "bal.pdf (3 pages)"
    assert slots["requested_slot"] == "certification_user_id"


def test_typed_words_instead_of_a_file(api, domain):
    before = {k: FILLED[k] for k in ("bidder_number", "document_type", "description", "cba", "nickname")}
    slots = validate(domain, before, {"staged_file_id": "I sent it already"}, "staged_file_id")
    assert slots["form_problem"] == "file_missing"
    assert api.calls == []


def test_an_expired_staged_file(api, domain):
    api.on("GET", "/api/v1/documents/staged/stg_OldOldOldOldOldOld", (404, {"rule": "staged_file_not_found"}))
    before = {k: FILLED[k] for k in ("bidder_number", "document_type", "description", "cba", "nickname")}
    slots = validate(domain, before, {"staged_file_id": "stg_OldOldOldOldOldOld"}, "staged_file_id")
    assert slots["form_problem"] == "file_not_found"


def test_the_certification_takes_an_idm_user_id(api, domain):
    before = {k: v for k, v in FILLED.items() if k != "certification_user_id"}
    said = "my user ID is demo.supplier"
    assert validate(domain, before, {"certification_user_id": said}, "certification_user_id") == {
        "certification_user_id": "demo.supplier",
        "requested_slot": None,
        "form_problem": None,
    }
    slots = validate(domain, before, {"certification_user_id": "I don't know it"}, "certification_user_id")
    assert slots["form_problem"] == "certification_format"


def test_a_problem_of_a_later_question_is_not_said_with_an_earlier_one(api, domain):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    # "bidder 99999, a letter": both wrong; the bidder question comes first and must not speak of the type.
    slots = validate(domain, {}, {"bidder_number": "99999", "document_type": "a letter"}, "bidder_number")
    assert slots["requested_slot"] == "bidder_number"
    assert slots["form_problem"] is None


# --- the questions -------------------------------------------------------------------------------


def test_the_bidder_question_offers_the_users_bidder_numbers(api):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    events, messages = run(ActionAskBidderNumber(), tracker(slots={"requested_slot": "bidder_number"}))
    assert messages == [
        {
            "text": None,
            "buttons": [
                {"title": "12345 (Acme Home Medical LLC)", "payload": '/inform{"bidder_number": "12345"}'},
                {"title": "67890 (Acme Mobility Supplies Inc)", "payload": '/inform{"bidder_number": "67890"}'},
            ],
            "elements": [],
            "custom": {},
            "template": "utter_ask_current_question",
            "response": "utter_ask_current_question",
            "image": None,
            "attachment": None,
            "form_choices": "12345 (Acme Home Medical LLC) or 67890 (Acme Mobility Supplies Inc)",
        }
    ]
    assert slots_of(events) == {"form_choices": "12345 (Acme Home Medical LLC) or 67890 (Acme Mobility Supplies Inc)"}


def test_the_description_question_offers_the_types_descriptions(api):
    api.on(*OPTIONS_PATH, (200, OPTIONS))
    _, messages = run(ActionAskDescription(), tracker(slots={"document_type": "covered_document_review"}))
    assert [b["title"] for b in messages[0]["buttons"]] == ["Balance Sheet", "Other document requested by the CBIC"]
    assert messages[0]["buttons"][1]["payload"] == '/inform{"document_description": "other_requested_document"}'


def test_the_cba_question_offers_the_matches_only_after_a_search():
    choices = [{"code": "029", "name": "Columbus, OH"}, {"code": "028", "name": "Columbus, GA-AL"}]
    _, first = run(ActionAskCba(), tracker(slots={"form_problem": None}))
    assert first[0]["buttons"] == []
    _, messages = run(ActionAskCba(), tracker(slots={"form_problem": "cba_choose", "cba_choices": choices}))
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/inform{"cba": "Columbus, OH"}',
        '/inform{"cba": "Columbus, GA-AL"}',
    ]


def test_a_question_already_repeated_by_the_help_rule_is_not_asked_twice():
    repeated = tracker(
        intent="ask_field_help",
        events=[],
        slots={"requested_slot": "nickname"},
    )
    repeated.events.append({"event": "bot", "text": "…", "metadata": {"utter_action": "utter_field_help"}})
    repeated.events.append({"event": "bot", "text": "…", "metadata": {"utter_action": "utter_ask_current_question"}})
    assert run(ActionAskNickname(), repeated) == ([], [])


# --- the upload ----------------------------------------------------------------------------------


UPLOAD = ("POST", "/api/v1/documents")
RECEIPT = {
    "confirmation_number": "CBP-2026-000123",
    "message": "Your upload succeeded: confirmation number CBP-2026-000123. We received Balance Sheet "
    "(Financial documents) for bidder 12345, Round 2021, file balance.pdf (3 pages), on "
    "November 23, 2026 at 11:31 AM EST.",
    "notice": "The upload history confirms that a document was received; it does not confirm that the "
    "document is accurate or complete.",
}


def test_a_confirmed_upload_posts_the_staged_file_once_and_reports_the_receipt(api):
    api.on(*UPLOAD, (201, RECEIPT))
    events, messages = run(ActionUploadDocument(), tracker_from_json("upload_confirmed"))
    assert messages == []
    call = api.called(*UPLOAD)[0]
    assert call.conversation_id == "conv-upload-7"
    assert call.kwargs["json"] == {
        "bid_cycle": "Round 2021",
        "bidder_number": "12345",
        "document_type": "bid_surety_bond",
        "description": "bid_surety_bond",
        "cba": "Akron, OH",
        "certification_user_id": "demo.supplier",
        "staged_file_id": "stg_AbCdEfGhIjKlMnOpQrSt",
    }
    assert call.headers == {"Idempotency-Key": idempotency_key("conv-upload-7", 3)}
    slots = slots_of(events)
    assert slots["upload_outcome"] == "uploaded"
    assert slots["upload_result_message"] == RECEIPT["message"]
    assert slots["upload_notice"] == RECEIPT["notice"]
    assert slots["upload_confirmation_number"] == "CBP-2026-000123"
    assert slots["upload_attempt"] == 3
    assert slots["staged_file_id"] is None and slots["bidder_number"] is None and slots["task"] is None


def test_the_key_is_the_same_for_a_retry_and_new_for_the_next_attempt():
    assert idempotency_key("c1", 1) == idempotency_key("c1", 1)
    assert idempotency_key("c1", 1) != idempotency_key("c1", 2)
    assert idempotency_key("c1", 1) != idempotency_key("c2", 1)
    assert len(idempotency_key("c1", 1)) <= 128


def test_a_refused_answer_is_the_only_one_asked_again(api):
    refusal = {
        "detail": "The certification must be signed with your own IDM user ID (demo.supplier).",
        "rule": "certification_mismatch",
        "field": "certification_user_id",
    }
    api.on(*UPLOAD, (422, refusal))
    events, _ = run(ActionUploadDocument(), tracker(slots={**FILLED, "certification_user_id": "someone.else"}))
    slots = slots_of(events)
    assert slots["upload_outcome"] == "refused"
    assert slots["upload_result_message"] == refusal["detail"]
    assert slots["certification_user_id"] is None
    assert "bidder_number" not in slots and "staged_file_id" not in slots
    assert slots["upload_failures"] == 1 and slots["upload_attempt"] == 1


def test_a_second_refusal_offers_a_person(api):
    api.on(
        *UPLOAD,
        (403, {"detail": "You cannot upload for 12345.", "rule": "bidder_not_allowed", "field": "bidder_number"}),
    )
    events, _ = run(ActionUploadDocument(), tracker(slots={**FILLED, "upload_failures": 1, "upload_attempt": 1}))
    slots = slots_of(events)
    assert slots["upload_outcome"] == "refused_again"
    assert slots["bidder_number"] is None
    assert slots["upload_attempt"] == 2


def test_a_refused_file_asks_for_the_file_again(api):
    api.on(
        *UPLOAD,
        (404, {"detail": "The staged file was not found.", "rule": "staged_file_not_found", "field": "staged_file_id"}),
    )
    slots = slots_of(run(ActionUploadDocument(), tracker(slots=FILLED))[0])
    assert slots["staged_file_id"] is None and slots["staged_file_name"] is None


def test_a_refusal_no_answer_can_fix_ends_the_upload(api):
    api.on(
        *UPLOAD,
        (
            409,
            {
                "detail": "Round 2021 is closed and accepts no more uploads.",
                "rule": "bid_cycle_closed",
                "field": "bid_cycle",
            },
        ),
    )
    slots = slots_of(run(ActionUploadDocument(), tracker(slots=FILLED))[0])
    assert slots["upload_outcome"] == "refused_final"
    assert slots["upload_result_message"] == "Round 2021 is closed and accepts no more uploads."
    assert slots["staged_file_id"] is None


def test_an_ended_session_asks_to_sign_in_and_keeps_the_answers(api):
    api.on(*UPLOAD, (401, {"detail": "This chat is not signed in.", "rule": "chat_not_signed_in"}))
    assert run(ActionUploadDocument(), tracker(slots=FILLED))[0] == [
        {"event": "slot", "timestamp": None, "name": "upload_outcome", "value": "not_signed_in"}
    ]


def test_no_answer_keeps_the_attempt_so_a_retry_sends_the_same_key(api):
    api.down(*UPLOAD)
    events, _ = run(ActionUploadDocument(), tracker(slots={**FILLED, "upload_attempt": 4}))
    assert slots_of(events) == {"upload_outcome": "unavailable"}
    assert api.called(*UPLOAD)[0].headers["Idempotency-Key"] == idempotency_key(SENDER, 5)


# --- changing one answer -------------------------------------------------------------------------


def test_changing_the_document_type_forgets_what_depends_on_it(api):
    events, _ = run(
        ActionChangeUploadAnswer(), tracker(slots={**FILLED, "upload_field": "document type"}, intent="change_answer")
    )
    slots = slots_of(events)
    assert slots["document_type"] is None and slots["description"] is None and slots["cba"] is None
    assert "bidder_number" not in slots and "staged_file_id" not in slots


def test_changing_the_file_discards_the_staged_one(api):
    path = "/api/v1/documents/staged/stg_AbCdEfGhIjKlMnOpQrSt"
    api.on("DELETE", path, (204, None))
    slots = slots_of(run(ActionChangeUploadAnswer(), tracker(slots={**FILLED, "upload_field": "pdf"}))[0])
    assert slots["staged_file_id"] is None
    assert api.called("DELETE", path)


def test_the_cba_of_a_financial_document_cannot_be_changed():
    slots = slots_of(run(ActionChangeUploadAnswer(), tracker(slots={**FILLED, "upload_field": "CBA"}))[0])
    assert "cba" not in slots


def test_upload_field_words():
    assert upload_field("bidder_number") == "bidder_number"
    assert upload_field("the wrong PDF") == "staged_file_id"
    assert upload_field("signature") == "certification_user_id"
    assert upload_field("user id") == "certification_user_id"
    assert upload_field("document type") == "document_type"
    assert upload_field("the weather") is None


def test_no_answer_adds_nothing_so_that_the_form_can_be_rejected(api, domain):
    # "what's a CBA?" fills no slot: the validator must return no slot at all, or the form would not be
    # rejected and the FAQ rule would never answer.
    events, _ = run(ValidateUploadForm(), form_turn({}, {}, requested="cba", form="upload_form"), domain)
    assert [e for e in events if e["name"] != "requested_slot"] == []
