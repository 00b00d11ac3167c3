"""Errors notify_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import Conflict, NotFound, ValidationError, remote


@remote
class InvalidNotificationQuery(ValidationError):
    """A bad filter, limit or cursor (details name the field)."""


@remote
class NotificationNotFound(NotFound):
    """No such notification (or not one of the caller's)."""


@remote
class NotificationAlreadySent(Conflict):
    """The notification was sent: a retry would send it twice."""


@remote
class NotificationInFlight(Conflict):
    """A send of this notification is under way right now; ask again after it settles."""
