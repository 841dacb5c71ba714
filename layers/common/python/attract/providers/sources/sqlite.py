"""A local SQLite file (the demo's "ATS"), opened read-only, through the same SQLAlchemy Core path."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from attract.invites.ports import SourceError
from attract.invites.sources import ColumnMapping, SqliteSpec
from attract.providers.sources.sql import SqlSource


class SqliteSource(SqlSource):
    def begin(self, connection: Connection) -> Connection:
        return connection  # the file is opened with mode=ro: any write fails


def open(spec: SqliteSpec, mapping: ColumnMapping, **options: Any) -> SqliteSource:
    path = Path(spec.path).resolve()
    if not path.is_file():
        raise SourceError("the SQLite file does not exist")
    engine = sa.create_engine(f"sqlite+pysqlite:///file:{path}?mode=ro&uri=true", poolclass=NullPool)
    return SqliteSource(engine, None, spec.table, mapping, **options)
