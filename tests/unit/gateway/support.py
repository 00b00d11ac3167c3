"""Test doubles and assertions shared by the gateway's unit tests.

StubRpc stands in for common.rpc.RpcPool: it records every call (with its
correlation id) and answers from a table, raising the real exception classes
where a test asks for a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    service: str
    method: str
    args: tuple
    kwargs: dict
    correlation_id: str | None


@dataclass
class StubRpc:
    """Fake RPC edge: `answers[(service, method)]` is a value, an exception or a callable."""

    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def call(self, service, method, *args, correlation_id=None, **kwargs):
        self.calls.append(Call(service, method, args, kwargs, correlation_id))
        try:
            answer = self.answers[(service, method)]
        except KeyError:
            raise AssertionError(f"unexpected RPC {service}.{method}") from None
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(*args, **kwargs)
        return answer

    def last(self) -> Call:
        assert self.calls, "no RPC was made"
        return self.calls[-1]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def error_of(response) -> dict:
    """The `error` object of an error answer, after checking the envelope."""
    assert response.mimetype == "application/json", response.data
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def fields_of(response) -> set[str]:
    """The field names a 400 validation_error names."""
    assert response.status_code == 400, response.data
    error = error_of(response)
    assert error["code"] == "validation_error"
    return {item["field"] for item in error["details"]["fields"]}
