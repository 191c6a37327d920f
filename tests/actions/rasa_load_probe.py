"""Run by tests/actions/test_rasa_server.py in a process of its own: load the trained model Rasa's way
(`rasa`) or bot/rasa_server.py's way (`fast`: its fast load and its fast prediction calls), talk to it, and
print what it understood and did as JSON, with the confidences of DIET's entities and of each action's policy."""

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
        entities = sorted(
            (e["entity"], str(e["value"]), round(float(e.get("confidence_entity") or 0), 4))
            for e in parsed.get("entities", [])
        )
        parses.append([text, parsed["intent"]["name"], round(parsed["intent"]["confidence"], 5), entities])
        replies.append([r.get("text", "") for r in await agent.handle_text(text, sender_id="probe")])
    tracker = await agent.tracker_store.retrieve("probe")
    actions = [
        [e.action_name, e.policy, round(float(e.confidence or 0), 4)]
        for e in tracker.events
        if getattr(e, "action_name", None)
    ]
    from rasa.utils.tensorflow.models import RasaModel

    # How many predictions went straight to the concrete function (bot/rasa_server.py fix 3; 0 Rasa's way).
    concrete_calls = getattr(RasaModel._rasa_predict, "concrete_calls", 0)
    return {"seconds": seconds, "parses": parses, "replies": replies, "actions": actions, "concrete": concrete_calls}


if __name__ == "__main__":
    way, model = sys.argv[1], sys.argv[2]
    if way == "fast":
        from bot import rasa_server

        rasa_server.install_fast_load()
        rasa_server.install_fast_predict()
    print("RESULT " + json.dumps(asyncio.run(main(model))))
