"""DynamoDB record of each conversion upload: PK=CONVERSION#<join_id>, SK=<channel>.

status `uploaded` | `failed`, retryable, code (a platform error code, never personal data), attempts,
first_at, last_at. An uploaded record is never downgraded by a later failure.
"""

from datetime import datetime

from botocore.exceptions import ClientError

from attract.aws import Repository, to_item
from attract.campaigns.models import ConversionResult


def conversion_key(join_id: str, channel: str) -> dict:
    return {"PK": {"S": f"CONVERSION#{join_id}"}, "SK": {"S": channel}}


class ConversionRepository(Repository):
    def settled(self, join_id: str, channel: str) -> bool:
        response = self.dynamodb.get_item(TableName=self.table, Key=conversion_key(join_id, channel), ConsistentRead=True,
                                          ProjectionExpression="#s, retryable",
                                          ExpressionAttributeNames={"#s": "status"})
        item = response.get("Item")
        if item is None:
            return False
        return item["status"]["S"] == "uploaded" or not item.get("retryable", {}).get("BOOL", True)

    def record(self, channel: str, result: ConversionResult, at: datetime) -> None:
        values = to_item({":status": "uploaded" if result.ok else "failed", ":retryable": result.retryable,
                          ":code": result.error or "-", ":at": at.isoformat(), ":one": 1, ":uploaded": "uploaded"})
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=conversion_key(result.join_id, channel),
                UpdateExpression="SET #s = :status, retryable = :retryable, code = :code, last_at = :at, "
                                 "first_at = if_not_exists(first_at, :at), #t = :type ADD attempts :one",
                ConditionExpression="attribute_not_exists(#s) OR #s <> :uploaded",
                ExpressionAttributeNames={"#s": "status", "#t": "type"},
                ExpressionAttributeValues={**values, ":type": {"S": "conversion"}})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
