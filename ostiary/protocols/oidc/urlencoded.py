"""The ``application/x-www-form-urlencoded`` bodies of token, introspection and revocation
requests, parsed as ``urllib.parse.parse_qsl`` (blank values kept) parses them.

A token request is a handful of short fields that rarely need decoding; ``parse_qsl`` checks
and unquotes each one in several steps, a tenth of a warm token request. Here a field is only
unquoted when it holds ``%`` or ``+``.
"""

from __future__ import annotations

from urllib.parse import unquote_plus


class TooManyFields(ValueError):
    pass


def parse(body: bytes | bytearray, *, max_fields: int) -> list[tuple[str, str]]:
    """The (name, value) pairs in order; ``UnicodeDecodeError`` if the body is not UTF-8,
    ``TooManyFields`` beyond ``max_fields`` (counted as ``parse_qsl`` counts them)."""
    text = body.decode()
    if not text:
        return []
    fields = text.split("&")
    if len(fields) > max_fields:
        raise TooManyFields(f"more than {max_fields} fields")
    pairs: list[tuple[str, str]] = []
    for field in fields:
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs
