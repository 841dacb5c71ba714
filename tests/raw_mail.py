"""A strict reader of a raw message's header block, as a mailbox provider reads it: not Python's `email`.

`email` decodes RFC 2047 words and refolds on its way in, which is how an encoded `List-Unsubscribe`
passed every decoded test. Here the bytes are split at the first CRLFCRLF, unfolded as RFC 5322 2.2.3
says (remove each CRLF before whitespace), and every line must be printable ASCII `name: value`. Encoded
words are decoded by the few lines below, only to check what a reader would see after decoding.

Standard library only: tests also run it under the interpreter Lambda runs (a python3.12 subprocess).
"""

import base64
import re
import unicodedata
from collections import Counter

_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):(.*)")  # RFC 5322 2.2: printable ASCII but ':', then ':'
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t]+(?==\?)")  # RFC 2047 6.2: whitespace between two encoded words goes
ONE_CLICK_URI = re.compile(r"<https://[^>\s]+>")
INVITATION_FIELDS = frozenset({"From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
                               "MIME-Version", "Content-Type"})
OPTIONAL_FIELDS = frozenset({"Reply-To", "Content-Transfer-Encoding"})
# What no header value may hold once decoded: controls (CR, LF, VT, FF, FS/GS/RS, NEL, NUL, TAB…), the
# Unicode line and paragraph separators, and lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) of every field of the header block; AssertionError on anything not strictly RFC 5322."""
    head, separator, _ = raw.partition(b"\r\n\r\n")
    assert separator, "no CRLFCRLF ends the header block"
    fields: list[list[str]] = []
    for line in head.split(b"\r\n"):
        assert len(line) <= 998, f"a line over 998 characters: {line[:60]!r}"
        assert all(0x20 <= byte <= 0x7E or byte == 0x09 for byte in line), f"not printable ASCII: {line!r}"
        text = line.decode("ascii")
        if text[:1] in (" ", "\t"):
            assert fields, "a continuation line before the first field"
            fields[-1][1] += text
            continue
        match = _FIELD.fullmatch(text)
        assert match, f"not a `name: value` line: {text!r}"
        fields.append([match[1], match[2]])
    return [(name, value.strip(" \t")) for name, value in fields]


def decoded(value: str) -> str:
    """`value` with its RFC 2047 encoded words decoded, as a mail reader displays it."""

    def word(match: re.Match) -> str:
        charset, encoding, text = match.groups()
        if encoding in "Bb":
            data = base64.b64decode(text, validate=True)
        else:
            data = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), text.replace("_", " ").encode())
        return data.decode(charset)

    return _ENCODED_WORD.sub(word, _BETWEEN_WORDS.sub("", value))


def unsafe(text: str) -> list[str]:
    """The characters of `text` no header may carry, even encoded (empty when it is safe)."""
    return [char for char in text if unicodedata.category(char) in _UNSAFE_CATEGORIES]


def check_invitation(raw: bytes) -> dict[str, str]:
    """The invitation's header fields, decoded, after checking them strictly; AssertionError naming what is wrong.

    Each field once, no other field (a `Bcc:` from a first name is one), `List-Unsubscribe` exactly one raw
    `<https://…>`, `List-Unsubscribe-Post` exactly RFC 8058's value, and no value that decodes into a line
    break, a control character or another encoded word.
    """
    fields = header_fields(raw)
    names = Counter(name for name, _ in fields)
    assert all(count == 1 for count in names.values()), f"a field twice: {names}"
    assert INVITATION_FIELDS <= set(names) <= INVITATION_FIELDS | OPTIONAL_FIELDS, f"fields: {sorted(names)}"
    values = dict(fields)
    unsubscribe = values["List-Unsubscribe"]
    assert ONE_CLICK_URI.fullmatch(unsubscribe) and "=?" not in unsubscribe, f"List-Unsubscribe: {unsubscribe!r}"
    assert values["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", values["List-Unsubscribe-Post"]
    readable = {}
    for name, value in values.items():
        text = decoded(value)
        assert not unsafe(text), f"{name} decodes to {unsafe(text)!r}"
        assert "=?" not in text, f"{name} decodes to another encoded word: {text!r}"
        readable[name] = text
    return readable
