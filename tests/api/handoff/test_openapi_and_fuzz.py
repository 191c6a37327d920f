"""Every handoff and console endpoint is documented with its errors, and no input makes one answer 500."""

from __future__ import annotations

import json

HANDOFF_SUFFIXES = ("/handoff", "/queue", "/queue/leave", "/callback", "/rating", "/start-over", "/typing")
JUNK = [None, True, -1, 0, 2**70, 1.5, "", " ", "x" * 30_000, "\x00\x01", "😀" * 500, [], {}, {"a": ["b"]}]
RAW = [b"{not json", b"", b"null", b"[]", b'"text"', b"1e999", b"{" * 5_000]
PATH_IDS = ["0", "-1", "99999999999999999999999", "abc", "x" * 3000, "%00", "1.5", "😀"]


def _operations(spec):  # type: ignore[no-untyped-def]
    for path, item in spec["paths"].items():
        mine = path.startswith("/api/v1/agent/") and not path.startswith("/api/v1/agent/users")
        mine = mine or (
            path.startswith("/api/v1/chat/conversations/{conversation_id}") and path.endswith(HANDOFF_SUFFIXES)
        )
        if mine:
            for method, operation in item.items():
                yield path, method, operation


def test_every_endpoint_is_documented_with_its_error_answers(client):
    spec = client.get("/openapi.json").json()
    operations = list(_operations(spec))
    assert len(operations) >= 21
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("description"), f"{where} has no docstring"
        codes = {int(c) for c in operation["responses"]}
        assert any(200 <= c < 300 for c in codes), where
        errors = {c for c in codes if c >= 400}
        assert errors, f"{where} declares no error answer"
        for code in errors:
            assert operation["responses"][str(code)].get("description"), f"{where} {code}"
            schema = operation["responses"][str(code)]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ChatErrorBody"), where
    claim = spec["paths"]["/api/v1/agent/handoffs/{handoff_id}/claim"]["post"]["responses"]
    assert "already_claimed" in claim["409"]["description"]
    handoff = spec["paths"]["/api/v1/chat/conversations/{conversation_id}/handoff"]["post"]
    assert "service_credential_required" in handoff["responses"]["401"]["description"]


def _bodies(spec, operation) -> list[bytes]:  # type: ignore[no-untyped-def]
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    fields = list(spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]) if ref else []
    bodies = list(RAW)
    for field in fields:
        bodies += [json.dumps({field: value}).encode() for value in JUNK]
    if fields:
        bodies.append(json.dumps({f: "x" * 25_000 for f in fields}).encode())
        bodies.append(json.dumps({f: "\u0000" for f in fields}).encode())
    return bodies


def test_no_input_makes_a_handoff_or_console_endpoint_answer_500(client, start_chat, agent, sign_in, clock):
    spec = client.get("/openapi.json").json()
    chat = start_chat()
    chat.handoff()
    item = client.get("/api/v1/agent/queue", headers=agent).json()["items"][0]
    credentials = [
        {},
        {"Authorization": "Bearer garbage"},
        sign_in("demo.supplier"),
        agent,
        {"Authorization": "Bearer test-service-token", "X-Conversation-Id": chat.id},
        chat.headers,
        {"X-Chat-Token": "x" * 500},
    ]
    seen = 0
    for path, method, operation in _operations(spec):
        real = (
            path.replace("{conversation_id}", chat.id)
            .replace("{handoff_id}", str(item["handoff_id"]))
            .replace("{callback_id}", "1")
        )
        urls = [real] + [
            path.replace("{conversation_id}", v).replace("{handoff_id}", v).replace("{callback_id}", v)
            for v in PATH_IDS
            if "{" in path
        ]
        bodies = _bodies(spec, operation)
        for url in urls:
            for n, headers in enumerate(credentials):
                for body in bodies if url == real and n in (3, 4, 5) else bodies[:3]:
                    response = client.request(
                        method.upper(), url, content=body, headers={**headers, "Content-Type": "application/json"}
                    )
                    seen += 1
                    assert response.status_code < 500, (method, url[:80], body[:80], response.text[:300])
                    if response.status_code >= 400 and response.json() != {"detail": "Not Found"}:  # no route
                        assert "rule" in response.json(), (method, url[:80], body[:80], response.text[:300])
    assert seen > 1000
