"""The intent classifier: logistic regression over the sentence encoder's vector and TF-IDF n-grams.

Why not DIET for intents: with the encoder's vectors as extra input, DIET (40 epochs, trained from
scratch on 2,400 examples) barely used them: 5-fold cross-validation went from 0.745 to 0.765 macro F1.
A linear model on the same vector plus TF-IDF character n-grams (for misspellings and the program's
own words: "connexion", "cbic", "form c") scored 0.887 in cross-validation and 0.988 on the held-out
set, against DIET's 0.953 (docs/nlu/). DIET still extracts the entities (`intent_classification:
false` in config.yml). Word unigrams and bigrams joined the character n-grams on 2026-11-24 (settings
and their measured effect: `get_default_config`; try others with `bench/nlu_quick.py --set`).

Needs `bot.nlu.featurizer.SentenceEncoderFeaturizer` before it. Saved with skops, as Rasa's own
LogisticRegressionClassifier is; a saved file holding types other than scikit-learn's and `TRUSTED` is
refused with an error.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias, Union

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from bot.nlu.featurizer import SentenceEncoderFeaturizer

logger = logging.getLogger(__name__)

FILE = "intent-classifier.skops"
# What skops must be told to trust beyond scikit-learn's own classes (checked in load()).
TRUSTED = ["numpy.float64", "scipy.sparse._csr.csr_matrix"]


def skops_io() -> Any:
    """`skops.io`, imported without losing the server's log level. Its import lists scikit-learn's
    estimators, which imports `numpy.distutils`, which sets the root logger to WARNING: Rasa's INFO lines
    ("Rasa server is up and running.") were lost from then on."""
    root = logging.getLogger()
    level = root.level
    try:
        import skops.io
    finally:
        root.setLevel(level)
    return skops.io


Vectorizer: TypeAlias = Union[TfidfVectorizer, FeatureUnion]


def features(vectorizer: Vectorizer, texts: list[str], vectors: np.ndarray, config: dict[str, Any]) -> csr_matrix:
    """The model's input: the n-grams beside the sentence vectors (one row per text)."""
    grams = vectorizer.transform(texts)
    return hstack([grams, csr_matrix(vectors * float(config["encoder_weight"]))]).tocsr()


def fit(
    texts: list[str], vectors: np.ndarray, intents: list[str], config: dict[str, Any]
) -> tuple[Vectorizer, LogisticRegression]:
    """Train the n-gram vocabulary and the logistic regression (also used by bench/nlu_quick.py)."""
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, int(config["max_ngram"])), sublinear_tf=True)
    vectorizer: Vectorizer = chars
    if float(config["word_weight"]) > 0:
        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
        vectorizer = FeatureUnion(
            [("chars", chars), ("words", words)],
            transformer_weights={"chars": 1.0, "words": float(config["word_weight"])},
        )
    vectorizer.fit(texts)
    model = LogisticRegression(
        C=float(config["C"]),
        max_iter=int(config["max_iter"]),
        random_state=42,
    )
    model.fit(features(vectorizer, texts, vectors, config), intents)
    return vectorizer, model


def answering_order(model: LogisticRegression) -> LogisticRegression:
    """Store the weights column by column, so that `coef_.T`, which predict_proba multiplies the sparse
    features with, is C-contiguous: otherwise SciPy copies all of it (65 intents x 21,404 features of
    float64, 11 MB) on every message. Measured on one message: 1.7-2.1 ms before, 0.06 ms after, the
    same probabilities (tests/actions/test_encoder.py)."""
    model.coef_ = np.asfortranarray(model.coef_)
    return model


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EncoderIntentClassifier(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> list[type]:
        return [SentenceEncoderFeaturizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Inverse regularisation strength. Quick 5-fold estimates (bench/nlu_quick.py, 4,375 examples,
            # 2026-11-24), macro F1: C 10: 0.945; 30: 0.947 with word n-grams; 100 with word n-grams: 0.952,
            # the held-out set unchanged (0.996) and no more confident on gibberish. 1 underfits (0.81).
            # class_weight="balanced" (each intent weighed by the inverse of its size) scored 0.001 lower.
            "C": 100.0,
            # How much the sentence vector counts against the n-grams (both have unit length); 3 scored lower.
            "encoder_weight": 2.0,
            "max_ngram": 4,
            # Word unigrams and bigrams beside the character n-grams, at this weight (0: none): +0.002 to
            # +0.005 macro F1 at every C tried ("bond after the window" is more than its letters).
            "word_weight": 1.0,
            "max_iter": 3000,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: tuple[Vectorizer, LogisticRegression] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.vectorizer: Vectorizer | None = model[0] if model else None
        self.model: LogisticRegression | None = model[1] if model else None
        if self.model is not None:
            answering_order(self.model)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EncoderIntentClassifier:
        return cls(config, model_storage, resource)

    @staticmethod
    def _sentence_vectors(messages: list[Message]) -> np.ndarray:
        rows = []
        for message in messages:
            sentence = message.get_dense_features(TEXT)[1]
            if sentence is None:
                raise ValueError("EncoderIntentClassifier needs SentenceEncoderFeaturizer before it in the pipeline.")
            rows.append(np.asarray(sentence.features, dtype=np.float64).reshape(-1))
        return np.stack(rows)

    def _features(self, messages: list[Message]) -> csr_matrix:
        assert self.vectorizer is not None
        return features(self.vectorizer, [m.get(TEXT) for m in messages], self._sentence_vectors(messages), self.config)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        self.vectorizer, self.model = fit(
            [e.get(TEXT) for e in examples],
            self._sentence_vectors(examples),
            [e.get(INTENT) for e in examples],
            self.config,
        )
        answering_order(self.model)
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        todo = [m for m in messages if m.get(TEXT) and m.get_dense_features(TEXT)[1] is not None]
        if not todo:
            return messages
        probabilities = self.model.predict_proba(self._features(todo))
        names = [str(name) for name in self.model.classes_]
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row)
            ranking = [{"name": names[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[: int(self.config["ranking_length"])], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        sio = skops_io()

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump((self.vectorizer, self.model), directory / FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EncoderIntentClassifier:
        sio = skops_io()
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / FILE
                untrusted = sio.get_untrusted_types(file=path)
                unexpected = sorted(set(untrusted) - set(TRUSTED))
                if unexpected:
                    raise TypeError(f"{path} holds types that are not trusted: {unexpected}")
                vectorizer, model = sio.load(path, trusted=untrusted)
        except ValueError as error:
            # Rasa raises ValueError for a resource that was never written (no training data).
            logger.warning("The intent classifier was not loaded: %s", error)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, (vectorizer, model))
