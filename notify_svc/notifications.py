"""How a notification is recorded and sent, transaction by transaction.

Exactly one notification per (event, channel), also under redelivery and restarts:

1. `record` (the event handler's transaction, with its inbox row): one row per channel,
   UNIQUE(event_id, channel). The email row is born pending and *leased* to the worker
   that recorded it (`attempts` 1, `lease_until` = now + lease); an SMS row (the mock
   gateway: recorded, never sent) is born sent, and announced to no one (the only
   consumer of notification.sent, the live stream, shows emails only). Commit.
2. `send`: the email goes out with no transaction open, the whole SMTP conversation
   cut at `send_deadline_s`, which is shorter than the lease.
3. `settle`: the outcome is recorded if this sender still holds the attempt it started
   (`attempts` unchanged; one conditional UPDATE for a success, the row lock for a
   failure): sent (+ notification.sent), or failed
   with `last_error` and `next_attempt_at` from NOTIFY_RETRY_DELAYS_S (NULL once they
   are used up, or at once for a permanent 5xx refusal). notification.failed is emitted
   when a notification first becomes failed; later failed retries only update the log.

The sweep (`claim_next`, a timer of every process) takes one due row at a time with
FOR UPDATE SKIP LOCKED and leases it (attempts + 1, lease_until) before the send: two
processes never send a row at the same time, and a row whose sender died mid-send is
taken over when its lease runs out. A redelivered event finds its inbox row and sends
nothing. The one duplicate left: a sender that dies after the server accepted the mail
and before its commit leaves the row to the sweep, which sends it again, with the same
Message-ID (`<notification-id@order-platform>`) for the receiver to drop.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

import eventlet
from sqlalchemy.orm import Session

from common import events
from common.db import new_id, one_statement, utc_now
from common.inbox import InboxClaim
from common.messaging import describe_error
from notify_svc import domain, render, store
from notify_svc.domain import EMAIL, FAILED, PENDING, SENT, SMS, Settings
from notify_svc.exceptions import (
    NotificationAlreadySent,
    NotificationInFlight,
    NotificationNotFound,
)
from notify_svc.mailer import Outgoing, PermanentMailError, build_message
from notify_svc.models import Notification, Outbox

log = logging.getLogger(__name__)

INTERRUPTED = "the sender stopped during the last attempt"


@dataclass(frozen=True)
class Draft:
    """A notification to record: who gets what, on which channel."""

    kind: str
    channel: str
    user_id: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None = None
    order_id: str | None = None


@dataclass(frozen=True)
class SendError:
    message: str
    permanent: bool = False


def drafts(kind: str, settings: Settings, *, user_id: str, recipient: str,
           order: events.OrderSnapshot | None = None, name: str | None = None,
           reason: str | None = None, verification_token: str | None = None,
           reset_token: str | None = None, shortages: list | None = None) -> list[Draft]:
    """The email (rendered from the templates) and, for some kinds, the SMS of an event;
    `order` is the snapshot an `order.*` event carries (`shortages`: order.cancelled's,
    out of stock). The SMS goes to the phone of the order's shipping address: no phone,
    no SMS (none is recorded as sent to nobody)."""
    fields = vars(order) if order is not None else None  # the dataclass's own dict, no copy
    context = render.mail_context(kind, settings.public_url, order=fields, name=name,
                                  email=recipient, reason=reason,
                                  verification_token=verification_token,
                                  reset_token=reset_token, shortages=shortages,
                                  shop_name=settings.shop_name)
    mail = render.render(kind, context)
    order_id = order.order_id if order is not None else None
    found = [Draft(kind, EMAIL, user_id, recipient, mail.subject, mail.text, mail.html,
                   order_id)]
    phone = domain.sms_number(fields)
    if SMS in domain.channels(kind) and phone:
        found.append(Draft(kind, SMS, user_id, phone, mail.subject,
                           domain.sms_text(kind, order_id, context["link"],
                                           settings.shop_name),
                           order_id=order_id))
    return found


def record(session: Session, inbox: InboxClaim, event: events.Event, drafts: list[Draft],
           settings: Settings) -> list[Outgoing]:
    """Step 1: the event's rows, once, with the inbox claim in the same statement (the
    caller runs it as one: common.db.one_statement); the emails this worker is to send
    now."""
    now = utc_now()
    rows = [_row(draft, event, now, settings) for draft in drafts]
    inserted = store.record_once(session, inbox.model, inbox.params(event), rows)
    outgoing = []
    for draft, row in zip(drafts, rows, strict=True):
        if row["id"] not in inserted:
            continue
        if draft.channel == EMAIL:
            outgoing.append(Outgoing(row["id"], 1, draft.kind, draft.recipient,
                                     draft.subject, draft.body_text, draft.body_html,
                                     draft.user_id, event.correlation_id))
        else:
            log.info("%s %s recorded for user %s (SMS is not sent: mock gateway)",
                     draft.channel, draft.kind, draft.user_id)
    return outgoing


def _row(draft: Draft, event: events.Event, now, settings: Settings) -> dict:
    """The notification row of `draft`: an email is born pending and leased to this
    worker, an SMS (mock gateway) born sent."""
    email = draft.channel == EMAIL
    return {**asdict(draft), "id": new_id(), "event_id": event.event_id,
            "correlation_id": event.correlation_id, "attempts": 1,
            "status": PENDING if email else SENT, "created_at": now,
            "sent_at": None if email else now, "next_attempt_at": now if email else None,
            "lease_until": now + timedelta(seconds=settings.lease_s) if email else None}


def send(mailer, outgoing: Outgoing, settings: Settings) -> SendError | None:
    """Step 2: hand the email to the SMTP server; the error, or None once accepted."""
    deadline = eventlet.Timeout(settings.send_deadline_s)
    try:
        mailer.send(build_message(outgoing, settings.mail_from))
    except eventlet.Timeout as exc:
        if exc is not deadline:
            raise
        return SendError(f"no answer from the mail server in {settings.send_deadline_s}s")
    except PermanentMailError as exc:
        return SendError(describe_error(exc), permanent=True)
    except Exception as exc:
        return SendError(describe_error(exc))
    finally:
        deadline.cancel()
    return None


def settle(session: Session, outgoing: Outgoing, error: SendError | None,
           settings: Settings) -> None:
    """Step 3: record the outcome of the attempt, unless another sender took over."""
    if error is None:
        _settle_sent(session, outgoing)
        return
    row = store.get(session, outgoing.id, lock=True)
    if row is None or row.status == SENT or row.attempts != outgoing.attempt:
        _dropped(outgoing)
        return
    now = utc_now()
    row.lease_until = None
    log.warning("notification %s: attempt %d failed: %s", row.id, row.attempts,
                error.message)
    retry_at = None if error.permanent else domain.next_attempt_at(
        now, row.attempts, settings.retry_delays_s)
    _fail(session, row, error.message, retry_at)


def _settle_sent(session: Session, outgoing: Outgoing) -> None:
    """A success, in one statement: the row is marked sent, and notification.sent put in
    the outbox, only if this attempt still holds it (no separate locking read)."""
    announce = _outcome(events.NotificationSent, outgoing.id, outgoing.user_id,
                        outgoing.kind, EMAIL, outgoing.subject, outgoing.correlation_id)
    if not store.mark_sent(session, outgoing.id, outgoing.attempt, utc_now(), announce):
        _dropped(outgoing)
        return
    log.info("notification %s (%s %s) sent, attempt %d", outgoing.id, outgoing.kind, EMAIL,
             outgoing.attempt)


def _dropped(outgoing: Outgoing) -> None:
    log.warning("notification %s: attempt %d outcome dropped, the row moved on",
                outgoing.id, outgoing.attempt)


def deliver(session: Session, mailer, outgoing: Outgoing, settings: Settings) -> None:
    """Steps 2 and 3 for an email this worker holds the lease of; commits."""
    error = send(mailer, outgoing, settings)
    if error is None:  # the usual case: one statement, no BEGIN/COMMIT round trips
        with one_statement(session):
            settle(session, outgoing, error, settings)
    else:
        settle(session, outgoing, error, settings)
    session.commit()


def claim_next(session: Session, settings: Settings) -> Outgoing | None:
    """Lease the next due email (the caller commits); give up interrupted last tries."""
    now = utc_now()
    while (row := store.next_due(session, now)) is not None:
        if row.attempts < settings.max_attempts:
            return _lease(row, now, settings)
        _fail(session, row, row.last_error or INTERRUPTED, None)
    return None


def claim_for_retry(session: Session, notification_id, settings: Settings) -> Outgoing:
    """Lease a failed or pending email now, whatever its schedule (the caller commits)."""
    row = store.get(session, notification_id, lock=True)
    if row is None:
        raise NotificationNotFound("no such notification", {"id": notification_id})
    if row.status == SENT:
        raise NotificationAlreadySent("this notification was sent already",
                                      {"id": row.id, "sent_at": row.sent_at.isoformat()})
    now = utc_now()
    if row.lease_until is not None and row.lease_until > now:
        raise NotificationInFlight("a send of this notification is under way",
                                   {"id": row.id, "lease_until": row.lease_until.isoformat()})
    return _lease(row, now, settings)


def _lease(row: Notification, now, settings: Settings) -> Outgoing:
    row.attempts += 1
    row.lease_until = now + timedelta(seconds=settings.lease_s)
    return Outgoing(row.id, row.attempts, row.kind, row.recipient, row.subject,
                    row.body_text, row.body_html, row.user_id, row.correlation_id)


def _fail(session: Session, row: Notification, error: str, retry_at) -> None:
    first = row.status == PENDING
    row.status, row.last_error = FAILED, error
    row.next_attempt_at, row.lease_until = retry_at, None
    if first:
        session.add(Outbox.of(_announce(events.NotificationFailed, row)))


def _announce(event_class, row: Notification) -> events.Event:
    return _outcome(event_class, row.id, row.user_id, row.kind, row.channel, row.subject,
                    row.correlation_id)


def _outcome(event_class, notification_id, user_id, kind, channel, subject, correlation_id):
    """notification.sent / notification.failed, in the cause's correlation."""
    return event_class(notification_id=notification_id, user_id=user_id, kind=kind,
                       channel=channel, subject=subject, correlation_id=correlation_id)
