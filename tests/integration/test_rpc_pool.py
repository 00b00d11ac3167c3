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


def test_an_idle_proxy_whose_connection_dropped_is_replaced_not_waited_on(
        container_factory, rabbit_config):
    # Reply queues are exclusive to their connection: after a broker restart (or a
    # node's loss) an idle proxy's queue is gone, and a call through it would wait out
    # the timeout for a reply with nowhere to go. The pool sees the dropped connection.
    from urllib.parse import urlparse

    from common.testing import TcpProxy

    container_factory(Echo, rabbit_config).start()
    amqp = urlparse(rabbit_config["AMQP_URI"])
    with TcpProxy(amqp.hostname, amqp.port or 5672).start() as proxy:
        through = rabbit_config["AMQP_URI"].replace(f"{amqp.hostname}:{amqp.port or 5672}",
                                                    f"127.0.0.1:{proxy.port}")
        pool = RpcPool({"AMQP_URI": through}, size=1, timeout=3.0, liveness_ttl=0)
        try:
            assert pool.call("echo_svc", "whoami", correlation_id="before") == "before"
            proxy.cut()
            proxy.restore()
            started = time.monotonic()
            assert pool.call("echo_svc", "whoami", correlation_id="after") == "after"
            assert time.monotonic() - started < 1.5
        finally:
            pool.close()
