import pytest

from attract.attribution.channels import group_channel


@pytest.mark.parametrize(
    ("utm", "click_ids", "referrer", "expected"),
    [
        ({}, {}, None, ("direct", "(direct)", "(none)")),
        ({}, {}, "https://www.google.com/", ("organic_search", "www.google.com", "organic")),
        ({}, {}, "https://duckduckgo.com/", ("organic_search", "duckduckgo.com", "organic")),
        ({}, {}, "https://www.linkedin.com/feed/", ("organic_social", "www.linkedin.com", "social")),
        ({}, {}, "https://t.co/abc", ("organic_social", "t.co", "social")),
        ({}, {}, "https://blog.example.org/post", ("referral", "blog.example.org", "referral")),
        ({}, {"gclid": "x"}, "https://www.google.com/", ("paid_search", "google", "cpc")),
        ({}, {"msclkid": "x"}, None, ("paid_search", "bing", "cpc")),
        ({}, {"fbclid": "x"}, "https://m.facebook.com/", ("organic_social", "m.facebook.com", "social")),
        ({"utm_source": "google", "utm_medium": "cpc"}, {}, None, ("paid_search", "google", "cpc")),
        ({"utm_source": "LinkedIn", "utm_medium": "paid"}, {}, None, ("paid_social", "linkedin", "paid")),
        ({"utm_source": "crm", "utm_medium": "email"}, {}, None, ("email", "crm", "email")),
        ({"utm_source": "mastodon", "utm_medium": "social"}, {}, None, ("organic_social", "mastodon", "social")),
        ({"utm_source": "fair", "utm_medium": "qr"}, {}, None, ("event", "fair", "qr")),
        ({"utm_source": "partner", "utm_medium": "banner"}, {}, None, ("referral", "partner", "banner")),
        ({"utm_source": "newsletter-x"}, {}, None, ("referral", "newsletter-x", "(none)")),
    ],
)
def test_touchless_join_channel_grouping(utm, click_ids, referrer, expected):
    assert group_channel(utm, click_ids, referrer) == expected
