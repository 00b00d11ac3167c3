"""order.cancelled against a capture being recorded, in two workers at the same time.

The charge worker is held just after the provider captured; a test transaction then
takes the payments row lock, and the settle of the capture and the cancel handler
(each a worker on its own session, in its own green thread) queue behind it in a
chosen order. Released, PostgreSQL grants the lock in queue order: whichever goes
first, the money is captured once and refunded once. (The cancel commits its tombstone
before it queues, so here the settle always sees it and refunds; a cancel that comes
after the settle read the tombstone refunds itself: test_service covers that.)
"""

import eventlet
import pytest
from eventlet.event import Event
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from common.testing import wait_for
from payment_svc.models import Outbox, Payment
from tests.unit.payment_svc.test_service import HookedProvider, cancelled, created, reserved


def lock_waiters(engine) -> int:
    # A new transaction per look: pg_stat_activity is a snapshot per transaction.
    with engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))


def in_thread(worker, handler, event, session):
    def run():
        try:
            getattr(worker, handler)(event)
        finally:
            session.rollback()  # what the worker's teardown does
    return eventlet.spawn(run)


@pytest.mark.parametrize("first", ["settle", "cancel"])
def test_exactly_one_of_cancel_and_capture_refunds(make_worker, engine, session, first):
    provider = HookedProvider(slow_s=0)
    captured, go = Event(), Event()
    provider.during = lambda: (captured.send(), go.wait())
    make_worker(session, provider).record_intent(created("o1"))
    sessions = [Session(engine, expire_on_commit=False) for _ in range(2)]
    charging, cancelling = (make_worker(s, provider) for s in sessions)

    def queued(n, what):
        wait_for(lambda: lock_waiters(engine) == n, message=f"{what} to wait on the lock")

    with Session(engine) as blocker:
        threads = [in_thread(charging, "charge", reserved("o1"), sessions[0])]
        captured.wait()  # the provider captured; the worker has not recorded it yet
        blocker.scalars(select(Payment).with_for_update()).one()
        if first == "settle":
            go.send()
            queued(1, "the settle")
        threads.append(in_thread(cancelling, "refund", cancelled("o1"), sessions[1]))
        queued(1 if first == "cancel" else 2, "the cancel")
        if first == "cancel":
            go.send()
            queued(2, "the settle")
        blocker.rollback()  # let them through, in queue order
        for thread in threads:
            thread.wait()
    for worker_session in sessions:
        worker_session.close()

    payment = session.scalars(select(Payment)).one()
    assert (payment.status, payment.refunded_cents) == ("REFUNDED", payment.amount_cents)
    assert provider.captures_for("o1") == 1 and provider.refunds_for("refund-o1") == 1
    assert provider.refunded_cents(payment.provider_ref) == payment.amount_cents
    # The settle read the committed tombstone under the lock and refunded; the cancel,
    # first or second to the lock, found PENDING or REFUNDED and left it.
    refunded_by = session.scalars(select(Outbox.correlation_id)
                                  .where(Outbox.event_type == "payment.refunded")).one()
    assert refunded_by == "req-reserve"
    counts = dict(session.execute(select(Outbox.event_type, func.count())
                                  .group_by(Outbox.event_type)).all())
    assert counts == {"payment.succeeded": 1, "payment.refunded": 1}
