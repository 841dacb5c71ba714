"""Invitation sources, the models: the spec the API takes, the column mapping, the rows and what screening makes
of them (Candidate, Skip).

A source streams raw rows (dicts keyed by our field names) in constant memory; `attract.invites.screening`
turns them into Candidates or counted Skips. Its port and errors are `attract.invites.ports`, the rules on what
it may read `attract.invites.source_rules`, and the adapters `attract.providers.sources` (`open_source` imports
the one a spec names, so a function loads only the driver it uses).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# SQL identifiers (also CSV headers and DynamoDB attribute names, one rule everywhere): quoted by
# SQLAlchemy anyway, but a narrow rule keeps free text and SQL out of the API.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
Identifier = Annotated[str, StringConstraints(pattern=rf"^{IDENTIFIER}$")]
TableName = Annotated[str, StringConstraints(pattern=rf"^{IDENTIFIER}(\.{IDENTIFIER})?$")]
SecretId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")]

SkipReason = Literal["invalid_row", "invalid_email", "no_consent", "duplicate", "member", "suppressed", "cooldown"]
FIELDS = ("email", "first_name", "last_name", "skills", "location", "consent", "updated_at", "external_id")


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
