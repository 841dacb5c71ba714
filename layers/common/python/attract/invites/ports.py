"""The invites domain's ports: what its logic asks of sources, stores and queues, and the errors sources raise.

The adapters (`attract.providers.sources`, `attract.providers.sqs`, `attract.providers.planning_triggers`,
the repositories of this package) depend on this module; it imports none of them, so the logic and its tests
name the interfaces without loading a driver. Ports live in the domain, adapters depend on it, never the reverse.
"""

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Protocol

from attract.invites.sources import InvalidRow, Row

# ---- sources ---------------------------------------------------------------------------------------------------


class SourceError(Exception):
    """A source could not be read. Our adapters' own messages: written to be shown, never a driver's."""


class SourceTruncatedError(SourceError):
    """Fewer (or more) rows were streamed than the source counted: never plan from a partial read."""


class SourceSecretError(SourceError):
    """The source's secret is not an RDS-format secret of its kind (engine, host, port, username, password, dbname)."""


class SourceNotAllowedError(SourceError):
    """The campaign names a source it may not read: a local-only kind outside the local stack, or a bucket, table
    or secret outside the template's source patterns or of Attract's own (attract.invites.source_rules).
    `field` and `rule` name what the API answers 422 with."""

    def __init__(self, message: str, field: str = "source.kind", rule: str = "source_kind_local_only"):
        super().__init__(message)
        self.message, self.field, self.rule = message, field, rule


class CandidateSource(Protocol):
    """Rows keyed by our field names, streamed in constant memory; `count` = rows yielded so far."""

    count: int

    def rows(self, since: datetime | None = None) -> Iterator[Row | InvalidRow]:
        """All rows, or only those with updated_at after `since` (rows without updated_at then excluded)."""
        ...


# ---- runs ------------------------------------------------------------------------------------------------------


class RunStore(Protocol):
    """A campaign's runs (attract.invites.run_repository.RunRepository): the API starts them, the planner plans
    them, the sender settles them."""

    def start(self, campaign_id: str, run_id: str, trigger: str, now: datetime) -> bool: ...
    def fail(self, campaign_id: str, run_id: str, error: str, now: datetime) -> bool: ...
    def record_skipped(self, campaign_id: str, run_id: str, trigger: str, active_run_id: str,
                       now: datetime) -> None: ...
    def begin_planning(self, campaign_id: str, run_id: str, since: str | None, now: datetime) -> dict | None: ...
    def checkpoint(self, campaign_id: str, run_id: str, previous_rows: int, rows: int, counts: Mapping[str, int],
                   added: Mapping[str, int]) -> bool: ...
    def finish_planning(self, campaign_id: str, run_id: str, previous_rows: int, rows: int,
                        counts: Mapping[str, int], added: Mapping[str, int], now: datetime) -> bool: ...
    def rewind(self, campaign_id: str, run_id: str, previous_rows: int, counts: Mapping[str, int]) -> bool: ...
    def settle(self, campaign_id: str, run_id: str, now: datetime) -> bool: ...


# ---- queues and schedules --------------------------------------------------------------------------------------


class PlanQueue(Protocol):  # attract.providers.planning_triggers.SqsPlanQueue
    def send(self, body: dict) -> None: ...


class Schedules(Protocol):  # attract.providers.planning_triggers.SchedulerSchedules
    def put(self, name: str, expression: str, timezone: str, payload: str) -> None:
        """Create the schedule, or update it when it exists."""
        ...

    def delete(self, name: str) -> None:
        """Remove the schedule; nothing when there is none."""
        ...


class JobQueue(Protocol):  # attract.providers.sqs.SqsBatchSender
    def send(self, bodies: list[str]) -> None: ...


class Lookups(Protocol):  # attract.invites.planning_repository.PlanningLookups
    def reasons(self, campaign_id: str, email_hashes: list[str], now: datetime,
                cooldown_days: int) -> dict[str, str | None]: ...
