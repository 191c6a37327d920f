"""The pre-chat questions, as data: `bot/widget/prechat.json` drives both the widget's form and this
server-side check, so a field is added or reworded in one place and the server never trusts the client.

Each field names a `rule` (how its answer is checked and normalized) and the two messages a supplier
may see (`required`, `invalid`), each naming the field and the fix.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, model_validator

from api.config import PROJECT_ROOT

PRECHAT_FILE = PROJECT_ROOT / "bot" / "widget" / "prechat.json"

# The United States and the territories whose suppliers the program serves (NANP, but not Canada etc.).
US_REGIONS = frozenset({"US", "PR", "GU", "VI", "AS", "MP"})
BIDDER_NUMBER = re.compile(r"^[0-9]{1,16}$")

Rule = Literal["name", "text", "email", "us_phone", "bidder_number", "choice"]


class FieldOption(BaseModel):
    value: str = Field(max_length=64)
    label: str = Field(max_length=200)


class FieldMessages(BaseModel):
    required: str | None = Field(None, description="Shown when a required field is empty.")
    invalid: str = Field(description="Shown when the answer breaks the field's rule.")


class PrechatField(BaseModel):
    """One question of the pre-chat form."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    label: str
    type: Literal["text", "email", "tel", "select"] = "text"
    required: bool = False
    rule: Rule = "text"
    autocomplete: str = "off"
    inputmode: str | None = None
    max_length: int = Field(200, ge=1, le=1000)
    placeholder: str | None = None
    hint: str | None = None
    prefill: str | None = Field(None, description="What the portal knows: a key the widget fills from /api/v1/me.")
    options: list[FieldOption] = Field(default_factory=list)
    messages: FieldMessages

    @model_validator(mode="after")
    def _consistent(self) -> PrechatField:
        if self.rule == "choice" and not self.options:
            raise ValueError(f"field {self.name}: a choice needs options")
        if self.required and not self.messages.required:
            raise ValueError(f"field {self.name}: a required field needs a 'required' message")
        return self


class PrechatConfig(BaseModel):
    """The whole pre-chat form, as served to the widget."""

    title: str
    intro: str
    submit_label: str = "Start chat"
    fields: list[PrechatField]

    @model_validator(mode="after")
    def _unique_names(self) -> PrechatConfig:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError("pre-chat field names must be unique")
        return self


class FieldError(BaseModel):
    field: str
    message: str


@lru_cache
def load_config(path: Path = PRECHAT_FILE) -> PrechatConfig:
    """The pre-chat configuration (read once; a broken file stops the API at start-up with its reason)."""
    return PrechatConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))


def _clean(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    return " ".join(value.split())  # trims and folds runs of white space (incl. newlines and tabs)


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in value)


def normalize_us_phone(value: str) -> str | None:
    """`value` as E.164 when it is a valid US number in any common format, else None."""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) not in US_REGIONS:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check(field: PrechatField, value: str) -> str | None:
    """The normalized answer, or None when it breaks the field's rule."""
    if len(value) > field.max_length or _has_control_characters(value):
        return None
    match field.rule:
        case "name":
            return value if any(c.isalpha() for c in value) else None
        case "text":
            return value
        case "email":
            try:
                return validate_email(value, check_deliverability=False).normalized
            except EmailNotValidError:
                return None
        case "us_phone":
            return normalize_us_phone(value)
        case "bidder_number":
            digits = value.replace(" ", "")
            return digits if BIDDER_NUMBER.match(digits) else None
        case "choice":
            return value if value in {o.value for o in field.options} else None
    return None  # pragma: no cover


def validate_answers(
    answers: dict[str, Any], config: PrechatConfig | None = None
) -> tuple[dict[str, str | None], list[FieldError]]:
    """Check every answer against its field: (normalized answers, one error per broken field)."""
    config = config or load_config()
    known = {f.name for f in config.fields}
    errors: list[FieldError] = []
    for name in sorted(set(answers) - known):
        errors.append(FieldError(field=name[:40], message=f"{name[:40]} is not a pre-chat question; leave it out."))
    normalized: dict[str, str | None] = {}
    for field in config.fields:
        raw = answers.get(field.name)
        if raw is not None and not isinstance(raw, str):
            errors.append(FieldError(field=field.name, message=field.messages.invalid))
            continue
        value = _clean(raw or "")
        if not value:
            if field.required:
                errors.append(FieldError(field=field.name, message=field.messages.required or field.messages.invalid))
            normalized[field.name] = None
            continue
        checked = _check(field, value)
        if checked is None:
            errors.append(FieldError(field=field.name, message=field.messages.invalid))
        normalized[field.name] = checked
    return normalized, errors
