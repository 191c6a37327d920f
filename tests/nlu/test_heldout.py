"""The trained model understands messages it was never trained on (tests/nlu/heldout.yml).

Runs `rasa test nlu` in the Rasa environment on the model `make train` builds and writes the report to
var/reports/nlu-heldout.md (published copy: docs/nlu/nlu-heldout.md, `python -m bench.nlu_eval heldout
--publish`).
"""

from __future__ import annotations

import pytest

from bench import nlu_eval
from tests.nlu.nludata import by_intent, heldout_examples

pytestmark = pytest.mark.stack

MIN_INTENT_MACRO_F1 = 0.95
MIN_INTENT_ACCURACY = 0.95
MIN_ENTITY_MICRO_F1 = 0.90


@pytest.fixture(scope="module")
def results() -> nlu_eval.Results:
    if not nlu_eval.paths.MODEL_FILE.exists():
        pytest.fail("No trained model: run `make test` (it trains first) or `make train`.")
    results = nlu_eval.run("heldout")
    nlu_eval.write_report(results)
    return results


def worst(results: nlu_eval.Results, n: int = 8) -> str:
    rows = sorted(results.per_intent().items(), key=lambda kv: kv[1]["f1-score"])[:n]
    return ", ".join(f"{intent} {scores['f1-score']:.2f}" for intent, scores in rows)


def test_intents_macro_f1(results):
    assert results.intent_macro_f1 >= MIN_INTENT_MACRO_F1, (
        f"held-out intent macro F1 {results.intent_macro_f1:.3f} < {MIN_INTENT_MACRO_F1}; worst: {worst(results)}. "
        "See var/reports/nlu-heldout.md."
    )


# Accuracy is held to 0.95 too. With DIET classifying intents it wavered around it (0.949 to 0.957 between
# trainings); the encoder classifier (bot/nlu/classifier.py) is deterministic and scored 0.987 (2026-11-24).
def test_intents_accuracy(results):
    assert results.intent_accuracy >= MIN_INTENT_ACCURACY, f"held-out accuracy {results.intent_accuracy:.3f}"


def test_entities_micro_f1(results):
    assert results.entity_micro_f1 >= MIN_ENTITY_MICRO_F1, (
        f"held-out entity micro F1 {results.entity_micro_f1:.3f} < {MIN_ENTITY_MICRO_F1}: "
        + ", ".join(f"{name} {s['f1-score']:.2f}" for name, s in results.per_entity().items())
    )


def test_every_held_out_intent_is_scored(results):
    assert set(results.per_intent()) >= set(by_intent(heldout_examples()))
