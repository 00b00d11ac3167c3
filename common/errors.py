"""Base of every exception a service raises across RPC.

`@deserialize_to_instance` makes nameko rebuild the real exception class on the
caller's side (the gateway imports the same modules), so the gateway maps exception
classes, not strings, to the HTTP contract's error codes (gateway/errors.py).
"""

from __future__ import annotations

import json

from nameko.exceptions import deserialize_to_instance


class ServiceError(Exception):
    """A failure the caller should see: a message for humans and JSON-able details."""

    def __init__(self, message: str = "", details=None):
        details = _unpack(details)
        # nameko sends `exc.args` across RPC and turns every value that is not a string,
        # list or dict into its str() (None arrives as "None", 3 as "3"): the details
        # travel as JSON text, and the rebuilt exception (this __init__ again) decodes it.
        super().__init__(message, json.dumps(details, default=str))
        self.message = message or self.__class__.__doc__ or self.__class__.__name__
        self.details = details

    def __str__(self) -> str:
        return self.message


def _unpack(details):
    """Details as given, or decoded from the JSON text they crossed RPC as."""
    if isinstance(details, str):
        try:
            return json.loads(details)
        except ValueError:
            return details  # a plain string given by the raiser
    return details


def remote(cls):
    """Register a ServiceError subclass so it crosses RPC as itself."""
    return deserialize_to_instance(cls)


@remote
class ValidationError(ServiceError):
    """The request is not valid."""


@remote
class NotFound(ServiceError):
    """No such resource."""


@remote
class Conflict(ServiceError):
    """The request conflicts with the current state."""


@remote
class PriceChanged(Conflict):
    """The prices changed since the client priced its cart: details carry today's."""


@remote
class Unauthorized(ServiceError):
    """Authentication failed."""


@remote
class Forbidden(ServiceError):
    """Not allowed for this principal."""


@remote
class ServiceUnavailable(ServiceError):
    """A service or the broker cannot be reached."""


@remote
class BreakerOpen(ServiceUnavailable):
    """A service's circuit breaker is open: the call was not made (common/breakers.py).

    details: {"service", "breaker": "open", "retry_after_s"}; the 503's Retry-After.
    """

    @property
    def retry_after_s(self) -> int:
        details = self.details if isinstance(self.details, dict) else {}
        return max(1, int(details.get("retry_after_s") or 1))


@remote
class UpstreamTimeout(ServiceError):
    """A service did not answer in time."""


@remote
class IdempotencyConflict(ServiceError):
    """An idempotency key was used again with another request."""


def field_checker(error: type[ServiceError]):
    """`checked(field, check, value)` for a service: runs a domain check on one field
    and turns its ValueError into `error` (a 400) naming the field."""

    def checked(field: str, check, value):
        try:
            return check(value)
        except ValueError as exc:
            raise error(f"{field}: {exc}", {"field": field}) from None

    return checked
