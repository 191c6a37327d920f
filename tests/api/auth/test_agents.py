"""What customer service agents may do for an account: unlock it, link bidder numbers."""

from __future__ import annotations


def test_only_agents_unlock_accounts_or_link_bidder_numbers(client, make_account, sign_in):
    account = make_account()
    supplier = sign_in("demo.supplier")
    refused = client.post(f"/api/v1/agent/users/{account.user_id}/unlock", headers=supplier)
    assert refused.status_code == 403
    assert refused.json()["rule"] == "agent_only"
    refused = client.post(
        f"/api/v1/agent/users/{account.user_id}/bidders", json={"bidder_number": "12345"}, headers=supplier
    )
    assert refused.status_code == 403


def test_an_agent_links_a_bidder_number(client, make_account, sign_in):
    account = make_account()
    agent = sign_in("demo.agent")
    linked = client.post(
        f"/api/v1/agent/users/{account.user_id}/bidders", json={"bidder_number": "24680"}, headers=agent
    )
    assert linked.status_code == 200
    assert linked.json()["bidder_numbers"] == ["24680"]
    unknown = client.post(
        f"/api/v1/agent/users/{account.user_id}/bidders", json={"bidder_number": "99999"}, headers=agent
    )
    assert unknown.status_code == 404
    assert unknown.json()["rule"] == "bidder_not_found"
    nobody = client.post("/api/v1/agent/users/no.such.user/unlock", headers=agent)
    assert nobody.status_code == 404
    assert nobody.json()["rule"] == "user_not_found"
