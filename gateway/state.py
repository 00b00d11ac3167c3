"""What one gateway app holds: its configuration, token settings and RPC edges.

Kept in `app.extensions` rather than module globals, so tests can build several apps
with different configs and fake RPC objects side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from common.tokens import TokenSettings

EXTENSION = "gateway"


@dataclass
class GatewayState:
    """Per-app dependencies of the views.

    `rpc` and `ready_rpc` are anything with `.call(service, method, *args,
    correlation_id=..., **kwargs)`: a `common.rpc.RpcPool` in production, a fake in
    tests. `broker_check` raises if RabbitMQ cannot be reached. `stream` is the live
    stream's gateway.stream.EventHub.
    """

    config: dict
    tokens: TokenSettings
    rpc: Any
    ready_rpc: Any
    broker_check: Callable[[], None]
    ready_timeout: float
    stream: Any = None
    # Live streams open per user in this process (gateway.stream_slots.StreamSlots).
    stream_slots: Any = None
    # Sessions and clients revoked lately (gateway.revocations.Revocations).
    revocations: Any = None
    # GET /products answers (gateway.catalog.CatalogCache).
    catalog: Any = None
    # Per-service in-flight limits of the views' RPCs (gateway.admission.Admission).
    admission: Any = None
    # A circuit breaker per service on the views' RPCs (common.breakers.Breakers).
    breakers: Any = None

    def close(self) -> None:
        """End the open streams and stop the pools' proxies (each pool once)."""
        if self.stream is not None:
            self.stream.close()
        pools = {id(pool): pool for pool in (self.rpc, self.ready_rpc)}
        for pool in pools.values():
            close = getattr(pool, "close", None)
            if close is not None:
                close()


def state() -> GatewayState:
    """The current app's GatewayState."""
    return current_app.extensions[EXTENSION]
