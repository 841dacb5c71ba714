"""Unsubscribe (RFC 8058 one-click), SES bounce and complaint events, and the invitation's credit on a join:
handlers in-process against the local stack. Unsubscribed, bounced and complained addresses are never sent again.
"""

import json
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from attract.aws import from_item
from attract.identity import email_hash
from attract.tracking.repository import invite_token_key
from tests.integration.test_invite_sender import drain, job, raw_messages, received, run_counts
from tests.support import FakeLambdaContext, join_and_confirm_in_process, load_event, with_body


def _pepper(local_aws) -> str:
    return local_aws.client("secretsmanager").get_secret_value(SecretId=local_aws.refs["EmailPepperSecret"])["SecretString"]


def _suppression(local_aws, address: str) -> dict | None:
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"SUPPRESS#{email_hash(address, _pepper(local_aws))}"}, "SK": {"S": "SUPPRESS"}}).get("Item")
    return from_item(item) if item else None


def _unsubscribe_event(token: str, method: str) -> dict:
    event = load_event("invites/unsubscribe" if method == "POST" else "invites/unsubscribe_page")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/u/{token}"
    event["pathParameters"] = {"token": token}
    return event


def _send_one(sender, sqs, queue, local_aws, domain, person, campaign):
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, person, campaign)))
    drain(sender, sqs, queue)
    return raw_messages(local_aws, f"{person}@people.{domain}")


def test_one_click_unsubscribe_suppresses_and_no_campaign_sends_again(function_env, sender, queues, domain,
                                                                      local_aws):
    sqs, queue, _ = queues
    first, second = f"u1-{uuid.uuid4().hex[:6]}", f"u2-{uuid.uuid4().hex[:6]}"
    (message,) = _send_one(sender, sqs, queue, local_aws, domain, "mary", first)
    token = message["List-Unsubscribe"][1:-1].rsplit("/u/", 1)[1]
    unsubscribe = function_env("InviteUnsubscribeFunction")
    # The page a mail scanner prefetches changes nothing and never shows the address
    page = unsubscribe.lambda_handler(_unsubscribe_event(token, "GET"), FakeLambdaContext())
    assert page["statusCode"] == 200 and "<form method=post>" in page["body"] and "mary" not in page["body"]
    assert _suppression(local_aws, f"mary@people.{domain}") is None
    # A tampered token: the same neutral page for GET and POST, nothing written
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for method in ("GET", "POST"):
        assert unsubscribe.lambda_handler(_unsubscribe_event(tampered, method), FakeLambdaContext())["statusCode"] == 404
    assert _suppression(local_aws, f"mary@people.{domain}") is None
    # The RFC 8058 one-click POST (form-encoded `List-Unsubscribe=One-Click`), twice: suppressed, counted once
    for _ in range(2):
        done = unsubscribe.lambda_handler(_unsubscribe_event(token, "POST"), FakeLambdaContext())
        assert done["statusCode"] == 200 and "unsubscribed" in done["body"]
    assert _suppression(local_aws, f"mary@people.{domain}")["reason"] == "unsubscribe"
    assert run_counts(local_aws, first, "totals") == {"unsubscribed": 1}
    # No campaign sends to them again (the cooldown alone would not stop a new campaign after 30 days)
    sender = function_env("InviteSenderFunction")
    _reload_sender(sender)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, "mary", second)))
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {"mary": 1}
    assert run_counts(local_aws, second) == {"skipped_suppressed": 1}


def _reload_sender(module):
    import os

    from attract import settings

    os.environ["PUBLIC_BASE_URL"] = "https://go.acme.example"
    settings.load_settings.cache_clear()
    module._stores.cache_clear()


@pytest.mark.parametrize("name, reason, count", [("bounce", "bounce", "bounced"),
                                                 ("complaint", "complaint", "complained")])
def test_bounces_and_complaints_suppress_and_count(function_env, sender, queues, domain, local_aws, name, reason,
                                                   count):
    sqs, queue, _ = queues
    campaign = f"fb-{uuid.uuid4().hex[:6]}"
    address = f"{name}@people.{domain}"
    _send_one(sender, sqs, queue, local_aws, domain, name, campaign)
    event = load_event(f"invites/{name}")
    recipients = event["detail"]["bounce"]["bouncedRecipients"] if name == "bounce" else \
        event["detail"]["complaint"]["complainedRecipients"]
    recipients[0]["emailAddress"] = address.upper()  # SES reports the address as sent; any case is the same person
    event["detail"]["mail"]["tags"]["campaign_id"] = [campaign]
    feedback = function_env("InviteFeedbackFunction")
    assert feedback.lambda_handler(event, FakeLambdaContext()) == {"suppressed": 1}
    assert feedback.lambda_handler(event, FakeLambdaContext()) == {"suppressed": 0}  # EventBridge redelivers
    assert _suppression(local_aws, address)["reason"] == reason
    assert run_counts(local_aws, campaign) == {"sent": 1, count: 1}
    # Never sent again, by any campaign
    sender = function_env("InviteSenderFunction")
    _reload_sender(sender)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, name, f"again-{campaign}")))
    drain(sender, sqs, queue)
    assert received(local_aws, domain) == {name: 1}


def test_a_transient_bounce_suppresses_nothing(function_env, local_aws):
    event = load_event("invites/bounce")
    event["detail"]["bounce"]["bounceType"] = "Transient"
    event["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = f"soft-{uuid.uuid4().hex[:6]}@example.com"
    feedback = function_env("InviteFeedbackFunction")
    assert feedback.lambda_handler(event, FakeLambdaContext()) == {"suppressed": 0}


def test_the_invite_token_credits_the_invitation_through_a_real_join(function_env, sender, queues, domain,
                                                                    local_aws):
    sqs, queue, _ = queues
    campaign = f"credit-{uuid.uuid4().hex[:6]}"
    address = f"hedy@people.{domain}"
    (message,) = _send_one(sender, sqs, queue, local_aws, domain, "hedy", campaign)
    link = next(word for word in message.get_body(("plain",)).get_content().split() if "/r/" in word)
    token = parse_qs(urlsplit(link).query)["tc_inv"][0]
    joins = function_env("JoinsFunction")
    body = {"email": address, "name": "Hedy Lamarr", "consent": True, "consent_text_version": "v1",
            "invite_token": token}
    answer = join_and_confirm_in_process(joins, local_aws.endpoint, body)
    assert answer["statusCode"] == 200
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(address, _pepper(local_aws))}"}, "SK": {"S": "ATTRIBUTION"}})["Item"]
    touches = from_item(item)["touches"]
    assert (touches[0]["origin"], touches[0]["channel"], touches[0]["campaign"]) == ("invite", "email", "Berlin data alumni")
    # A tampered token credits nothing
    other = f"grace@people.{domain}"
    answer = join_and_confirm_in_process(joins, local_aws.endpoint,
                                         {**body, "email": other, "invite_token": token[:-2] + "xx"})
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(other, _pepper(local_aws))}"}, "SK": {"S": "ATTRIBUTION"}})["Item"]
    assert [t["origin"] for t in from_item(item)["touches"]] == ["join"]


def test_an_expired_invitation_credits_nothing_before_dynamodb_deletes_it(function_env, sender, queues, domain,
                                                                         local_aws):
    sqs, queue, _ = queues
    campaign = f"exp-{uuid.uuid4().hex[:6]}"
    address = f"radia@people.{domain}"
    (message,) = _send_one(sender, sqs, queue, local_aws, domain, "radia", campaign)
    link = next(word for word in message.get_body(("plain",)).get_content().split() if "/r/" in word)
    token = parse_qs(urlsplit(link).query)["tc_inv"][0]
    # The invitation's TTL has passed, but DynamoDB has not deleted the item yet
    dynamodb, table = local_aws.client("dynamodb"), local_aws.refs["AttractTable"]
    dynamodb.update_item(TableName=table, Key={"PK": {"S": f"INVITE#{invite_token_key(token)}"}, "SK": {"S": "INVITE"}},
                         UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    joins = function_env("JoinsFunction")
    body = {"email": address, "name": "Radia Perlman", "consent": True, "consent_text_version": "v1",
            "invite_token": token}
    assert join_and_confirm_in_process(joins, local_aws.endpoint, body)["statusCode"] == 200
    item = dynamodb.get_item(TableName=table, Key={
        "PK": {"S": f"MEMBER#{email_hash(address, _pepper(local_aws))}"}, "SK": {"S": "ATTRIBUTION"}})["Item"]
    assert [t["origin"] for t in from_item(item)["touches"]] == ["join"]


def _invitation_link(function_env, sender, sqs, queue, local_aws, domain, person: str) -> tuple[str, str]:
    """(link code, tc_inv) of a real invitation: a tracked email link, the sender's job, the mail SES accepted."""
    links = function_env("LinksFunction")
    event = load_event("links/create_link")
    body = {"destination": "https://careers.example.com/community?from=mail", "campaign": f"Alumni {uuid.uuid4().hex[:6]}",
            "channel": "email", "source": "invitation", "medium": "email"}
    code = json.loads(links.lambda_handler(with_body(event, body), FakeLambdaContext())["body"])["code"]
    _reload_sender(sender)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(job(domain, person, f"attr-{uuid.uuid4().hex[:6]}",
                                                                link_code=code)))
    drain(sender, sqs, queue)
    (message,) = raw_messages(local_aws, f"{person}@people.{domain}")
    link = next(word for word in message.get_body(("plain",)).get_content().split() if "/r/" in word)
    assert urlsplit(link).path == f"/r/{code}"
    return code, parse_qs(urlsplit(link).query)["tc_inv"][0]


def _follow(tracking, code: str, query: str) -> str:
    """The redirect's Location for a browser following `/r/<code>?<query>`."""
    event = load_event("tracking/click")
    event["pathParameters"]["code"] = code
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/r/{code}"
    event["rawQueryString"] = query
    event["queryStringParameters"] = {key: values[-1] for key, values in parse_qs(query).items()}
    response = tracking.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 302
    return response["headers"]["Location"]


def test_the_redirect_passes_tc_inv_to_the_careers_site_and_the_join_credits_it(function_env, sender, queues, domain,
                                                                              local_aws):
    sqs, queue, _ = queues
    code, token = _invitation_link(function_env, sender, sqs, queue, local_aws, domain, "katherine")
    # When the person follows the invitation link
    tracking = function_env("TrackingFunction")
    location = _follow(tracking, code, urlencode({"tc_inv": token}))
    # Then the careers site receives the token unchanged, next to the destination's own query and our ids
    landed = parse_qs(urlsplit(location).query)
    assert landed["tc_inv"] == [token] and landed["from"] == ["mail"] and landed["tc_vid"]
    # And the join the snippet sends with it (invite_token, tc_vid, tc_click) credits the invitation and the click
    address = f"katherine@people.{domain}"
    joins = function_env("JoinsFunction")
    body = {"email": address, "name": "Katherine Johnson", "consent": True, "invite_token": landed["tc_inv"][0],
            "visitor_id": landed["tc_vid"][0], "click_ids": {"tc_click": landed["tc_click"]}}
    assert join_and_confirm_in_process(joins, local_aws.endpoint, body)["statusCode"] == 200
    item = local_aws.client("dynamodb").get_item(TableName=local_aws.refs["AttractTable"], Key={
        "PK": {"S": f"MEMBER#{email_hash(address, _pepper(local_aws))}"}, "SK": {"S": "ATTRIBUTION"}})["Item"]
    # The click on the invitation's link stands for the invitation: one email touch, not two
    assert [(t["origin"], t["channel"]) for t in from_item(item)["touches"]] == [("click", "email")]
    # A malformed token never reaches the careers site (the join would refuse it with a 422)
    assert "tc_inv" not in parse_qs(urlsplit(_follow(tracking, code, "tc_inv=short")).query)


def test_a_tampered_or_expired_invitation_token_credits_nothing_and_changes_nothing_in_the_answer(
        function_env, sender, queues, domain, local_aws):
    sqs, queue, _ = queues
    _, token = _invitation_link(function_env, sender, sqs, queue, local_aws, domain, "dorothy")
    _, expired = _invitation_link(function_env, sender, sqs, queue, local_aws, domain, "mae")
    dynamodb, table = local_aws.client("dynamodb"), local_aws.refs["AttractTable"]
    dynamodb.update_item(TableName=table, Key={"PK": {"S": f"INVITE#{invite_token_key(expired)}"}, "SK": {"S": "INVITE"}},
                         UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    body, mac = token.rsplit(".", 1)
    campaign, recipient, expires_at = body.split(".")
    variants = {
        "genuine": token,
        "expired": expired,
        "tampered mac": f"{body}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}",
        "extended expiry": f"{campaign}.{recipient}.{int(expires_at) + 86400}.{mac}",
        "other recipient": f"{campaign}.{'0' * len(recipient)}.{expires_at}.{mac}",
        "none": None,
    }
    joins = function_env("JoinsFunction")
    answers, credited = {}, {}
    for name, variant in variants.items():
        address = f"join-{uuid.uuid4().hex[:8]}@people.{domain}"
        request = {"email": address, "name": "Someone", "consent": True}
        if variant:
            request["invite_token"] = variant
        response = joins.lambda_handler(with_body(load_event("joins/join"), request), FakeLambdaContext())
        answers[name] = (response["statusCode"], response["body"], response.get("headers"), response.get("cookies"),
                         response.get("multiValueHeaders"), response.get("isBase64Encoded"))
        pending = from_item(dynamodb.get_item(TableName=table, Key={
            "PK": {"S": f"MEMBER#{email_hash(address, _pepper(local_aws))}"}, "SK": {"S": "PENDING"}})["Item"])
        credited[name] = [t["origin"] for t in pending["touches"]]
    # Then only the genuine token credits the invitation
    assert credited == {name: (["invite"] if name == "genuine" else []) for name in variants}
    # And the answer is byte for byte the same whatever the token was: it tells the caller nothing
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["genuine"][:2] == (202, '{"status":"pending"}')
