"""The views' one way to call a service: through the pool, with the request's id.

Every RPC carries the request id as its nameko `correlation_id`, so the services'
log lines and the events they emit can be traced back to the HTTP request. Every
RPC goes through its service's circuit breaker (common/breakers.py).
"""

from __future__ import annotations

from typing import Any

from gateway.context import request_id
from gateway.state import state


def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call `service.method(*args, **kwargs)` and return its answer.

    Service exceptions arrive as their own classes (see common.errors) and are left
    to propagate: gateway/errors.py turns them into the contract's error answers. A
    call past the service's in-flight limit is not made: admission.Overloaded (503);
    nor is one while the service's breaker is open: BreakerOpen (503, Retry-After).
    """
    gateway = state()
    with gateway.admission.slot(service):
        return gateway.breakers.call(service, gateway.rpc.call, service, method, *args,
                                     correlation_id=request_id(), **kwargs)
