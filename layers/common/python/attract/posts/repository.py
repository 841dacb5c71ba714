"""DynamoDB access for posts and their per-channel claims, all in the post's partition `PK=POST#<id>`.

Post:    SK=POST               the post (its text, destination, channels, link codes, schedule name, status)
Channel: SK=CHANNEL#<channel>  the claim that makes publishing at most once: status, claim id and lease,
                               the platform's post id and URL, the last error

Every transition is a conditional UpdateItem on the status (and claim id) read before: two workers holding
the same message never both publish. GET /posts/{id} is one Query of the partition.
"""

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from attract.aws import Repository, from_item, to_item
from attract.errors import AlreadyExistsError, ConflictError
from attract.posts.models import ChannelState, Post, PostError

SK_POST = "POST"


def post_key(post_id: str) -> dict:
    return {"PK": {"S": f"POST#{post_id}"}, "SK": {"S": SK_POST}}


def channel_key(post_id: str, channel: str) -> dict:
    return {"PK": {"S": f"POST#{post_id}"}, "SK": {"S": f"CHANNEL#{channel}"}}


class ClaimLostError(ConflictError):
    """The channel's state changed since it was read (another worker claimed or finished it)."""


class PostRepository(Repository):
    def create(self, post: Post, now: datetime) -> None:
        """The post and a `scheduled` state per channel, in one transaction (AlreadyExistsError if the id is taken)."""
        items = [{**post_key(post.id), **to_item({"type": "post", **post.model_dump(mode="json")})}]
        for channel in post.channels:
            state = ChannelState(channel=channel, status="scheduled", link_code=post.link_codes[channel], updated_at=now)
            items.append({**channel_key(post.id, channel),
                          **to_item({"type": "post_channel", **state.model_dump(mode="json")})})
        try:
            self.dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
                for item in items])
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise AlreadyExistsError(f"post {post.id} exists") from error
            raise

    def get(self, post_id: str) -> tuple[Post, dict[str, ChannelState]] | None:
        """The post and its channels' states (one consistent Query), or None."""
        response = self.dynamodb.query(TableName=self.table, KeyConditionExpression="PK = :pk", ConsistentRead=True,
                                       ExpressionAttributeValues={":pk": {"S": f"POST#{post_id}"}})
        post, states = None, {}
        for raw in response["Items"]:
            values = from_item(raw)
            if values["SK"] == SK_POST:
                post = Post.model_validate(values)
            else:
                state = ChannelState.model_validate(values)
                states[state.channel] = state
        return (post, states) if post is not None else None

    def mark_deleting(self, post_id: str) -> None:
        self.dynamodb.update_item(TableName=self.table, Key=post_key(post_id), UpdateExpression="SET #s = :s",
                                  ConditionExpression="attribute_exists(PK)", ExpressionAttributeNames={"#s": "status"},
                                  ExpressionAttributeValues={":s": {"S": "deleting"}})

    def transition(self, post_id: str, observed: ChannelState, now: datetime, **changes: Any) -> ChannelState:
        """Write `changes` to the channel if it still is as `observed` (status and claim id); else ClaimLostError."""
        names = {"#status": "status", "#claim": "claim_id", "#updated": "updated_at"}
        values: dict[str, Any] = {":observed": observed.status, ":updated": now.isoformat()}
        sets, removes = ["#updated = :updated"], []
        for index, (name, value) in enumerate(changes.items()):
            names[f"#c{index}"] = name
            if value is None:
                removes.append(f"#c{index}")
            else:
                values[f":c{index}"] = value.model_dump(mode="json") if isinstance(value, PostError) else (
                    value.isoformat() if isinstance(value, datetime) else value)
                sets.append(f"#c{index} = :c{index}")
        condition = "#status = :observed AND " + (
            "#claim = :claim" if observed.claim_id else "attribute_not_exists(#claim)")
        if observed.claim_id:
            values[":claim"] = observed.claim_id
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            response = self.dynamodb.update_item(
                TableName=self.table, Key=channel_key(post_id, observed.channel), UpdateExpression=update,
                ConditionExpression=condition, ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values), ReturnValues="ALL_NEW")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ClaimLostError(f"{observed.channel} of post {post_id} changed") from None
            raise
        return ChannelState.model_validate(from_item(response["Attributes"]))


def lease_until(now: datetime, lease_seconds: int) -> datetime:
    return now + timedelta(seconds=lease_seconds)
