"""The gateway's RPC proxy pool against the real broker: answers, 504s and 503s."""

import time

import eventlet
import pytest
from nameko.rpc import rpc

from common.errors import ServiceUnavailable, UpstreamTimeout
from common.logging import LogContext
from common.rpc import RpcPool
from common.testing import free_port

pytestmark = pytest.mark.integration


class Echo:
    name = "echo_svc"
    correlation_id = LogContext()

    @rpc
    def whoami(self):
        return self.correlation_id

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return "late"


@pytest.fixture
def pool(rabbit_config):
    pool = RpcPool(rabbit_config, size=4, timeout=1.0, liveness_ttl=0)
    yield pool
    pool.close()


def test_a_call_carries_the_correlation_id(container_factory, rabbit_config, pool):
    container_factory(Echo, rabbit_config).start()
    assert pool.call("echo_svc", "whoami", correlation_id="req-42") == "req-42"


def test_concurrent_callers_each_get_their_own_answer(container_factory, rabbit_config, pool):
    container_factory(Echo, rabbit_config).start()
    ids = [f"req-{n}" for n in range(20)]
    answers = list(eventlet.GreenPool(10).imap(
        lambda rid: pool.call("echo_svc", "whoami", correlation_id=rid), ids))
    assert answers == ids


def test_a_slow_service_gives_upstream_timeout_and_the_pool_recovers(
        container_factory, rabbit_config, pool):
    container_factory(Echo, rabbit_config).start()
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        pool.call("echo_svc", "slow", 3)
    assert time.monotonic() - started < 2.5
    # The proxy that timed out was dropped: its late reply cannot reach this caller.
    assert pool.call("echo_svc", "whoami", correlation_id="after") == "after"


def test_a_service_that_is_not_running_gives_service_unavailable_at_once(rabbit_config, pool):
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as raised:
        pool.call("echo_svc", "whoami")
    assert time.monotonic() - started < 0.5
    assert raised.value.details == {"service": "echo_svc"}


def test_a_stopped_service_gives_service_unavailable_not_a_wait(
        container_factory, rabbit_config, pool):
    container = container_factory(Echo, rabbit_config)
    container.start()
    assert pool.call("echo_svc", "whoami", correlation_id="up") == "up"
    container.stop()  # its durable RPC queue stays behind, with no consumer

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        pool.call("echo_svc", "whoami")
    assert time.monotonic() - started < 0.5


def test_an_unreachable_broker_gives_service_unavailable(rabbit_config):
    pool = RpcPool({"AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/"},
                   timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        pool.call("echo_svc", "whoami")
    assert time.monotonic() - started < 2.5
