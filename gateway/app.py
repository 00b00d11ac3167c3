"""The app factory behind gateway.create_app: wiring of hooks, errors and routes.

Order matters: context first (every later hook and error answer has the request
id), then admission's early shed (before anything costly), the body check, the error
handlers and the blueprints; the chunked-body middleware wraps the whole WSGI app.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask

from common import production
from common.breakers import Breakers
from common.config import load_config
from common.rpc import RpcPool
from common.tokens import TokenSettings
from gateway import body, context, errors, metrics, ratelimit, routes, security
from gateway.admission import Admission
from gateway.admission import install as admission_hooks
from gateway.catalog import CatalogCache
from gateway.proxies import TrustedProxies, parse_networks
from gateway.revocations import Revocations
from gateway.routes.health import ping_broker
from gateway.state import EXTENSION, GatewayState
from gateway.stream import EventHub
from gateway.stream_slots import StreamSlots

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def create_app(config: dict | None = None, rpc=None, *, ready_rpc=None,
               broker_check: Callable[[], None] | None = None,
               stream_hub: EventHub | None = None) -> Flask:
    """Build the gateway app (see gateway.create_app)."""
    config = load_config() if config is None else config
    # No secret, a public one, or the development admin password where others can
    # reach us: exit (common/production.py).
    production.check(config, "gateway",
                     exposed=not production.is_loopback(config.get("GATEWAY_HOST")))
    ready_timeout = float(config.get("READY_TIMEOUT_S", 2))
    if rpc is None:
        rpc = RpcPool(config, size=int(config.get("RPC_POOL_SIZE", 16)),
                      timeout=float(config.get("RPC_TIMEOUT_S", 5)))
        if ready_rpc is None:
            # Its own pool: a short timeout, and busy API traffic cannot starve it.
            ready_rpc = RpcPool(config, size=max(4, 2 * len(config.get("SERVICES") or [])),
                                timeout=ready_timeout)
    if broker_check is None:
        broker_check = functools.partial(ping_broker, config["AMQP_URI"], ready_timeout)

    app = Flask(__name__)
    max_body = int(config.get("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    app.config.update(MAX_CONTENT_LENGTH=max_body, MAX_FORM_MEMORY_SIZE=max_body)
    app.json.sort_keys = False  # answers keep the field order the views build
    hub = stream_hub if stream_hub is not None else EventHub.from_config(config)
    catalog = CatalogCache.from_config(config)
    hub.add_listener(catalog.on_event)  # stock moved: cached `available` is stale
    admission = Admission.from_config(config)
    breakers = Breakers.from_config(config, config.get("SERVICES") or ())
    app.extensions[EXTENSION] = GatewayState(
        config=config, tokens=TokenSettings.from_config(config), rpc=rpc,
        ready_rpc=ready_rpc if ready_rpc is not None else rpc,
        broker_check=broker_check, ready_timeout=ready_timeout, stream=hub, catalog=catalog,
        admission=admission, breakers=breakers, stream_slots=StreamSlots(),
        revocations=Revocations(keep_s=float(config["JWT_ACCESS_TTL_S"])))

    context.install(app)
    security.install(app, config)  # headers on every answer; CORS preflights end here
    admission_hooks(app, admission)  # before the limits, the token and the body: cheap 503s
    metrics.install(app, config, hub, admission, breakers)  # counts every answer
    app.before_request(body.check_request_body)
    errors.install(app, config.get("SERVICES") or [])
    routes.register(app)
    ratelimit.install(app, config)  # after the routes: it wraps some of their views
    app.wsgi_app = body.ChunkedInput(app.wsgi_app, max_body)  # chunked bodies are capped too
    # Outermost: every layer above sees the client behind the trusted proxies.
    app.wsgi_app = TrustedProxies(app.wsgi_app,
                                  parse_networks(config.get("TRUSTED_PROXIES") or ""))
    return app
