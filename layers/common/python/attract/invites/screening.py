"""Screening: a source's rows into Candidates and counted Skips, and the row values as databases and files spell
them (consent, dates, skills). Pure: no I/O, no driver (docs/decisions.md, "Invitation sources").
"""

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from decimal import Decimal

from attract.identity import normalise_email
from attract.invites.messages import mail_address
from attract.invites.sources import Candidate, InvalidRow, Row, Skip, SkipReason

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_SEPARATORS = (";", ",", "|")


class DigestSet:
    """Has this text been seen? 8-byte BLAKE2b digests in an open-addressing table of 64-bit slots.

    A Python set of digests costs ~100 bytes an entry (object, hash slot, over-allocation); this table
    16 to 32 (between a quarter and half full), so a planner's memory stays flat next to the rows it streams. A false
    "seen" needs two addresses with one 64-bit digest: about 1 in 10^9 over 200,000 addresses.
    """

    def __init__(self, capacity: int = 1024):
        self._slots = array("Q", bytes(8 * capacity))  # 0 = empty
        self._mask = capacity - 1
        self.count = 0

    def add(self, text: str) -> bool:
        """True when `text` is new (and now remembered), False when it was seen before."""
        value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1
        slots, mask = self._slots, self._mask
        index = value & mask
        while slots[index]:
            if slots[index] == value:
                return False
            index = (index + 1) & mask
        slots[index] = value
        self.count += 1
        if self.count * 2 > len(slots):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        self._mask = len(self._slots) - 1
        for value in old:
            if value:
                index = value & self._mask
                while self._slots[index]:
                    index = (index + 1) & self._mask
                self._slots[index] = value


def screen(rows: Iterable[Row | InvalidRow], *, counts: Counter[str] | None = None,
           exclude: Callable[[Candidate], SkipReason | None] | None = None) -> Iterator[Candidate | Skip]:
    """Candidates and Skips, in order; `counts` gets one per skip reason.

    Checks, first failing wins: invalid_row, invalid_email, no_consent, duplicate, then `exclude` (the
    planner's member/suppressed/cooldown lookups, asked only for unique consenting candidates).
    Duplicates are found with 8-byte digests of the normalised email in a `DigestSet`: memory grows by
    16 to 32 bytes per unique consenting email (at most 6 MB at 200,000), the rows themselves are not kept.
    """
    counts = counts if counts is not None else Counter()
    seen = DigestSet()
    for number, row in enumerate(rows, start=1):
        reason: SkipReason | None = None
        candidate = None
        if isinstance(row, InvalidRow):
            reason = "invalid_row"
        else:
            candidate, reason = _candidate(row)
        if candidate is not None and reason is None:
            new = seen.add(candidate.email)
            reason = (exclude(candidate) if exclude else None) if new else "duplicate"
        if reason is not None or candidate is None:
            reason = reason or "invalid_row"
            counts[reason] += 1
            yield Skip(reason, number)
        else:
            yield candidate


def _candidate(row: Row) -> tuple[Candidate | None, SkipReason | None]:
    email = row.get("email")
    if not isinstance(email, str):
        return None, "invalid_email"
    try:
        normalised = normalise_email(email)
        # Valid, yet no invitation could carry it: a non-ASCII local part (SES has no SMTPUTF8), or `=?` in
        # it (lenient readers decode an encoded word even there, CR/LF included).
        mail_address(normalised)
    except ValueError:
        return None, "invalid_email"
    if not as_bool(row.get("consent")):
        return None, "no_consent"
    try:
        updated_at = as_datetime(row.get("updated_at"))
    except (TypeError, ValueError, OverflowError):
        return None, "invalid_row"
    external_id = row.get("external_id")
    return Candidate(
        email=normalised, first_name=_text(row.get("first_name")), last_name=_text(row.get("last_name")),
        skills=as_skills(row.get("skills")), location=_text(row.get("location")), consent=True,
        updated_at=updated_at, external_id=None if external_id is None else str(external_id),
    ), None


def as_bool(value: object) -> bool:
    """Consent as databases and files spell it: booleans, 1/0, 'yes'/'true'/'y'/'t'/'on'. Anything else is no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):  # Decimal from DynamoDB is handled by str() below
        return value == 1
    return str(value).strip().lower() in _TRUE if value is not None else False


def as_datetime(value: object) -> datetime | None:
    """Aware UTC datetime from a datetime (naive = UTC), an ISO 8601 string, or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    elif isinstance(value, int | float | Decimal):  # epoch seconds (DynamoDB numbers are Decimals)
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    else:
        raise TypeError("not a date-time")
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def as_skills(value: object) -> tuple[str, ...]:
    """A list/set (PostgreSQL array, DynamoDB set, JSON list) or a ';' ',' '|' separated string."""
    if value is None:
        return ()
    if isinstance(value, str):
        separator = next((s for s in _SEPARATORS if s in value), None)
        parts: Iterable[object] = value.split(separator) if separator else [value]
    elif isinstance(value, list | tuple | set | frozenset):
        parts = sorted(value, key=str) if isinstance(value, set | frozenset) else value
    else:
        parts = [value]
    return tuple(text for part in parts if (text := str(part).strip()))[:50]


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:200] or None


def is_after(row: Row, since: datetime | None) -> bool:
    """The file/DynamoDB sources' `since` filter (SQL sources filter in the WHERE): unparseable = excluded."""
    if since is None:
        return True
    try:
        moment = as_datetime(row.get("updated_at"))
    except (TypeError, ValueError, OverflowError):
        return False
    return moment is not None and moment > since
