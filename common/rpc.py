"""The gateway's pool of standalone RPC proxies.

A nameko standalone proxy must never be shared by two threads at once (it hangs), and
starting one per request costs a connection and a reply queue. The pool keeps started
proxies and lends each to one caller at a time:

    pool = RpcPool(config, size=16, timeout=5)
    user = pool.call("user_svc", "get_user", user_id, correlation_id=request_id)

Failures become the contract's errors, never a hang:
* no reply within `timeout` -> UpstreamTimeout (504); that proxy is dropped, since a
  late reply could otherwise reach the next caller;
* the service has no running consumer, or the broker is unreachable ->
  ServiceUnavailable (503), at once: a durable RPC queue outlives its service, so
  the pool asks the broker (cached for `liveness_ttl` seconds) whether anything
  consumes it, instead of waiting out the timeout.

Both name the service in their details ({"service": ...}), which is how a circuit
breaker (common/breakers.py) tells them from the same errors a service passes on
about another one. Every proxy lent out: PoolExhausted (503), the caller's own
saturation, which no breaker counts.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextlib import contextmanager

import eventlet
from eventlet.semaphore import Semaphore
from kombu import Queue
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, get_rpc_exchange
from nameko.standalone.rpc import (
    ClusterRpcProxy,
    PollingQueueConsumer,
    SingleThreadedReplyListener,
)

from common.broker import connect, ensure_connected
from common.entrypoints import connection_reply_queue
from common.errors import ServiceUnavailable, UpstreamTimeout
from common.logging import CORRELATION_KEY, new_correlation_id

log = logging.getLogger(__name__)


class PoolExhausted(ServiceUnavailable):
    """No proxy came free within the timeout: this process is saturated, not the service."""

    breaker_neutral = True


# How long `_still_connected` reads an idle proxy's socket: nothing is expected on it.
IDLE_CHECK_S = 0.001

# Connection-level failures: broker gone, socket reset, channel closed.
_CONNECTION_ERRORS = (OSError, ConnectionError)
try:  # amqp's own error tree (kombu's transport)
    from amqp.exceptions import ConnectionError as AmqpConnectionError
    from amqp.exceptions import RecoverableConnectionError
    _CONNECTION_ERRORS += (AmqpConnectionError, RecoverableConnectionError)
except ImportError:  # pragma: no cover
    pass


class RpcPool:
    """Started ClusterRpcProxy instances, lent out one caller at a time."""

    def __init__(self, config: dict, size: int = 16, timeout: float = 5.0,
                 liveness_ttl: float = 1.0):
        self.config = {"AMQP_URI": config["AMQP_URI"]}
        self.size = size
        self.timeout = timeout
        self.liveness_ttl = liveness_ttl
        self._idle: list[ClusterRpcProxy] = []
        self._slots = Semaphore(size)
        self._liveness: dict[str, tuple[float, bool]] = {}

    def call(self, service: str, method: str, *args, correlation_id: str | None = None,
             **kwargs):
        """Call `service.method(*args, **kwargs)`; raise the service's own exceptions."""
        self.ensure_running(service)
        with self.proxy(correlation_id, service) as cluster:
            try:
                return getattr(getattr(cluster, service), method)(*args, **kwargs)
            except UnknownService as exc:
                self._liveness.pop(service, None)
                raise ServiceUnavailable(f"{service} is not running",
                                         {"service": service}) from exc

    @contextmanager
    def proxy(self, correlation_id: str | None = None, service: str | None = None):
        """Lend a started cluster proxy; map timeouts and broker failures (naming
        `service`, the one called through it)."""
        details = {"service": service} if service else None
        if not self._slots.acquire(timeout=self.timeout):
            raise PoolExhausted("gateway RPC pool exhausted")
        standalone = None
        try:
            standalone = self._take()
            # Every call is correlated; a caller without a request id starts a new one.
            standalone._worker_ctx.data[CORRELATION_KEY] = correlation_id or new_correlation_id()
            try:
                yield standalone._proxy
            except RpcTimeout as exc:
                self._discard(standalone)
                standalone = None
                raise UpstreamTimeout(f"{service or 'a service'} did not answer in time",
                                      details) from exc
            except _CONNECTION_ERRORS as exc:
                self._discard(standalone)
                standalone = None
                raise ServiceUnavailable("message broker unreachable", details) from exc
            except BaseException:
                # Interrupted mid-call (eventlet.Timeout, client gone): a reply may still
                # be on its way to this proxy, so it must not serve another caller.
                if not isinstance(sys.exc_info()[1], Exception):
                    self._discard(standalone)
                    standalone = None
                raise
        finally:
            if standalone is not None:
                self._idle.append(standalone)
            self._slots.release()

    def ensure_running(self, service: str) -> None:
        """Raise ServiceUnavailable at once if nothing consumes `rpc-<service>`."""
        now = time.monotonic()
        checked = self._liveness.get(service)
        if checked and now - checked[0] < self.liveness_ttl:
            running = checked[1]
        else:
            if checked:  # callers meanwhile keep the last answer: one broker check at a
                self._liveness[service] = (now, checked[1])  # time, not one per request
            running = self._consumers(service) > 0
            self._liveness[service] = (time.monotonic(), running)
        if not running:
            raise ServiceUnavailable(f"{service} is not running", {"service": service})

    def _consumers(self, service: str) -> int:
        try:
            with eventlet.Timeout(self.timeout), connect(
                    self.config["AMQP_URI"], self.timeout) as conn:
                ok = conn.channel().queue_declare(f"rpc-{service}", passive=True)
                return ok.consumer_count
        except eventlet.Timeout as exc:
            raise ServiceUnavailable("message broker unreachable") from exc
        except Exception as exc:
            # A passive declare of a queue that does not exist: the service never ran.
            if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) == 404:
                return 0
            raise ServiceUnavailable("message broker unreachable") from exc

    def _take(self) -> ClusterRpcProxy:
        while self._idle:
            standalone = self._idle.pop()
            if self._still_connected(standalone):
                return standalone
            self._discard(standalone)
        standalone = ClusterRpcProxy(self.config, timeout=self.timeout,
                                     reply_listener_cls=StandaloneReplyListener)
        try:
            with eventlet.Timeout(self.timeout):
                standalone.start()
        except (eventlet.Timeout, *_CONNECTION_ERRORS) as exc:
            # Half started (a slow broker): its connection must not outlive it.
            self._discard(standalone)
            raise ServiceUnavailable("message broker unreachable") from exc
        return standalone

    @staticmethod
    def _still_connected(standalone: ClusterRpcProxy) -> bool:
        """Whether an idle proxy's connection survived (one non-blocking read).

        Its reply queue is exclusive to that connection: after a broker restart or a
        node's loss the queue is gone, and a call through the proxy would send its
        request and wait out the timeout for a reply with nowhere to go. Reading the
        socket once sees the broker's close (or the reset) at once.
        """
        connection = standalone._reply_listener.queue_consumer.connection
        try:
            connection.drain_events(timeout=IDLE_CHECK_S)
        except TimeoutError:
            return True  # nothing to read: the connection is as it was
        except Exception:
            return False
        return True  # a stray frame (a late reply) was read: nameko keeps it by its
        # correlation id, which no later call asks for

    def _discard(self, standalone: ClusterRpcProxy) -> None:
        try:
            standalone.stop()
        except Exception:  # already broken; nothing to give back
            log.debug("discarding a broken RPC proxy", exc_info=True)

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())


class FailoverPollingConsumer(PollingQueueConsumer):
    """nameko's standalone reply consumer, connecting to the first broker address of
    AMQP_URI that answers (kombu's own first connect tries two, 2 s apart)."""

    def _setup_consumer(self):
        ensure_connected(self.connection, self.provider.container.config["AMQP_URI"])
        super()._setup_consumer()


class StandaloneReplyListener(SingleThreadedReplyListener):
    """A standalone proxy's reply queue: exclusive to its connection, so it is declared
    on whatever node that connection reached (nameko's is durable and stays on the
    node first used, see common.entrypoints.connection_reply_queue)."""

    def __init__(self, timeout=None):
        super().__init__(timeout=timeout)
        self.queue_consumer = FailoverPollingConsumer(timeout=timeout)

    def setup(self):
        reply_id = str(uuid.uuid4())
        self.routing_key = reply_id
        self.queue = connection_reply_queue(Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_id),
            exchange=get_rpc_exchange(self.container.config), routing_key=reply_id))
        self.queue_consumer.register_provider(self)


def call_service(proxy, method: str, *args, timeout: float, breakers=None, **kwargs):
    """Service-to-service RPC with a deadline (nameko 2.x's RpcProxy has none).

    A call past `timeout` raises UpstreamTimeout (its late reply is dropped); a service
    that is not there raises ServiceUnavailable; both name the service in their
    details. With `breakers` (common.breakers.Breakers), the call goes through the
    service's circuit breaker: BreakerOpen (503) at once while it is open.
    """
    if breakers is not None:
        return breakers.call(proxy.service_name, _call_service, proxy, method, *args,
                             timeout=timeout, **kwargs)
    return _call_service(proxy, method, *args, timeout=timeout, **kwargs)


def _call_service(proxy, method: str, *args, timeout: float, **kwargs):
    details = {"service": proxy.service_name}
    try:
        with eventlet.Timeout(timeout):
            return getattr(proxy, method)(*args, **kwargs)
    except eventlet.Timeout as exc:
        raise UpstreamTimeout(f"{proxy.service_name}.{method} did not answer in time",
                              details) from exc
    except UnknownService as exc:
        raise ServiceUnavailable(f"{proxy.service_name} is not running", details) from exc
