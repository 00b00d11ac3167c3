"""The one cursor codec of every list: opaque to clients, checked in every part.

A page's `next_cursor` is the position of its last item, base64url without padding:

* by time (orders, payments, notifications): `<created_at, ISO-8601 with its offset>|
  <id, a UUID>`; the list is newest first, ties broken by id;
* by key (products, stock): the key itself (a SKU), checked by the caller's rule.

Anything else (longer than MAX_CURSOR_CHARS, not base64, not UTF-8, a time without an
offset, an id that is not a UUID, a key its rule refuses) raises `InvalidCursor`, a
ValueError each service maps to 400 `validation_error` naming the `cursor` field:
nothing undecoded reaches a query. Pure: no nameko, no SQLAlchemy.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime

MAX_CURSOR_CHARS = 200


class InvalidCursor(ValueError):
    """A cursor this API did not give out."""

    def __init__(self):
        super().__init__("cursor is not one this API gave out")


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor) -> str:
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise InvalidCursor
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor from None


def encode_position(created_at: datetime, item_id: str) -> str:
    """The cursor after an item of a newest-first list: its time (aware) and UUID."""
    return _encode(f"{created_at.isoformat()}|{item_id}")


def decode_position(cursor) -> tuple[datetime, str]:
    """(created_at, id) of `encode_position`'s cursor; InvalidCursor for anything else."""
    try:
        at, item_id = _decode(cursor).split("|")
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise InvalidCursor
        return created_at, str(uuid.UUID(item_id))
    except (ValueError, TypeError):
        raise InvalidCursor from None


def encode_key(key: str) -> str:
    """The cursor after the item whose key is `key` in a list in key order."""
    return _encode(key)


def decode_key(cursor, check: Callable[[str], str]) -> str:
    """The key of `encode_key`'s cursor, as `check` (a rule raising ValueError) takes it."""
    key = _decode(cursor)
    try:
        return check(key)
    except (ValueError, TypeError):
        raise InvalidCursor from None
