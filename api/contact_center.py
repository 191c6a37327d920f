"""Opening hours of the CBIC customer service center, computed in prevailing Eastern Time.

Open 9:00 to 17:30, Monday to Friday, closed on US federal holidays as observed (from the
`holidays` library, so that the observed Monday or Friday of a weekend holiday is right).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth.errors import Problem
from api.config import get_settings

PHONE = "877-577-5331"
OPENS = dt.time(9, 0)
CLOSES = dt.time(17, 30)
HOURS = "9 a.m. to 5:30 p.m. Eastern Time, Monday to Friday, except federal holidays"
# Deadlines counted in business days: a year of them is more than any program rule needs.
MAX_BUSINESS_DAYS = 260


@lru_cache(maxsize=8)
def _federal_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("US", years=year, observed=True)


def holiday_name(day: dt.date) -> str | None:
    """The name of the federal holiday observed on `day`, if any."""
    return _federal_holidays(day.year).get(day)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def always_open() -> bool:
    """`CONTACT_CENTER_ALWAYS_OPEN` (tests and demos only; ignored in production): open at every hour."""
    settings = get_settings()
    return settings.contact_center_always_open and settings.environment != "production"


def is_open(at: dt.datetime) -> bool:
    """Whether the center is open at the aware datetime `at` (the real hours, whatever the setting)."""
    local = at.astimezone(get_settings().tz)
    return is_business_day(local.date()) and OPENS <= local.time() < CLOSES


def next_opening(at: dt.datetime) -> dt.datetime:
    """The next moment the center opens, strictly after `at` if it is closed then (aware, Eastern)."""
    tz = get_settings().tz
    local = at.astimezone(tz)
    day = local.date()
    if is_business_day(day) and local.time() < OPENS:
        return dt.datetime.combine(day, OPENS, tzinfo=tz)
    day += dt.timedelta(days=1)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, OPENS, tzinfo=tz)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days after `start` (weekends and federal holidays skipped)."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            days -= 1
    return day


def describe_opening(opening: dt.datetime, now: dt.datetime) -> str:
    """'today at 9:00 a.m. ET', 'tomorrow at …' or 'Monday, July 5 at …'."""
    local_now = now.astimezone(opening.tzinfo)
    if opening.date() == local_now.date():
        when = "today"
    elif opening.date() == local_now.date() + dt.timedelta(days=1):
        when = "tomorrow"
    else:
        when = f"{opening:%A}, {opening:%B} {opening.day}"
    return f"{when} at 9 a.m. Eastern Time"


class ContactCenterStatus(BaseModel):
    phone: str
    hours: str
    open_now: bool
    next_opening: dt.datetime | None
    next_opening_text: str | None
    closed_reason: str | None


router = APIRouter(prefix="/api/v1", tags=["contact center"])


def status_at(now: dt.datetime) -> ContactCenterStatus:
    """What the API says at `now`; the same as the handoff service (`api.handoff.hours.center_hours`)."""
    open_now = always_open() or is_open(now)
    local = now.astimezone(get_settings().tz)
    opening = None if open_now else next_opening(now)
    reason = None
    if not open_now:
        name = holiday_name(local.date())
        if name:
            reason = f"a federal holiday ({name})"
        elif local.weekday() >= 5:
            reason = "the weekend"
        else:
            reason = "outside business hours"
    return ContactCenterStatus(
        phone=PHONE,
        hours=HOURS,
        open_now=open_now,
        next_opening=opening,
        next_opening_text=describe_opening(opening, now) if opening else None,
        closed_reason=reason,
    )


@router.get("/contact-center", response_model=ContactCenterStatus)
def contact_center_status() -> ContactCenterStatus:
    """The phone number and hours of the customer service center, and whether it is open now.

    It reads the handoff service's clock and setting, so it says "open" exactly when a handoff would join
    the agents' queue (with `CONTACT_CENTER_ALWAYS_OPEN`, at every hour outside production).
    """
    from api.handoff import hours  # the handoff's hours build on this module

    return status_at(hours.now())


class BusinessDayAnswer(BaseModel):
    start: dt.date
    days: int
    date: dt.date
    weekday: str


@router.get(
    "/contact-center/business-days",
    response_model=BusinessDayAnswer,
    responses={
        422: {
            "description": "`start` is not a YYYY-MM-DD date, `days` is not 0 to 260, or the count runs past year 9999."
        }
    },
)
def business_days_after(
    start: dt.date = Query(description="The day the count starts from (YYYY-MM-DD); it is not counted itself."),
    days: int = Query(ge=0, le=MAX_BUSINESS_DAYS, description="How many business days to count (0 to 260)."),
) -> BusinessDayAnswer:
    """The date `days` business days after `start`, skipping weekends and observed federal holidays.

    Deadlines such as Form C ("no later than 10 business days after July 1") are computed here, so that
    the assistant never writes one by hand.
    """
    try:
        date = add_business_days(start, days)
    except OverflowError:
        raise Problem(
            422, "date_out_of_range", "The count runs past the last date the calendar knows. Use an earlier start date."
        ) from None
    return BusinessDayAnswer(start=start, days=days, date=date, weekday=f"{date:%A}")
