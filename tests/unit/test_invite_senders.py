"""sender.from must be a verified SES identity: the rule with an in-memory SES, and the GetEmailIdentity adapter."""

import boto3
import pytest
from botocore.stub import Stubber

from attract.errors import InvalidRequestError, UpstreamError
from attract.invites.models import InviteSender
from attract.invites.senders import IdentityLookupError, check_sender, identities_of
from attract.providers.ses import SesIdentities


class MemoryIdentities:
    """What SES answers per identity: True/False, or an IdentityLookupError code; every question recorded."""

    def __init__(self, **answers):
        self.answers = answers
        self.asked: list[str] = []

    def verified_for_sending(self, identity):
        self.asked.append(identity)
        answer = self.answers.get(identity, False)
        if isinstance(answer, str):
            raise IdentityLookupError(answer)
        return answer


def _sender(from_: str, reply_to: str | None = None) -> InviteSender:
    return InviteSender.model_validate({"from": from_, "reply_to": reply_to, "postal_address": "1 Main Street"})


def test_the_address_then_its_domain_are_asked_and_either_verified_is_enough():
    # Given SES with the domain verified (not the address)
    identities = MemoryIdentities(**{"acme.example": True})
    # When the sender is checked, Then it passes after asking the address, then the domain (lower-cased)
    check_sender(_sender("Acme Careers <careers@Acme.Example>"), identities)
    assert identities.asked == ["careers@acme.example", "acme.example"]
    # And a verified address is enough without asking for its domain
    identities = MemoryIdentities(**{"careers@acme.example": True})
    check_sender(_sender("careers@acme.example"), identities)
    assert identities.asked == ["careers@acme.example"]


def test_an_unverified_sender_is_a_422_naming_sender_from_and_the_rule():
    with pytest.raises(InvalidRequestError) as raised:
        check_sender(_sender("Acme <careers@acme.example>"), MemoryIdentities())
    error = raised.value
    assert (error.field, error.rule, error.location) == ("sender.from", "ses.identity_not_verified", "body")
    assert "careers@acme.example" not in error.message


def test_ses_that_cannot_answer_is_a_502_naming_sender_from():
    with pytest.raises(UpstreamError) as raised:
        check_sender(_sender("careers@acme.example"), MemoryIdentities(**{"careers@acme.example": "Throttling"}))
    assert (raised.value.field, raised.value.rule) == ("sender.from", "ses.unavailable")
    assert "Throttling" in raised.value.message


@pytest.mark.parametrize(("sender", "field"), [
    (("a@acme.example, b@acme.example",), "sender.from"),
    (("Acme <x@evil.example> <careers@acme.example>",), "sender.from"),
    (("zoë@acme.example",), "sender.from"),
    (("careers@acme.example", "Reply <not an address>"), "sender.reply_to"),
])
def test_a_sender_that_is_not_one_mailbox_is_refused_before_ses_is_asked(sender, field):
    identities = MemoryIdentities(**{"acme.example": True})
    with pytest.raises(InvalidRequestError) as raised:
        check_sender(_sender(*sender), identities)
    assert (raised.value.field, raised.value.rule) == (field, "mailbox") and identities.asked == []


def test_identities_of_an_address_are_it_its_domain_and_the_parent_domains():
    assert identities_of("careers@xn--bcher-kva.example") == ["careers@xn--bcher-kva.example", "xn--bcher-kva.example"]
    assert identities_of("jobs@Mail.EU.Acme.example") == ["jobs@mail.eu.acme.example", "mail.eu.acme.example",
                                                         "eu.acme.example", "acme.example"]


def test_a_verified_parent_domain_lets_its_subdomains_send():
    # SES: a verified domain identity lets the account send from any subdomain of it
    identities = MemoryIdentities(**{"acme.example": True})
    check_sender(_sender("Acme <jobs@mail.acme.example>"), identities)
    assert identities.asked == ["jobs@mail.acme.example", "mail.acme.example", "acme.example"]


# ---- the adapter: SES v2 GetEmailIdentity


def _adapter(now: list[float]):
    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return SesIdentities(sesv2=client, ttl_seconds=300, clock=lambda: now[0]), Stubber(client)


def test_verified_for_sending_status_decides_and_only_a_verified_answer_is_cached():
    now = [0.0]
    identities, stub = _adapter(now)
    stub.add_response("get_email_identity", {"VerifiedForSendingStatus": False, "IdentityType": "DOMAIN"},
                      {"EmailIdentity": "acme.example"})
    stub.add_response("get_email_identity", {"VerifiedForSendingStatus": True, "IdentityType": "DOMAIN"},
                      {"EmailIdentity": "acme.example"})
    stub.add_response("get_email_identity", {"VerifiedForSendingStatus": True, "IdentityType": "DOMAIN"},
                      {"EmailIdentity": "acme.example"})
    with stub:
        assert identities.verified_for_sending("acme.example") is False  # pending: asked again next time
        assert identities.verified_for_sending("acme.example") is True
        now[0] = 299.0
        assert identities.verified_for_sending("acme.example") is True  # from the cache: no call
        now[0] = 301.0
        assert identities.verified_for_sending("acme.example") is True  # expired: asked again
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(("code", "status"), [("NotFoundException", 404), ("BadRequestException", 400), ("404", 404)])
def test_no_such_identity_is_not_verified(code, status):
    identities, stub = _adapter([0.0])
    stub.add_client_error("get_email_identity", service_error_code=code, http_status_code=status)
    with stub:
        assert identities.verified_for_sending("careers@acme.example") is False


@pytest.mark.parametrize("code", ["TooManyRequestsException", "AccessDeniedException", "InternalFailure"])
def test_an_answer_that_is_not_about_the_identity_is_a_lookup_error(code):
    identities, stub = _adapter([0.0])
    stub.add_client_error("get_email_identity", service_error_code=code, http_status_code=500)
    with stub, pytest.raises(IdentityLookupError) as raised:
        identities.verified_for_sending("acme.example")
    assert raised.value.code == code
