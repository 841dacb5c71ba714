import pytest
from pydantic import ValidationError

from attract.links.models import CreateLinkRequest

VALID = {"destination": "https://careers.example.com/jobs?team=a", "campaign": " Spring ", "channel": "email",
         "source": "Newsletter", "medium": "Email"}


def _errors(payload: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        CreateLinkRequest.model_validate(payload)
    return {".".join(str(p) for p in e["loc"]): e["type"] for e in caught.value.errors()}


def test_valid_link_request_normalises_labels():
    # Given a request with mixed-case source and padded campaign
    request = CreateLinkRequest.model_validate(VALID)
    # Then source/medium are folded to lower case and the campaign is trimmed but keeps its case
    assert (request.campaign, request.source, request.medium) == ("Spring", "newsletter", "email")
    assert request.channel == "email"


@pytest.mark.parametrize("destination", ["ftp://files.example.com/x", "javascript:alert(1)", "mailto:a@b.example",
                                         "//no-scheme.example.com/x", "https:///nohost"])
def test_non_http_destination_is_rejected(destination):
    assert "destination" in _errors({**VALID, "destination": destination})


def test_unknown_channel_and_missing_fields_are_named():
    errors = _errors({"destination": VALID["destination"], "channel": "tv"})
    assert errors["channel"] == "enum"
    assert {"campaign", "source", "medium"} <= set(errors)


def test_unknown_field_is_rejected():
    assert _errors({**VALID, "utm_campaign": "x"})["utm_campaign"] == "extra_forbidden"
