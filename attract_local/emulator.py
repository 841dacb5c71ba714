"""Fixes to moto, the local AWS emulator, so it holds up under concurrent clients.

moto's DynamoDB backend is plain dicts without locks, served by a threaded werkzeug server:
- two requests at once can iterate a dict another one is growing ("dictionary changed size during
  iteration"), which boto3 then retries for ~28 s;
- `transact_write_items` deep-copies the whole table once per item of the transaction, to roll back
  on failure: a 7-item join on a 20k-item table copies 140k items, and concurrent joins pile up copies
  (7 GB under 8 clients).

- a Query on the base table sorts and scans every item of the table to find one partition, so each
  call grows with the table (1.6 joins/s on a 20,000-item table).

`serialise_dynamodb()` puts one lock around every DynamoDB request (DynamoDB itself is serialisable
per item; a local emulator does not need parallelism), replaces the rollback copy with a copy of the
items the transaction touches, and lets a base-table Query read only its partition. Only the emulator
is patched; our code runs unchanged.

`ses_identities_verified()` makes moto's SES answer what it does: it sends from every identity it holds
(`_is_verified_address`), yet its GetEmailIdentity says `VerifiedForSendingStatus: false` for each of them,
which would make the invite API refuse every sender the local stack verified.
"""

import copy
import inspect
import threading
from typing import Any

_LOCK = threading.RLock()
_PATCHED = False
_QUERYING = threading.local()  # (table, hash key) of the base-table Query this thread is running


def serialise_dynamodb() -> None:
    """Patch moto's DynamoDB (idempotent; moto's state is per process, so is the patch)."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action

    def locked_call_action(self):  # type: ignore[no-untyped-def]
        with _LOCK:
            return call_action(self)

    DynamoHandler.call_action = locked_call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    _partition_queries()
    _normalised_numbers()
    _PATCHED = True


def _normalised_numbers() -> None:
    """ADD and arithmetic on numbers as DynamoDB does them: 38 digits, the result stored normalised.

    moto adds `Decimal(a) + Decimal(b)` only when a value holds a ".", `int()` otherwise, and stores the sum as
    `str(Decimal)`: subtracting a credit that was added (0.142857142857 - 0.142857142857) stores "0E-12", and the
    next ADD on that attribute fails with ValueError (int("0E-12")). DynamoDB stores that zero as 0. Relevance
    aggregates go up and down (a member leaves a profile): docs/decisions.md, "moto: numbers".
    """
    import decimal

    from moto.dynamodb.exceptions import IncorrectDataType
    from moto.dynamodb.models.dynamo_type import DDBType, DynamoType

    context = decimal.Context(prec=38)

    def text(value: decimal.Decimal) -> str:
        return "0" if value == 0 else format(value.normalize(context), "f")

    def arithmetic(sign: int):  # type: ignore[no-untyped-def]
        def operate(self, other):  # type: ignore[no-untyped-def]
            if self.type != other.type:
                raise TypeError("Different types of operandi is not allowed.")
            if not self.is_number():
                raise IncorrectDataType()
            total = context.add(decimal.Decimal(self.value), context.multiply(sign, decimal.Decimal(other.value)))
            return DynamoType({DDBType.NUMBER: text(total)})
        return operate

    DynamoType.__add__ = arithmetic(1)  # type: ignore[method-assign]
    DynamoType.__sub__ = arithmetic(-1)  # type: ignore[method-assign]


def ses_identities_verified() -> None:
    """An identity moto's SES holds is verified for sending, as its SendEmail already treats it (idempotent)."""
    from moto.ses.models import EmailIdentity

    if getattr(EmailIdentity, "_attract_verified", False):
        return
    init = EmailIdentity.__init__

    def verified_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        self.verified_for_sending_status = True

    EmailIdentity.__init__ = verified_init  # type: ignore[method-assign]
    EmailIdentity._attract_verified = True  # type: ignore[attr-defined]


def _partition_queries() -> None:
    """moto's Table.query gathers candidates from all_items() (every item, sorted); for a base-table
    Query only the hash key's partition can match, so all_items() hands over that partition alone."""
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(query)

    def partition_query(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        bound = signature.bind(self, *args, **kwargs)
        hash_key, index_name = bound.arguments.get("hash_key"), bound.arguments.get("index_name")
        _QUERYING.target = (self, hash_key) if hash_key is not None and not index_name else None
        try:
            return query(self, *args, **kwargs)
        finally:
            _QUERYING.target = None

    def partition_items(self):  # type: ignore[no-untyped-def]
        target = getattr(_QUERYING, "target", None)
        if target is None or target[0] is not self:
            return all_items(self)
        partition = self.items.get(target[1])  # .get: items is a defaultdict, a lookup must not add keys
        if partition is None:
            return []
        if not self.range_key_attr:
            return [partition]
        return sorted(partition.values(), key=lambda item: item.range_key)

    Table.query = partition_query  # type: ignore[method-assign]
    Table.all_items = partition_items  # type: ignore[method-assign]


def _item_slot(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(table: Any, key: dict[str, Any], old: Any, stream_length: int | None) -> None:
    """Put back the item as it was before the transaction (or remove it when there was none)."""
    hash_value, range_value = _item_slot(table, key)
    if range_value is not None:
        if old is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = old
    elif old is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = old
    if stream_length is not None and table.stream_shard is not None:
        del table.stream_shard.items[stream_length:]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items with the same semantics, rolling back only the touched items."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo: list[tuple[Any, dict[str, Any], Any, int | None]] = []  # (table, key, old item, stream length)
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []

    def rollback() -> None:
        for table, key, old, stream_length in reversed(undo):
            _restore(table, key, old, stream_length)

    for entry in transact_items:
        if len(entry) > 1:
            rollback()
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)

            condition = op.get("ConditionExpression")
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            current = self.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type == "ConditionCheck":
                errors.append((None, None, None))
                continue
            # Update mutates the stored item in place: keep a copy of this one item, not of the table.
            stream_length = len(table.stream_shard.items) if table.stream_shard is not None else None
            undo.append((table, key, copy.deepcopy(current), stream_length))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition,
                                 expression_attribute_names=names, expression_attribute_values=values)
            else:
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition, expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # noqa: BLE001 - moto reports any other failure per item, so do we
            errors.append((type(error).__name__, str(error), original_item))

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)
