"""The training data and the held-out set are what they claim to be (no model needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.nlu.nludata import (
    DATA,
    KNOWLEDGE_FILES,
    ROOT,
    by_intent,
    domain,
    heldout_examples,
    normalized,
    read_nlu_file,
    responses,
    rules,
    training_examples,
)

MIN_EXAMPLES = 30
ENTITIES = {"bidder_number", "document_type", "document_description", "cba", "mfa_device", "date_phrase"}


def faq_intents() -> list[str]:
    return sorted({ex.intent for path in DATA.glob("nlu/faq_*.yml") for ex in read_nlu_file(path)})


def test_no_held_out_message_is_a_training_example():
    trained = {normalized(ex.text) for ex in training_examples()}
    leaked = [ex.text for ex in heldout_examples() if normalized(ex.text) in trained]
    assert not leaked, f"held-out messages that are also training examples: {leaked}"


def test_the_held_out_set_is_large_enough_and_covers_every_intent():
    heldout = by_intent(heldout_examples())
    assert len(heldout_examples()) >= 250
    # nlu_fallback is predicted, never trained; the rest must all be measured.
    missing = sorted(set(domain()["intents"]) - {"nlu_fallback"} - set(heldout))
    assert not missing, f"intents with no held-out messages in tests/nlu/heldout.yml: {missing}"
    unknown = sorted(set(heldout) - set(domain()["intents"]))
    assert not unknown, f"held-out intents that are not in domain.yml: {unknown}"


@pytest.mark.parametrize("path", KNOWLEDGE_FILES, ids=lambda p: p.name)
def test_each_intent_has_enough_varied_examples(path):
    for intent, examples in by_intent(tuple(read_nlu_file(path))).items():
        texts = [normalized(ex.text) for ex in examples]
        assert len(texts) >= MIN_EXAMPLES, f"{intent} has {len(texts)} examples, fewer than {MIN_EXAMPLES}"
        assert len(set(texts)) == len(texts), f"{intent} repeats an example"


def test_every_faq_intent_has_its_answer_rule_and_domain_entry():
    intents = faq_intents()
    assert len(intents) == 39
    answers = {name.removeprefix("utter_") for name in responses() if name.startswith("utter_faq_")}
    assert answers == set(intents), "each faq_<key> intent needs exactly one utter_faq_<key> response"
    ruled = {(rule["steps"][0]["intent"], rule["steps"][-1]["action"]) for rule in rules(DATA / "rules" / "faq.yml")}
    assert {intent for intent, _ in ruled} == set(intents)
    assert all(action == f"utter_{intent}" for intent, action in ruled if action.startswith("utter_faq_"))
    assert set(intents) <= set(domain()["intents"])


def test_entities_are_the_documented_ones_and_in_the_domain():
    used = {name for ex in training_examples() + heldout_examples() for name, _ in ex.entities}
    knowledge = {name for path in KNOWLEDGE_FILES for ex in read_nlu_file(path) for name, _ in ex.entities}
    assert knowledge <= ENTITIES, f"undocumented entities (see data/nlu/README.md): {knowledge - ENTITIES}"
    assert used <= set(domain().get("entities") or []), "every annotated entity must be listed in domain.yml"


def test_the_cba_lookup_table_matches_the_reference_data():
    result = subprocess.run(
        [sys.executable, "scripts/build_cba_lookup.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
