"""The trained model understands messages it was never trained on (tests/nlu/heldout.yml).

Runs `rasa test nlu` in the Rasa environment on the model `make train` builds and writes the report to
var/reports/nlu-heldout.md (published copy: docs/nlu/nlu-heldout.md, `python -m bench.nlu_eval heldout
--publish`).
"""

from __future__ import annotations

import pytest

from bench import nlu_eval
from tests.nlu.nludata import KNOWLEDGE_FILES, by_intent, heldout_examples, read_nlu_file

pytestmark = pytest.mark.stack

# Issue 7 is open: on the current training data this held-out figure is below its target (the report is
# under var/reports/). Remove the xfail marks when the figure passes.
OPEN_TARGET = "issue 7 open: held-out figure below its target on the current training data"

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


def knowledge_intents() -> set[str]:
    return {ex.intent for path in KNOWLEDGE_FILES for ex in read_nlu_file(path)}


def worst(results: nlu_eval.Results, among: set[str] | None = None, n: int = 8) -> str:
    rows = [kv for kv in results.per_intent().items() if among is None or kv[0] in among]
    rows = sorted(rows, key=lambda kv: kv[1]["f1-score"])[:n]
    return ", ".join(f"{intent} {scores['f1-score']:.2f}" for intent, scores in rows)


def test_faq_and_conversation_intents_macro_f1(results):
    mine = knowledge_intents()
    f1 = results.macro_f1(mine)
    assert f1 >= MIN_INTENT_MACRO_F1, (
        f"held-out macro F1 of the FAQ and conversation intents {f1:.3f} < {MIN_INTENT_MACRO_F1}; "
        f"worst: {worst(results, mine)}. See var/reports/nlu-heldout.md."
    )


# All intents, the task intents (data/nlu/tasks.yml) included: those have 6 to 35 examples each and score
# about 0.87 on their held-out messages, which pulls the whole below 0.95 (what would fix it: the notes
# for tasks.yml in data/nlu/README.md).
@pytest.mark.xfail(reason=OPEN_TARGET, strict=False)
def test_all_intents_macro_f1(results):
    assert results.intent_macro_f1 >= MIN_INTENT_MACRO_F1, (
        f"held-out intent macro F1 {results.intent_macro_f1:.3f} < {MIN_INTENT_MACRO_F1}; worst: {worst(results)}. "
        "See var/reports/nlu-heldout.md."
    )


def test_faq_and_conversation_intents_accuracy(results):
    mine = knowledge_intents()
    scored = [p for p in results.errors + results.successes if p["intent"] in mine]
    accuracy = sum(p["intent_prediction"]["name"] == p["intent"] for p in scored) / len(scored)
    assert accuracy >= MIN_INTENT_ACCURACY, f"held-out accuracy of the FAQ and conversation intents {accuracy:.3f}"


@pytest.mark.xfail(reason=OPEN_TARGET, strict=False)
def test_all_intents_accuracy(results):
    assert results.intent_accuracy >= MIN_INTENT_ACCURACY, f"held-out accuracy {results.intent_accuracy:.3f}"


def test_entities_micro_f1(results):
    assert results.entity_micro_f1 >= MIN_ENTITY_MICRO_F1, (
        f"held-out entity micro F1 {results.entity_micro_f1:.3f} < {MIN_ENTITY_MICRO_F1}: "
        + ", ".join(f"{name} {s['f1-score']:.2f}" for name, s in results.per_entity().items())
    )


def test_every_held_out_intent_is_scored(results):
    assert set(results.per_intent()) >= set(by_intent(heldout_examples()))
