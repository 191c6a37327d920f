"""Run by tests/actions/test_rasa_server.py in a process of its own: load the trained model Rasa's way
(`rasa`) or bot/rasa_server.py's way (`fast`), talk to it, and print what it understood and did as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time

MESSAGES = [
    "hi",
    "how do I upload my bid documents?",
    "what is MFA",
    "I need to set up MFA",
    "cancel",
    "did my upload go through",
    "bidder 12345 balance sheet",
    "what's the weather today?",
    "you are useless",
    "I need a person",
    "thanks bye",
]


async def main(model: str) -> dict:
    from rasa.core.agent import load_agent

    started = time.perf_counter()
    agent = await load_agent(model_path=model)
    seconds = time.perf_counter() - started
    parses, replies = [], []
    for text in MESSAGES:
        parsed = await agent.parse_message(text)
        entities = sorted((e["entity"], str(e["value"])) for e in parsed.get("entities", []))
        parses.append([text, parsed["intent"]["name"], round(parsed["intent"]["confidence"], 5), entities])
        replies.append([r.get("text", "") for r in await agent.handle_text(text, sender_id="probe")])
    tracker = await agent.tracker_store.retrieve("probe")
    actions = [e.action_name for e in tracker.events if getattr(e, "action_name", None)]
    return {"seconds": seconds, "parses": parses, "replies": replies, "actions": actions}


if __name__ == "__main__":
    way, model = sys.argv[1], sys.argv[2]
    if way == "fast":
        from bot import rasa_server

        rasa_server.install_fast_load()
    print("RESULT " + json.dumps(asyncio.run(main(model))))
