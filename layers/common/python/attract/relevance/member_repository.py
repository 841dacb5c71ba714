"""DynamoDB side of scoring: the member index, score items, matches, and the one transaction per change.

Items and keys: attract.relevance.keys. Reads are GetItem, Query and BatchGetItem only; the member index is
walked with Query pages (never a Scan). A change is one TransactWriteItems (≤ 1 + 1 + 2 + 1 + 19 + 19 = 43
actions: profile check, score, match delete/put, the member's relevant set, the profile scope's aggregates,
scope `any`'s aggregates).
"""

from decimal import Decimal

from botocore.exceptions import ClientError

from attract.attribution.relevant import ANY, relevance_actions
from attract.aws import Repository, batch_get, from_item, to_item
from attract.observability import logger
from attract.relevance.keys import (
    INDEX_PARTITION,
    SCORE_PREFIX,
    index_key,
    match_key,
    match_partition,
    profile_key,
    score_key,
)
from attract.relevance.records import IndexedMember, StoredScore
from attract.relevance.rescoring import Applied, Change

MEMBER_PARTITION_PREFIX = score_key("", "")["PK"]["S"]  # the members' partition prefix, as its owner builds it


class ScoreRepository(Repository):
    """`attract.relevance.rescoring.ScoreStore` on the table."""

    def __init__(self, table_name: str, dynamodb=None, shards: int = 4):
        super().__init__(table_name, dynamodb)
        self.shards = shards  # the aggregates' totals shards (AGGREGATE_SHARDS), as the join counted itself
        self.calls: dict[str, int] = {}

    def _call(self, operation: str, **request):
        self.calls[operation] = self.calls.get(operation, 0) + 1
        return getattr(self.dynamodb, operation)(**request)

    # -- reads ---------------------------------------------------------------------------------------

    def member(self, email_hash: str) -> IndexedMember | None:
        response = self._call("get_item", TableName=self.table, Key=index_key(email_hash), ConsistentRead=True)
        return IndexedMember.model_validate(from_item(response["Item"])) if "Item" in response else None

    def members(self, email_hashes: list[str]) -> list[IndexedMember]:
        if not email_hashes:
            return []
        self.calls["batch_get_item"] = self.calls.get("batch_get_item", 0) + (len(email_hashes) + 99) // 100
        items = batch_get(self.dynamodb, self.table, [index_key(h) for h in email_hashes], ConsistentRead=True)
        found = {item["SK"]["S"]: IndexedMember.model_validate(from_item(item)) for item in items}
        return [found[h] for h in email_hashes if h in found]

    def scores_of(self, email_hash: str) -> dict[str, StoredScore]:
        scores: dict[str, StoredScore] = {}
        request = {"TableName": self.table, "ConsistentRead": True,
                   "KeyConditionExpression": "PK = :pk AND begins_with(SK, :score)",
                   "ExpressionAttributeValues": {":pk": score_key(email_hash, "")["PK"], ":score": {"S": SCORE_PREFIX}}}
        while True:
            page = self._call("query", **request)
            for item in page["Items"]:
                score = StoredScore.model_validate(from_item(item))
                scores[score.profile_id] = score
            if "LastEvaluatedKey" not in page:
                return scores
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scores_for(self, profile_id: str, email_hashes: list[str]) -> dict[str, StoredScore]:
        if not email_hashes:
            return {}
        self.calls["batch_get_item"] = self.calls.get("batch_get_item", 0) + (len(email_hashes) + 99) // 100
        items = batch_get(self.dynamodb, self.table, [score_key(h, profile_id) for h in email_hashes],
                          ConsistentRead=True)
        return {item["PK"]["S"].removeprefix(MEMBER_PARTITION_PREFIX): StoredScore.model_validate(from_item(item))
                for item in items}

    def member_page(self, cursor: str, limit: int) -> tuple[list[IndexedMember], str | None]:
        request: dict = {"TableName": self.table, "KeyConditionExpression": "PK = :pk", "Limit": limit,
                         "ExpressionAttributeValues": {":pk": {"S": INDEX_PARTITION}}}
        if cursor:
            request["ExclusiveStartKey"] = index_key(cursor)
        page = self._call("query", **request)
        members = [IndexedMember.model_validate(from_item(item)) for item in page["Items"]]
        last = page.get("LastEvaluatedKey")
        return members, (last["SK"]["S"] if last else None)

    def match_page(self, profile_id: str, cursor: str, limit: int) -> tuple[list[str], str | None]:
        request: dict = {"TableName": self.table, "KeyConditionExpression": "PK = :pk", "Limit": limit,
                         "ProjectionExpression": "SK, email_hash",
                         "ExpressionAttributeValues": {":pk": {"S": match_partition(profile_id)}}}
        if cursor:
            request["ExclusiveStartKey"] = {"PK": {"S": match_partition(profile_id)}, "SK": {"S": cursor}}
        page = self._call("query", **request)
        last = page.get("LastEvaluatedKey")
        return [item["email_hash"]["S"] for item in page["Items"]], (last["SK"]["S"] if last else None)

    # -- the change ------------------------------------------------------------------------------------

    def change_actions(self, change: Change, check_profile: bool = True) -> list[dict]:
        member, pid = change.member, change.profile_id
        version = {":v": {"N": str(change.version)}}
        actions: list[dict] = []
        if check_profile:
            actions.append({"ConditionCheck": {
                "TableName": self.table, "Key": profile_key(pid),
                "ConditionExpression": "version = :v AND attribute_not_exists(deleted)", "ExpressionAttributeValues": version}})
        actions.append({"Put": {
            "TableName": self.table, "ConditionExpression": "attribute_not_exists(PK) OR version < :v",
            "ExpressionAttributeValues": version,
            "Item": {**score_key(member.email_hash, pid), **to_item({
                "type": "score", "profile_id": pid, "version": change.version,
                "score": Decimal(f"{change.score:.4f}"), "relevant": change.relevant})}}})
        old_key = match_key(pid, change.old.score, member.email_hash) if change.was_relevant and change.old else None
        new_key = match_key(pid, change.score, member.email_hash) if change.relevant else None
        if old_key and old_key != new_key:
            actions.append({"Delete": {"TableName": self.table, "Key": old_key}})
        if new_key:
            actions.append({"Put": {"TableName": self.table, "Item": {**new_key, **to_item({
                "type": "match", "email_hash": member.email_hash, "score": Decimal(f"{change.score:.4f}"),
                "version": change.version, "joined_at": member.joined_at.isoformat()})}}})
        if change.relevant == change.was_relevant:
            return actions
        pid_value = {":p": {"SS": [pid]}, ":pid": {"S": pid}}
        if change.relevant:
            # Entering scope `any` is decided on the set read before: the condition proves it still holds.
            condition = ("attribute_exists(SK) AND attribute_not_exists(relevant)" if change.enters_any else
                         "attribute_exists(SK) AND attribute_exists(relevant) AND NOT contains(relevant, :pid)")
            update = "ADD relevant :p"
        else:
            condition = ("contains(relevant, :pid) AND size(relevant) = :one" if change.leaves_any else
                         "contains(relevant, :pid) AND size(relevant) > :one")
            update = "DELETE relevant :p"
            pid_value[":one"] = {"N": "1"}
        actions.append({"Update": {"TableName": self.table, "Key": index_key(member.email_hash),
                                   "UpdateExpression": update, "ConditionExpression": condition,
                                   "ExpressionAttributeValues": pid_value}})
        sign = 1 if change.relevant else -1
        day = member.joined_at.date()
        actions += relevance_actions(self.table, pid, member.reported, day, member.email_hash, sign, self.shards)
        if change.enters_any or change.leaves_any:
            actions += relevance_actions(self.table, ANY, member.reported, day, member.email_hash, sign, self.shards)
        return actions

    def apply(self, change: Change, check_profile: bool = True) -> Applied:
        actions = self.change_actions(change, check_profile)
        try:
            self._call("transact_write_items", TransactItems=actions)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            offset = 1 if check_profile else 0
            if check_profile and reasons[:1] == ["ConditionalCheckFailed"]:
                return "stale"
            if reasons[offset:offset + 1] == ["ConditionalCheckFailed"]:
                return "already"
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                return "retry"  # the member's relevant set moved (another profile, at the same moment)
            logger.warning("score transaction refused", extra={"reasons": reasons})  # codes only
            raise
        return "applied"

    # -- erasure ----------------------------------------------------------------------------------------

    def remove_match(self, profile_id: str, score: float, email_hash: str) -> None:
        self._call("delete_item", TableName=self.table, Key=match_key(profile_id, score, email_hash))

    def remove_scores(self, email_hash: str) -> None:
        for profile_id in self.scores_of(email_hash):
            self._call("delete_item", TableName=self.table, Key=score_key(email_hash, profile_id))

    def remove_index(self, email_hash: str) -> None:
        self._call("delete_item", TableName=self.table, Key=index_key(email_hash))
