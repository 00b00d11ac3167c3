"""Every list route refuses a cursor it did not give out with a 400, never a 500.

A crafted cursor on GET /orders (base64 of a time and an id that is not a UUID)
once reached PostgreSQL and answered 500; every list now decodes with common.cursors.
"""

import base64
from datetime import UTC, datetime

import pytest

LIST_ROUTES = [("/orders", "customer"), ("/notifications", "customer"),
               ("/products", None), ("/admin/payments", "admin"),
               ("/admin/notifications", "admin")]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


AT = datetime(2026, 11, 30, 12, tzinfo=UTC).isoformat()
FORGED = [
    "!!!", "AAAA", "x" * 200, b64(b"\xff\xfe|\x00"),
    b64(f"{AT}|o-1".encode()),                                   # id not a UUID
    b64(f"{AT}|{'9' * 70}".encode()),                            # id far too long
    b64(b"2026-11-30T12:00:00|0b5e2c1a-8a4f-4d8e-9a51-7d3f0f6f3b10"),  # no offset
    b64(f"{AT}|0b5e2c1a-8a4f-4d8e-9a51-7d3f0f6f3b10|x".encode()),
    b64("TEA 1 ☕".encode()), b64(b"'; DROP TABLE orders; --"),
]


@pytest.mark.parametrize("path, who", LIST_ROUTES)
def test_a_forged_cursor_is_a_400_naming_the_field(cluster, customer, admin, path, who):
    headers = {"customer": customer, "admin": admin, None: {}}[who]
    for forged in FORGED:
        answer = cluster.get(path, params={"cursor": forged}, headers=headers)
        assert answer.status_code == 400, (path, forged, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_error", (path, forged, error)
        assert "cursor" in answer.text, (path, forged, error)
    assert cluster.get(path, headers=headers).status_code == 200
