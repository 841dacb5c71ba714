"""Amazon SES v2. The only module that knows SES: logic sees the `MailSender`, `RawMailer` and
`SenderIdentities` Protocols."""

from attract.aws import client


class SesMailSender:
    def __init__(self, from_address: str, sesv2=None):
        self.from_address = from_address
        self._sesv2 = sesv2

    def send(self, to: str, subject: str, text: str) -> None:
        (self._sesv2 or client("sesv2")).send_email(
            FromEmailAddress=self.from_address,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}}},
        )


# SES error codes returned before it accepted a message: the claim may be released and the send retried.
# Anything else (a 5xx, a read timeout after the request left) may follow an accepted message: the
# claim stays SENDING and the redelivery is counted for reconciliation instead.
REJECTED_BEFORE_SEND = frozenset({
    "MessageRejected", "BadRequestException", "MailFromDomainNotVerifiedException", "NotFoundException",
    "SendingPausedException", "AccountSuspendedException", "AccessDeniedException", "InvalidParameterValue",
    "LimitExceededException", "TooManyRequestsException", "Throttling", "ThrottlingException",
})
THROTTLED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"})


class SesRawMailer:
    """SES v2 SendEmail with Content.Raw (personal headers live in the MIME), a configuration set and backoff."""

    def __init__(self, configuration_set: str | None, sesv2=None, attempts: int = 4, sleep=None):
        import time

        self.configuration_set = configuration_set
        self._sesv2 = sesv2
        self.attempts = attempts
        self._sleep = sleep or time.sleep

    @property
    def sesv2(self):
        if self._sesv2 is None:
            import boto3
            from botocore.config import Config

            # No botocore retries: after a read timeout or a 5xx SES may have accepted the message, and a
            # silent retry would send it twice. Only rejections known to precede acceptance are retried here.
            self._sesv2 = boto3.client("sesv2", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        return self._sesv2

    def send_raw(self, raw: bytes, tags: dict[str, str]) -> str:
        from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ParamValidationError

        from attract.invites.sending import NotSent

        request: dict = {"Content": {"Raw": {"Data": raw}},
                         "EmailTags": [{"Name": name, "Value": value} for name, value in tags.items()]}
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        for attempt in range(self.attempts):
            try:
                return self.sesv2.send_email(**request)["MessageId"]
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in THROTTLED and attempt + 1 < self.attempts:
                    self._sleep(min(0.2 * 2**attempt, 5.0))
                    continue
                if code in REJECTED_BEFORE_SEND:
                    raise NotSent(code) from error
                raise
            except (ParamValidationError, EndpointConnectionError, ConnectTimeoutError) as error:
                # Refused by botocore itself, or no connection was ever made: nothing reached SES.
                raise NotSent(type(error).__name__) from error
        raise AssertionError("unreachable")


class SesIdentities:
    """SES v2 GetEmailIdentity: may this account send from an address or a domain? (`SenderIdentities`).

    A verified answer is kept `ttl_seconds` per warm function (campaigns of one sender come in bursts); a
    negative one never is, so a marketer who has just verified the identity can retry at once.
    """

    def __init__(self, sesv2=None, ttl_seconds: float = 300.0, clock=None):
        import time

        self._sesv2 = sesv2
        self.ttl_seconds = ttl_seconds
        self._clock = clock or time.monotonic
        self._verified_until: dict[str, float] = {}

    @property
    def sesv2(self):
        if self._sesv2 is None:
            import boto3
            from botocore.config import Config

            # A read behind an API request (API Gateway waits 30 s): short timeouts, a couple of retries.
            self._sesv2 = boto3.client("sesv2", config=Config(connect_timeout=3, read_timeout=5,
                                                              retries={"total_max_attempts": 3, "mode": "standard"}))
        return self._sesv2

    def verified_for_sending(self, identity: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        from attract.invites.senders import IdentityLookupError

        if self._verified_until.get(identity, 0.0) > self._clock():
            return True
        try:
            found = self.sesv2.get_email_identity(EmailIdentity=identity)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "") or "ClientError"
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # No such identity, or no name SES could verify (a bare 404: a path the endpoint routes nowhere)
            if code in ("NotFoundException", "BadRequestException") or status == 404:
                return False
            raise IdentityLookupError(code) from error
        except BotoCoreError as error:  # no connection, a timeout: SES said nothing
            raise IdentityLookupError(type(error).__name__) from error
        if found.get("VerifiedForSendingStatus") is not True:
            return False
        self._verified_until[identity] = self._clock() + self.ttl_seconds
        return True
