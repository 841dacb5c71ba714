"""SQL tables through SQLAlchemy Core: a read-only transaction, a COUNT, then one server-side stream.

Traps this guards against (checked on PostgreSQL 15 and MariaDB 10.11):
- `yield_per` is ignored for `text()` statements and `partitions()` without a size then reads everything:
  the SELECT is built with Core constructs and read in sized partitions.
- On MariaDB any other statement on the connection while a stream is open silently ends the stream
  (PyMySQL only warns): nothing else runs on the connection until the stream is drained, and the
  rows read are compared with a COUNT(*) taken first in the same snapshot (SourceTruncatedError).
- A slow reader is cut off by MariaDB's `net_write_timeout`: callers drain rows quickly (into a
  queue), never send mail while the cursor is open.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from attract.invites.ports import SourceSecretError, SourceTruncatedError
from attract.invites.sources import ColumnMapping, Row

BATCH = 2_000
Hook = Callable[[Connection], None]


class SqlSource:
    """One table of one database. `rows()` opens one connection per call and closes it when drained."""

    def __init__(self, engine: Engine, schema: str | None, table: str, mapping: ColumnMapping, *,
                 batch_size: int = BATCH, in_transaction: Hook | None = None, while_streaming: Hook | None = None):
        self.engine = engine
        self.mapping = mapping
        self.batch_size = batch_size
        self.count = 0
        # Test seams: run on the source's own connection after the COUNT / after the first partition.
        self.in_transaction = in_transaction
        self.while_streaming = while_streaming
        columns = mapping.columns()
        self._table = sa.table(table, *(sa.column(name) for name in set(columns.values())), schema=schema)
        self._columns = {field: self._table.c[name] for field, name in columns.items()}

    def statements(self, since: datetime | None) -> tuple[sa.Select, sa.Select]:
        """(COUNT(*), SELECT) with the same WHERE, the SELECT ordered by updated_at then the key (a stable watermark)."""
        where = []
        updated_at = self._columns.get("updated_at")
        if since is not None and updated_at is not None:
            where.append(updated_at > self._bind_since(since))
        select = sa.select(*(column.label(field) for field, column in self._columns.items())).select_from(self._table)
        count = sa.select(sa.func.count()).select_from(self._table)
        if where:
            select, count = select.where(*where), count.where(*where)
        key = self._columns.get("external_id", self._columns["email"])
        order = [updated_at, key] if updated_at is not None else [key]
        return count, select.order_by(*order)

    def _bind_since(self, since: datetime) -> datetime:
        return since

    def begin(self, connection: Connection) -> Connection:
        """Start the read-only, repeatable-read transaction (the dialect's way); returns the connection to use."""
        raise NotImplementedError

    def rows(self, since: datetime | None = None) -> Iterator[Row]:
        self.count = 0
        count_statement, select = self.statements(since)
        with self.engine.connect() as connection:
            connection = self.begin(connection)
            expected = connection.execute(count_statement).scalar_one()
            if self.in_transaction:
                self.in_transaction(connection)
            result = connection.execution_options(stream_results=True, yield_per=self.batch_size).execute(select)
            for partition in result.partitions(self.batch_size):
                for row in partition:
                    self.count += 1
                    yield dict(row._mapping)
                if self.while_streaming:
                    hook, self.while_streaming = self.while_streaming, None
                    hook(connection)
            connection.rollback()  # nothing to commit: end the transaction explicitly
        if self.count != expected:
            raise SourceTruncatedError(f"streamed {self.count} rows, the source counted {expected}")


def credentials_url(driver: str, credentials: dict[str, Any], default_port: int, engines: frozenset[str]) -> sa.URL:
    """An RDS-format secret (engine, host, port, username, password, dbname) as a SQLAlchemy URL.

    SourceSecretError for a secret of another engine or of another shape (never quoting it)."""
    try:
        if credentials.get("engine") not in (None, *engines):
            raise SourceSecretError("the secret is for another database engine than the source kind")
        return sa.URL.create(driver, username=credentials["username"], password=credentials.get("password") or None,
                             host=credentials["host"], port=int(credentials.get("port") or default_port),
                             database=credentials.get("dbname"))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise SourceSecretError("the secret is not JSON in the RDS format (engine, host, port, username, password, "
                                "dbname)") from None


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
