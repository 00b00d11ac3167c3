"""The HTTP gateway: the platform's only entry point, a Flask app over RPC.

    app = create_app()                       # config.yml, real RPC pools
    app = create_app(config, rpc=FakeRpc())  # tests: no broker needed

Per request: context.py picks the request id and binds the log context, security.py
answers CORS preflights (and later adds the security headers), body.py caps and
checks the body, ratelimit.py counts the request against its limits, auth.py verifies
the bearer token, the view calls a service through rpc.py, and errors.py turns any
failure into the contract's JSON. openapi/ describes all of it at /openapi.json.
`python -m gateway.server` serves it with eventlet.wsgi.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict | None = None, rpc=None, *, ready_rpc=None,
               broker_check: Callable[[], None] | None = None,
               stream_hub=None) -> Flask:
    """Build the gateway app.

    `config` defaults to config.yml (common.config.load_config). `rpc` is anything
    with `.call(service, method, *args, correlation_id=..., **kwargs)`; by default a
    common.rpc.RpcPool of RPC_POOL_SIZE proxies with RPC_TIMEOUT_S. /ready uses
    `ready_rpc` (default: `rpc` if one was given, else its own pool with
    READY_TIMEOUT_S) and `broker_check` (default: open one AMQP connection).
    `stream_hub` is the live stream's gateway.stream.EventHub (default: one fed from
    RabbitMQ, whose consumer starts with `python -m gateway.server` or, failing that,
    on the first GET /events/stream; tests pass `EventHub()`, which has no feed).
    """
    # Imported on call, not with the package: `python -m gateway.server` imports this
    # package before server.py runs, and eventlet.monkey_patch() must precede Flask,
    # kombu and nameko.
    from gateway.app import create_app as build

    return build(config, rpc, ready_rpc=ready_rpc, broker_check=broker_check,
                 stream_hub=stream_hub)
