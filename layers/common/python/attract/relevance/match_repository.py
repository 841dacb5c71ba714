"""Reads of a profile's members list: its matches best first (one Query page), then the members and their
attribution (one BatchGetItem: 2 keys a member, ≤ 50 members a page)."""

from attract.aws import Repository, batch_get, from_item
from attract.joins.repository import member_key
from attract.relevance.keys import match_partition

MAX_PAGE = 50  # 2 keys a member: one BatchGetItem of ≤ 100 keys


class MatchRepository(Repository):
    def page(self, profile_id: str, limit: int, after: str | None) -> tuple[list[tuple[str, float]], str | None]:
        """[(email hash, score)] best first, and the sort key to continue after (None at the end)."""
        partition = {"S": match_partition(profile_id)}
        request: dict = {"TableName": self.table, "KeyConditionExpression": "PK = :pk", "Limit": min(limit, MAX_PAGE),
                         "ProjectionExpression": "email_hash, score", "ExpressionAttributeValues": {":pk": partition}}
        if after:
            request["ExclusiveStartKey"] = {"PK": partition, "SK": {"S": after}}
        response = self.dynamodb.query(**request)
        last = response.get("LastEvaluatedKey")
        ranked = [(item["email_hash"]["S"], float(item["score"]["N"])) for item in response["Items"]]
        return ranked, (last["SK"]["S"] if last else None)

    def details(self, email_hashes: list[str]) -> dict[str, tuple[dict, list[dict]]]:
        """email hash -> (member item, its credited touches); members that left are absent."""
        keys = [key for h in email_hashes for key in (member_key(h, "MEMBER"), member_key(h, "ATTRIBUTION"))]
        members: dict[str, dict] = {}
        touches: dict[str, list[dict]] = {}
        for item in map(from_item, batch_get(self.dynamodb, self.table, keys) if keys else []):
            email_hash = str(item["PK"]).split("#", 1)[1]
            if item["SK"] == "MEMBER":
                members[email_hash] = item
            else:
                touches[email_hash] = list(item.get("touches") or [])
        return {h: (member, touches.get(h, [])) for h, member in members.items()}
