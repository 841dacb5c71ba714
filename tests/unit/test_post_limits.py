"""Platform limits of organic posts, checked before any platform call: each a named rule."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from attract.errors import RulesBrokenError
from attract.posts.channels import ORGANIC_CHANNELS
from attract.posts.limits import broken_rules, channel_length, check_limits, weighted_length
from attract.posts.models import CreatePostRequest

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
LINK = "https://attract.example.com/r/AbCd1234"  # 38 characters: X counts it 23 all the same


def request(text: str, channels=("x",), **extra) -> CreatePostRequest:
    return CreatePostRequest(name="Community call", text=text, destination="https://careers.example.com/join",
                             channels=list(channels), **extra)


def rules(post: CreatePostRequest) -> list[tuple[str, str]]:
    return [(error["field"], error["rule"]) for error in broken_rules(post, len(LINK), NOW)]


def test_x_counts_the_appended_link_as_23_so_256_characters_of_text_fit_exactly():
    # Given text of 256 ASCII characters: 256 + 1 separator + 23 for the link = 280
    assert channel_length(ORGANIC_CHANNELS["x"], "a" * 256, LINK) == 280
    # Then exactly 280 passes, 281 fails with x.too_long on `text`
    assert rules(request("a" * 256)) == []
    assert rules(request("a" * 257)) == [("text", "x.too_long")]


def test_a_link_in_the_text_counts_23_whatever_its_length():
    long_url = "https://example.com/" + "p" * 200
    assert weighted_length(f"see {long_url} now") == 4 + 23 + 4
    assert weighted_length("visit www.example.com today") == 6 + 23 + 6
    text = "a" * 232 + " " + long_url  # 233 + 23 = 256 weighted
    assert rules(request(text)) == []
    assert rules(request("a" + text)) == [("text", "x.too_long")]


def test_weighted_characters_count_two_outside_the_light_ranges():
    assert weighted_length("é") == 1  # U+00E9, within U+0000–U+10FF
    assert weighted_length("\u2014") == 1  # em dash, within U+2010–U+201F
    assert weighted_length("\u2026") == 2  # ellipsis U+2026: outside every light range
    assert weighted_length("日本") == 4  # CJK: 2 each
    assert weighted_length("\U0001F600") == 2  # an emoji: one code point, weight 2
    assert weighted_length("e\u0301") == 1  # NFC first: e + combining acute is one é
    # 128 CJK characters weigh 256: with the link, exactly 280
    assert rules(request("日" * 128)) == []
    assert rules(request("日" * 128 + "a")) == [("text", "x.too_long")]


def test_linkedin_commentary_is_3000_characters_the_link_being_the_article():
    fits = 3000
    assert rules(request("a" * fits, ["linkedin_org"])) == []
    assert rules(request("a" * (fits + 1), ["linkedin_org"])) == [("text", "linkedin.too_long")]
    # The same text is fine on Facebook (63,206) and named per channel where it is not
    assert rules(request("a" * (fits + 1), ["facebook_page", "linkedin_org", "x"])) == [
        ("text", "linkedin.too_long"), ("text", "x.too_long")]


def test_facebook_takes_63206_characters_with_the_link_after_a_blank_line():
    fits = 63206 - 2 - len(LINK)
    assert rules(request("a" * fits, ["facebook_page"])) == []
    assert rules(request("a" * (fits + 1), ["facebook_page"])) == [("text", "facebook.too_long")]


@pytest.mark.parametrize(("url", "refused_by"), [
    ("https://cdn.example.com/team.png", []),
    ("https://cdn.example.com/team.JPG", []),
    ("https://cdn.example.com/team.webp", ["facebook_page", "linkedin_org"]),  # X only
    ("https://cdn.example.com/team.svg", ["facebook_page", "linkedin_org", "x"]),
    ("https://cdn.example.com/team", ["facebook_page", "linkedin_org", "x"]),
])
def test_image_types_per_channel(url, refused_by):
    post = request("hello", ["facebook_page", "linkedin_org", "x"], image_url=url)
    errors = broken_rules(post, len(LINK), NOW)
    assert [e["rule"] for e in errors] == ["image_type"] * len(refused_by)
    assert all(e["field"] == "image_url" for e in errors)
    assert [e["message"].split(":")[0].split(" ")[0] for e in errors] == refused_by


def test_an_image_must_be_https():
    with pytest.raises(ValidationError) as raised:
        request("hello", image_url="http://cdn.example.com/team.png")
    assert raised.value.errors()[0]["type"] == "image_https"


def test_channels_are_a_non_empty_subset_of_the_registry_without_duplicates():
    for channels, kind in (([], "too_short"), (["x", "x"], "channels_duplicate"), (["myspace"], "literal_error")):
        with pytest.raises(ValidationError) as raised:
            request("hello", channels)
        assert raised.value.errors()[0]["type"] == kind


def test_publish_at_must_be_ahead_and_within_a_year_and_carry_a_zone():
    assert rules(request("hi", publish_at=NOW + timedelta(hours=2))) == []
    assert rules(request("hi", publish_at=NOW - timedelta(minutes=1))) == [("publish_at", "publish_at_past")]
    assert rules(request("hi", publish_at=NOW + timedelta(days=400))) == [("publish_at", "publish_at_too_far")]
    with pytest.raises(ValidationError):
        request("hi", publish_at="2026-12-05T10:00:00")  # no zone


def test_check_limits_raises_every_broken_rule_at_once():
    with pytest.raises(RulesBrokenError) as raised:
        check_limits(request("a" * 3001, ["linkedin_org", "x"], image_url="https://cdn.example.com/a.svg"), len(LINK), NOW)
    assert sorted(e["rule"] for e in raised.value.errors) == ["image_type", "image_type", "linkedin.too_long",
                                                              "x.too_long"]


def test_the_limit_counts_exactly_what_each_adapter_sends():
    # The adapters compose the post's text themselves (Facebook: a blank line then the link; X: a line break then
    # the link; LinkedIn: the escaped commentary, the link as the article): the check before any call must count
    # that, or a post passing it would be refused by the platform.
    from attract.posts.ports import PostContent
    from attract.providers.facebook_page import FacebookPageGateway
    from attract.providers.x_posts import post_text

    content = PostContent(text="Meet the team (data & ML) at #Berlin: 50% remote_first", link=LINK)
    assert channel_length(ORGANIC_CHANNELS["facebook_page"], content.text, LINK) == \
        len(FacebookPageGateway.message(content))
    assert channel_length(ORGANIC_CHANNELS["x"], content.text, LINK) == weighted_length(post_text(content))
    assert channel_length(ORGANIC_CHANNELS["linkedin_org"], content.text, LINK) == len(content.text) + 4  # ( ) # _


def test_linkedin_counts_the_commentary_escaped():
    # 2,990 characters of which 10 are reserved: 3,000 once escaped, the limit; one more reserved one is too long
    text = "a" * 2980 + "()()()()()"
    assert rules(request(text, channels=("linkedin_org",))) == []
    assert rules(request(text + "#", channels=("linkedin_org",))) == [("text", "linkedin.too_long")]
