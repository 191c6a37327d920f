"""Setting up an MFA device: choosing it, starting the set-up, and reading how the code went."""

from __future__ import annotations

from actions.common import ACCOUNT_DESTINATION, APP_DEVICE
from actions.mfa import ActionCheckMfaSetup, ActionStartMfaEnrollment, ValidateMfaForm
from tests.actions.helpers import SENDER, form_turn, run, slots_of, tracker

ENROLL = ("POST", "/api/v1/auth/mfa/enrollments")
STATE = ("GET", "/api/v1/me/mfa-setup")


def validate(domain, slots, candidates, requested):
    events, messages = run(
        ValidateMfaForm(), form_turn(slots, candidates, requested=requested, form="mfa_form"), domain
    )
    assert messages == []
    return slots_of(events)


def test_an_app_needs_no_phone_or_email(domain):
    slots = validate(domain, {}, {"mfa_device_type": "Authenticator app"}, "mfa_device_type")
    assert slots["mfa_device_type"] == "google_authenticator"
    assert slots["mfa_device_name"] == "Google Authenticator"
    assert slots["mfa_destination"] == APP_DEVICE
    assert slots["requested_slot"] is None  # done: the set-up starts


def test_a_text_message_device_asks_where_the_codes_go(domain):
    slots = validate(domain, {}, {"mfa_device_type": "by sms please"}, "mfa_device_type")
    assert slots["mfa_device_type"] == "text_message"
    assert slots["mfa_destination"] is None
    assert slots["requested_slot"] == "mfa_destination"


def test_okta_voice_email_and_an_unknown_device(domain):
    assert (
        validate(domain, {}, {"mfa_device_type": "Okta Verify"}, "mfa_device_type")["mfa_device_type"] == "okta_verify"
    )
    assert validate(domain, {}, {"mfa_device_type": "Voice call"}, "mfa_device_type")["mfa_device_type"] == "voice_call"
    assert validate(domain, {}, {"mfa_device_type": "e-mail"}, "mfa_device_type")["mfa_device_type"] == "email"
    slots = validate(domain, {}, {"mfa_device_type": "a yubikey"}, "mfa_device_type")
    assert slots["mfa_device_type"] is None and slots["form_problem"] == "device_unknown"


def test_the_number_on_the_account_or_another_one(domain):
    text = {"mfa_device_type": "text_message"}
    assert validate(domain, text, {"mfa_destination": ACCOUNT_DESTINATION}, "mfa_destination")["mfa_destination"] == (
        ACCOUNT_DESTINATION
    )
    other = validate(domain, text, {"mfa_destination": "other"}, "mfa_destination")
    assert other["mfa_destination"] is None and other["form_problem"] == "phone_wanted"
    typed = validate(domain, text, {"mfa_destination": "202.555.0143"}, "mfa_destination")
    assert typed["mfa_destination"] == "(202) 555-0143"
    wrong = validate(domain, text, {"mfa_destination": "555-0143"}, "mfa_destination")
    assert wrong["form_problem"] == "phone_invalid" and wrong["form_rejected_answer"] == "555-0143"


def test_another_email_address(domain):
    email = {"mfa_device_type": "email"}
    assert validate(domain, email, {"mfa_destination": "other"}, "mfa_destination")["form_problem"] == "email_wanted"
    typed = validate(domain, email, {"mfa_destination": "send to Jane@Acme-Medical.com"}, "mfa_destination")
    assert typed["mfa_destination"] == "jane@acme-medical.com"
    assert validate(domain, email, {"mfa_destination": "jane at acme"}, "mfa_destination")["form_problem"] == (
        "email_invalid"
    )


def test_an_app_set_up_gets_the_qr_code_from_the_widget_not_from_the_bot(api):
    api.on(
        *ENROLL,
        (201, {"enrollment_id": 41, "status": "pending", "kind": "google_authenticator", "qr_code_available": True}),
    )
    slots = slots_of(
        run(
            ActionStartMfaEnrollment(),
            tracker(slots={"mfa_device_type": "google_authenticator", "mfa_destination": APP_DEVICE}),
        )[0]
    )
    assert slots == {"mfa_outcome": "app_started", "mfa_enrollment_id": "41"}
    call = api.called(*ENROLL)[0]
    assert call.kwargs["json"] == {"kind": "google_authenticator"}
    assert call.conversation_id == SENDER


def test_a_text_device_on_another_number_gets_a_code(api):
    api.on(
        *ENROLL, (201, {"enrollment_id": 42, "status": "pending", "kind": "text_message", "sent_to": "(•••) •••-0143"})
    )
    before = {"mfa_device_type": "text_message", "mfa_destination": "(202) 555-0143"}
    slots = slots_of(run(ActionStartMfaEnrollment(), tracker(slots=before))[0])
    assert slots == {"mfa_outcome": "code_sent", "mfa_enrollment_id": "42", "mfa_sent_to": "(•••) •••-0143"}
    assert api.called(*ENROLL)[0].kwargs["json"] == {"kind": "text_message", "phone": "(202) 555-0143"}


def test_the_email_on_the_account_is_the_apis_default(api):
    api.on(*ENROLL, (201, {"enrollment_id": 43, "status": "pending", "kind": "email", "sent_to": "d•••@example.com"}))
    run(ActionStartMfaEnrollment(), tracker(slots={"mfa_device_type": "email", "mfa_destination": ACCOUNT_DESTINATION}))
    assert api.called(*ENROLL)[0].kwargs["json"] == {"kind": "email"}


def test_refusals_of_the_set_up(api):
    before = tracker(slots={"mfa_device_type": "email", "mfa_destination": ACCOUNT_DESTINATION})
    cases = {
        (403, "fresh_verification_required"): "sign_in_again",
        (423, "account_locked"): "locked",
        (401, "chat_not_signed_in"): "not_signed_in",
        (409, "device_exists"): "refused",
    }
    for (status, rule), outcome in cases.items():
        api.on(*ENROLL, (status, {"detail": f"The {rule} sentence.", "rule": rule}))
        slots = slots_of(run(ActionStartMfaEnrollment(), before)[0])
        assert slots["mfa_outcome"] == outcome, rule
    assert slots["api_message"] == "The device_exists sentence."
    api.down(*ENROLL)
    assert slots_of(run(ActionStartMfaEnrollment(), before)[0]) == {"mfa_outcome": "unavailable"}


def state(status, **enrollment):
    return (
        200,
        {
            "status": status,
            "enrollment": {"enrollment_id": 42, **enrollment},
            "active_devices": 1,
            "message": f"{status} message",
        },
    )


def test_a_verified_device_recommends_a_second_one(api):
    api.on(*STATE, state("verified"))
    slots = slots_of(
        run(
            ActionCheckMfaSetup(),
            tracker(intent="secure_input_done", entities=[{"entity": "outcome", "value": "verified"}]),
        )[0]
    )
    assert slots["mfa_outcome"] == "verified"
    assert slots["api_message"] == "verified message"
    assert slots["mfa_device_type"] is None and slots["task"] is None


def test_the_widget_cannot_claim_success_the_api_decides(api):
    api.on(*STATE, state("pending", last_error="code_incorrect", failed_attempts=1))
    claimed = tracker(intent="secure_input_done", entities=[{"entity": "outcome", "value": "verified"}])
    slots = slots_of(run(ActionCheckMfaSetup(), claimed)[0])
    assert slots == {"mfa_outcome": "wrong_code", "mfa_enrollment_id": "42"}


def test_failed_expired_and_locked_set_ups(api):
    for status, outcome in [
        ("failed", "failed"),
        ("expired", "expired"),
        ("cancelled", "expired"),
        ("locked", "locked"),
    ]:
        api.on(*STATE, state(status))
        assert slots_of(run(ActionCheckMfaSetup(), tracker(intent="secure_input_done"))[0])["mfa_outcome"] == outcome
    api.on(*STATE, (401, {"rule": "chat_not_signed_in"}))
    assert slots_of(run(ActionCheckMfaSetup(), tracker(intent="secure_input_done"))[0]) == {
        "mfa_outcome": "not_signed_in"
    }
    api.down(*STATE)
    assert slots_of(run(ActionCheckMfaSetup(), tracker(intent="secure_input_done"))[0]) == {
        "mfa_outcome": "unavailable"
    }
