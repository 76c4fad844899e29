"""Turning the services' own checks into field messages, so a page validates with exactly the rules
the API applies (the same pydantic models, the same service refusals) and says what is wrong next
to the field instead of repeating those rules here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from server.web.forms import FormErrors

REFUSED = "form.refused"  # "{detail}": the service's own message, which names what to fix


def add_validation_errors(
    errors: FormErrors, exc: ValidationError, fields: dict[str, str] | None = None
) -> None:
    """Each pydantic error next to its field; ``fields`` maps a model field to the form field
    (a model-level error, with no field, goes to ``''``, the form as a whole)."""
    for problem in exc.errors():
        location = [str(part) for part in problem.get("loc", ())]
        name = location[0] if location else ""
        name = (fields or {}).get(name, name)
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        errors.add(name, REFUSED, detail=message)


def add_service_refusal(errors: FormErrors, exc: Exception, known_fields: set[str]) -> None:
    """A service refusal is worded 'field: what is wrong'; put it next to that field when the form
    has it, else above the form."""
    message = str(exc)
    name, _, rest = message.partition(": ")
    if rest and name in known_fields:
        errors.add(name, REFUSED, detail=rest)
    else:
        errors.add("", REFUSED, detail=message)


def parse_day(errors: FormErrors, form: dict[str, str], name: str) -> date | None:
    """An optional YYYY-MM-DD field ('' is None)."""
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(name, "form.bad_date")
        return None


def parse_local_datetime(
    errors: FormErrors, form: dict[str, str], name: str, zone: ZoneInfo
) -> datetime | None:
    """A ``datetime-local`` field (YYYY-MM-DDTHH:MM, the office's wall clock) as an aware datetime."""
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.add(name, "form.bad_datetime")
        return None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def day_range(
    since: date | None, until: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """[since 00:00, the day after ``until`` 00:00) in the office's zone; both days included."""
    start = datetime.combine(since, time(0), zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), zone) if until else None
    return start, end
