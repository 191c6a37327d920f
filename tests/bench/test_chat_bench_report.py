"""bench/chat_bench.py: the interval it reports around the relay / floor ratio of p50s."""

from __future__ import annotations

import random

from bench.chat_bench import ratio_interval
from bench.chat_client import CONVERSATION, TurnResult


def _conversations(path: str, count: int, scale: float, seed: int) -> list[TurnResult]:
    """`count` conversations whose turns take `scale` times a spread of typical latencies."""
    draws = random.Random(seed)
    results = []
    for n in range(count):
        slow = draws.uniform(0.9, 1.1)  # some conversations are slower throughout
        for turn in CONVERSATION:
            seconds = scale * slow * draws.lognormvariate(-3.0, 0.4)
            results.append(TurnResult(path, turn, seconds, [], True, f"{path}-{n}"))
    return results


def test_the_interval_brackets_the_true_ratio_and_narrows_with_more_conversations() -> None:
    few = ratio_interval(_conversations("relay", 4, 1.2, 1), _conversations("floor", 4, 1.0, 2))
    many = ratio_interval(_conversations("relay", 60, 1.2, 3), _conversations("floor", 60, 1.0, 4))
    assert few[0] < 1.2 < few[1]
    assert many[0] < 1.2 < many[1]
    assert many[1] - many[0] < (few[1] - few[0]) / 2


def test_failed_turns_are_left_out_and_the_interval_is_repeatable() -> None:
    relay, floor = _conversations("relay", 10, 1.0, 5), _conversations("floor", 10, 1.0, 6)
    failed = [TurnResult("relay", t, 9.9, [], False, "relay-failed") for t in CONVERSATION]
    assert ratio_interval(relay + failed, floor) == ratio_interval(relay, floor)
    low, high = ratio_interval(relay, floor)
    assert low <= 1.0 <= high
