"""Commands that run once: Powertools idempotency keyed on a `command` model (who asked, and for what).

Every marketer create (a link, an invite campaign, an ad campaign, a run with an Idempotency-Key) is
the same shape: a retried request within the window gets the first answer instead of a second object.
The Powertools import lives here, so only the functions that create things load it.
"""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

from attract.aws import client


def once_per_command(function: Callable[..., Any], *, idempotency_table: str, expires_after_seconds: int,
                     key_prefix: str) -> Any:
    """`function(*, command, ...)` run once per `command` within the window; a retry gets the stored result.

    `function`'s return annotation (a pydantic model) is how the stored result is read back. The result
    carries `.config`, which the handler registers the Lambda context on (timed-out attempts expire early).
    """
    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client("dynamodb"))
    config = IdempotencyConfig(expires_after_seconds=expires_after_seconds)
    once = idempotent_function(data_keyword_argument="command", persistence_store=persistence, config=config,
                               output_serializer=PydanticSerializer, key_prefix=key_prefix)(function)
    once.config = config  # type: ignore[attr-defined]
    return once
