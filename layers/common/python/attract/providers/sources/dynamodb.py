"""An existing DynamoDB table: a paginated Query when the spec names a key, else a parallel Scan.

This is a batch job reading someone else's table, not a request path (the public functions never Scan).
Segments are read by threads into a bounded queue, so memory stays at a few pages whatever the table size.
"""

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from attract.invites.ports import SourceError
from attract.invites.screening import is_after
from attract.invites.sources import ColumnMapping, DynamodbSpec, Row

_DONE = object()
_deserializer = TypeDeserializer()


def open(spec: DynamodbSpec, mapping: ColumnMapping, client: Any = None, **options: Any) -> "DynamodbSource":
    return DynamodbSource(spec, mapping, client=client, **options)


class DynamodbSource:
    def __init__(self, spec: DynamodbSpec, mapping: ColumnMapping, client: Any = None, page_size: int = 500):
        self.spec = spec
        self.columns = mapping.columns()
        self.client = client
        self.page_size = page_size
        self.count = 0

    def _requests(self) -> list[dict]:
        names = {f"#c{i}": column for i, column in enumerate(sorted(set(self.columns.values())))}
        request: dict[str, Any] = {"TableName": self.spec.table_name, "ProjectionExpression": ", ".join(names),
                                   "ExpressionAttributeNames": names, "PaginationConfig": {"PageSize": self.page_size}}
        if self.spec.key is not None:
            if self.spec.index:
                request["IndexName"] = self.spec.index
            request["KeyConditionExpression"] = "#key = :key"
            request["ExpressionAttributeNames"] = {**names, "#key": self.spec.key.name}
            request["ExpressionAttributeValues"] = {":key": {"S": self.spec.key.value}}
            return [request]
        return [{**request, "Segment": segment, "TotalSegments": self.spec.segments}
                for segment in range(self.spec.segments)]

    def rows(self, since: datetime | None = None) -> Iterator[Row]:
        self.count = 0
        if self.client is None:
            from attract.aws import client

            self.client = client("dynamodb")
        operation = "query" if self.spec.key is not None else "scan"
        for item in self._items(operation, self._requests()):
            values = {name: _deserializer.deserialize(value) for name, value in item.items()}
            row = {field: values.get(column) for field, column in self.columns.items()}
            if is_after(row, since):
                self.count += 1
                yield row

    def _items(self, operation: str, requests: list[dict]) -> Iterator[dict]:
        paginator = self.client.get_paginator(operation)
        if len(requests) == 1:
            for page in paginator.paginate(**requests[0]):
                yield from page["Items"]
            return
        pages: queue.Queue = queue.Queue(maxsize=len(requests) * 2)
        stop = threading.Event()

        def read(request: dict) -> None:
            try:
                for page in paginator.paginate(**request):
                    while not stop.is_set():
                        try:
                            pages.put(page["Items"], timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                pages.put(_DONE)
            except Exception as error:  # noqa: BLE001  # handed to the reader, which raises it
                pages.put(error)

        threads = [threading.Thread(target=read, args=(request,), daemon=True, name=f"attract-scan-{number}")
                   for number, request in enumerate(requests)]
        for thread in threads:
            thread.start()
        try:
            remaining = len(threads)
            while remaining:
                page = pages.get()
                if page is _DONE:
                    remaining -= 1
                elif isinstance(page, Exception):
                    raise SourceError("the DynamoDB scan failed") from page
                else:
                    yield from page
        finally:
            stop.set()
            while any(thread.is_alive() for thread in threads):
                try:
                    pages.get_nowait()
                except queue.Empty:
                    threads[0].join(0.05)
