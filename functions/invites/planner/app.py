"""Invitation planner: SQS (the plan queue, BatchSize 1) -> the campaign's source -> the invites queue.

A message comes from the API (`{campaign_id, run_id}`, the run created there) or from EventBridge
Scheduler (`{campaign_id, scheduled_at}`, the run created here). The logic is attract.invites.planning;
a transient failure is answered as a batch item failure so SQS delivers the message again (resuming
from the run's checkpoint), up to the queue's maxReceiveCount.
"""

from functools import lru_cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from attract.audit import Actor
from attract.clock import utc_now
from attract.identity import email_hash, email_pepper
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.planning import execute, parse_request
from attract.invites.planning_repository import PlanningLookups
from attract.invites.run_audit import AuditedRuns
from attract.invites.source_rules import source_policy
from attract.observability import logger, metrics, tracer
from attract.providers.sources import open_source
from attract.providers.sqs import SqsBatchSender
from attract.settings import InvitePlannerSettings

load_settings = InvitePlannerSettings.load
load_settings()

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
PLANNER = Actor.system("invite-planner")  # ends the runs it settles; a schedule's run is started by system:scheduler


@lru_cache(maxsize=1)
def _stores():
    settings = load_settings()
    return (CampaignRepository(settings.table_name), PlanningLookups(settings.table_name),
            SqsBatchSender(settings.invites_queue_url))


def _plan(record: SQSRecord) -> str:
    settings = load_settings()
    campaigns, lookups, queue = _stores()
    request = parse_request(record.body)
    # The run's start (a schedule's) and end (done, failed) are audited by the write that makes them.
    runs = AuditedRuns(settings.table_name, PLANNER, request=record.body)
    pepper = email_pepper(settings.email_pepper_secret_id, settings.secret_max_age_seconds)
    receives = int(record.attributes.approximate_receive_count or 1)
    summary = execute(
        request, campaigns=campaigns, runs=runs, lookups=lookups, queue=queue,
        open_source=lambda campaign: open_source(campaign.source, campaign.mapping,
                                                 allow_local=settings.invite_allow_local_sources),
        hasher=lambda address: email_hash(address, pepper), now=utc_now(),
        cooldown_days=settings.invite_cooldown_days, last_attempt=receives >= settings.invite_max_receives,
        policy=source_policy(settings), checkpoint_every=settings.invite_plan_checkpoint_rows)
    logger.info("plan message handled", extra=summary.model_dump())
    return summary.outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(process_partial_response(event=event, record_handler=_plan, processor=processor, context=context))
