"""Every identity endpoint is documented with its errors, and no input makes it answer 500."""

from __future__ import annotations

import json
import uuid

import pytest

from api.auth import mfa
from tests.api.auth.helpers import bearer, service_headers

PREFIXES = ("/api/v1/auth", "/api/v1/me", "/api/v1/chat-bindings", "/api/v1/agent", "/dev/outbox")


def _operations(spec):  # type: ignore[no-untyped-def]
    for path, item in spec["paths"].items():
        if path.startswith(PREFIXES):
            for method, operation in item.items():
                yield path, method, operation


def test_every_identity_endpoint_is_documented_with_its_error_answers(client):
    spec = client.get("/openapi.json").json()
    operations = list(_operations(spec))
    assert len(operations) >= 19
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("description"), f"{where} has no docstring"
        codes = {int(c) for c in operation["responses"]}
        assert any(200 <= c < 300 for c in codes), where
        errors = {c for c in codes if c >= 400}
        if where == "GET /api/v1/auth/mfa/device-options":  # takes no input, no credential: cannot fail
            continue
        assert errors, f"{where} declares no error answer"
        for code in errors:
            assert operation["responses"][str(code)].get("description"), f"{where} {code}"
    sign_in = spec["paths"]["/api/v1/auth/sign-in"]["post"]["responses"]
    assert {"401", "409", "422", "423", "429"} <= set(sign_in)
    assert "invalid_credentials" in sign_in["401"]["description"]
    assert sign_in["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProblemBody")


JUNK_VALUES = [
    None,
    True,
    -1,
    0,
    2**70,
    1.5,
    "",
    " ",
    "x" * 100_000,
    "\x00\x01\x02",
    "😀" * 1000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    [],
    {},
    [1, 2, 3],
    {"nested": {"deep": ["x"]}},
]
RAW_BODIES = [b"{not json", b"", b"null", b"[]", b'"a string"', b"1e999", b"{" * 10_000, b'{"user_id": "\\u0000"}']
PATH_VALUES = ["0", "-1", "99999999999999999999999", "abc", "x" * 5000, "%00", "1.5", "😀", "..%2f..%2fetc"]


@pytest.fixture
def credentials(client, make_account, clock, demo_data, sign_in):  # type: ignore[no-untyped-def]
    """One header set of each kind: nothing, a bad token, a sign-in token, a session, an agent, the service."""
    account = make_account(devices=("totp",))
    chat = f"fuzz-{uuid.uuid4().hex}"
    step = client.post("/api/v1/auth/sign-in", json={"user_id": account.user_id, "password": account.password})
    sign_in_token = step.json()["sign_in_token"]
    other = client.post(
        "/api/v1/auth/sign-in",
        json={"user_id": account.user_id, "password": account.password, "conversation_id": chat},
    )
    session = client.post(
        "/api/v1/auth/mfa/verify",
        json={"device_id": account.totp_device_id, "code": mfa.totp_code(account.totp_secret, clock.now())},
        headers=bearer(other.json()["sign_in_token"]),
    ).json()["session"]["session_token"]
    return [
        {},
        bearer("garbage"),
        bearer("si_garbage"),
        bearer(sign_in_token),
        bearer(session),
        sign_in("demo.agent"),
        service_headers(chat),
        {"Authorization": "Basic Zm9vOmJhcg==", "X-Conversation-Id": "x" * 65},
    ]


def _fill(path: str, value: str) -> str:
    out = path
    for name in ("{enrollment_id}", "{device_id}", "{session_id}", "{user_id}"):
        out = out.replace(name, value)
    return out


def _body_fields(spec, operation) -> list[str]:  # type: ignore[no-untyped-def]
    """The fields of the operation's JSON body (from OpenAPI), or none."""
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if not ref:
        return []
    return list(spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])


def _bodies(fields: list[str]) -> list[bytes]:
    bodies: list[bytes] = list(RAW_BODIES)
    for field in fields:
        for value in JUNK_VALUES:
            bodies.append(json.dumps({field: value}).encode())
    if fields:
        bodies.append(json.dumps({f: "x" * 70_000 for f in fields}).encode())
        bodies.append(json.dumps({f: "\u0000" for f in fields}).encode())
        bodies.append(json.dumps({f: 1 for f in fields}).encode())
    return bodies


EXTRA_BODIES = [
    {"kind": "text_message", "phone": "+1" + "9" * 300},
    {"kind": "voice_call", "phone": "\u0000"},
    {"kind": "email", "email": "a@" + "b" * 300 + ".com"},
    {"kind": "email", "email": "\u00e9@\u00e9\u00e9"},
    {"user_id": "a\u0000b", "password": "x\u0000" * 10},
    {"device_id": 1, "code": "\u0661\u0662\u0663\u0664\u0665\u0666"},  # Arabic-Indic digits
    {"device_id": 2147483647, "code": "123456"},
]


def test_no_input_makes_an_identity_endpoint_answer_500(app, client, credentials):
    spec = client.get("/openapi.json").json()
    seen = 0
    for path, method, operation in _operations(spec):
        urls = [_fill(path, "1")] + ([_fill(path, v) for v in PATH_VALUES] if "{" in path else [])
        full = _bodies(_body_fields(spec, operation)) + [json.dumps(b).encode() for b in EXTRA_BODIES]
        for url in urls:
            # Every body with the credentials that get past authentication here (sign-in token, session,
            # agent, service); a few bodies with the others and with the odd paths.
            passing = (
                {3, 4}
                | ({5} if "/agent/" in path else set())
                | ({6} if "/me" in path or "enrollments" in path else set())
            )
            for n, headers in enumerate(credentials):
                bodies = full if url == urls[0] and n in passing else full[:4]
                for body in bodies:
                    response = client.request(
                        method.upper(), url, content=body, headers={**headers, "Content-Type": "application/json"}
                    )
                    seen += 1
                    assert response.status_code < 500, (
                        method,
                        url[:80],
                        body[:80],
                        response.status_code,
                        response.text[:300],
                    )
    assert seen > 1500


def test_query_strings_never_carry_secrets(client):
    spec = client.get("/openapi.json").json()
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                assert parameter["name"] not in {"password", "code", "token", "session_token", "sign_in_token"}, (
                    method,
                    path,
                )


def test_odd_conversation_ids_and_queries_are_refused_not_crashed(client):
    for conversation_id in ["a\x00b", "a b", "x" * 65, "../../etc", ""]:
        for url in ("/api/v1/me", "/api/v1/me/mfa-setup", "/api/v1/auth/mfa/devices"):
            response = client.get(url, headers=service_headers(conversation_id))
            assert response.status_code in (400, 401, 422), (url, conversation_id, response.text)
    for to in ["\x00", "a\x00b", "x" * 300, "'; drop table outbox_messages; --"]:
        assert client.get("/dev/outbox", params={"to": to}).status_code in (200, 422)
    assert client.post("/api/v1/chat-bindings", json={"conversation_id": "a\x00b"}).status_code in (401, 422)
