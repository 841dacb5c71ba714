"""Invitation sender: SQS (the planner's jobs) -> SES, each invitation at most once.

Partial batch responses: a failed job is retried by SQS alone, and after maxReceiveCount lands in the
dead-letter queue. The claim protocol is in attract.invites.sending.
"""

import json
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.audit import Actor
from attract.clock import utc_now
from attract.identity import email_hash, email_pepper, normalise_email
from attract.invites.models import InvitationJob
from attract.invites.repository import InviteRepository
from attract.invites.run_audit import AuditedRuns
from attract.invites.sending import SendPolicy, TokenBucket, send_and_settle
from attract.observability import logger, metrics, tracer
from attract.settings import InviteSenderSettings, SettingsError
from attract.signing import signer_for

load_settings = InviteSenderSettings.load
load_settings()

# A batch whose every job failed is answered like any other (all ids listed), not raised: SQS retries the same.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
SENDER = Actor.system("invite-sender")  # audits a run's end when its last outcome settles it
METRICS = {"sent": "InvitationsSent", "duplicate": "InvitationDuplicates", "reconcile": "InvitationsToReconcile",
           "suppressed": "InvitationsSuppressed", "cooldown": "InvitationsInCooldown"}


@lru_cache(maxsize=1)
def _stores():
    from attract.providers.ses import SesRawMailer  # SES only where mail is sent

    settings = load_settings()
    if not settings.public_base_url:
        # No request to take a host from: an invitation's links need the public base URL.
        raise SettingsError("InviteSenderSettings: PUBLIC_BASE_URL is empty (set the PublicBaseUrl parameter)")
    policy = SendPolicy(public_base_url=settings.public_base_url, cooldown_days=settings.invite_cooldown_days,
                        invite_token_days=settings.invite_token_days)
    return (policy, InviteRepository(settings.table_name), SesRawMailer(settings.ses_configuration_set),
            TokenBucket(settings.invite_max_send_rate))


def _send(record: SQSRecord) -> str:
    settings = load_settings()
    policy, store, mailer, bucket = _stores()
    job = InvitationJob.model_validate(json.loads(record.body))
    # The message names a person: the digest is taken of the run and the message id only.
    runs = AuditedRuns(settings.table_name, SENDER,
                       request={"campaign_id": job.campaign_id, "run_id": job.run_id, "message_id": record.message_id})
    address = normalise_email(job.recipient.email)
    digest = email_hash(address, email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds))
    signer = signer_for(settings.signing_key_secret_id, settings.secret_max_age_seconds)
    # The last receive before the dead-letter queue: a failure now is counted `failed` for the run.
    last_attempt = int(record.attributes.approximate_receive_count or 1) >= settings.invite_max_receives
    outcome = send_and_settle(job, address, digest, utc_now(), policy, signer, store, mailer, bucket, runs,
                              last_attempt)
    metrics.add_metric(name=METRICS[outcome], unit=MetricUnit.Count, value=1)
    if outcome == "reconcile":
        logger.warning("invitation claimed but not marked sent: not resent", extra={"campaign_id": job.campaign_id})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_send, processor=processor, context=context))
