"""My Upload History: the signed-in user's uploads only, newest first, paginated and filterable."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import update

from tests.api.documents.conftest import UPLOADS, upload
from tests.api.documents.pdfs import pdf

EASTERN = ZoneInfo("America/New_York")


def history(client, supplier, **params):
    response = client.get(UPLOADS, headers=supplier.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_history_lists_every_detail_newest_first_and_says_it_confirms_receipt_only(client, supplier):
    first = upload(client, supplier, pdf(text="first"), name="first.pdf", nickname="One").json()
    second = upload(
        client,
        supplier,
        pdf(pages=2, text="second"),
        name="bond.pdf",
        document_type="bid_surety_bond",
        description="bid_surety_bond",
        cba="Akron, OH",
    ).json()

    page = history(client, supplier)

    assert page["total"] == 2
    assert [r["confirmation_number"] for r in page["items"]] == [
        second["confirmation_number"],
        first["confirmation_number"],
    ]
    row = page["items"][0]
    assert {
        k: row[k] for k in ("file_name", "nickname", "document_type_name", "description_name", "cba_name", "pages")
    } == {
        "file_name": "bond.pdf",
        "nickname": None,
        "document_type_name": "Bid surety bond",
        "description_name": "Bid Surety Bond",
        "cba_name": "Akron, OH",
        "pages": 2,
    }
    assert row["size_bytes"] == second["size_bytes"]
    assert row["uploaded_at"] == second["uploaded_at"]
    assert page["items"][1]["nickname"] == "One"
    assert "confirms that a document was received" in page["notice"]
    assert "not confirm that the document is accurate or complete" in page["notice"]


def test_the_history_is_paginated(client, supplier):
    numbers = [upload(client, supplier, pdf(text=str(i))).json()["confirmation_number"] for i in range(5)]

    pages = [history(client, supplier, page=p, page_size=2) for p in (1, 2, 3)]

    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [p["pages"] for p in pages] == [3, 3, 3]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    listed = [r["confirmation_number"] for p in pages for r in p["items"]]
    assert listed == list(reversed(numbers))
    assert history(client, supplier, page=4, page_size=2)["items"] == []


def test_the_history_filters_by_bidder_number_and_document_type(client, supplier):
    upload(client, supplier, bidder_number=supplier.bidder_numbers[0])
    upload(client, supplier, bidder_number=supplier.bidder_numbers[1])
    upload(
        client,
        supplier,
        bidder_number=supplier.bidder_numbers[1],
        document_type="bid_surety_bond",
        description="bid_surety_bond",
        cba="Toledo, OH",
    )

    by_bidder = history(client, supplier, bidder_number=supplier.bidder_numbers[1])
    by_type = history(client, supplier, document_type="Bid surety bond")
    both = history(client, supplier, bidder_number=supplier.bidder_numbers[0], document_type="bid_surety_bond")

    assert by_bidder["total"] == 2
    assert {r["bidder_number"] for r in by_bidder["items"]} == {supplier.bidder_numbers[1]}
    assert by_type["total"] == 1
    assert by_type["items"][0]["cba_name"] == "Toledo, OH"
    assert both["total"] == 0


def test_the_history_filters_by_a_date_range_in_eastern_time(client, supplier, db):
    from api.documents.models import DocumentUpload

    numbers = [upload(client, supplier, pdf(text=str(i))).json()["confirmation_number"] for i in range(3)]
    # 23:30 Eastern on Feb 28 is already March 1 in UTC, and 23:30 on March 2 is March 3 in UTC:
    # each belongs to its day in Eastern Time.
    times = [
        dt.datetime(2021, 2, 28, 23, 30, tzinfo=EASTERN),
        dt.datetime(2021, 3, 1, 0, 30, tzinfo=EASTERN),
        dt.datetime(2021, 3, 2, 23, 30, tzinfo=EASTERN),
    ]
    for number, when in zip(numbers, times, strict=True):
        db.execute(
            update(DocumentUpload)
            .where(DocumentUpload.confirmation_number == number)
            .values(uploaded_at=when.astimezone(dt.UTC))
        )
    db.commit()

    march = history(client, supplier, uploaded_from="2021-03-01", uploaded_to="2021-03-02")
    from_march_2 = history(client, supplier, uploaded_from="2021-03-02")
    until_feb = history(client, supplier, uploaded_to="2021-02-28")

    assert [r["confirmation_number"] for r in march["items"]] == [numbers[2], numbers[1]]
    assert [r["confirmation_number"] for r in from_march_2["items"]] == [numbers[2]]
    assert [r["confirmation_number"] for r in until_feb["items"]] == [numbers[0]]
    assert march["items"][0]["uploaded_at"].startswith("2021-03-02T23:30:00")


def test_a_reversed_date_range_is_refused(client, supplier):
    response = client.get(
        UPLOADS, headers=supplier.headers, params={"uploaded_from": "2021-03-02", "uploaded_to": "2021-03-01"}
    )

    assert response.status_code == 422
    assert response.json()["rule"] == "date_range_invalid"


def test_a_malformed_filter_is_refused_with_a_sentence(client, supplier):
    response = client.get(UPLOADS, headers=supplier.headers, params={"uploaded_from": "yesterday", "page": 0})

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_field"
    assert response.json()["detail"].endswith("correct it and try again.")


def test_no_user_sees_or_touches_another_users_uploads_or_bidder_numbers(client, make_supplier):
    alice, bob = make_supplier(), make_supplier()
    receipt = upload(client, alice, nickname="Alice private").json()

    bob_history = history(client, bob)
    bob_reads = client.get(f"{UPLOADS}/{receipt['confirmation_number']}", headers=bob.headers)
    bob_filters = client.get(UPLOADS, headers=bob.headers, params={"bidder_number": alice.bidder_numbers[0]})
    bob_uploads_for_alice = upload(client, bob, bidder_number=alice.bidder_numbers[0])
    alice_reads = client.get(f"{UPLOADS}/{receipt['confirmation_number']}", headers=alice.headers)

    assert bob_history["total"] == 0
    assert "Alice private" not in str(bob_history)
    assert bob_reads.status_code == 404
    assert bob_reads.json()["rule"] == "upload_not_found"
    assert bob_filters.status_code == 403
    assert bob_filters.json()["rule"] == "bidder_not_yours"
    assert alice.bidder_numbers[1] not in bob_filters.json()["detail"]
    assert bob_uploads_for_alice.status_code == 403
    assert history(client, alice)["total"] == 1
    assert alice_reads.status_code == 200
    assert alice_reads.json()["nickname"] == "Alice private"


def test_the_history_needs_a_signed_in_user(client, demo_data):
    response = client.get(UPLOADS)

    assert response.status_code == 401
    assert response.json()["rule"] == "not_signed_in"
