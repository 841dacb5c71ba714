"""Target profile items (attract.relevance.keys): create, read, list newest first, replace, delete, and the
re-scoring progress kept on the profile item."""

from datetime import datetime

from botocore.exceptions import ClientError

from attract.aws import Repository, from_item, to_item
from attract.errors import NotFoundError, PreconditionFailedError
from attract.relevance.keys import PROFILE_PREFIX, PROFILES_PARTITION, profile_id_of, profile_key
from attract.relevance.records import StoredProfile
from attract.relevance.rescoring import ProfileVersion

NOT_FOUND = "No such profile"


class ProfileRepository(Repository):
    def create(self, profile: StoredProfile) -> None:
        # `deleted` is only ever written by mark_deleted: conditions test attribute_not_exists(deleted).
        item = {**profile_key(profile.id),
                **to_item({"type": "profile", **profile.model_dump(mode="json", exclude={"deleted"})})}
        self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)")

    def get(self, profile_id: str, consistent: bool = False) -> StoredProfile | None:
        response = self.dynamodb.get_item(TableName=self.table, Key=profile_key(profile_id), ConsistentRead=consistent)
        if "Item" not in response:
            return None
        profile = StoredProfile.model_validate(from_item(response["Item"]))
        return None if profile.deleted else profile

    def page(self, limit: int, after: str | None) -> tuple[list[StoredProfile], str | None]:
        """Newest first (ids sort by creation), tombstones skipped; (profiles, id to continue after)."""
        request: dict = {"TableName": self.table, "ScanIndexForward": False, "Limit": limit,
                         "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                         "ExpressionAttributeValues": {":pk": {"S": PROFILES_PARTITION}, ":prefix": {"S": PROFILE_PREFIX}}}
        if after:
            request["ExclusiveStartKey"] = profile_key(after)
        response = self.dynamodb.query(**request)
        profiles = [StoredProfile.model_validate(from_item(item)) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return [p for p in profiles if not p.deleted], (profile_id_of(last["SK"]["S"]) if last else None)

    def versions(self) -> list[ProfileVersion]:
        """Every live profile's current version, compiled (what a new member is scored against)."""
        from attract.relevance.models import CompiledProfile

        out: list[ProfileVersion] = []
        request: dict = {"TableName": self.table, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                         "ProjectionExpression": "id, version, compiled, deleted",
                         "ExpressionAttributeValues": {":pk": {"S": PROFILES_PARTITION}, ":prefix": {"S": PROFILE_PREFIX}}}
        while True:
            response = self.dynamodb.query(**request)
            for item in map(from_item, response["Items"]):
                if not item.get("deleted"):
                    out.append(ProfileVersion(str(item["id"]), int(item["version"]),
                                              CompiledProfile.model_validate_json(str(item["compiled"]))))
            if "LastEvaluatedKey" not in response:
                return out
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def replace(self, profile_id: str, body: str, compiled: str, resolved: str, now: datetime,
                expected_version: int | None = None) -> StoredProfile:
        """The new body, version + 1, re-scoring queued; NotFoundError for an unknown or deleted profile,
        PreconditionFailedError when `expected_version` (the request's If-Match) is not the current one."""
        condition = "attribute_exists(PK) AND attribute_not_exists(deleted)"
        expected = {}
        if expected_version is not None:
            condition += " AND version = :expected"
            expected = {":expected": {"N": str(expected_version)}}
        try:
            response = self.dynamodb.update_item(
                TableName=self.table, Key=profile_key(profile_id), ReturnValues="ALL_NEW",
                UpdateExpression="SET body = :body, compiled = :compiled, resolved = :resolved, updated_at = :now, "
                                 "version = version + :one, rescoring = :queued",
                ConditionExpression=condition,
                ExpressionAttributeValues={":body": {"S": body}, ":compiled": {"S": compiled},
                                           ":resolved": {"S": resolved}, ":now": {"S": now.isoformat()},
                                           ":one": {"N": "1"}, ":queued": to_item({"r": queued()})["r"], **expected})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                current = self.get(profile_id, consistent=True) if expected_version is not None else None
                if current is not None:
                    raise PreconditionFailedError("The profile changed since that version (If-Match)",
                                                  version=current.version) from error
                raise NotFoundError(NOT_FOUND) from error
            raise
        return StoredProfile.model_validate(from_item(response["Attributes"]))

    def mark_deleted(self, profile_id: str, now: datetime) -> int:
        """A tombstone (version + 1: running walks stop); the scorer removes its matches, then the item."""
        try:
            response = self.dynamodb.update_item(
                TableName=self.table, Key=profile_key(profile_id), ReturnValues="UPDATED_NEW",
                UpdateExpression="SET deleted = :yes, updated_at = :now, version = version + :one, rescoring = :deleting",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(deleted)",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":now": {"S": now.isoformat()}, ":one": {"N": "1"},
                                           ":deleting": to_item({"r": {"status": "deleting", "scored": 0, "cursor": ""}})["r"]})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFoundError(NOT_FOUND) from error
            raise
        return int(from_item(response["Attributes"])["version"])

    def purge(self, profile_id: str) -> None:
        self.dynamodb.delete_item(TableName=self.table, Key=profile_key(profile_id),
                                  ConditionExpression="attribute_exists(deleted)")

    def advance(self, profile_id: str, version: int | None, cursor: str, next_cursor: str | None, scored: int) -> bool:
        """Move the walk's progress from `cursor` to `next_cursor` (None: done), adding `scored`, once: False when
        another delivery of this page moved it already (or the profile moved to another version)."""
        done = next_cursor is None
        names = {"#r": "rescoring", "#c": "cursor"}
        values: dict = {":cursor": {"S": cursor}, ":next": {"S": next_cursor or ""}, ":n": {"N": str(scored)},
                        ":status": {"S": "done" if done else "running"}}
        condition = "#r.#c = :cursor"
        if version is not None:
            condition += " AND version = :v AND attribute_not_exists(deleted)"
            values[":v"] = {"N": str(version)}
        update = "SET #r.#c = :next, #r.scored = #r.scored + :n"
        if version is not None:
            update += ", #r.#s = :status"
            names["#s"] = "status"
            if done:
                update += ", #r.#t = #r.scored + :n"
                names["#t"] = "total"
        try:
            self.dynamodb.update_item(TableName=self.table, Key=profile_key(profile_id), UpdateExpression=update,
                                      ConditionExpression=condition, ExpressionAttributeNames=names,
                                      ExpressionAttributeValues=values)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def cursor(self, profile_id: str) -> tuple[int, str, bool] | None:
        """(version, the walk's stored cursor, deleted) read consistently; None when the item is gone."""
        response = self.dynamodb.get_item(TableName=self.table, Key=profile_key(profile_id), ConsistentRead=True,
                                          ProjectionExpression="version, rescoring, deleted")
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        return int(item["version"]), str((item.get("rescoring") or {}).get("cursor", "")), bool(item.get("deleted"))


def queued() -> dict:
    return {"status": "queued", "scored": 0, "cursor": ""}
