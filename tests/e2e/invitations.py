"""Real invitations in the e2e stack: a tracked email link, a job on the invites queue, the mail SES accepted."""

import json
import time
import uuid

import requests

from attract_local.mailbox import invite_link
from tests.support import load_event


def send_invitation(aws, api: str, marketer: dict, destination: str, person: str, campaign: str | None = None) -> str:
    """The personal link of an invitation to `person`, sent by the stack's own sender (the local stack polls the
    queue as Lambda's event-source mapping would)."""
    domain = f"acme-{uuid.uuid4().hex[:8]}.example"
    aws.client("sesv2").create_email_identity(EmailIdentity=domain)
    campaign = campaign or f"Alumni {uuid.uuid4().hex[:6]}"
    # As the campaign API makes it: the campaign's own tracked link, channel email, campaign = its name
    link = requests.post(f"{api}/links", headers=marketer, json={
        "destination": destination, "campaign": campaign, "channel": "email", "source": "invitation",
        "medium": "email"}, timeout=60).json()
    job = load_event("invites/job")
    job.update(campaign_id=f"e2e-{uuid.uuid4().hex[:6]}", campaign_name=campaign, link_code=link["code"])
    job["recipient"]["email"] = person
    job["sender"].update({"from": f"Acme Careers <careers@{domain}>", "reply_to": f"careers@{domain}"})
    aws.client("sqs").send_message(QueueUrl=aws.refs["InvitesQueue"], MessageBody=json.dumps(job))
    deadline = time.monotonic() + 30
    while True:
        try:
            return invite_link(aws.endpoint, person)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
