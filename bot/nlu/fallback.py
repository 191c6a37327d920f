"""The FallbackClassifier's settings as config.yml sets them, for the NLU reports in both environments
(bench/nlu_eval.py in the API's, bench/nlu_quick.py in Rasa's): this module needs only PyYAML."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "config.yml"


def fallback_settings(config: Path = CONFIG) -> tuple[float, float]:
    """(threshold, ambiguity_threshold) of the FallbackClassifier; (0, 0) when the pipeline has none."""
    pipeline = yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]
    for component in pipeline:
        if component["name"] == "FallbackClassifier":
            # Rasa's defaults for a FallbackClassifier listed without them.
            return float(component.get("threshold", 0.3)), float(component.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0
