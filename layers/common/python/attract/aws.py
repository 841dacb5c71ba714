"""boto3 clients, created lazily on first use and reused across warm invocations."""

from functools import cache

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

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
