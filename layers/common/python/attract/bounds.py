"""Bounds in UTF-8 bytes, the unit DynamoDB (400 KB items, 2,048-byte keys), SQS (256 KiB messages) and SES count.

A character limit bounds nothing a store counts: 100,000 emoji are 100,000 characters and 400,000
bytes. Every string that reaches an item, a key or a message carries a byte bound next to (or
instead of) its character bound:

    Html = Annotated[str, StringConstraints(max_length=100_000), Utf8Bytes(150_000)]

A longer value is refused with pydantic's own `string_too_long` rule (the 422 names the field), so
clients see one rule for "too long", whichever unit was exceeded.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema


def utf8_length(text: str) -> int:
    """Bytes of `text` in UTF-8 (a lone surrogate counts as the 3 bytes it would take; the body check refuses it)."""
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Utf8Bytes:
    """`Annotated[str, Utf8Bytes(n)]`: at most `n` bytes in UTF-8 (None passes, for optional fields)."""

    max_bytes: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        if isinstance(value, str) and utf8_length(value) > self.max_bytes:
            raise PydanticCustomError("string_too_long", "String should have at most {max_bytes} bytes in UTF-8",
                                      {"max_bytes": self.max_bytes})
        return value
