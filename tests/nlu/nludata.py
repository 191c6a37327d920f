"""Reading the assistant's training data, held-out set and responses, for the NLU tests."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
DOMAIN = ROOT / "domain.yml"
MODEL = ROOT / "var" / "models" / "cbp-assistant.tar.gz"
REPORTS = ROOT / "var" / "reports"
DOCS = ROOT / "docs" / "nlu"

# The files the knowledge side writes (FAQ and conversation intents); data/nlu/tasks.yml is the task side's.
KNOWLEDGE_FILES = [
    *sorted((DATA / "nlu").glob("faq_*.yml")),
    DATA / "nlu" / "basics.yml",
    DATA / "nlu" / "out_of_scope.yml",
]

# [text](entity) or [text]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|\{(?P<json>[^}]+)\})")


@dataclass(frozen=True)
class Example:
    intent: str
    text: str  # as the user types it, annotations removed
    entities: tuple[tuple[str, str], ...]  # (entity, text) pairs in order


def parse_example(intent: str, line: str) -> Example:
    entities = []
    for match in ANNOTATION.finditer(line):
        name = match["entity"] or yaml.safe_load("{" + match["json"] + "}")["entity"]
        entities.append((name, match["text"]))
    return Example(intent=intent, text=ANNOTATION.sub(lambda m: m["text"], line), entities=tuple(entities))


def read_nlu_file(path: Path) -> list[Example]:
    examples = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
        if "intent" not in item:
            continue
        for line in str(item["examples"]).splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append(parse_example(item["intent"], line[2:].strip()))
    return examples


@cache
def training_examples() -> tuple[Example, ...]:
    return tuple(ex for path in sorted((DATA / "nlu").glob("*.yml")) for ex in read_nlu_file(path))


@cache
def heldout_examples() -> tuple[Example, ...]:
    return tuple(read_nlu_file(HELDOUT))


def by_intent(examples: tuple[Example, ...]) -> dict[str, list[Example]]:
    grouped: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        grouped[ex.intent].append(ex)
    return dict(grouped)


def normalized(text: str) -> str:
    """Lower case, punctuation and extra spaces dropped: how 'the same message' is judged."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@cache
def domain() -> dict:
    return yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))


@cache
def responses() -> dict[str, list[dict]]:
    """Every response: domain.yml's and those in data/responses/*.yml (Rasa merges them)."""
    merged: dict[str, list[dict]] = dict(domain().get("responses") or {})
    for path in sorted((DATA / "responses").glob("*.yml")):
        merged |= yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}
    return merged


def response_texts(name: str) -> list[str]:
    return [variation["text"] for variation in responses()[name] if "text" in variation]


def rules(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []
