"""MySQL and MariaDB through SQLAlchemy Core + PyMySQL, streamed with an unbuffered (server-side) cursor."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from attract.invites.sources import ColumnMapping, MysqlSpec
from attract.providers.sources.sql import SqlSource, credentials_url, utc_naive

ENGINES = frozenset({"mysql", "mariadb", "aurora", "aurora-mysql"})  # RDS secret `engine` values
NET_WRITE_TIMEOUT = 600  # seconds the server waits on a slow reader before cutting the stream


class MysqlSource(SqlSource):
    def begin(self, connection: Connection) -> Connection:
        # The characteristics apply to the next transaction, so this must be the first statement: the pool
        # is a NullPool (a fresh connection, no reset) and SQLAlchemy sends no BEGIN to PyMySQL, so the
        # transaction starts with the COUNT that follows, in one snapshot with the stream.
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return connection

    def _bind_since(self, since: datetime) -> datetime:
        return utc_naive(since)  # DATETIME/TIMESTAMP columns compared as UTC (PyMySQL drops the offset)


def open(spec: MysqlSpec, mapping: ColumnMapping, credentials: dict[str, Any], **options: Any) -> MysqlSource:
    engine = sa.create_engine(
        credentials_url("mysql+pymysql", credentials, 3306, ENGINES), poolclass=NullPool,
        connect_args={"connect_timeout": 10, "charset": "utf8mb4",
                      "init_command": f"SET SESSION net_write_timeout = {NET_WRITE_TIMEOUT}, time_zone = '+00:00'"})
    schema, table = spec.schema_and_table
    return MysqlSource(engine, schema, table, mapping, **options)
