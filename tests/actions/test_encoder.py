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
