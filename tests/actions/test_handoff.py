"""Handing the chat to a person, and what happens when the hand-over service is missing."""

from __future__ import annotations

from actions.handoff import ActionHandoff
from tests.actions.helpers import run, slots_of, tracker

HANDOFF = ("POST", "/api/v1/chat/conversations/conv-test-1/handoff")


def after(response: str, **kwargs):
    """A tracker where the bot has just said `response` (the reason of the hand-over)."""
    tr = tracker(**kwargs)
    tr.events.append({"event": "bot", "text": "…", "metadata": {"utter_action": response}})
    return tr


def test_a_requested_person_is_queued(api):
    api.on(*HANDOFF, (200, {"state": "queued", "position": 2, "estimated_wait_minutes": 6, "phone": "877-577-5331"}))
    events, messages = run(ActionHandoff(), after("utter_handoff_requested", intent="request_human"))
    assert messages == []
    assert slots_of(events) == {"handoff_state": "queued", "handoff_position": "2", "handoff_wait_minutes": "6"}
    call = api.called(*HANDOFF)[0]
    assert call.kwargs["json"] == {"reason": "asked_for_person", "topic": ""}  # "": the pre-chat topic
    assert call.conversation_id == "conv-test-1"


def test_the_reason_is_the_one_the_bot_gave(api):
    api.on(*HANDOFF, (200, {"state": "closed_hours", "opens_at_text": "Monday at 9 a.m. Eastern Time"}))
    cases = {
        "utter_handoff_not_understood": "not_understood",
        "utter_out_of_scope": "not_allowed_topic",
        "utter_account_locked": "account_locked",
    }
    for response, reason in cases.items():
        events, _ = run(ActionHandoff(), after(response, intent="nlu_fallback", slots={"task": "mfa"}))
        assert api.calls[-1].kwargs["json"] == {"reason": reason, "topic": "sign_in_mfa"}
        assert slots_of(events)["handoff_state"] == "closed_hours"


def test_a_person_after_two_refused_uploads_is_a_failed_task(api):
    api.on(*HANDOFF, (200, {"state": "queued", "position": 1}))
    slots = {"upload_outcome": "refused_again", "task": "upload"}
    run(ActionHandoff(), after("utter_handoff_requested", intent="request_human", slots=slots))
    assert api.calls[-1].kwargs["json"] == {"reason": "task_failed", "topic": "uploading_documents"}


def test_without_a_hand_over_the_phone_number_is_given(api):
    # Not a Chat Now conversation (404), or the API down: the reply gives the phone number and hours.
    api.on(*HANDOFF, (404, {"detail": "No chat has this id.", "rule": "conversation_not_found"}))
    slots = slots_of(run(ActionHandoff(), after("utter_handoff_requested", intent="request_human"))[0])
    assert slots == {"handoff_state": "unavailable"}
    api.down(*HANDOFF)
    assert slots_of(run(ActionHandoff(), after("utter_handoff_requested", intent="request_human"))[0]) == {
        "handoff_state": "unavailable"
    }


def test_an_unknown_state_is_treated_as_queued(api):
    api.on(*HANDOFF, (200, {"state": "something_new"}))
    assert slots_of(run(ActionHandoff(), after("utter_handoff_requested", intent="request_human"))[0]) == {
        "handoff_state": "queued",
        "handoff_position": "1",
        "handoff_wait_minutes": "a few",
    }


def test_a_chat_already_with_an_agent(api):
    api.on(*HANDOFF, (409, {"detail": "This chat is already with an agent.", "rule": "already_with_agent"}))
    assert slots_of(run(ActionHandoff(), after("utter_handoff_requested", intent="request_human"))[0]) == {
        "handoff_state": "with_agent"
    }


def test_a_hand_over_during_a_form_ends_the_form(api):
    api.on(*HANDOFF, (200, {"state": "queued", "position": 3}))
    events, _ = run(ActionHandoff(), after("utter_out_of_scope", intent="out_of_scope", active_loop="upload_form"))
    assert {"event": "active_loop", "timestamp": None, "name": None} in events
