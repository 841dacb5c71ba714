"""boto3 clients, created lazily on first use and reused across warm invocations; batch calls with bounded retries."""

from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from attract.retry import Sleep, drain

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@cache
def client(service: str):
    # AWS_ENDPOINT_URL (set only by the local stack) points every client at the emulator.
    return boto3.client(service)  # type: ignore[call-overload]  # the stubs know literal service names only


def to_item(values: dict) -> dict:
    """Plain dict -> DynamoDB attribute map; None values are left out."""
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict) -> dict:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class Repository:
    """Base of the data-access classes: one table, a client passed in (tests, tools) or the cached one."""

    def __init__(self, table_name: str, dynamodb=None):
        self.table = table_name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self):
        return self._dynamodb or client("dynamodb")


BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
BATCH_WRITE_ITEMS = 25  # and BatchWriteItem's
UNPROCESSED_ATTEMPTS = 8


def batch_get(dynamodb, table: str, keys: list[dict], *, attempts: int = UNPROCESSED_ATTEMPTS,
              sleep: Sleep | None = None, **options: Any) -> list[dict]:
    """The items of `keys` that exist (raw attribute maps, in no particular order): BatchGetItem 100 keys a call,
    `options` (ConsistentRead, ProjectionExpression, ...) on each, UnprocessedKeys asked again through
    `attract.retry.drain` (backoff with jitter, RetriesExhaustedError after `attempts` calls)."""
    items: list[dict] = []

    def step(request: dict) -> dict:
        response = dynamodb.batch_get_item(RequestItems=request)
        items.extend(response.get("Responses", {}).get(table, []))
        return response.get("UnprocessedKeys") or {}

    for start in range(0, len(keys), BATCH_GET_KEYS):
        drain(step, {table: {"Keys": keys[start:start + BATCH_GET_KEYS], **options}}, attempts=attempts,
              base_s=0.05, cap_s=2.0, sleep=sleep, what="DynamoDB left keys unprocessed after retries")
    return items


def batch_write(dynamodb, table: str, requests: list[dict], *, attempts: int = UNPROCESSED_ATTEMPTS,
                sleep: Sleep | None = None) -> None:
    """BatchWriteItem `requests` ({"PutRequest": …} / {"DeleteRequest": …}) 25 a call, UnprocessedItems sent
    again through `attract.retry.drain`."""
    def step(request: dict) -> dict:
        return dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    for start in range(0, len(requests), BATCH_WRITE_ITEMS):
        drain(step, {table: requests[start:start + BATCH_WRITE_ITEMS]}, attempts=attempts, base_s=0.05, cap_s=1.0,
              sleep=sleep, what="DynamoDB left items unprocessed after retries")
