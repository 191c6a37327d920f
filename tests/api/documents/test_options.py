"""The upload form's options and the CBA search, from the reference data."""

from __future__ import annotations

import json

from api.documents.reference_data import DATA_FILE

OPTIONS = "/api/v1/documents/options"


def test_options_show_round_2021_the_users_own_bidders_and_the_document_types(client, sign_in):
    response = client.get(OPTIONS, headers=sign_in("demo.supplier"))

    assert response.status_code == 200
    options = response.json()
    assert options["bid_cycle"]["name"] == "Round 2021"
    assert options["bid_cycle"]["is_open"] is True
    assert [b["bidder_number"] for b in options["bidder_numbers"]] == ["12345", "67890"]
    types = {t["name"]: t for t in options["document_types"]}
    assert [d["name"] for d in types["Financial documents"]["descriptions"]] == [
        "Balance Sheet",
        "Income Statement",
        "Statement of Cash Flows",
        "Tax Return Extract",
        "Credit Report",
    ]
    assert types["Bid surety bond"]["requires_cba"] is True
    assert types["Financial documents"]["requires_cba"] is False
    assert "Covered document review response" in types
    assert options["cba_count"] == 130
    assert options["max_file_bytes"] == 52_428_800


def test_options_never_show_another_users_bidder_numbers(client, sign_in):
    options = client.get(OPTIONS, headers=sign_in("demo.supplier2")).json()

    assert [b["bidder_number"] for b in options["bidder_numbers"]] == ["24680"]


def test_options_need_a_signed_in_user(client, demo_data):
    response = client.get(OPTIONS)

    assert response.status_code == 401
    assert response.json()["rule"] == "not_signed_in"
    assert "not signed in" in response.json()["detail"]


def test_the_reference_data_is_a_data_file_with_130_distinct_cbas_each_with_a_state():
    data = json.loads(DATA_FILE.read_text())
    (round_2021,) = [c for c in data["bid_cycles"] if c["name"] == "Round 2021"]
    cbas = round_2021["cbas"]

    assert len(cbas) == 130
    assert len({c["code"] for c in cbas}) == 130
    assert len({c["name"] for c in cbas}) == 130
    assert all(c["states"] and all(s in data["states"] for s in c["states"]) for c in cbas)
    assert all(c["name"].endswith(", " + "-".join(c["states"])) for c in cbas)


def test_cba_search_by_state_name_finds_every_cba_in_ohio(client, demo_data):
    response = client.get("/api/v1/cbas", params={"q": "ohio"})

    assert response.status_code == 200
    names = [c["name"] for c in response.json()["items"]]
    assert "Akron, OH" in names
    assert "Cincinnati-Middletown, OH-KY-IN" in names
    assert "Huntington-Ashland, WV-KY-OH" in names  # Ohio is not its main state, so it comes last
    assert names[-1] == "Huntington-Ashland, WV-KY-OH"
    assert all("OH" in c["states"] for c in response.json()["items"])


def test_cba_search_by_state_code_city_and_a_typo(client, demo_data):
    by_code = client.get("/api/v1/cbas", params={"q": "NY"}).json()
    by_city = client.get("/api/v1/cbas", params={"q": "albany"}).json()
    typo = client.get("/api/v1/cbas", params={"q": "akorn"}).json()
    two_words = client.get("/api/v1/cbas", params={"q": "new york"}).json()

    assert "Albany-Schenectady-Troy, NY" in [c["name"] for c in by_code["items"]]
    assert [c["name"] for c in by_city["items"]] == ["Albany-Schenectady-Troy, NY"]
    assert [c["name"] for c in typo["items"]] == ["Akron, OH"]
    assert {"Rochester, NY", "New York-White Plains-Wayne, NY-NJ"} <= {c["name"] for c in two_words["items"]}


def test_cba_search_without_a_query_pages_through_all_130(client, demo_data):
    response = client.get("/api/v1/cbas", params={"limit": 130}).json()

    assert response["total"] == 130
    assert len(response["items"]) == 130
    assert response["bid_cycle"] == "Round 2021"


def test_cba_search_that_matches_nothing_says_so(client, demo_data):
    response = client.get("/api/v1/cbas", params={"q": "zzzzqqq"})

    assert response.status_code == 200
    assert response.json()["total"] == 0


def test_loading_the_demo_data_twice_adds_nothing(app_env, db):
    from sqlalchemy import func, select

    from api.documents.models import BidCycle, Cba, DocumentDescription, DocumentType
    from api.seed import load_demo_data

    def counts() -> list[int]:
        return [
            db.scalar(select(func.count()).select_from(m)) for m in (BidCycle, Cba, DocumentType, DocumentDescription)
        ]

    list(load_demo_data(app_env["DATABASE_URL"]))
    first = counts()
    list(load_demo_data(app_env["DATABASE_URL"]))

    assert counts() == first
    assert first[1] >= 130
