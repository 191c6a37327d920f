"""Date phrases of the upload history ("last week", "yesterday", "since Monday") as ranges of days.

Computed from today in Eastern Time (the program's business time zone), never written by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional, Tuple

DateRange = Tuple[Optional[dt.date], Optional[dt.date]]

_NUMBERS = {"one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}
_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _weekday(text: str, today: dt.date) -> Optional[dt.date]:
    """ "Friday" or "on Friday": the latest Friday up to today; "last Friday": the latest before today."""
    found = re.fullmatch(r"(last |on |this past )?(" + "|".join(_WEEKDAYS) + r")", text)
    if not found:
        return None
    back = (today.weekday() - _WEEKDAYS.index(found.group(2))) % 7
    if back == 0 and found.group(1) in ("last ", "this past "):
        back = 7
    return today - dt.timedelta(days=back)


def _number(word: str) -> Optional[int]:
    return int(word) if word.isdigit() else _NUMBERS.get(word)


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def _parse_day(text: str, today: dt.date) -> Optional[dt.date]:
    """One day named in words or numbers, the most recent one when the phrase could mean several."""
    import dateparser  # slow to import; only the history needs it

    settings = {
        "RELATIVE_BASE": dt.datetime.combine(today, dt.time(12)),
        "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DAY_OF_MONTH": "first",
    }
    parsed = dateparser.parse(text, languages=["en"], settings=settings)
    return parsed.date() if parsed else None


def date_range(phrase: Optional[str], today: dt.date) -> Optional[DateRange]:
    """(first day, last day) of the period a phrase names, either end open; None if not understood.

    "last week" is the Monday-to-Sunday week before this one; "past 7 days" ends today; a single day
    ("yesterday", "on November 3", "last Friday") is a range of one day. Nothing ends after today.
    """
    text = re.sub(r"\s+", " ", (phrase or "").lower()).strip(" ?.!,")
    if not text:
        return None
    monday = today - dt.timedelta(days=today.weekday())
    if text in ("today", "this morning", "this afternoon", "tonight", "earlier today"):
        return today, today
    if text in ("yesterday", "last night"):
        day = today - dt.timedelta(days=1)
        return day, day
    if text in ("this week", "so far this week"):
        return monday, today
    if text in ("last week", "previous week"):
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    if text in ("this month", "so far this month"):
        return today.replace(day=1), today
    if text in ("last month", "previous month"):
        previous = today.replace(day=1) - dt.timedelta(days=1)
        return _month_bounds(previous.year, previous.month)
    rolling = re.fullmatch(r"(?:in )?(?:the )?(?:past|last) (?:(\w+) )?(day|week|month)s?", text)
    if rolling and (rolling.group(1) is None or _number(rolling.group(1))):
        count = _number(rolling.group(1) or "one") or 1
        days = {"day": 1, "week": 7, "month": 30}[rolling.group(2)] * count
        return today - dt.timedelta(days=days - 1), today
    if text in ("a few days ago", "the other day", "a couple of days ago", "couple days ago"):
        return today - dt.timedelta(days=4), today - dt.timedelta(days=1)
    month = re.fullmatch(r"(?:in |during )?(?:last )?(" + "|".join(_MONTHS) + r")", text)
    if month:
        number = _MONTHS.index(month.group(1)) + 1
        year = today.year if number <= today.month else today.year - 1
        first, last = _month_bounds(year, number)
        return first, min(last, today)
    weekday = _weekday(text, today)
    if weekday:
        return weekday, weekday
    since = re.fullmatch(r"(?:since|from|after) (.+)", text)
    if since:
        start = _weekday(f"last {since.group(1)}", today) or _parse_day(since.group(1), today)
        return (start, today) if start and start <= today else None
    single = _parse_day(re.sub(r"^on ", "", text), today)
    if single is None or single > today:
        return None
    return single, single


def describe(day: dt.date) -> str:
    """'Monday, November 16, 2026'."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def describe_range(first: Optional[dt.date], last: Optional[dt.date]) -> str:
    """' on Monday, November 16, 2026', ' from … to …', ' since …' (with a leading space)."""
    if first and last and first == last:
        return f" on {describe(first)}"
    if first and last:
        return f" from {describe(first)} to {describe(last)}"
    if first:
        return f" since {describe(first)}"
    if last:
        return f" until {describe(last)}"
    return ""
