"""common.deadletters: the row a dead-lettered message becomes (pure)."""

import json
from datetime import UTC, datetime

from common.deadletters import letter_row


def test_a_dead_letter_row_keeps_the_message_and_names_the_failure():
    body = json.dumps({"event_type": "order.created", "event_id": "e-1"}).encode()
    headers = {"x-attempts": 3, "x-error": "RuntimeError: boom",
               "x-original-queue": "evt-q", "x-failed-at": "2026-11-30T16:00:00+00:00",
               "x-death": [{"time": datetime(2026, 11, 30, tzinfo=UTC)}],
               "nameko.correlation_id": "req-1"}
    row = letter_row(body, headers, {"message_id": "e-1"}, "routing")
    assert row["queue"] == "evt-q" and row["message_id"] == "e-1"
    assert (row["event_type"], row["event_id"], row["attempts"]) == ("order.created", "e-1", 3)
    assert row["error"] == "RuntimeError: boom"
    # What the replay sends again: the message's own headers, not the failure's.
    assert row["headers"] == {"nameko.correlation_id": "req-1"}
    assert json.loads(row["body"]) == {"event_type": "order.created", "event_id": "e-1"}


def test_a_body_that_is_not_json_is_kept_as_text():
    row = letter_row(b"\xffnot json", {}, {}, "evt-q")
    assert row["queue"] == "evt-q" and row["event_type"] is None and row["attempts"] is None
    assert row["body"].endswith("not json")
