"""/notifications (the caller's own) and /admin/notifications (the log, retries).

notify_svc owns the notification log; these views scope, validate and shape. A
signed-in user (customer or admin) sees their own notifications; API clients have
none (403). The admin views list every user's, optionally by `?status=`, and send
one again. An id in the path that is not a UUID is a 404 without asking the service.
"""

from __future__ import annotations

from flask import Blueprint

from common.errors import Forbidden, NotFound
from gateway import rpc
from gateway.auth import current_principal, require_auth
from gateway.body import json_body
from gateway.routes import pick, query_args
from gateway.schemas import UUID, ListQuery, NotificationListQuery, RetryNotificationRequest

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
admin_bp = Blueprint("admin_notifications", __name__, url_prefix="/admin/notifications")

NOTIFICATION_FIELDS = ("id", "kind", "channel", "subject", "status", "created_at", "sent_at")
# The admin's log adds whom each one went to and how its sending goes.
ADMIN_FIELDS = (*NOTIFICATION_FIELDS, "recipient", "user_id", "order_id", "attempts",
                "last_error")


def _page(page: dict, fields: tuple[str, ...] = NOTIFICATION_FIELDS) -> dict:
    return {"items": [pick(item, fields) for item in page.get("items") or []],
            "next_cursor": page.get("next_cursor")}


def path_notification_id(notification_id: str) -> str:
    """The notification id of a URL path (lower-cased), or NotFound when not a UUID."""
    if UUID.fullmatch(notification_id) is None:
        raise NotFound("no such notification")
    return notification_id.lower()


@bp.get("")
@require_auth()
def list_notifications():
    """A page of the caller's notifications, newest first (`?limit=1..100&cursor=`)."""
    principal = current_principal()
    if principal.kind != "user":
        raise Forbidden("API clients have no notifications: notifications belong to users")
    query = query_args(ListQuery)
    page = rpc.call("notify_svc", "list_notifications", user_id=principal.subject,
                    status=None, limit=query.limit, cursor=query.cursor)
    return _page(page)


@admin_bp.get("")
@require_auth(role="admin")
def admin_list_notifications():
    """The notification log of every user: `?status=pending|sent|failed&limit=&cursor=`;
    each with its recipient (email address or phone), user_id, order_id, attempts and
    last_error."""
    query = query_args(NotificationListQuery)
    page = rpc.call("notify_svc", "list_notifications", user_id=None, status=query.status,
                    limit=query.limit, cursor=query.cursor, detailed=True)
    return _page(page, ADMIN_FIELDS)


@admin_bp.post("/<notification_id>/retry")
@require_auth(role="admin")
def retry_notification(notification_id: str):
    """Send a notification again: 200 the notification as it is now; 404 unknown id.

    The body may be absent or `{}`. Whether a retry is allowed in the notification's
    state is notify_svc's call (its Conflict is a 409).
    """
    notification_id = path_notification_id(notification_id)
    json_body(RetryNotificationRequest)
    notification = rpc.call("notify_svc", "retry_notification",
                            notification_id=notification_id)
    return pick(notification, NOTIFICATION_FIELDS)
