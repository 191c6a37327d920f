"""The pretrained sentence encoder of the NLU pipeline (bot/nlu/encoder.py, bot/nlu/featurizer.py).

The reference vectors in data/minilm-reference.json were made by sentence-transformers 6.2 with PyTorch
2.13 (`SentenceTransformer(<the package's model folder>).encode(texts, normalize_embeddings=True)`), in a
separate Python 3.11 environment: the NumPy forward pass must give the same vectors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.encoder import shared

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm-reference.json").read_text())


@pytest.fixture(scope="module")
def encoder():
    return shared()


def test_sentence_vectors_match_sentence_transformers(encoder) -> None:
    encoded = encoder.encode(REFERENCE["texts"])
    for text, got, want in zip(REFERENCE["texts"], encoded, REFERENCE["vectors"]):
        assert got.sentence.shape == (384,)
        np.testing.assert_allclose(got.sentence, np.array(want, dtype=np.float32), atol=2e-5, err_msg=text)


def test_batching_and_padding_do_not_change_a_vector(encoder) -> None:
    texts = ["hi", "my code never came", "can I mail my bid surety bond or does it have to be uploaded?"]
    alone = [encoder.encode([t])[0].sentence for t in texts]
    together = [e.sentence for e in encoder.encode(texts, batch_size=2)]
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_paraphrases_are_closer_than_other_topics(encoder) -> None:
    code, paraphrase, upload = (
        e.sentence for e in encoder.encode(["my code never came", "no text message arrived", "how big can my pdf be"])
    )
    assert float(code @ paraphrase) > float(code @ upload) + 0.1


def test_each_word_gets_the_vectors_of_its_word_pieces(encoder) -> None:
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.featurizer import token_vectors

    text = "Bidder 67890: re-upload the Okta-Verify PDF!"
    message = Message(data={"text": text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    tokens = message.get("text_tokens")
    encoded = encoder.encode([text])[0]
    rows = token_vectors(tokens, encoded)
    assert rows.shape == (len(tokens), 384)
    assert all(row.any() for row in rows)  # every word found its pieces
    # "67890" is one word: its row is the mean of exactly the pieces inside its characters.
    number = next(t for t in tokens if t.text == "67890")
    inside = [j for j, (s, e) in enumerate(encoded.offsets) if s >= number.start and e <= number.end]
    np.testing.assert_allclose(rows[tokens.index(number)], encoded.pieces[inside].mean(0), atol=1e-6)


def test_the_featurizer_sets_sentence_and_sequence_features(encoder) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.featurizer import SentenceEncoderFeaturizer

    featurizer = SentenceEncoderFeaturizer.create(
        {**SentenceEncoderFeaturizer.get_default_config()},
        None,  # type: ignore[arg-type]  (not trainable: no storage used)
        None,  # type: ignore[arg-type]
        ExecutionContext(GraphSchema({}), node_name="encoder"),
    )
    messages = [Message(data={"text": "where do I upload my balance sheet"}), Message(data={"text": ""})]
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    featurizer.process(messages)
    sequence, sentence = messages[0].get_dense_features("text")
    assert sequence.features.shape == (7, 384)
    assert sentence.features.shape == (1, 384)
    np.testing.assert_allclose(sentence.features[0], encoder.encode([messages[0].get("text")])[0].sentence)
    assert messages[1].get_dense_features("text") == (None, None)  # an empty message is left alone


def _featurized(texts_and_intents: list[tuple[str, str | None]]):
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.featurizer import SentenceEncoderFeaturizer

    messages = [Message(data={"text": t, **({"intent": i} if i else {})}) for t, i in texts_and_intents]
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    SentenceEncoderFeaturizer({**SentenceEncoderFeaturizer.get_default_config()}, "encoder").process(messages)
    return messages


def test_the_intent_classifier_learns_saves_and_loads(tmp_path) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.classifier import EncoderIntentClassifier

    training = [
        *[(t, "faq_upload_size_limit") for t in ("how big can the pdf be", "max file size?", "size limit for uploads")],
        *[(t, "faq_mfa_no_text_received") for t in ("my code never came", "no text arrived", "didn't get the sms")],
        *[(t, "greet") for t in ("hello", "hi there", "good morning")],
    ]
    storage, resource = LocalModelStorage(tmp_path), Resource("intents")
    context = ExecutionContext(GraphSchema({}), node_name="intents")
    config = EncoderIntentClassifier.get_default_config()
    trained = EncoderIntentClassifier.create(config, storage, resource, context)
    trained.train(TrainingData(training_examples=_featurized(training)))

    # Loaded from its saved file (skops, only trusted types), it answers new wordings.
    loaded = EncoderIntentClassifier.load(config, storage, resource, context)
    asked = _featurized([("the verification text message is not coming", None), ("is 60 MB too large", None)])
    loaded.process(asked)
    assert [m.get("intent")["name"] for m in asked] == ["faq_mfa_no_text_received", "faq_upload_size_limit"]
    ranking = asked[0].get("intent_ranking")
    assert len(ranking) == 3 and ranking[0]["confidence"] >= ranking[1]["confidence"]
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6

    # The weights are kept so that predict_proba multiplies without copying them (bot/nlu/classifier.py
    # answering_order), after training and after loading, and the answers are those of the trained model.
    assert trained.model.coef_.T.flags["C_CONTIGUOUS"] and loaded.model.coef_.T.flags["C_CONTIGUOUS"]
    again = _featurized([("the verification text message is not coming", None), ("is 60 MB too large", None)])
    trained.process(again)
    assert [m.get("intent_ranking") for m in again] == [m.get("intent_ranking") for m in asked]


def test_loading_the_classifier_keeps_the_servers_log_level() -> None:
    """Importing skops sets the root logger to WARNING by the way (through numpy.distutils): Rasa's INFO
    lines disappeared from the server's log once the model was loaded."""
    import logging
    import subprocess
    import sys

    probe = (
        "import logging; logging.getLogger().setLevel(logging.INFO); "
        "from bot.nlu.classifier import skops_io; skops_io(); print(logging.getLogger().level)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(logging.INFO)
