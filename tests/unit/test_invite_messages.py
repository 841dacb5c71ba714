import base64
import json
import random
import subprocess
from email import policy
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from attract.invites.messages import (
    compose,
    header_value,
    mail_address,
    message_id,
    mime,
    render,
    unknown_placeholders,
)
from tests.raw_mail import check_invitation, header_fields
from tests.support import EVENTS, ROOT, require_python

# Longer than one line: Python's folder turned it into an encoded word, which mailbox providers do not read.
LONG_UNSUBSCRIBE_URL = "https://go.acme.example/u/" + "eyJjIjoiYmVybGluLWFsdW1uaSJ9." * 4 + "mac_" * 5


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


def _b64_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


# Employer data that broke the old headers: encoded words hiding CR/LF, every line separator str.splitlines()
# knows, controls, lone surrogates, encoded-word syntax cut in pieces, a word longer than a line, non-ASCII.
HOSTILE = [
    "=?utf-8?q?Ada=0D=0ABcc:_x@evil.example?=",
    _b64_word("Ada\r\nBcc: x@evil.example"),
    "=?UTF-8?Q?=E2=80=A8Bcc:_x@evil.example?=",
    "Ada " + _b64_word("\r\nBcc: y@evil.example") + " " + _b64_word("\r\n"),
    "Ada\u2028Bcc: x@evil.example", "Ada\u2029Bcc: x@evil.example", "Ada\x85Bcc: x@evil.example",
    "Ada\x0bBcc: x@evil.example", "Ada\x0cBcc: x@evil.example", "Ada\x1c\x1d\x1eBcc: x@evil.example",
    "Ada\rBcc: x@evil.example", "Ada\nBcc: x@evil.example", "Ada\r\n Bcc: folded@evil.example",
    "Ada\x00Bcc: x@evil.example", "Ada\ud800", "\udfff=?", "=?", "?=", "==??", "=?utf-8?q??=", "=\r\n?utf-8?q?x?=",
    "x" * 1000, "Zoë Ørsted", "👩\u200d💻 Ada", "عائشة", "\t\t", " ", "",
]


def test_only_known_placeholders_render_and_html_values_are_escaped():
    assert unknown_placeholders("Hi {{first_name}} {{password}} {{ salary }}") == ["password", "salary"]
    with pytest.raises(ValueError, match="password"):
        render("{{password}}", {})
    assert render("Hi {{first_name}}", {"first_name": "<b>"}) == "Hi <b>"
    assert render("Hi {{first_name}}", {"first_name": "<b>\"x\""}, escape=True) == "Hi &lt;b&gt;&quot;x&quot;"
    assert render("{{ last_name }}!", {}) == "!"  # a known field the row lacks renders empty


def test_header_values_cannot_inject_headers():
    assert header_value("Hi\r\nBcc: victim@example.com") == "Hi Bcc: victim@example.com"
    assert header_value("Hi\u2028\x85\x0b\x0c\x1c\x1d\x1e\x00\ud800Bcc: x") == "Hi Bcc: x"
    assert header_value("=?utf-8?q?=0D=0ABcc:_x?=") == "= ?utf-8?q?=0D=0ABcc:_x?="  # no encoded word any more
    letter = _letter(fields={"first_name": "Ada\r\nBcc: x@evil.example"})
    parsed = BytesParser(policy=policy.default).parsebytes(mime(letter))
    assert parsed["Bcc"] is None and parsed["Subject"] == "Ada Bcc: x@evil.example, join us"


def test_list_unsubscribe_is_plain_ascii_in_the_raw_bytes_however_long_the_url():
    # Given an unsubscribe URL longer than a 78-character line
    assert len(LONG_UNSUBSCRIBE_URL) > 78
    # When the invitation is built
    raw = mime(_letter(unsubscribe_url=LONG_UNSUBSCRIBE_URL))
    # Then the raw bytes hold the URL as written, on one line, never an encoded word
    assert f"\r\nList-Unsubscribe: <{LONG_UNSUBSCRIBE_URL}>\r\n".encode() in raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    fields = dict(header_fields(raw))
    assert fields["List-Unsubscribe"] == f"<{LONG_UNSUBSCRIBE_URL}>"
    check_invitation(raw)


@pytest.mark.parametrize("url", ["https://go.acme.example/u/a b", "https://go.acme.example/u/<x>",
                                 "https://go.acme.example/u/=?utf-8?q?x?=", "javascript:alert(1)",
                                 "https://go.acme.example/u/" + "x" * 1000, "https://go.acme.example/u/\u00e9"])
def test_an_unsubscribe_url_a_header_cannot_carry_as_written_is_refused(url):
    # A configuration error (PUBLIC_BASE_URL), never data: refused rather than sent encoded or broken.
    with pytest.raises(ValueError):
        mime(_letter(unsubscribe_url=url))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_never_become_header_lines_nor_make_a_letter_unsendable(hostile):
    # Given a first name, a last name in the subject and a sender name holding hostile data
    letter = _letter(fields={"first_name": hostile, "last_name": hostile},
                     subject="{{first_name}} {{last_name}}, join us",
                     from_address=f"Acme {hostile} <careers@acme.example>")
    # When the message is built, Then its header block reads strictly: no Bcc, nothing decoding into a line
    raw = mime(letter)
    headers = check_invitation(raw)
    assert headers["Subject"] == header_value(f"{hostile} {hostile}, join us")
    assert dict(header_fields(raw))["From"].endswith(" <careers@acme.example>")
    assert headers["To"] == "ada@example.com" and headers["Reply-To"] == "careers@acme.example"
    # And Python's own reader agrees, and the bodies still carry the join link
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Bcc"] is None and str(parsed["Subject"]) == headers["Subject"]
    for kind in ("plain", "html"):
        assert "https://go.acme.example/r/abc?tc_inv=t.1.x" in parsed.get_body((kind,)).get_content()


FRAGMENTS = ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x00", "\t",
             "=?", "?=", "=?utf-8?q?", "=?utf-8?b?", "=0D=0A", "Bcc: x@evil.example", _b64_word("\r\nBcc: x@evil.example"),
             " ", "<", ">", "\"", ",", "@", ":", ";"]
# Any code point (lone surrogates included) mixed with the fragments above.
HOSTILE_TEXT = st.lists(st.one_of(st.characters(exclude_categories=()), st.sampled_from(FRAGMENTS)),
                        max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first_name=HOSTILE_TEXT, skills=HOSTILE_TEXT, subject=HOSTILE_TEXT, sender=HOSTILE_TEXT)
def test_no_hostile_data_makes_a_header_line_or_an_unsendable_letter(first_name, skills, subject, sender):
    # Given hostile values in the row, the subject template and the sender's display name
    from_address = f"{sender} <careers@acme.example>"
    assume(unknown_placeholders(subject) == [])
    letter = _letter(fields={"first_name": first_name, "skills": skills}, subject=f"{subject}{{{{first_name}}}}",
                     from_address=from_address, text="Hi {{first_name}} ({{skills}}): {{invite_url}}",
                     html="<p>Hi {{first_name}} ({{skills}})</p><a href=\"{{invite_url}}\">Join</a>")
    # When the message is built
    raw = mime(letter)
    # Then every header reads strictly and decodes to the cleaned text, nothing else
    headers = check_invitation(raw)
    assert headers["Subject"] == header_value(f"{subject}{first_name}")
    sender_field = dict(header_fields(raw))["From"]
    assert sender_field.endswith(" <careers@acme.example>") or sender_field == "careers@acme.example"
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert "https://go.acme.example/r/abc?tc_inv=t.1.x" in parsed.get_body(("plain",)).get_content()


@pytest.mark.parametrize(("address", "expected"), [("ada@example.com", "ada@example.com"),
                                                   ("ada@bücher.example", "ada@xn--bcher-kva.example")])
def test_addresses_go_into_headers_as_ascii(address, expected):
    assert mail_address(address) == expected


@pytest.mark.parametrize("address", ["=?utf-8?q?a=0D=0ABcc=3A=20b=40evil.example?=@example.com", "zoë@example.com",
                                     "\"a b\"@example.com", "a@b", "a@-b.example", "no-at-sign", "a@exa mple.com"])
def test_an_address_no_header_can_carry_safely_is_refused(address):
    # email_validator accepts the first: as an Address, Python's email wrote its decoded CR/LF as a Bcc line.
    with pytest.raises(ValueError):
        mail_address(address)


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
    # RFC 5322 line ends throughout, and 7-bit: nothing for a relay to mangle
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.isascii()


def test_message_id_is_deterministic_per_campaign_and_recipient():
    first = BytesParser(policy=policy.default).parsebytes(mime(_letter()))["Message-ID"]
    again = BytesParser(policy=policy.default).parsebytes(mime(_letter(unsubscribe_url="https://x/u/other")))
    assert first == again["Message-ID"] == message_id("camp/abc", "careers@acme.example")
    assert first.endswith("@acme.example>") and first != message_id("camp/other", "careers@acme.example")


def test_text_only_campaign_is_a_single_utf8_part():
    raw = mime(_letter(html=None, fields={"first_name": "Zoë"}))
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert "Hello Zoë" in parsed.get_content() and raw.isascii()
    assert check_invitation(raw)["Subject"] == "Zoë, join us"  # an encoded word of the clean text, decoded


def test_the_sample_job_templates_use_known_placeholders_only():
    job = json.loads((EVENTS / "invites" / "job.json").read_text())
    assert all(not unknown_placeholders(t) for t in job["templates"].values())


# ---- the interpreter Lambda runs ------------------------------------------------------------------------------

# Builds each case with the layer's builder and reads it with tests/raw_mail.py, all in the child interpreter.
_CHILD = """
import json, sys
from attract.invites.messages import compose, header_value, mime
from tests.raw_mail import check_invitation
failures = []
cases = json.load(sys.stdin)
for hostile in cases:
    try:
        raw = mime(compose({"first_name": hostile, "last_name": hostile}, "{{first_name}} {{last_name}}, join us",
                           "Hi {{first_name}}: {{invite_url}}", "<p>{{first_name}} <a href='{{invite_url}}'>join</a>",
                           "Acme " + hostile + " <careers@acme.example>", "careers@acme.example", "ada@example.com",
                           "1 Main Street", "https://go.acme.example/r/abc?tc_inv=t", %(url)r, "camp/abc"))
        headers = check_invitation(raw)
        assert headers["Subject"] == header_value(hostile + " " + hostile + ", join us"), headers["Subject"]
        assert ("\\r\\nList-Unsubscribe: <" + %(url)r + ">\\r\\n").encode() in raw
    except Exception as error:
        failures.append([hostile, type(error).__name__, str(error)[:300]])
print(json.dumps({"version": list(sys.version_info[:2]), "checked": len(cases), "failures": failures}))
"""


def test_headers_are_safe_under_python_3_12_which_lambda_runs():
    # Given the interpreter of the Lambda runtime (python3.12), and the hostile values plus generated ones
    python = require_python("3.12")
    draw = random.Random(12)
    generated = ["".join(draw.choice(FRAGMENTS) if draw.random() < 0.4 else chr(draw.randrange(0x110000))
                         for _ in range(draw.randrange(40))) for _ in range(300)]
    # When its process builds each invitation and reads the header block strictly
    done = subprocess.run([python, "-I", "-c", f"import sys; sys.path[:0] = {[str(ROOT / 'layers/common/python'), str(ROOT)]!r}\n"
                           + _CHILD % {"url": LONG_UNSUBSCRIBE_URL}],
                          input=json.dumps(HOSTILE + generated), capture_output=True, text=True, timeout=120,
                          check=False)
    # Then nothing failed there
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["version"] == [3, 12] and report["checked"] == len(HOSTILE) + len(generated)
    assert report["failures"] == []
