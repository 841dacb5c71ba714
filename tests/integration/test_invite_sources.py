"""Invitation sources against the real servers: PostgreSQL and MariaDB on this machine, S3 and DynamoDB in
the moto server, SQLite in a temporary file. Each test creates its own uniquely named table and drops it."""

import csv
import gzip
import io
import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from pydantic import TypeAdapter, ValidationError

from attract.invites.ports import SourceError, SourceNotAllowedError, SourceTruncatedError
from attract.invites.screening import screen
from attract.invites.sources import Candidate, ColumnMapping, SourceSpec
from attract.providers.sources import open_source
from tests.support import require_service

SPEC = TypeAdapter(SourceSpec)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MAPPING = ColumnMapping.model_validate({
    "email": "email", "first_name": "first_name", "last_name": "last_name", "skills": "skills",
    "location": "city", "consent": "marketing_consent", "updated_at": "updated_at", "external_id": "id"})
# id, email, first, last, skills, city, consent, updated_at (days after T0)
PEOPLE = [
    (1, "Ada@Example.com", "Ada", "Lovelace", ["python", "maths"], "London", True, 1),
    (2, "grace@example.com", "Grace", "Hopper", ["cobol"], "Arlington", True, 2),
    (3, "not-an-email", "Bad", "Email", [], "Nowhere", True, 3),
    (4, "linus@example.com", "Linus", "T", ["c"], "Portland", False, 4),
    (5, " ada@example.COM ", "Ada", "Again", [], "London", True, 5),
    (6, "margaret@example.com", "Margaret", "Hamilton", ["apollo"], "Boston", True, 6),
]
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root:@127.0.0.1:3306/test"


def _name() -> str:
    return "cand_" + uuid.uuid4().hex[:10]


@pytest.fixture
def secrets(local_aws):
    """Reads secrets from the moto server the way production does: Powertools, transform="json"."""
    provider = SecretsProvider(boto3_client=local_aws.client("secretsmanager"))
    return lambda secret_id: provider.get(secret_id, transform="json")


def _secret(local_aws, engine: str, host: str, port: int, username: str, dbname: str) -> str:
    name = f"ats/{uuid.uuid4().hex[:8]}"
    local_aws.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(
        {"engine": engine, "host": host, "port": port, "username": username, "password": "", "dbname": dbname}))
    return name


@pytest.fixture
def pg(local_aws):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    engine = sa.create_engine(PG_URL)
    created: list[str] = []

    def make(schema: str | None = None) -> str:
        table = _name()
        qualified = f"{schema}.{table}" if schema else table
        with engine.begin() as connection:
            if schema:
                connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            connection.exec_driver_sql(
                f"CREATE TABLE {qualified} (id int PRIMARY KEY, email text, first_name text, last_name text, "
                "skills text[], city text, marketing_consent boolean, updated_at timestamptz)")
            connection.execute(sa.text(f"INSERT INTO {qualified} VALUES (:i, :e, :f, :l, :s, :c, :k, :u)"),
                               [_values(person) for person in PEOPLE])
        created.append(qualified)
        return qualified

    yield make, engine, _secret(local_aws, "postgres", "127.0.0.1", 5432, "postgres", "test")
    with engine.begin() as connection:
        for qualified in created:
            connection.exec_driver_sql(f"DROP TABLE {qualified}")
    engine.dispose()


@pytest.fixture
def maria(local_aws):
    require_service("MariaDB", "127.0.0.1", 3306)
    engine = sa.create_engine(MARIADB_URL)
    created: list[str] = []

    def make() -> str:
        table = _name()
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {table} (id int PRIMARY KEY, email varchar(320), first_name varchar(200), "
                "last_name varchar(200), skills varchar(500), city varchar(200), marketing_consent tinyint, "
                "updated_at datetime(6))")
            connection.execute(sa.text(f"INSERT INTO {table} VALUES (:i, :e, :f, :l, :s, :c, :k, :u)"),
                               [{**_values(p), "s": ";".join(p[4]), "u": _values(p)["u"].replace(tzinfo=None)}
                                for p in PEOPLE])
        created.append(table)
        return table

    yield make, engine, _secret(local_aws, "mariadb", "127.0.0.1", 3306, "root", "test")
    with engine.begin() as connection:
        for table in created:
            connection.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()


def _values(person: tuple) -> dict:
    i, e, f, last, s, c, k, days = person
    return {"i": i, "e": e, "f": f, "l": last, "s": s, "c": c, "k": k, "u": T0 + timedelta(days=days)}


def _screened(source, since=None) -> tuple[list[Candidate], Counter]:
    counts: Counter = Counter()
    candidates = [c for c in screen(source.rows(since), counts=counts) if isinstance(c, Candidate)]
    return candidates, counts


def _assert_the_people(candidates: list[Candidate], counts: Counter) -> None:
    assert [c.external_id for c in candidates] == ["1", "2", "6"]
    ada = candidates[0]
    assert ada.email == "ada@example.com" and (ada.first_name, ada.last_name, ada.location) == ("Ada", "Lovelace", "London")
    assert ada.skills == ("python", "maths") and ada.updated_at == T0 + timedelta(days=1)
    assert counts == {"invalid_email": 1, "no_consent": 1, "duplicate": 1}


# ---- PostgreSQL ---------------------------------------------------------------------------------------------

def test_postgresql_streams_all_rows_mapped_and_screened(pg, secrets):
    make, _, secret_id = pg
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": secret_id, "table": make()})
    cursors: list = []
    # PostgreSQL (unlike MariaDB) allows other statements mid-stream: look for the server-side cursor
    source = open_source(spec, MAPPING, secrets=secrets, batch_size=2, while_streaming=lambda connection: cursors.extend(
        connection.exec_driver_sql("SELECT is_holdable, statement FROM pg_cursors").all()))
    candidates, counts = _screened(source)
    _assert_the_people(candidates, counts)
    assert source.count == len(PEOPLE)
    assert [row.statement.startswith("DECLARE") and "ORDER BY" in row.statement
            for row in cursors if "pg_cursors" not in row.statement] == [True]


def test_postgresql_schema_qualified_and_incremental(pg, secrets):
    make, _, secret_id = pg
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": secret_id, "table": make("ats_" + uuid.uuid4().hex[:6])})
    source = open_source(spec, MAPPING, secrets=secrets)
    rows = list(source.rows(since=T0 + timedelta(days=4)))
    # Only rows updated after the watermark, oldest first
    assert [row["external_id"] for row in rows] == [5, 6] and source.count == 2
    assert set(rows[0]) == set(MAPPING.columns())


def test_postgresql_reads_in_a_read_only_transaction(pg, secrets):
    make, engine, secret_id = pg
    table = make()
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": secret_id, "table": table})
    seen: dict = {}

    def inside(connection):
        seen["read_only"] = connection.exec_driver_sql("SHOW transaction_read_only").scalar()
        seen["isolation"] = connection.exec_driver_sql("SHOW transaction_isolation").scalar()

    assert len(list(open_source(spec, MAPPING, secrets=secrets, in_transaction=inside).rows())) == len(PEOPLE)
    assert seen == {"read_only": "on", "isolation": "repeatable read"}

    def write(connection):
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            connection.exec_driver_sql(f"DELETE FROM {table}")

    # A write on the source's own connection is refused (and the aborted transaction reads nothing more)
    with pytest.raises(sa.exc.InternalError):
        list(open_source(spec, MAPPING, secrets=secrets, in_transaction=write).rows())
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == len(PEOPLE)


@pytest.mark.parametrize("server", ["pg", "maria"])
def test_rows_changed_by_others_after_the_count_are_no_false_alarm(server, request, secrets):
    make, engine, secret_id = request.getfixturevalue(server)
    table = make()
    spec = SPEC.validate_python({"kind": "postgresql" if server == "pg" else "mysql", "secret_id": secret_id, "table": table})

    def others_delete(_connection):
        with engine.begin() as other:  # another session, committed between the COUNT and the stream
            other.exec_driver_sql(f"DELETE FROM {table} WHERE id > 2")

    # The COUNT and the stream share one snapshot (repeatable read): the read is whole and consistent
    source = open_source(spec, MAPPING, secrets=secrets, batch_size=2, in_transaction=others_delete)
    assert [row["external_id"] for row in source.rows()] == [1, 2, 3, 4, 5, 6]
    assert [row["external_id"] for row in source.rows()] == [1, 2]


def test_the_secret_is_read_through_powertools_by_default(pg, local_aws, monkeypatch):
    from aws_lambda_powertools.utilities.parameters import base

    make, _, secret_id = pg
    for key, value in {"AWS_ENDPOINT_URL": local_aws.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(base, "DEFAULT_PROVIDERS", {})  # a provider made by an earlier test points elsewhere
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": secret_id, "table": make()})
    assert len(list(open_source(spec, MAPPING).rows())) == len(PEOPLE)


def test_a_secret_for_another_engine_is_refused(local_aws, secrets):
    secret_id = _secret(local_aws, "mariadb", "127.0.0.1", 3306, "root", "test")
    spec = SPEC.validate_python({"kind": "postgresql", "secret_id": secret_id, "table": "candidates"})
    with pytest.raises(SourceError, match="another database engine"):
        open_source(spec, MAPPING, secrets=secrets)


# ---- MariaDB ------------------------------------------------------------------------------------------------

def test_mariadb_streams_all_rows_mapped_and_incremental(maria, secrets):
    make, _, secret_id = maria
    spec = SPEC.validate_python({"kind": "mysql", "secret_id": secret_id, "table": make()})
    source = open_source(spec, MAPPING, secrets=secrets, batch_size=2)
    _assert_the_people(*_screened(source))
    assert [row["external_id"] for row in source.rows(since=T0 + timedelta(days=4))] == [5, 6]
    assert source.count == 2


def test_mariadb_read_only_transaction_is_the_first_statement(maria, secrets):
    make, engine, secret_id = maria
    table = make()
    spec = SPEC.validate_python({"kind": "mysql", "secret_id": secret_id, "table": table})
    seen: dict = {}

    def inside(connection):
        seen["in_transaction"] = connection.exec_driver_sql("SELECT @@in_transaction").scalar()
        with pytest.raises(sa.exc.OperationalError, match="READ ONLY transaction"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
        seen["refused"] = True

    source = open_source(spec, MAPPING, secrets=secrets, in_transaction=inside)
    statements: list[str] = []
    sa.event.listen(source.engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    assert len(list(source.rows())) == len(PEOPLE)
    assert seen == {"in_transaction": 1, "refused": True}
    assert statements[0].startswith("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    assert statements[1].startswith("SELECT count(*)")
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == len(PEOPLE)


def test_mariadb_a_statement_during_the_stream_truncates_it_and_the_count_catches_it(maria, secrets):
    make, _, secret_id = maria
    spec = SPEC.validate_python({"kind": "mysql", "secret_id": secret_id, "table": make()})
    # The real trap: another statement on the streaming connection silently ends the stream (PyMySQL warns only)
    source = open_source(spec, MAPPING, secrets=secrets, batch_size=2,
                         while_streaming=lambda connection: connection.exec_driver_sql("SELECT 1").all())
    rows = []
    with pytest.warns(UserWarning, match="unbuffered result"), pytest.raises(SourceTruncatedError, match="counted 6"):
        rows.extend(source.rows())
    assert 0 < len(rows) < len(PEOPLE)


# ---- identifiers, local-only kinds -------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["candidates; DROP TABLE x", "a.b.c", "1abc", "public.\"x\"", ""])
def test_a_bad_table_name_is_refused(table):
    with pytest.raises(ValidationError):
        SPEC.validate_python({"kind": "postgresql", "secret_id": "ats/readonly", "table": table})


def test_sqlite_is_refused_outside_the_local_stack(tmp_path):
    spec = SPEC.validate_python({"kind": "sqlite", "path": str(tmp_path / "ats.db"), "table": "candidates"})
    with pytest.raises(SourceNotAllowedError):
        open_source(spec, MAPPING)


# ---- SQLite -------------------------------------------------------------------------------------------------

def test_sqlite_file_read_only(tmp_path):
    path = tmp_path / "ats.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE candidates (id int, email text, first_name text, last_name text, "
                                   "skills text, city text, marketing_consent int, updated_at text)")
        connection.execute(sa.text("INSERT INTO candidates VALUES (:i, :e, :f, :l, :s, :c, :k, :u)"),
                           [{**_values(p), "s": ",".join(p[4]), "u": _values(p)["u"].isoformat()} for p in PEOPLE])
    engine.dispose()
    spec = SPEC.validate_python({"kind": "sqlite", "path": str(path), "table": "candidates"})
    source = open_source(spec, MAPPING, allow_local=True)
    _assert_the_people(*_screened(source))

    def write(connection):
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            connection.exec_driver_sql("DELETE FROM candidates")

    assert len(list(open_source(spec, MAPPING, allow_local=True, in_transaction=write).rows())) == len(PEOPLE)


# ---- S3 -----------------------------------------------------------------------------------------------------

def _csv(people) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "email", "first_name", "last_name", "skills", "city", "marketing_consent", "updated_at"])
    for i, e, f, last, s, c, k, days in people:
        writer.writerow([i, e, f, last, ";".join(s), c, "yes" if k else "no", (T0 + timedelta(days=days)).isoformat()])
    return out.getvalue().encode()


def _jsonl(people) -> bytes:
    lines = [json.dumps({"id": i, "email": e, "first_name": f, "last_name": last, "skills": s, "city": c,
                         "marketing_consent": k, "updated_at": (T0 + timedelta(days=days)).isoformat()})
             for i, e, f, last, s, c, k, days in people]
    lines.insert(2, "{not json")
    lines.insert(3, "")
    return "\n".join(lines).encode()


@pytest.fixture
def bucket(local_aws):
    name = "ats-" + uuid.uuid4().hex[:12]
    local_aws.client("s3").create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize(("fmt", "compression"), [("csv", "gzip"), ("csv", "none"), ("jsonl", "gzip"), ("jsonl", "none")])
def test_s3_objects(local_aws, bucket, fmt, compression):
    body = _csv(PEOPLE) if fmt == "csv" else _jsonl(PEOPLE)
    key = f"exports/candidates.{fmt}" + (".gz" if compression == "gzip" else "")
    s3 = local_aws.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if compression == "gzip" else body)
    spec = SPEC.validate_python({"kind": "s3", "uri": f"s3://{bucket}/{key}", "format": fmt, "compression": compression})
    source = open_source(spec, MAPPING, clients={"s3": s3})
    candidates, counts = _screened(source)
    assert [c.external_id for c in candidates] == ["1", "2", "6"]
    assert candidates[0].skills == ("python", "maths") and candidates[0].updated_at == T0 + timedelta(days=1)
    # The bad JSON line is counted, not a crash; the blank line is no row
    expected = {"invalid_email": 1, "no_consent": 1, "duplicate": 1} | ({"invalid_row": 1} if fmt == "jsonl" else {})
    assert counts == expected
    # Since a watermark: the rows updated after it (a bad line has no date: it is still counted, as invalid)
    recent = [row["external_id"] for row in source.rows(since=T0 + timedelta(days=4)) if isinstance(row, dict)]
    assert recent in (["5", "6"], [5, 6])


# ---- DynamoDB -----------------------------------------------------------------------------------------------

@pytest.fixture
def ats_table(local_aws):
    dynamodb = local_aws.client("dynamodb")
    name = "ats-" + uuid.uuid4().hex[:10]
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                              {"AttributeName": "tenant", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-tenant", "KeySchema": [{"AttributeName": "tenant", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    for i, e, f, last, s, c, k, days in PEOPLE:
        item = {"id": {"S": str(i)}, "tenant": {"S": "acme" if i != 2 else "other"}, "email": {"S": e},
                "first_name": {"S": f}, "last_name": {"S": last}, "city": {"S": c}, "marketing_consent": {"BOOL": k},
                "updated_at": {"N": str(int((T0 + timedelta(days=days)).timestamp()))}}
        if s:
            item["skills"] = {"SS": s}
        dynamodb.put_item(TableName=name, Item=item)
    yield name
    dynamodb.delete_table(TableName=name)


def test_dynamodb_parallel_scan(local_aws, ats_table):
    spec = SPEC.validate_python({"kind": "dynamodb", "table_name": ats_table, "segments": 3})
    source = open_source(spec, MAPPING, clients={"dynamodb": local_aws.client("dynamodb")})
    rows = sorted(source.rows(), key=lambda row: int(row["external_id"]))  # a parallel Scan has no order
    candidates, counts = _screened(type("Rows", (), {"rows": lambda self, since=None: iter(rows)})())
    assert source.count == len(PEOPLE)
    assert [c.external_id for c in candidates] == ["1", "2", "6"]
    assert candidates[0].skills == ("maths", "python") and candidates[0].updated_at == T0 + timedelta(days=1)
    assert counts == {"invalid_email": 1, "no_consent": 1, "duplicate": 1}
    assert sorted(row["external_id"] for row in source.rows(since=T0 + timedelta(days=4))) == ["5", "6"]


def test_dynamodb_scan_pages_through_a_bounded_queue_and_stops_cleanly(local_aws, ats_table):
    import threading

    spec = SPEC.validate_python({"kind": "dynamodb", "table_name": ats_table, "segments": 2})
    source = open_source(spec, MAPPING, clients={"dynamodb": local_aws.client("dynamodb")}, page_size=1)
    assert sorted(int(row["external_id"]) for row in source.rows()) == [1, 2, 3, 4, 5, 6]
    # A reader that stops early leaves no segment thread behind
    rows = source.rows()
    next(rows)
    rows.close()
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("attract-scan-")] == []


def test_dynamodb_query_on_an_index(local_aws, ats_table):
    spec = SPEC.validate_python({"kind": "dynamodb", "table_name": ats_table, "index": "by-tenant",
                                 "key": {"name": "tenant", "value": "acme"}})
    source = open_source(spec, MAPPING, clients={"dynamodb": local_aws.client("dynamodb")}, )
    assert sorted(row["external_id"] for row in source.rows()) == ["1", "3", "4", "5", "6"]


def test_dynamodb_an_index_without_a_key_is_refused():
    with pytest.raises(ValidationError, match="needs a key"):
        SPEC.validate_python({"kind": "dynamodb", "table_name": "ats", "index": "by-tenant"})
