"""What starts an invitation run's planning: a message on the plan queue (SQS) now, or an EventBridge Scheduler
schedule that sends one later. The logic sees the `PlanQueue` and `Schedules` protocols (attract.invites.campaign_logic).
"""

import json

from botocore.exceptions import ClientError

from attract.aws import client
from attract.errors import InvalidRequestError


class SqsPlanQueue:
    def __init__(self, queue_url: str, sqs=None):
        self.queue_url = queue_url
        self._sqs = sqs

    def send(self, body: dict) -> None:
        (self._sqs or client("sqs")).send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))


# A plan message Scheduler cannot deliver (the queue or its key unavailable, the role changed) is retried for up to an
# hour, the shortest time between two firings a campaign may have (attract.invites: schedule_too_frequent): a late
# delivery never overlaps the next firing. Then it goes to the dead-letter queue, never nowhere.
RETRY_POLICY = {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}


class SchedulerSchedules:
    """Schedules in one group whose target is the plan queue, sent with the role EventBridge Scheduler assumes; what
    cannot be delivered after RETRY_POLICY goes to `dead_letter_arn` (the template's EventDeadLetterQueue)."""

    def __init__(self, target_arn: str, role_arn: str, dead_letter_arn: str, group: str = "default", scheduler=None):
        self.target_arn, self.role_arn, self.dead_letter_arn, self.group = target_arn, role_arn, dead_letter_arn, group
        self._scheduler = scheduler

    @property
    def scheduler(self):
        return self._scheduler or client("scheduler")

    def put(self, name: str, expression: str, timezone: str, payload: str) -> None:
        arguments = {
            "Name": name, "GroupName": self.group, "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone, "State": "ENABLED", "FlexibleTimeWindow": {"Mode": "OFF"},
            # Kept after a one-time at(...) fired: the campaign still names it, and DELETE removes both.
            "ActionAfterCompletion": "NONE",
            "Target": {"Arn": self.target_arn, "RoleArn": self.role_arn, "Input": payload,
                       "RetryPolicy": dict(RETRY_POLICY), "DeadLetterConfig": {"Arn": self.dead_letter_arn}},
        }
        try:
            try:
                self.scheduler.create_schedule(**arguments)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConflictException":
                    raise
                self.scheduler.update_schedule(**arguments)  # PUT replaces: same target, new expression
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":
                # Our own checks passed but Scheduler's finer ones did not (a cron value out of range).
                raise InvalidRequestError("expression", "schedule_rejected",
                                          "EventBridge Scheduler refused the expression", location="body") from error
            raise

    def delete(self, name: str) -> None:
        try:
            self.scheduler.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
