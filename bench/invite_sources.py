"""Invitation sources, planner-style: 10,000 and 200,000 rows from PostgreSQL and from S3 (gzip CSV).

Prints rows per second (read alone, and read + screen()) and peak memory: Python allocations
(tracemalloc) and the process's resident peak (VmHWM, reset before each read). The source read must
stay flat from 10,000 to 200,000 rows; screen() grows only by its set of email digests (duplicates).
Printed, never asserted (`make bench`). Needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test).
"""

import csv
import gzip
import io
import logging
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

import boto3  # noqa: E402
import psycopg  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from attract.invites.screening import screen  # noqa: E402
from attract.invites.sources import ColumnMapping, S3Spec  # noqa: E402
from attract.providers.sources.postgresql import PostgresqlSource  # noqa: E402
from attract.providers.sources.s3 import S3Source  # noqa: E402
from attract_local.stack import free_port  # noqa: E402

VOLUMES = (10_000, 200_000)
PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MAPPING = ColumnMapping(email="email", first_name="first_name", last_name="last_name", skills="skills",
                        location="city", consent="consent", updated_at="updated_at", external_id="id")
COLUMNS = ["id", "email", "first_name", "last_name", "skills", "city", "consent", "updated_at"]


def person(i: int) -> tuple:
    # 1 in 50 without consent, 1 in 100 a duplicate of the previous row, 1 in 200 a bad address
    email = "bad-address" if i % 200 == 0 else f"person{i - (i % 100 == 1)}@example.com"
    return (i, email, f"First{i}", f"Last{i}", "python;sql", "Berlin", i % 50 != 0, T0 + timedelta(seconds=i))


def resident_kib() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text().split("\n")
    value = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
    return value["VmRSS"], value["VmHWM"]


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS


def measure(read: Callable[[], int], traced: bool = True) -> dict:
    """One timed pass (rows/s, resident peak) and, when `traced`, one traced pass (Python peak)."""
    reset_peak()
    before, _ = resident_kib()
    started = time.perf_counter()
    rows = read()
    seconds = time.perf_counter() - started
    _, peak = resident_kib()
    py_peak = float("nan")
    if traced:
        tracemalloc.start()
        read()
        py_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"rows": rows, "rows_per_s": rows / seconds, "rss_peak_mib": (peak - before) / 1024, "py_peak_mib": py_peak}


def _mib(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"  # nan: not traced


def screen_alone(n: int) -> Callable[[], int]:
    """screen() over generated rows: its own memory (the digest set), whatever the source."""
    def read() -> int:
        rows = ({"email": row[1], "consent": row[6], "updated_at": row[7], "external_id": row[0]}
                for row in map(person, range(1, n + 1)))
        return sum(1 for _ in screen(rows))
    return read


def drain(source) -> Callable[[], int]:
    return lambda: sum(1 for _ in source.rows())


def planned(source) -> Callable[[], int]:
    def read() -> int:
        counts: Counter = Counter()
        for _ in screen(source.rows(), counts=counts):
            pass
        return source.count
    return read


def postgres_source(n: int, tables: list[str]) -> PostgresqlSource:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    table = "bench_" + uuid.uuid4().hex[:8]
    tables.append(table)
    with psycopg.connect(PG, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, email text, first_name text, last_name text, "
                           "skills text, city text, consent boolean, updated_at timestamptz)")
        with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for i in range(1, n + 1):
                copy.write_row(person(i))
        connection.execute(f"ANALYZE {table}")
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", poolclass=NullPool)
    return PostgresqlSource(engine, None, table, MAPPING)


def s3_source(n: int, s3) -> S3Source:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for row in map(person, range(1, n + 1)):
        writer.writerow([*row[:6], "yes" if row[6] else "no", row[7].isoformat()])
    key = f"candidates-{n}.csv.gz"
    body = gzip.compress(text.getvalue().encode(), compresslevel=5)
    s3.put_object(Bucket="bench-ats", Key=key, Body=body)
    print(f"  (s3 object {n:,} rows: {len(body) / 2**20:.1f} MiB gzip; moto serves it from this process, and its"
          " copy of the ranged body is in the Python peak)")
    return S3Source(S3Spec(kind="s3", uri=f"s3://bench-ats/{key}", format="csv", compression="gzip"), MAPPING, client=s3)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket="bench-ats")
    tables: list[str] = []
    print("source      rows     pass          rows/s   RSS peak MiB  Python peak MiB")
    try:
        for name in ("postgresql", "s3 gzip csv"):
            for n in VOLUMES:
                source = postgres_source(n, tables) if name == "postgresql" else s3_source(n, s3)
                # screen()'s memory is the same for every source: traced once per volume, below
                for label, read, traced in (("read", drain(source), True), ("read+screen", planned(source), False)):
                    figures = measure(read, traced)
                    assert figures["rows"] == n, figures
                    print(f"{name:<11} {n:>7,}  {label:<12} {figures['rows_per_s']:>9,.0f}  {figures['rss_peak_mib']:>12.1f}"
                          f"  {_mib(figures['py_peak_mib']):>15}")
        for n in VOLUMES:
            figures = measure(screen_alone(n))
            print(f"{'(none)':<11} {n:>7,}  {'screen':<12} {figures['rows_per_s']:>9,.0f}  {figures['rss_peak_mib']:>12.1f}"
                  f"  {_mib(figures['py_peak_mib']):>15}")
    finally:
        with psycopg.connect(PG, autocommit=True) as connection:
            for table in tables:
                connection.execute(f"DROP TABLE {table}")
        server.stop()
    print("read = rows() drained; read+screen = rows() through screen() (normalise, consent, duplicates), untraced;")
    print("screen = screen() over generated rows (no source), its Python peak traced.")
    print("screen() keeps an 8-byte digest per unique consenting email (DigestSet, 16-32 bytes each): its growth is that table, not the rows.")


if __name__ == "__main__":
    main()
