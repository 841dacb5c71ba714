"""moto, as the local stack patches it (attract_local/emulator.py): safe under threads, cheap transactions."""

import threading
import uuid

import boto3
import moto.dynamodb.models as moto_models
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from attract_local import emulator

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def table(local_aws):
    name = local_aws.refs["AttractTable"]
    return local_aws.client("dynamodb"), name


def _transaction(name: str, pk: str, n: int = 7, condition_on_last: bool = False) -> list[dict]:
    items = [{"Update": {"TableName": name, "Key": {"PK": {"S": pk}, "SK": {"S": f"AGG#{i}"}},
                         "UpdateExpression": "ADD joins :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
             for i in range(n - 1)]
    last: dict = {"Put": {"TableName": name, "Item": {"PK": {"S": pk}, "SK": {"S": "MEMBER"}}}}
    if condition_on_last:
        last["Put"]["ConditionExpression"] = "attribute_not_exists(PK)"
    return [*items, last]


def test_concurrent_transactions_and_queries_never_fail(local_aws, table):
    # Unpatched, moto iterated dicts other threads were growing: 500s that boto3 retried for ~28 s.
    _, name = table
    errors: list[str] = []
    prefix = f"RACE#{uuid.uuid4().hex[:6]}"
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        # A client per thread, as each Lambda worker has its own; no retries, so any 500 shows.
        c = boto3.client("dynamodb", endpoint_url=local_aws.endpoint, region_name="us-east-1", config=NO_RETRIES,
                         aws_access_key_id="testing", aws_secret_access_key="testing")
        barrier.wait()
        for j in range(25):
            try:
                c.transact_write_items(TransactItems=_transaction(name, f"{prefix}#{index}#{j}"))
                c.query(TableName=name, KeyConditionExpression="PK = :pk",
                        ExpressionAttributeValues={":pk": {"S": f"{prefix}#{index}#{j}"}})
                c.scan(TableName=name, Limit=50)  # the emulator's own iteration over the whole table
            except ClientError as error:
                errors.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_transaction_copies_its_items_not_the_table(local_aws, table, monkeypatch):
    client, name = table
    for k in range(300):  # a table with more items than any one transaction touches
        client.put_item(TableName=name, Item={"PK": {"S": f"FILL#{k}"}, "SK": {"S": "x"}})
    copied: list[str] = []
    real_deepcopy = moto_models.copy.deepcopy

    class CountingCopy:
        @staticmethod
        def deepcopy(value, *args, **kwargs):
            copied.append(type(value).__name__)
            return real_deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(moto_models, "copy", CountingCopy)
    monkeypatch.setattr(emulator, "copy", CountingCopy)
    client.transact_write_items(TransactItems=_transaction(name, f"COPY#{uuid.uuid4().hex[:6]}"))
    assert "Table" not in copied
    assert len(copied) <= 2 * 7  # the touched items (and moto's own copy of an updated item)


def test_a_failed_transaction_rolls_back_every_item(table):
    client, name = table
    pk = f"ROLLBACK#{uuid.uuid4().hex[:6]}"
    client.transact_write_items(TransactItems=_transaction(name, pk))
    with pytest.raises(ClientError) as failed:
        client.transact_write_items(TransactItems=_transaction(name, pk, condition_on_last=True))
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = client.query(TableName=name, KeyConditionExpression="PK = :pk",
                         ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
    counts = sorted(int(item["joins"]["N"]) for item in items if "joins" in item)
    assert counts == [1] * 6  # the six ADDs of the failed transaction were undone
    # New items created by a failed transaction are removed again.
    fresh = f"ROLLBACK#{uuid.uuid4().hex[:6]}"
    bad = _transaction(name, fresh)
    bad.append({"ConditionCheck": {"TableName": name, "Key": {"PK": {"S": pk}, "SK": {"S": "MEMBER"}},
                                   "ConditionExpression": "attribute_not_exists(PK)"}})
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=bad)
    assert client.query(TableName=name, KeyConditionExpression="PK = :pk",
                        ExpressionAttributeValues={":pk": {"S": fresh}})["Items"] == []


def test_a_query_reads_its_partition_in_order(table):
    # The patched Query reads one partition instead of sorting the whole table: same answers.
    client, name = table
    pk = f"ORDER#{uuid.uuid4().hex[:6]}"
    for sk in ("b", "a", "c", "ab"):
        client.put_item(TableName=name, Item={"PK": {"S": pk}, "SK": {"S": sk}})
    client.put_item(TableName=name, Item={"PK": {"S": pk + "x"}, "SK": {"S": "a"}})

    def keys(condition: str = "PK = :pk", values: dict | None = None, **extra) -> list[str]:
        items = client.query(TableName=name, KeyConditionExpression=condition,
                             ExpressionAttributeValues={":pk": {"S": pk}, **(values or {})}, **extra)["Items"]
        return [item["SK"]["S"] for item in items]

    assert keys() == ["a", "ab", "b", "c"]
    assert keys(ScanIndexForward=False) == ["c", "b", "ab", "a"]
    assert keys(Limit=2) == ["a", "ab"]
    assert keys("PK = :pk AND begins_with(SK, :a)", {":a": {"S": "a"}}) == ["a", "ab"]
    assert client.query(TableName=name, KeyConditionExpression="PK = :pk",
                        ExpressionAttributeValues={":pk": {"S": "NOPE#none"}})["Items"] == []


def test_an_identity_moto_sends_from_is_verified_for_sending(local_aws):
    # moto sends from any identity it holds; GetEmailIdentity must say so, or the invite API refuses every sender
    ses = local_aws.client("sesv2")
    domain = f"verified-{uuid.uuid4().hex[:8]}.example"
    ses.create_email_identity(EmailIdentity=domain)
    assert ses.get_email_identity(EmailIdentity=domain)["VerifiedForSendingStatus"] is True
    with pytest.raises(ClientError) as missing:
        ses.get_email_identity(EmailIdentity=f"other-{domain}")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    emulator.ses_identities_verified()  # idempotent: a second stack in the process patches nothing twice
    ses.create_email_identity(EmailIdentity=f"again-{domain}")
    assert ses.get_email_identity(EmailIdentity=f"again-{domain}")["VerifiedForSendingStatus"] is True


def test_a_number_added_and_taken_away_can_be_added_to_again(table):
    # moto stored 0.142857142857 - 0.142857142857 as "0E-12" and the next ADD raised ValueError (int("0E-12")):
    # relevance aggregates go down when a member leaves a profile, and up again. DynamoDB stores 0.
    client, name = table
    key = {"PK": {"S": f"NUM#{uuid.uuid4().hex[:6]}"}, "SK": {"S": "n"}}

    def add(value: str) -> str:
        return client.update_item(TableName=name, Key=key, UpdateExpression="ADD n :v", ReturnValues="UPDATED_NEW",
                                  ExpressionAttributeValues={":v": {"N": value}})["Attributes"]["n"]["N"]

    assert add("0.142857142857") == "0.142857142857"
    assert add("-0.142857142857") == "0"
    assert add("1") == "1"
    assert add("0.5") == "1.5"
    assert add("12345678901234567890.123456789012345678") == "12345678901234567891.623456789012345678"  # 38 digits
