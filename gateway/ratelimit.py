"""Rate limits (Flask-Limiter): per client address, per account, per user, sign-ins.

- auth: RATE_LIMIT_AUTH (30/minute) per client address, one bucket shared by every
  /auth/* route.
- registration, and reset requests: RATE_LIMIT_ACCOUNT (10/minute) per email, whatever
  the address, each its own bucket: neither ever counts against signing in.
- sign-in (login, client token): gateway/signin_throttle.py, per (account, address)
  and per account, counted before the password is checked.
- orders: RATE_LIMIT_ORDERS (60/minute) per user of the token on POST /orders (a
  request without a valid token counts for its address, and gets its 401).

Counters live in RATE_LIMIT_STORAGE_URI (`memory://`: per gateway process; `redis://...`
shares them between processes). Moving windows, so "5 in 15 minutes" means the last 15
minutes, not the current quarter hour. A refused request is a 429 `rate_limited` in
the contract's error format, with `Retry-After` (seconds until the oldest counted hit
leaves the window).
"""

from __future__ import annotations

import ipaddress
import json
import math
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from common.errors import Unauthorized
from gateway.auth import basic_credentials, bearer_token, principal_from
from gateway.body import FORM
from gateway.errors import error_response
from gateway.signin_throttle import SignInThrottle

EXTENSION = "gateway.ratelimit"
DEFAULTS = {"RATE_LIMIT_AUTH": "30/minute", "RATE_LIMIT_ACCOUNT": "10/minute",
            "RATE_LIMIT_ORDERS": "60/minute",
            "SIGN_IN_FAILURES_PER_CLIENT": "5/minute;20/hour",
            "SIGN_IN_FAILURES_PER_ACCOUNT": "100/15 minutes",
            "RATE_LIMIT_STORAGE_URI": "memory://"}
REGISTER_VIEW = "auth.register"
FORGOT_VIEW = "auth.forgot_password"
THROTTLE = "gateway.signin"
CLIENT_TOKEN_VIEW = "auth.client_token"
SIGN_IN_VIEWS = ("auth.login", CLIENT_TOKEN_VIEW)
ORDER_VIEW = "orders.create_order"


def client_address() -> str:
    """The client's address (the peer, or the client behind TRUSTED_PROXIES:
    gateway/proxies.py); an IPv6 client counts as its /64, which one host usually
    holds whole."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


def account_key() -> str | None:
    """`email:<normalized>` or `client:<id>` named by the body (or a Basic header), or
    None (not limited here: the view answers 400 for a body without one)."""
    if "account_key" not in g:
        basic = basic_credentials() if request.endpoint == CLIENT_TOKEN_VIEW else None
        if basic is not None and basic[0]:
            # HTTP Basic names the client on /auth/token only: anywhere else a Basic
            # header must not move a guess to another account's count.
            g.account_key = _account_of({"client_id": basic[0]})
        else:
            g.account_key = _account_of(_peek_body())
    return g.account_key


def user_key() -> str:
    """The verified token's user; a request without a valid token counts per address
    (and gets its 401 from the view)."""
    try:
        return "user:" + principal_from(bearer_token()).subject
    except Unauthorized:
        return "address:" + client_address()


def _account_of(data: dict) -> str | None:
    for field, kind in (("email", "email"), ("client_id", "client")):
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            # Same normalization as user_svc's login lookup; capped so a key stays small.
            return f"{kind}:{value.strip().lower()[:320]}"
    return None


def _peek_body() -> dict:
    """The body as a dict, or {} when it is not one (the view reports why, later).

    Runs after gateway.body's size check, and caches the bytes for the view.
    """
    try:
        raw = request.get_data(cache=True)
        data = request.form.to_dict() if request.mimetype == FORM else json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _setting(config: dict, name: str):
    value = config.get(name)
    return DEFAULTS[name] if value in (None, "") else value


def _limit(config: dict, name: str) -> str:
    """A limit setting, checked now: a typo must stop the start, not skip the limit
    (Flask-Limiter only logs a limit it cannot parse, and lets every request through)."""
    value = str(_setting(config, name))
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a rate limit like '30/minute'") from None
    return value


def install(app: Flask, config: dict) -> Limiter:
    """Create this app's limiter and attach every limit (call after routes.register)."""
    storage = str(_setting(config, "RATE_LIMIT_STORAGE_URI"))
    limiter = Limiter(
        key_func=client_address, storage_uri=storage, strategy="moving-window",
        key_prefix="gateway",
        # A Redis outage must not take the API down: count in memory until it is back.
        in_memory_fallback_enabled=not storage.startswith("memory://"))
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter

    # Blueprint limit: checked before any /auth/* view, one bucket per address.
    limiter.shared_limit(_limit(config, "RATE_LIMIT_AUTH"), scope="auth",
                         key_func=client_address)(app.blueprints["auth"])
    # override_defaults=False: the blueprint's limit still applies to the wrapped views.
    registrations = limiter.limit(
        _limit(config, "RATE_LIMIT_ACCOUNT"), scope="register", key_func=account_key,
        exempt_when=lambda: account_key() is None, override_defaults=False)
    orders = limiter.limit(_limit(config, "RATE_LIMIT_ORDERS"), scope="orders",
                           key_func=user_key, override_defaults=False)
    resets = limiter.limit(
        _limit(config, "RATE_LIMIT_ACCOUNT"), scope="reset", key_func=account_key,
        exempt_when=lambda: account_key() is None, override_defaults=False)
    views = app.view_functions
    views[REGISTER_VIEW] = registrations(views[REGISTER_VIEW])
    views[FORGOT_VIEW] = resets(views[FORGOT_VIEW])
    views[ORDER_VIEW] = orders(views[ORDER_VIEW])
    throttle = SignInThrottle(
        limiter, parse_many(_limit(config, "SIGN_IN_FAILURES_PER_CLIENT")),
        parse_many(_limit(config, "SIGN_IN_FAILURES_PER_ACCOUNT")))
    app.extensions[THROTTLE] = throttle
    for endpoint in SIGN_IN_VIEWS:
        views[endpoint] = throttle.wrap(views[endpoint], account_key, client_address,
                                        refused_sign_in)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    return limiter


def retry_after_s(app: Flask, exc: RateLimitExceeded) -> int:
    """Whole seconds until the breached limit lets one more request through (>= 1)."""
    current = app.extensions[EXTENSION].current_limit
    # window[0]: when the oldest counted hit leaves the moving window (epoch seconds).
    reset_at = current.window[0] if current is not None else (
        time.time() + exc.limit.limit.get_expiry())
    return max(1, math.ceil(reset_at - time.time()))


def forgive_sign_ins(account: str) -> None:
    """A password reset: the account's sign-in counts start over (this address's too)."""
    current_app.extensions[THROTTLE].forgive(account, client_address())


def refused_sign_in(limit, retry: int) -> Response:
    """The 429 of a throttled sign-in (signin_throttle.py)."""
    return error_response("rate_limited", 429,
                          f"too many sign-in attempts ({limit}); retry after {retry} s",
                          {"limit": str(limit), "retry_after_s": retry},
                          headers={"Retry-After": str(retry)})


def rate_limited(exc: RateLimitExceeded) -> Response:
    """The 429 answer: the contract's error body and `Retry-After`."""
    retry = retry_after_s(current_app, exc)
    limit = str(exc.limit.limit)
    return error_response("rate_limited", 429,
                          f"too many requests ({limit}); retry after {retry} s",
                          {"limit": limit, "retry_after_s": retry},
                          headers={"Retry-After": str(retry)})
