"""notify_svc: emails (and mock SMS) about accounts and orders, with a log and retries.

    n.rpc.notify_svc.list_notifications(user_id="<user id>", status="failed", limit=5)
    n.rpc.notify_svc.retry_notification("<notification id>")

Events in: user.registered -> welcome; order.confirmed / order.cancelled / order.shipped
/ order.delivered -> order_confirmed / order_cancelled / order_shipped / order_delivered.
Each is an email over SMTP (jinja2 templates, text + HTML, the order's lines taken from
the event's order snapshot: no call back to order_svc); order_shipped and order_delivered
also get an SMS, which is recorded (status sent) and never sent: the SMS gateway is a
mock. Events out: notification.sent, notification.failed (emails only: the SMS records
are in the log, not announced). notifications.py explains why each (event, channel)
makes exactly one notification, and how failed sends are retried.
"""

from __future__ import annotations

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import text

from common import cursors, deadletters, events
from common.db import DatabaseSession, one_statement
from common.entrypoints import rpc
from common.errors import field_checker
from common.inbox import InboxClaims
from common.logging import LogContext
from common.messaging import event_handler
from common.metrics import Metrics
from common.outbox import OutboxRelay
from notify_svc import domain, notifications, store
from notify_svc.domain import Settings
from notify_svc.exceptions import (
    InvalidNotificationQuery,
    NotificationAlreadySent,
    NotificationInFlight,
    NotificationNotFound,
)
from notify_svc.mailer import Mailer
from notify_svc.models import Base, DeadLetter, Inbox, Outbox

# nameko fixes a timer's interval when the class is defined, before config exists.
SWEEP_INTERVAL_S = 1.0
SWEEP_BATCH = 50


# A domain check's complaint becomes a 400 naming the field.
checked = field_checker(InvalidNotificationQuery)


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class NotifyService(deadletters.DeadLetterRpc):
    name = "notify_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()
    mailer = Mailer()
    inbox = InboxClaims(Inbox)

    def _settings(self) -> Settings:
        return Settings.from_config(self.config)

    def _notify(self, event: events.Event, kind: str, recipient: str,
                order: events.OrderSnapshot | None = None, **content) -> None:
        """Record the event's notifications once, then send its email right away."""
        settings = self._settings()
        drafts = notifications.drafts(kind, settings, user_id=event.user_id,
                                      recipient=recipient, order=order, **content)
        with one_statement(self.db):  # the inbox claim and the rows: one statement
            outgoing = notifications.record(self.db, self.inbox, event, drafts, settings)
        self.db.commit()
        for email in outgoing:
            notifications.deliver(self.db, self.mailer, email, settings)

    # ---- events ------------------------------------------------------------------------

    @event_handler("user_svc", "user.registered")
    def on_user_registered(self, event: events.UserRegistered):
        """A new account: the welcome email, which asks to confirm the address. It
        carries no text the registrant chose (not even the name): whoever signs up with
        someone else's address must not get words of theirs mailed to it."""
        self._notify(event, domain.WELCOME, event.email,
                     verification_token=event.verification_token)

    @event_handler("user_svc", "user.password_reset_requested")
    def on_password_reset_requested(self, event: events.PasswordResetRequested):
        """The single-use link to choose a new password."""
        self._notify(event, domain.PASSWORD_RESET, event.email,
                     reset_token=event.reset_token)

    @event_handler("order_svc", "order.confirmed")
    def on_order_confirmed(self, event: events.OrderConfirmed):
        """Paid: the confirmation with the order's lines."""
        self._notify(event, domain.ORDER_CONFIRMED, event.user_email, event)

    @event_handler("order_svc", "order.cancelled")
    def on_order_cancelled(self, event: events.OrderCancelled):
        """Cancelled: why, in plain words, what happens to the money, and (out of
        stock) which items were missing."""
        self._notify(event, domain.ORDER_CANCELLED, event.user_email, event,
                     reason=event.reason, shortages=event.shortages)

    @event_handler("order_svc", "order.shipped")
    def on_order_shipped(self, event: events.OrderShipped):
        """Shipped: email and SMS."""
        self._notify(event, domain.ORDER_SHIPPED, event.user_email, event)

    @event_handler("order_svc", "order.delivered")
    def on_order_delivered(self, event: events.OrderDelivered):
        """Delivered: email and SMS."""
        self._notify(event, domain.ORDER_DELIVERED, event.user_email, event)

    @timer(interval=SWEEP_INTERVAL_S)
    def send_due(self):
        """Send emails whose retry is due or whose sender died mid-send, one at a time."""
        settings = self._settings()
        for _ in range(SWEEP_BATCH):
            email = notifications.claim_next(self.db, settings)
            self.db.commit()
            if email is None:
                return
            notifications.deliver(self.db, self.mailer, email, settings)

    # ---- RPC ---------------------------------------------------------------------------

    @rpc(expected_exceptions=InvalidNotificationQuery)
    def list_notifications(self, user_id=None, status=None, limit=20, cursor=None,
                           detailed=False):
        """Newest first, of one user or (None) everyone: {items, next_cursor}.

        Items are the contract's {id, kind, channel, subject, status, created_at,
        sent_at}; `detailed` (admins) adds user_id, order_id, recipient, attempts,
        last_error and next_attempt_at.
        """
        user_id = checked("user_id", domain.check_user_id, user_id)
        status = checked("status", domain.check_status, status)
        limit = checked("limit", domain.check_limit, limit)
        before = checked("cursor", cursors.decode_position, cursor) if cursor else None
        page = store.page(self.db, limit, user_id, status, before)
        last = page[limit - 1] if len(page) > limit else None
        return {"items": [store.notification_dict(n, bool(detailed)) for n in page[:limit]],
                "next_cursor": cursors.encode_position(last.created_at, last.id) if last else None}

    @rpc(expected_exceptions=NotificationNotFound)
    def get_notification(self, notification_id, user_id=None, detailed=False):
        """The notification; NotFound unless it is `user_id`'s (None: any, for admins)."""
        found = store.get(self.db, notification_id)
        if found is None or (user_id is not None and found.user_id != user_id):
            raise NotificationNotFound("no such notification", {"id": notification_id})
        return store.notification_dict(found, bool(detailed))

    @rpc(expected_exceptions=(NotificationNotFound, NotificationAlreadySent,
                              NotificationInFlight))
    def retry_notification(self, notification_id):
        """Send a failed or pending email now, whatever its schedule; the detailed
        notification after the attempt (sent, or failed with last_error)."""
        settings = self._settings()
        email = notifications.claim_for_retry(self.db, notification_id, settings)
        self.db.commit()
        notifications.deliver(self.db, self.mailer, email, settings)
        return store.notification_dict(store.get(self.db, notification_id), detailed=True)

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}
