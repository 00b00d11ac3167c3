"""common.cursors: every list's cursor round-trips, and nothing else gets through."""

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import cursors
from common.cursors import InvalidCursor

AT = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
ID = "0b5e2c1a-8a4f-4d8e-9a51-7d3f0f6f3b10"


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def sku(key: str) -> str:
    if not key.isalnum():
        raise ValueError("not a SKU")
    return key


def test_positions_and_keys_round_trip():
    assert cursors.decode_position(cursors.encode_position(AT, ID)) == (AT, ID)
    later = AT.astimezone(timezone(timedelta(hours=5)))
    assert cursors.decode_position(cursors.encode_position(later, ID)) == (later, ID)
    assert cursors.decode_key(cursors.encode_key("TEA1"), sku) == "TEA1"


@pytest.mark.parametrize("forged", [
    "", "!!!", "AAAA", 7, None, ["x"], "A" * 201,
    b64("2026-11-30T12:00:00|" + ID),            # a time without an offset
    b64(f"{AT.isoformat()}|o-1"),                 # an id that is not a UUID
    b64(f"{AT.isoformat()}|{ID}|more"),           # a part too many
    b64(f"not-a-time|{ID}"),
    base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),  # not UTF-8
])
def test_a_position_cursor_it_did_not_give_out_is_refused(forged):
    with pytest.raises(InvalidCursor, match="cursor is not one this API gave out"):
        cursors.decode_position(forged)


def test_a_key_cursor_is_refused_when_its_rule_refuses_the_key():
    for forged in ["", "!!!", b64("has space"), 42]:
        with pytest.raises(InvalidCursor):
            cursors.decode_key(forged, sku)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=120).map(
    lambda raw: base64.urlsafe_b64encode(raw).decode())))
def test_any_input_decodes_to_a_valid_position_or_is_refused(cursor):
    try:
        created_at, item_id = cursors.decode_position(cursor)
    except InvalidCursor:
        return
    assert created_at.tzinfo is not None and str(uuid.UUID(item_id)) == item_id
