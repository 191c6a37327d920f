"""No request, however malformed, gets a 500: each gets a 4xx naming the rule it broke."""

from __future__ import annotations

import pytest

from tests.api.documents.conftest import UPLOADS

FORM = {"Content-Type": "multipart/form-data; boundary=x"}
JSON = {"Content-Type": "application/json"}


def part(name: bytes, value: bytes) -> bytes:
    return b'--x\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"


CASES = {
    "multipart without a boundary": ({"Content-Type": "multipart/form-data"}, b"abc", 400, "form_invalid"),
    "empty multipart body": (FORM, b"", 400, "upload_incomplete"),
    "binary garbage as multipart": (FORM, b"\x00\xff" * 1000, 400, "form_invalid"),
    "a part without a name": (
        FORM,
        b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",
        400,
        "form_invalid",
    ),
    "a field that is not UTF-8": (FORM, part(b"nickname", b"\xff\xfe") + b"--x--\r\n", 400, "form_invalid"),
    "a field over 1 KB": (FORM, part(b"nickname", b"a" * 5000) + b"--x--\r\n", 400, "form_invalid"),
    "a field sent twice": (FORM, part(b"nickname", b"a") * 2 + b"--x--\r\n", 400, "form_invalid"),
    "more than 12 parts": (FORM, part(b"nickname", b"a") * 13 + b"--x--\r\n", 400, "form_invalid"),
    "a JSON array": (JSON, b"[1, 2]", 400, "invalid_json"),
    "JSON that is not UTF-8": (JSON, b'{"a": "\xff"}', 400, "invalid_json"),
    "a JSON object for a field": (JSON, b'{"bidder_number": {"a": 1}}', 422, "field_invalid"),
    "a JSON body over 16 KB": (JSON, b'{"a": "' + b"x" * 20000 + b'"}', 413, "request_too_large"),
    "no content type": ({}, b"hello", 415, "unsupported_media_type"),
    "a Content-Length that is not a number": ({**JSON, "Content-Length": "abc"}, b"{}", 400, "bad_content_length"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_upload_request_gets_a_4xx_naming_the_rule(client, supplier, case):
    headers, body, status, rule = CASES[case]

    response = client.post(UPLOADS, headers={**supplier.headers, **headers}, content=body)

    assert response.status_code == status, response.text
    assert response.json()["rule"] == rule
    assert response.json()["detail"].endswith(".")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/documents/staged/%00", "/api/v1/documents/staged/" + "x" * 500, "/api/v1/documents/%ff"],
)
def test_odd_references_are_simply_not_found(client, supplier, path):
    response = client.get(path, headers=supplier.headers)

    assert response.status_code == 404
    assert response.json()["rule"] in {"staged_file_not_found", "upload_not_found"}


def test_staging_accepts_only_a_form(client, supplier):
    response = client.post(f"{UPLOADS}/staged", headers={**supplier.headers, **JSON}, content=b"{}")

    assert response.status_code == 415
    assert response.json()["rule"] == "unsupported_media_type"


def test_an_unknown_bid_cycle_in_the_cba_search_is_named(client, demo_data):
    response = client.get("/api/v1/cbas", params={"q": "%%%\x00", "bid_cycle": "Round 1999"})

    assert response.status_code == 422
    assert response.json()["rule"] == "bid_cycle_unknown"


def test_the_openapi_document_declares_the_bodies_and_the_error_shape(client):
    spec = client.get("/openapi.json").json()
    upload = spec["paths"]["/api/v1/documents"]["post"]

    assert set(upload["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert "file" in upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"201", "200", "403", "413", "415", "422"} <= set(upload["responses"])
    assert upload["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "52,428,800" in upload["description"]
    for path in ("/api/v1/documents/options", "/api/v1/cbas", "/api/v1/documents/staged"):
        assert path in spec["paths"]


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"staged_file_id": "abc\u0000def"}, "field_invalid"),
        ({"staged_file_id": "abc", "bidder_number": "123\u000045"}, "field_invalid"),
        ({"staged_file_id": "abc", "nickname": "nick\u0000name"}, "nickname_invalid_characters"),
    ],
)
def test_nul_bytes_are_refused_before_they_reach_the_database(client, supplier, fields, rule):
    # PostgreSQL refuses NUL in text: without this rule these would be database errors.
    response = client.post(UPLOADS, headers=supplier.headers, json={**supplier.fields(), **fields})

    assert response.status_code == 422, response.text
    assert response.json()["rule"] == rule


def test_a_nul_byte_in_a_history_filter_is_just_not_a_bidder_number(client, supplier):
    response = client.get(UPLOADS, headers=supplier.headers, params={"bidder_number": "1\u00002"})

    assert response.status_code == 403
    assert response.json()["rule"] == "bidder_not_yours"
