"""LinkedIn's little text format: a commentary's reserved characters are backslash-escaped to read as plain text
(learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format). No SDK here: the
posts API counts the escaped commentary against LinkedIn's limit before any call, the adapter escapes what it sends.
"""

LITTLE_RESERVED = frozenset("\\|{}@[]()<>#*_~")


def escape_little(text: str) -> str:
    """Plain text as LinkedIn's little format reads it back: every reserved character backslash-escaped."""
    return "".join("\\" + char if char in LITTLE_RESERVED else char for char in text)
