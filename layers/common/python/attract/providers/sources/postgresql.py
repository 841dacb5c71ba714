"""PostgreSQL (and Aurora PostgreSQL) through SQLAlchemy Core + psycopg 3, with a server-side cursor."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from attract.invites.sources import ColumnMapping, PostgresqlSpec
from attract.providers.sources.sql import SqlSource, credentials_url

ENGINES = frozenset({"postgres", "postgresql", "aurora-postgresql"})  # RDS secret `engine` values


class PostgresqlSource(SqlSource):
    def begin(self, connection: Connection) -> Connection:
        # READ ONLY refuses any write; REPEATABLE READ makes the COUNT and the stream see one snapshot.
        return connection.execution_options(postgresql_readonly=True, isolation_level="REPEATABLE READ")


def open(spec: PostgresqlSpec, mapping: ColumnMapping, credentials: dict[str, Any], **options: Any) -> PostgresqlSource:
    engine = sa.create_engine(credentials_url("postgresql+psycopg", credentials, 5432, ENGINES), poolclass=NullPool,
                              connect_args={"connect_timeout": 10, "application_name": "attract-invites"})
    schema, table = spec.schema_and_table
    return PostgresqlSource(engine, schema, table, mapping, **options)
