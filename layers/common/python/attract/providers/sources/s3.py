"""CSV or JSON Lines objects in S3, optionally gzip, streamed with Powertools' S3Object (ranged GETs)."""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.streaming import S3Object
from aws_lambda_powertools.utilities.streaming.transformations import BaseTransform, CsvTransform, GzipTransform

from attract.invites.screening import is_after
from attract.invites.sources import INVALID_ROW, ColumnMapping, InvalidRow, Row, S3Spec


def open(spec: S3Spec, mapping: ColumnMapping, client: Any = None, **options: Any) -> "S3Source":
    return S3Source(spec, mapping, client=client)


class S3Source:
    def __init__(self, spec: S3Spec, mapping: ColumnMapping, client: Any = None):
        self.spec = spec
        self.columns = mapping.columns()
        self.client = client
        self.count = 0

    def _object(self) -> S3Object:
        if self.client is None:
            from attract.aws import client

            self.client = client("s3")
        bucket, key = self.spec.bucket_and_key
        return S3Object(bucket=bucket, key=key, boto3_client=self.client)

    def _records(self, stream: S3Object) -> Iterator[Any]:
        # Transforms applied out of place: S3Object(is_csv=True).close() fails on the DictReader it made
        # (Powertools 3), and closing the object closes the ranged-GET stream under them all the same.
        transforms: list[BaseTransform] = [GzipTransform()] if self.spec.compression == "gzip" else []
        if self.spec.format == "csv":
            return iter(stream.transform([*transforms, CsvTransform()]))
        return _json_lines(stream.transform(transforms) if transforms else stream)

    def rows(self, since: datetime | None = None) -> Iterator[Row | InvalidRow]:
        self.count = 0
        with self._object() as stream:
            for record in self._records(stream):
                if isinstance(record, InvalidRow):
                    self.count += 1
                    yield record
                    continue
                row = {field: record.get(column) for field, column in self.columns.items()}
                if is_after(row, since):
                    self.count += 1
                    yield row


def _json_lines(stream: Any) -> Iterator[dict | InvalidRow]:
    """There is no JSON Lines transform: one object per line; a bad line is an invalid row, not a crash."""
    # readline, not iteration: the raw S3 body iterates in fixed-size chunks, not lines.
    for line in iter(stream.readline, b""):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # includes UnicodeDecodeError
            yield INVALID_ROW
            continue
        yield record if isinstance(record, dict) else INVALID_ROW
