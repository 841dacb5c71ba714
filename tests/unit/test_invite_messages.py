import json
from email import policy
from email.parser import BytesParser

import pytest

from attract.invites.messages import compose, header_value, message_id, mime, render, unknown_placeholders
from tests.support import EVENTS


def _letter(**changes):
    values = dict(fields={"first_name": "Ada <script>", "last_name": "Lovelace", "location": "Berlin", "skills": "sql"},
                  subject="{{first_name}}, join us", text="Hello {{first_name}} from {{location}}: {{invite_url}}",
                  html="<p>Hello {{ first_name }}</p><a href=\"{{invite_url}}\">Join</a>",
                  from_address="Acme Careers <careers@acme.example>", reply_to="careers@acme.example",
                  to="ada@example.com", postal_address="1 Main Street, Springfield",
                  invite_url="https://go.acme.example/r/abc?tc_inv=t.1.x",
                  unsubscribe_url="https://go.acme.example/u/tok.1.mac", message_key="camp/abc")
    values.update(changes)
    return compose(**values)


def test_only_known_placeholders_render_and_html_values_are_escaped():
    assert unknown_placeholders("Hi {{first_name}} {{password}} {{ salary }}") == ["password", "salary"]
    with pytest.raises(ValueError, match="password"):
        render("{{password}}", {})
    assert render("Hi {{first_name}}", {"first_name": "<b>"}) == "Hi <b>"
    assert render("Hi {{first_name}}", {"first_name": "<b>\"x\""}, escape=True) == "Hi &lt;b&gt;&quot;x&quot;"
    assert render("{{ last_name }}!", {}) == "!"  # a known field the row lacks renders empty


def test_header_values_cannot_inject_headers():
    assert header_value("Hi\r\nBcc: victim@example.com") == "Hi Bcc: victim@example.com"
    letter = _letter(fields={"first_name": "Ada\r\nBcc: x@evil.example"})
    parsed = BytesParser(policy=policy.default).parsebytes(mime(letter))
    assert parsed["Bcc"] is None and parsed["Subject"] == "Ada Bcc: x@evil.example, join us"


def test_mime_has_rfc_8058_headers_the_visible_link_and_the_postal_address():
    raw = mime(_letter())
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["List-Unsubscribe"] == "<https://go.acme.example/u/tok.1.mac>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["From"] == "Acme Careers <careers@acme.example>" and parsed["Reply-To"] == "careers@acme.example"
    assert parsed["To"] == "ada@example.com" and parsed["Subject"] == "Ada <script>, join us"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for body in (text, html):
        assert "https://go.acme.example/u/tok.1.mac" in body and "1 Main Street, Springfield" in body
        assert "Acme Careers" in body
    assert "Hello Ada &lt;script&gt;" in html and "<script>" not in html
    assert "https://go.acme.example/r/abc?tc_inv=t.1.x" in text


def test_message_id_is_deterministic_per_campaign_and_recipient():
    first = BytesParser(policy=policy.default).parsebytes(mime(_letter()))["Message-ID"]
    again = BytesParser(policy=policy.default).parsebytes(mime(_letter(unsubscribe_url="https://x/u/other")))
    assert first == again["Message-ID"] == message_id("camp/abc", "careers@acme.example")
    assert first.endswith("@acme.example>") and first != message_id("camp/other", "careers@acme.example")


def test_text_only_campaign_is_a_single_utf8_part():
    parsed = BytesParser(policy=policy.default).parsebytes(mime(_letter(html=None, fields={"first_name": "Zoë"})))
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert "Hello Zoë" in parsed.get_content()


def test_the_sample_job_templates_use_known_placeholders_only():
    job = json.loads((EVENTS / "invites" / "job.json").read_text())
    assert all(not unknown_placeholders(t) for t in job["templates"].values())
