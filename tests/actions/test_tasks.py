"""Starting a task (who is signed in) and leaving it (cancel)."""

from __future__ import annotations

from actions.tasks import ActionCancelTask, ActionCheckSignIn
from tests.actions.helpers import SENDER, run, slots_of, tracker

ME = ("GET", "/api/v1/me")
PROFILE = {"user_id": "demo.supplier", "bidder_numbers": ["12345", "67890"], "mfa": {"status": "enabled"}}


def test_a_bound_conversation_is_signed_in(api):
    api.on(*ME, (200, PROFILE))
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="signed_in", slots={"task": "upload"}))[0])
    assert slots["sign_in_status"] == "signed_in"
    assert api.called(*ME)[0].conversation_id == SENDER


def test_an_anonymous_conversation_is_asked_to_sign_in(api):
    api.on(*ME, (401, {"detail": "This chat is not signed in.", "rule": "chat_not_signed_in"}))
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="upload_document", slots={"task": "upload"}))[0])
    assert slots["sign_in_status"] == "not_signed_in"


def test_the_api_down_is_said_as_such(api):
    api.down(*ME)
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="check_upload_history", slots={"task": "history"}))[0])
    assert slots["sign_in_status"] == "unavailable"


def test_a_new_upload_keeps_only_what_its_first_message_said(api):
    api.on(*ME, (200, PROFILE))
    earlier = {"task": "upload", "bidder_number": "67890", "document_type": "financial", "nickname": "old one"}
    said = [{"entity": "bidder_number", "value": "12345"}]
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="upload_document", entities=said, slots=earlier))[0])
    assert "bidder_number" not in slots  # given now: kept for the form to check
    assert slots["document_type"] is None and slots["nickname"] is None
    assert slots["upload_failures"] == 0 and slots["form_problem"] is None


def test_signing_in_resumes_the_task_with_its_answers(api):
    api.on(*ME, (200, PROFILE))
    earlier = {"task": "upload", "bidder_number": "67890", "document_type": "financial"}
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="signed_in", slots=earlier))[0])
    assert "bidder_number" not in slots and "document_type" not in slots


def test_asking_to_upload_during_the_upload_keeps_the_answers(api):
    api.on(*ME, (200, PROFILE))
    earlier = {"task": "upload", "bidder_number": "67890"}
    events, _ = run(ActionCheckSignIn(), tracker(intent="upload_document", slots=earlier, active_loop="upload_form"))
    assert "bidder_number" not in slots_of(events)


def test_a_new_mfa_set_up_forgets_the_last_device(api):
    api.on(*ME, (200, PROFILE))
    earlier = {"task": "mfa", "mfa_device_type": "email", "mfa_destination": "account", "mfa_outcome": "verified"}
    said = [{"entity": "mfa_device", "value": "Text message"}]
    slots = slots_of(run(ActionCheckSignIn(), tracker(intent="setup_mfa", entities=said, slots=earlier))[0])
    assert "mfa_device_type" not in slots
    assert slots["mfa_destination"] is None and slots["mfa_outcome"] is None


def test_cancel_ends_the_form_and_discards_the_staged_file(api):
    path = "/api/v1/documents/staged/stg_AbCdEfGhIjKlMnOpQrSt"
    api.on("DELETE", path, (204, None))
    before = {"task": "upload", "bidder_number": "12345", "staged_file_id": "stg_AbCdEfGhIjKlMnOpQrSt"}
    events, messages = run(ActionCancelTask(), tracker(intent="cancel", slots=before, active_loop="upload_form"))
    assert messages == []
    assert events[:2] == [
        {"event": "active_loop", "timestamp": None, "name": None},
        {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None},
    ]
    slots = slots_of(events)
    assert slots["task"] is None and slots["bidder_number"] is None and slots["staged_file_id"] is None
    assert api.called("DELETE", path)[0].conversation_id == SENDER


def test_cancel_with_nothing_going_on(api):
    events, _ = run(ActionCancelTask(), tracker(intent="cancel"))
    assert not any(e["event"] == "active_loop" for e in events)
    assert api.calls == []
