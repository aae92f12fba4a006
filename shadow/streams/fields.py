"""Field conversions shared by the readers: timestamps to µs, contact ids to digits.

Guarantees:

1. Every timestamp becomes integer µs since the Unix epoch, UTC, computed exactly (decimal
   arithmetic, no float rounding of seconds).
2. Wrong units are bad lines, not silent shifts: a "seconds" value of 10^11 or more looks like
   milliseconds, a "milliseconds" value below 10^11 looks like seconds [F1].
3. An ISO 8601 time must carry a zone; local times without one are bad lines.
4. Contact ids are digits only; ``+``, ``whatsapp:``, ``@server`` and ``:device`` parts are
   dropped. Brazil's ninth digit is merged only on request (to the 12-digit form) [F2].
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from shadow.common import describe_value
from shadow.streams.base import LineError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MILLIS_THRESHOLD = Decimal(10) ** 11
_MILLION = Decimal(1_000_000)
_THOUSAND = Decimal(1_000)


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LineError(f"{what} is not a number: {describe_value(value)}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise LineError(f"{what} is not a number: {describe_value(value)}") from None
    if not number.is_finite() or number < 0:
        raise LineError(f"{what} is not a valid time: {describe_value(value)}")
    return number


def seconds_to_us(value: Any, what: str) -> int:
    """Unix seconds (number or numeric string) to µs; refuses milliseconds (rule 2)."""
    number = _decimal(value, what)
    if number >= _MILLIS_THRESHOLD:
        raise LineError(
            f"{what} looks like milliseconds, expected seconds: {describe_value(value)}"
        )
    return int((number * _MILLION).to_integral_value())


def millis_to_us(value: Any, what: str) -> int:
    """Unix milliseconds to µs; refuses seconds (rule 2)."""
    number = _decimal(value, what)
    if number < _MILLIS_THRESHOLD:
        raise LineError(
            f"{what} looks like seconds, expected milliseconds: {describe_value(value)}"
        )
    return int((number * _THOUSAND).to_integral_value())


def datetime_to_us(moment: datetime) -> int:
    return (moment - EPOCH) // _US


def time_to_us(value: Any, what: str) -> int:
    """ISO 8601 with a zone, or Unix seconds (rules 2 and 3)."""
    if isinstance(value, str) and not _looks_numeric(value):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise LineError(
                f"{what} is not ISO 8601 nor Unix seconds: {describe_value(value)}"
            ) from None
        if moment.tzinfo is None:
            raise LineError(f"{what} has no zone: {describe_value(value)}")
        try:
            return datetime_to_us(moment)
        except OverflowError:
            raise LineError(f"{what} is out of range: {describe_value(value)}") from None
    return seconds_to_us(value, what)


def _looks_numeric(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and stripped.replace(".", "", 1).isdigit()


def iso_utc(us: int) -> str:
    """µs since the epoch as ISO 8601 UTC with ``Z`` (µs shown only when not zero)."""
    moment = EPOCH + timedelta(microseconds=us)
    spec = "seconds" if us % 1_000_000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def contact_digits(value: Any, merge_br_ninth_digit: bool = False, what: str = "contact id") -> str:
    """A contact id as digits only (rule 4)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise LineError(f"{what} is not a string: {describe_value(value)}")
    text = value.strip()
    if text.startswith("whatsapp:"):
        text = text[len("whatsapp:") :]
    text = text.split("@", 1)[0].split(":", 1)[0].lstrip("+")
    if not text.isascii() or not text.isdigit():
        raise LineError(f"{what} is not a phone number (digits): {describe_value(value)}")
    if merge_br_ninth_digit:
        text = merge_ninth_digit(text)
    return text


def merge_ninth_digit(digits: str) -> str:
    """``55DD9XXXXXXXX`` -> ``55DDXXXXXXXX``; every other id unchanged [F2]."""
    if len(digits) == 13 and digits.startswith("55") and digits[4] == "9":
        return digits[:4] + digits[5:]
    return digits


def maybe_contact(value: Any, merge_br_ninth_digit: bool = False) -> str:
    """``contact_digits``, or ``""`` when there is no phone number: an event is counted even
    without one (it only cannot be delivered)."""
    try:
        return contact_digits(value, merge_br_ninth_digit)
    except LineError:
        return ""


def maybe_time(convert: Callable[[Any, str], int], value: Any, what: str) -> int | None:
    """``convert(value)``, or ``None`` when the value is absent or no valid time (see
    ``maybe_contact``)."""
    if value is None:
        return None
    try:
        return convert(value, what)
    except LineError:
        return None
