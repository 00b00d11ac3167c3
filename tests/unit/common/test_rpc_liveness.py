"""RpcPool's liveness check: one broker question at a time per service, not one per
request (under overload a question per request opened hundreds of AMQP connections
and ran RabbitMQ out of file descriptors)."""

import eventlet
import pytest

from common.errors import ServiceUnavailable
from common.rpc import RpcPool


class CountingPool(RpcPool):
    """Answers the broker question itself, slowly, and counts the questions."""

    def __init__(self, consumers: int):
        super().__init__({"AMQP_URI": "amqp://unused"}, liveness_ttl=0.05)
        self.consumers, self.questions = consumers, 0

    def _consumers(self, service: str) -> int:
        self.questions += 1
        eventlet.sleep(0.2)  # a busy broker
        return self.consumers


def test_concurrent_callers_after_expiry_ask_the_broker_once():
    pool = CountingPool(consumers=1)
    pool.ensure_running("order_svc")  # first answer
    eventlet.sleep(0.06)  # ... expired
    callers = eventlet.GreenPool()
    for _ in range(50):
        callers.spawn(pool.ensure_running, "order_svc")
    callers.waitall()
    assert pool.questions == 2


def test_a_service_that_stopped_is_reported_once_its_answer_expires():
    pool = CountingPool(consumers=1)
    pool.ensure_running("order_svc")
    pool.consumers = 0
    eventlet.sleep(0.06)
    with pytest.raises(ServiceUnavailable):
        pool.ensure_running("order_svc")
