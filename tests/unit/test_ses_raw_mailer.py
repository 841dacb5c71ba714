"""Which SES failures release an invitation's claim (NotSent) and which keep it (anything after the request left)."""

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from attract.invites.sending import NotSent
from attract.providers.ses import SesRawMailer


def _mailer():
    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    slept: list[float] = []
    return SesRawMailer("attract-invites", sesv2=client, sleep=slept.append), Stubber(client), slept


def test_throttling_is_retried_with_backoff_then_sent_once():
    mailer, stub, slept = _mailer()
    stub.add_client_error("send_email", service_error_code="TooManyRequestsException", http_status_code=429)
    stub.add_client_error("send_email", service_error_code="TooManyRequestsException", http_status_code=429)
    stub.add_response("send_email", {"MessageId": "m-1"}, {
        "Content": {"Raw": {"Data": b"raw"}}, "ConfigurationSetName": "attract-invites",
        "EmailTags": [{"Name": "campaign_id", "Value": "c"}]})
    with stub:
        assert mailer.send_raw(b"raw", {"campaign_id": "c"}) == "m-1"
    assert slept == [0.2, 0.4]


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "TooManyRequestsException"])
def test_rejections_before_acceptance_are_not_sent(code):
    mailer, stub, _ = _mailer()
    for _ in range(mailer.attempts):
        stub.add_client_error("send_email", service_error_code=code, http_status_code=400)
    with stub, pytest.raises(NotSent):
        mailer.send_raw(b"raw", {})


def test_a_server_error_or_a_read_timeout_may_follow_acceptance_so_it_is_not_a_release():
    mailer, stub, _ = _mailer()
    stub.add_client_error("send_email", service_error_code="InternalFailure", http_status_code=500)
    with stub, pytest.raises(ClientError):
        mailer.send_raw(b"raw", {})

    class TimingOut:
        def send_email(self, **_):
            raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    with pytest.raises(ReadTimeoutError):
        SesRawMailer(None, sesv2=TimingOut()).send_raw(b"raw", {})


def test_the_default_client_never_retries_on_its_own(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mailer = SesRawMailer("x")
    assert mailer.sesv2.meta.config.retries["total_max_attempts"] == 1
