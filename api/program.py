"""Dates of the program that answers depend on: today in Eastern Time and the MFA enforcement date.

The MFA date comes from configuration (MFA_ENFORCEMENT_DATE), so the assistant says the configured date
and whether it has already passed, instead of a date written into its answers.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from api.config import get_settings

router = APIRouter(prefix="/api/v1", tags=["program"])


class ProgramDates(BaseModel):
    today: dt.date
    time_zone: str
    mfa_enforcement_date: dt.date
    mfa_in_effect: bool


def dates_at(now: dt.datetime) -> ProgramDates:
    settings = get_settings()
    today = now.astimezone(settings.tz).date()
    return ProgramDates(
        today=today,
        time_zone=settings.business_timezone,
        mfa_enforcement_date=settings.mfa_enforcement_date,
        mfa_in_effect=today >= settings.mfa_enforcement_date,
    )


@router.get("/program/dates", response_model=ProgramDates)
def program_dates() -> ProgramDates:
    """Today in the business time zone, the configured MFA enforcement date and whether it has passed."""
    return dates_at(dt.datetime.now(dt.UTC))
