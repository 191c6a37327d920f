"""Every field of an upload is checked against the data and the signed-in user."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from tests.api.documents.conftest import UPLOADS, history_total, upload, upload_rows
from tests.api.documents.pdfs import pdf


def assert_refused(response, status: int, rule: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["rule"] == rule
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]


def test_a_valid_upload_is_confirmed_with_a_number_the_details_and_the_eastern_time(client, supplier, db):
    before = dt.datetime.now(ZoneInfo("America/New_York"))
    response = upload(client, supplier, pdf(pages=3), name="Balance sheet 2019.pdf", nickname="FY2019 balance")

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert re.fullmatch(r"CBP-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt["confirmation_number"])
    assert receipt["bid_cycle"] == "Round 2021"
    assert receipt["bidder_number"] == supplier.bidder_numbers[0]
    assert receipt["document_type_name"] == "Financial documents"
    assert receipt["description_name"] == "Balance Sheet"
    assert receipt["cba"] is None
    assert receipt["file_name"] == "Balance sheet 2019.pdf"
    assert receipt["nickname"] == "FY2019 balance"
    assert receipt["pages"] == 3
    uploaded_at = dt.datetime.fromisoformat(receipt["uploaded_at"])
    assert uploaded_at.utcoffset() == before.utcoffset()  # Eastern Time, EST or EDT as it is today
    assert abs((uploaded_at - before).total_seconds()) < 60
    assert receipt["uploaded_at_text"].endswith(("EST", "EDT"))
    assert receipt["confirmation_number"] in receipt["message"]
    assert "succeeded" in receipt["message"]
    assert "does not confirm that the document is accurate or complete" in receipt["notice"]
    (row,) = upload_rows(db, supplier)
    assert row.confirmation_number == receipt["confirmation_number"]
    assert row.certification_user_id == supplier.user_id


def test_a_bid_surety_bond_names_its_cba(client, supplier):
    response = upload(client, supplier, document_type="Bid surety bond", description="Bid Surety Bond", cba="Akron, OH")

    assert response.status_code == 201, response.text
    assert response.json()["cba_name"] == "Akron, OH"
    assert response.json()["cba"] == "001"


def test_a_bidder_number_of_another_user_is_refused_without_saying_whose_it_is(client, supplier, sign_in):
    response = upload(client, supplier, bidder_number="24680")  # demo.supplier2's

    assert_refused(response, 403, "bidder_not_yours", "24680", "not one you may act for", supplier.bidder_numbers[0])
    assert "Bayside" not in response.text
    assert history_total(client, supplier) == 0


def test_an_unknown_bidder_number_is_refused_the_same_way(client, supplier):
    response = upload(client, supplier, bidder_number="99999999")

    assert_refused(response, 403, "bidder_not_yours", "99999999")


def test_an_unknown_document_type_is_refused_with_the_valid_ones(client, supplier):
    response = upload(client, supplier, document_type="tax documents")

    assert_refused(response, 422, "document_type_unknown", "not a document type", "Financial documents")


def test_a_description_of_another_document_type_is_refused(client, supplier):
    response = upload(client, supplier, document_type="financial", description="bid_surety_bond")

    assert_refused(
        response, 422, "description_not_for_type", "not a description of Financial documents", "Balance Sheet"
    )


@pytest.mark.parametrize(
    "description",
    ["Balance Sheet", "Income Statement", "Statement of Cash Flows", "Tax Return Extract", "Credit Report"],
)
def test_every_financial_description_is_accepted(client, supplier, description):
    response = upload(client, supplier, description=description)

    assert response.status_code == 201, response.text
    assert response.json()["description_name"] == description


def test_a_bid_surety_bond_without_a_cba_is_refused(client, supplier):
    response = upload(client, supplier, document_type="bid_surety_bond", description="bid_surety_bond")

    assert_refused(response, 422, "cba_required", "competitive bidding area")


def test_a_cba_for_anything_but_a_bond_is_refused(client, supplier):
    response = upload(client, supplier, cba="Akron, OH")

    assert_refused(response, 422, "cba_not_allowed", "only for a bid surety bond")


def test_a_cba_that_is_not_in_the_bid_cycle_is_refused(client, supplier):
    response = upload(client, supplier, document_type="bid_surety_bond", description="bid_surety_bond", cba="Paris, TX")

    assert_refused(response, 422, "cba_unknown", "130 CBAs of Round 2021")


def test_the_nickname_is_optional(client, supplier):
    response = upload(client, supplier)

    assert response.status_code == 201
    assert response.json()["nickname"] is None


def test_a_nickname_over_80_characters_is_refused(client, supplier):
    response = upload(client, supplier, nickname="n" * 81)

    assert_refused(response, 422, "nickname_too_long", "at most 80 characters")


@pytest.mark.parametrize("nickname", ["<script>", "a/b", "tab\there", "semi;colon"])
def test_a_nickname_with_other_characters_is_refused(client, supplier, nickname):
    response = upload(client, supplier, nickname=nickname)

    assert_refused(response, 422, "nickname_invalid_characters", "only letters, digits")


def test_the_signature_must_be_the_signed_in_users_own_idm_user_id(client, supplier):
    response = upload(client, supplier, certification_user_id="demo.supplier")  # someone else's, who exists

    assert_refused(response, 422, "certification_mismatch", "your own IDM user ID")
    assert history_total(client, supplier) == 0


def test_the_signature_is_compared_with_the_session_not_with_any_field_the_client_sends(client, supplier):
    # A client that also claims to be someone else gains nothing: there is no such field.
    response = upload(client, supplier, certification_user_id="demo.supplier", user_id="demo.supplier")

    assert_refused(response, 422, "unknown_field", "'user_id' is not an upload field")
    assert history_total(client, supplier) == 0


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ("bidder_number", "bidder number is required"),
        ("document_type", "document type is required"),
        ("description", "description is required"),
        ("certification_user_id", "certification signature"),
    ],
)
def test_a_missing_field_is_named(client, supplier, missing, words):
    response = upload(client, supplier, **{missing: None})

    assert_refused(response, 422, "field_required", words)
    assert response.json()["field"] == missing


def test_an_unknown_bid_cycle_is_refused(client, supplier):
    response = upload(client, supplier, bid_cycle="Round 2099")

    assert_refused(response, 422, "bid_cycle_unknown", "Round 2099", "Round 2021")


@pytest.fixture
def closed_cycle(db):
    from api.documents.models import BidCycle

    cycle = BidCycle(name=f"Round 1 Rebid {uuid.uuid4().hex[:6]}", is_open=False, is_default=False)
    db.add(cycle)
    db.commit()
    yield cycle.name
    db.execute(delete(BidCycle).where(BidCycle.id == cycle.id))
    db.commit()


def test_a_closed_bid_cycle_refuses_uploads(client, supplier, closed_cycle):
    response = upload(client, supplier, bid_cycle=closed_cycle)

    assert_refused(response, 409, "bid_cycle_closed", closed_cycle, "closed", "Round 2021")
    assert history_total(client, supplier) == 0


def test_the_bid_cycle_can_be_named_explicitly(client, supplier):
    response = upload(client, supplier, bid_cycle="round 2021")

    assert response.status_code == 201
    assert response.json()["bid_cycle"] == "Round 2021"


def test_an_upload_needs_a_signed_in_user(client, supplier):
    response = client.post(UPLOADS, data=supplier.fields(), files={"file": ("a.pdf", pdf(), "application/pdf")})

    assert response.status_code == 401
    assert response.json()["rule"] == "not_signed_in"


def test_the_action_server_uploads_for_the_user_bound_to_the_conversation(client, supplier, db, sign_in):
    from sqlalchemy import select

    from api.auth.models import User, UserSession
    from api.auth.sessions import bind_conversation, hash_token

    token = supplier.headers["Authorization"].split()[1]
    session = db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    conversation = uuid.uuid4().hex
    bind_conversation(db=db, conversation_id=conversation, session=session)
    staged = client.post(
        f"{UPLOADS}/staged", headers=supplier.headers, files={"file": ("bond.pdf", pdf(), "application/pdf")}
    ).json()
    service = {"Authorization": "Bearer test-service-token", "X-Conversation-Id": conversation}

    response = client.post(
        UPLOADS,
        headers=service,
        json=supplier.fields(
            document_type="bid_surety_bond",
            description="bid_surety_bond",
            cba="Akron, OH",
            staged_file_id=staged["staged_file_id"],
        ),
    )

    assert response.status_code == 201, response.text
    assert response.json()["file_name"] == "bond.pdf"
    assert db.scalar(select(User.user_id).where(User.id == session.user_pk)) == supplier.user_id
    assert history_total(client, supplier) == 1


def test_the_action_server_cannot_sign_for_someone_else(client, supplier, db):
    from sqlalchemy import select

    from api.auth.models import UserSession
    from api.auth.sessions import bind_conversation, hash_token

    token = supplier.headers["Authorization"].split()[1]
    session = db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    conversation = uuid.uuid4().hex
    bind_conversation(db=db, conversation_id=conversation, session=session)
    staged = client.post(
        f"{UPLOADS}/staged", headers=supplier.headers, files={"file": ("a.pdf", pdf(), "application/pdf")}
    ).json()
    service = {"Authorization": "Bearer test-service-token", "X-Conversation-Id": conversation}

    response = client.post(
        UPLOADS,
        headers=service,
        json=supplier.fields(certification_user_id="demo.supplier", staged_file_id=staged["staged_file_id"]),
    )

    assert_refused(response, 422, "certification_mismatch")
