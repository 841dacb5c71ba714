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


# ---------------------------------------------------------------- destinations (issue 6, finding 4)

@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://careers.example.com/jobs?team=a", "https://careers.example.com/jobs?team=a"),
        ("HTTPS://Careers.Example.COM:443/Jobs", "https://careers.example.com/Jobs"),
        ("http://careers.example.com:80/", "http://careers.example.com/"),
        ("https://careers.example.com:8443/", "https://careers.example.com:8443/"),
        ("https://bücher.example/jobs/東京?city=東京&x=%41#über",
         "https://xn--bcher-kva.example/jobs/%E6%9D%B1%E4%BA%AC?city=%E6%9D%B1%E4%BA%AC&x=%41#%C3%BCber"),
        ("https://careers.example.com/a b?q=a b", "https://careers.example.com/a%20b?q=a%20b"),
        ("https://careers.example.com/100%?x=%zz", "https://careers.example.com/100%25?x=%25zz"),
        ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x"),
    ],
)
def test_destinations_are_stored_normalised(given, stored):
    assert CreateLinkRequest.model_validate({**VALID, "destination": given}).destination == stored


@pytest.mark.parametrize(
    ("destination", "rule"),
    [
        ("https://careers.example.com/\x00", "url_control_character"),
        ("https://careers.example.com/a\r\nSet-Cookie: x=1", "url_control_character"),
        ("https://careers.example.com/\tjobs", "url_control_character"),
        ("https://careers.example.com/\x85", "url_control_character"),
        (" https://careers.example.com/", "url_whitespace"),
        ("https://careers.example.com/ ", "url_whitespace"),
        ("https://user:pass@careers.example.com/", "url_userinfo"),
        ("https://careers.example.com@evil.example/", "url_userinfo"),
        ("https://evil.example\\@careers.example.com/", "url_backslash"),
        ("https:\\\\evil.example/", "url_backslash"),
        ("ftp://files.example.com/x", "url_scheme"),
        ("javascript:alert(1)//", "url_scheme"),
        ("https://careers.example.com:99999/", "url_port"),
        ("https://exa mple.com/", "url_host"),
        ("https://xn--.example/", "url_host"),
        ("https://careers.example.com/" + "東" * 300, "string_too_long"),  # 300 characters, 2,700 once encoded
    ],
)
def test_ambiguous_destinations_are_rejected_naming_the_rule(destination, rule):
    assert _errors({**VALID, "destination": destination}) == {"destination": rule}


def test_host_allow_list_exact_hosts_and_explicit_subdomain_wildcards():
    from attract.links.models import host_allowed
    from attract.settings import Settings

    allowed = Settings.from_environment({"TABLE_NAME": "table", "POWERTOOLS_METRICS_NAMESPACE": "Attract", "DESTINATION_HOSTS": " Careers.Example.com, *.Bücher.example ,"}
                                      ).destination_hosts
    assert allowed == ("careers.example.com", "*.xn--bcher-kva.example")
    assert host_allowed("https://careers.example.com/jobs", allowed)
    assert not host_allowed("https://jobs.careers.example.com/", allowed)  # subdomains only through *.
    assert not host_allowed("https://evilcareers.example.com/", allowed)
    assert host_allowed("https://jobs.xn--bcher-kva.example/", allowed)
    assert host_allowed("https://a.b.xn--bcher-kva.example/", allowed)
    assert not host_allowed("https://xn--bcher-kva.example/", allowed)  # the apex needs its own entry
    assert not host_allowed("https://xn--bcher-kva.example.evil.example/", allowed)
    assert host_allowed("https://anything.example/", ())
    assert Settings.from_environment({"TABLE_NAME": "table", "POWERTOOLS_METRICS_NAMESPACE": "Attract", "DESTINATION_HOSTS": ""}).destination_hosts == ()
