"""A quick estimate of intent cross-validation, for working on the training data (3 minutes, then 1).

    .venv-rasa/bin/python -m bench.nlu_quick [--folds 5] [--worst 15] [--confusions 25]

`make nlu-crossval` trains the whole pipeline once per fold (DIET for entities included), which takes
30 to 40 minutes here. The intent classifier (bot/nlu/classifier.py) depends only on each message's text,
so this calls its own `fit` and `features` on the same folds: the sentence vectors are computed once
(and kept in var/nlu-quick/ for the next run), and each fold fits only the TF-IDF and the logistic
regression. It agrees with `rasa test nlu --cross-validation`: 0.891 against 0.889 macro F1 on the data
of 2026-11-23, 0.951 against 0.951 on that of 2026-11-24. `--set C=30` tries a classifier setting
without editing config.yml.

It prints the macro F1 and accuracy, the weakest intents and the most frequent confusions with an example
of each, so that new examples go where they are needed. The published figure is still the one
`make nlu-crossval` writes (README, docs/nlu/nlu-crossval.md).

Runs in the Rasa environment (it needs Rasa's YAML reader and the encoder's packages).
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from typing import Any

import numpy as np
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from bot.nlu.classifier import EncoderIntentClassifier, features, fit
from bot.nlu.encoder import shared
from bot.nlu.fallback import fallback_settings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "nlu-quick" / "sentence-vectors.npz"


def examples(path: Path) -> tuple[list[str], list[str]]:
    """The texts and intents of one YAML file or of every YAML file in a folder."""
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    data = TrainingData().merge(*(load_data(str(file)) for file in files))
    pairs = [(e.get("text"), e.get("intent")) for e in data.intent_examples if e.get("text") and e.get("intent")]
    return [t for t, _ in pairs], [i for _, i in pairs]


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """The encoder's sentence vectors, kept in CACHE between runs: only new or changed texts are encoded."""
    known: dict[str, np.ndarray] = {}
    if CACHE.exists():
        with np.load(CACHE) as stored:
            known = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
    todo = sorted({t for t in texts if t not in known})
    if todo:
        known.update(zip(todo, (e.sentence for e in shared().encode(todo)), strict=True))
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(known)
        np.savez(CACHE, texts=np.array(keys), vectors=np.stack([known[k] for k in keys]))
    return np.stack([known[t] for t in texts]).astype(np.float64)


def predict_folds(
    texts: list[str], vectors: np.ndarray, intents: list[str], folds: int, config: dict[str, Any], seed: int = 42
) -> list[str]:
    """Each example's predicted intent from the fold that did not train on it."""
    predicted = [""] * len(texts)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(texts, intents):
        vectorizer, model = fit([texts[i] for i in train], vectors[train], [intents[i] for i in train], config)
        guesses = model.predict(features(vectorizer, [texts[i] for i in test], vectors[test], config))
        for i, label in zip(test, guesses, strict=True):
            predicted[i] = str(label)
    return predicted


def heldout(texts: list[str], vectors: np.ndarray, intents: list[str], path: Path, config: dict[str, Any]) -> None:
    """Train on all the data, then score the held-out messages, as tests/nlu/test_heldout.py does with Rasa."""
    vectorizer, model = fit(texts, vectors, intents, config)
    asked, truth = examples(path)
    probabilities = model.predict_proba(features(vectorizer, asked, sentence_vectors(asked), config))
    top = np.sort(probabilities, axis=1)[:, ::-1]
    guesses = [str(model.classes_[j]) for j in probabilities.argmax(1)]
    threshold, margin = fallback_settings()
    unsure = (top[:, 0] < threshold) | (top[:, 0] - top[:, 1] < margin)
    right = np.array([g == t for g, t in zip(guesses, truth, strict=True)])
    macro = f1_score(truth, guesses, average="macro")
    print(f"held-out: {len(asked)} messages, macro F1 {macro:.3f}, accuracy {right.mean():.3f}")
    print(
        f"  with the fallback ({threshold} / {margin}): {int((right & ~unsure).sum())} right, "
        f"{int((~right & ~unsure).sum())} wrong, {int(unsure.sum())} offered topics"
    )
    for text, want, got, sure in zip(asked, truth, guesses, ~unsure, strict=True):
        if want != got:
            print(f"  {'WRONG' if sure else 'offered'}: {text!r}: {want} -> {got}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--worst", type=int, default=15, help="how many of the weakest intents to list")
    parser.add_argument("--confusions", type=int, default=25, help="how many confusions to list")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="try a classifier setting")
    parser.add_argument("--heldout", type=Path, help="also score this file (tests/nlu/heldout.yml) trained on all data")
    args = parser.parse_args(argv)
    overrides = {key: float(value) for key, value in (item.split("=", 1) for item in args.set)}

    config = {**EncoderIntentClassifier.get_default_config(), **overrides}
    texts, intents = examples(args.data)
    vectors = sentence_vectors(texts)
    predicted = predict_folds(texts, vectors, intents, args.folds, config)
    print(f"{len(texts)} examples, {len(set(intents))} intents, {args.folds} folds")
    macro, accuracy = f1_score(intents, predicted, average="macro"), accuracy_score(intents, predicted)
    print(f"macro F1 {macro:.3f}  accuracy {accuracy:.3f}")

    labels = sorted(set(intents))
    precision, recall, f1, support = precision_recall_fscore_support(intents, predicted, labels=labels, zero_division=0)
    print("\nweakest intents (F1, precision, recall, examples):")
    for j in np.argsort(f1)[: args.worst]:
        print(f"  {f1[j]:.3f}  {precision[j]:.3f}  {recall[j]:.3f}  {support[j]:4d}  {labels[j]}")

    confusions: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for text, truth, guess in zip(texts, intents, predicted, strict=True):
        if truth != guess:
            confusions[(truth, guess)].append(text)
    print("\nconfusions (count: true -> predicted, examples):")
    for (truth, guess), wrong in sorted(confusions.items(), key=lambda kv: -len(kv[1]))[: args.confusions]:
        shown = " | ".join(wrong[:3])
        print(f"  {len(wrong):3d}: {truth} -> {guess}: {shown}")
    if args.heldout:
        print()
        heldout(texts, vectors, intents, args.heldout, config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
