"""Invitation sources: the spec the API takes, the column mapping, the Candidate record, and `screen()`.

A source streams raw rows (dicts keyed by our field names) in constant memory; `screen()` turns them
into Candidates or counted Skips. The adapters live in `attract.providers.sources` and are imported
lazily by `open_source`, so a function loads only the driver it uses.
"""

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from attract.identity import normalise_email
from attract.invites.messages import mail_address

# SQL identifiers (also CSV headers and DynamoDB attribute names, one rule everywhere): quoted by
# SQLAlchemy anyway, but a narrow rule keeps free text and SQL out of the API.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
Identifier = Annotated[str, StringConstraints(pattern=rf"^{IDENTIFIER}$")]
TableName = Annotated[str, StringConstraints(pattern=rf"^{IDENTIFIER}(\.{IDENTIFIER})?$")]
SecretId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")]

SkipReason = Literal["invalid_row", "invalid_email", "no_consent", "duplicate", "member", "suppressed", "cooldown"]
FIELDS = ("email", "first_name", "last_name", "skills", "location", "consent", "updated_at", "external_id")


class SourceError(Exception):
    """A source could not be read."""


class SourceTruncatedError(SourceError):
    """Fewer (or more) rows were streamed than the source counted: never plan from a partial read."""


class SourceNotAllowedError(SourceError):
    """The source kind is not allowed here (sqlite outside the local stack)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlSpec(_Spec):
    secret_id: SecretId = Field(description="Secrets Manager secret in the RDS format (engine, host, port, username, password, dbname)")
    table: TableName = Field(description="table or schema.table")

    @property
    def schema_and_table(self) -> tuple[str | None, str]:
        schema, _, name = self.table.rpartition(".")
        return schema or None, name


class PostgresqlSpec(SqlSpec):
    kind: Literal["postgresql"]


class MysqlSpec(SqlSpec):
    """MySQL or MariaDB."""

    kind: Literal["mysql"]


class S3Spec(_Spec):
    kind: Literal["s3"]
    uri: Annotated[str, StringConstraints(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S{1,1024}$")]
    format: Literal["csv", "jsonl"] = "csv"
    compression: Literal["none", "gzip"] = "none"

    @property
    def bucket_and_key(self) -> tuple[str, str]:
        bucket, _, key = self.uri.removeprefix("s3://").partition("/")
        return bucket, key


class DynamoKey(_Spec):
    name: Identifier
    value: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class DynamodbSpec(_Spec):
    """An existing table: a paginated Query when `key` is given (on `index` or the table), else a parallel Scan."""

    kind: Literal["dynamodb"]
    table_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,255}$")]
    index: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] | None = None
    key: DynamoKey | None = Field(None, description="partition key name and value for a Query")
    segments: Annotated[int, Field(ge=1, le=16)] = 4

    @model_validator(mode="after")
    def _index_needs_key(self) -> "DynamodbSpec":
        # A Scan of an index reads the same people as a Scan of the table: an index only makes sense with a key.
        if self.index is not None and self.key is None:
            raise ValueError("an index needs a key (partition key name and value) to Query")
        return self


class SqliteSpec(_Spec):
    """A local file: the local stack and the demo only (open_source refuses it elsewhere)."""

    kind: Literal["sqlite"]
    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    table: Identifier


SourceSpec = Annotated[PostgresqlSpec | MysqlSpec | S3Spec | DynamodbSpec | SqliteSpec, Field(discriminator="kind")]
LOCAL_ONLY_KINDS = frozenset({"sqlite"})


class ColumnMapping(_Spec):
    """Our field -> the source's column (attribute, CSV header, JSON key). email and consent are required."""

    email: Identifier
    consent: Identifier
    first_name: Identifier | None = None
    last_name: Identifier | None = None
    skills: Identifier | None = None
    location: Identifier | None = None
    updated_at: Identifier | None = None
    external_id: Identifier | None = None

    def columns(self) -> dict[str, str]:
        """Field -> source column, for the mapped fields only."""
        return {name: column for name in FIELDS if (column := getattr(self, name)) is not None}


class Candidate(BaseModel):
    """A row that may be invited (before the planner's member/suppressed/cooldown checks)."""

    model_config = ConfigDict(frozen=True)

    email: str  # normalised
    first_name: str | None = None
    last_name: str | None = None
    skills: tuple[str, ...] = ()
    location: str | None = None
    consent: bool
    updated_at: datetime | None = None  # aware, UTC
    external_id: str | None = None


@dataclass(frozen=True)
class Skip:
    """A row not invited, and why. Carries no personal data: counts and logs only."""

    reason: SkipReason
    row: int  # 1-based position in the stream


@dataclass(frozen=True)
class InvalidRow:
    """Yielded by a source for a row it could not parse (a bad JSON line): screened as `invalid_row`."""


INVALID_ROW = InvalidRow()
Row = dict[str, Any]


class CandidateSource(Protocol):
    """Rows keyed by our field names, streamed in constant memory; `count` = rows yielded so far."""

    count: int

    def rows(self, since: datetime | None = None) -> Iterator[Row | InvalidRow]:
        """All rows, or only those with updated_at after `since` (rows without updated_at then excluded)."""
        ...


def open_source(spec: Any, mapping: ColumnMapping, *, secrets: Callable[[str], dict] | None = None,
                clients: AbcMapping[str, Any] | None = None, allow_local: bool = False, **options: Any) -> CandidateSource:
    """The adapter for `spec`, its driver imported only now. `secrets(secret_id) -> dict` defaults to Powertools."""
    clients = clients or {}
    if spec.kind in LOCAL_ONLY_KINDS and not allow_local:
        raise SourceNotAllowedError(f"{spec.kind} sources are for the local stack only")
    if spec.kind in ("postgresql", "mysql"):
        from attract.providers.sources import mysql, postgresql

        credentials = (secrets or _powertools_secret)(spec.secret_id)
        module = postgresql if spec.kind == "postgresql" else mysql
        return module.open(spec, mapping, credentials, **options)
    if spec.kind == "s3":
        from attract.providers.sources import s3

        return s3.S3Source(spec, mapping, client=clients.get("s3"))
    if spec.kind == "dynamodb":
        from attract.providers.sources import dynamodb

        return dynamodb.DynamodbSource(spec, mapping, client=clients.get("dynamodb"), **options)
    if spec.kind == "sqlite":
        from attract.providers.sources import sqlite

        return sqlite.open(spec, mapping, **options)
    raise SourceError(f"unknown source kind {spec.kind}")


def _powertools_secret(secret_id: str) -> dict:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, transform="json", max_age=300)  # type: ignore[return-value]


# ---- screening ---------------------------------------------------------------------------------------------

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
