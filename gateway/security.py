"""Security headers on every answer, and the CORS policy.

Headers (a view may set its own value first; it is kept):
- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`.
- `Content-Security-Policy`: CSP below. Fits the JSON API (nothing to run) and the
  storefront and /docs pages: scripts, styles, images, fonts and fetches from this
  origin only; no inline scripts, no plugins, no framing, no <base> tricks.
- `Strict-Transport-Security` only when ENV=production (TLS ends in front of us there;
  on a developer's plain-HTTP localhost it would pin the browser to https).
- `Cache-Control: no-store` on JSON answers to a request that carried credentials
  (Authorization or ?access_token=) and on every /auth/* answer (tokens, RFC 6749 5.1).

CORS: CORS_ORIGINS is a comma-separated list of exact origins (`https://shop.example`),
default empty: no other origin may call the API from a browser. `*` allows any origin
(safe only because credentials are bearer headers, never cookies). A preflight
(`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed origin
gets 204 with the methods of that path and the request headers the API reads; from
another origin a 403 forbidden. Answers to allowed origins expose X-Request-ID,
Location and Retry-After to the page's script.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from common.errors import Forbidden

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
}
HSTS = "max-age=31536000; includeSubDomains"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-ID, Last-Event-ID"
EXPOSED_HEADERS = "X-Request-ID, Location, Retry-After"
PREFLIGHT_MAX_AGE_S = 600
EXTENSION = "gateway.security"


def parse_origins(value) -> frozenset[str]:
    """CORS_ORIGINS as a set of origins (no trailing slash); empty when unset."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    return frozenset(str(item).strip().rstrip("/") for item in items if str(item).strip())


def _origin_allowed(origin: str | None) -> bool:
    allowed = current_app.extensions[EXTENSION]["origins"]
    return bool(origin) and ("*" in allowed or origin in allowed)


def preflight() -> Response | None:
    """before_request: answer a CORS preflight itself (no auth, no body, no rate limit)."""
    if (request.method != "OPTIONS" or "Origin" not in request.headers
            or "Access-Control-Request-Method" not in request.headers
            or request.url_rule is None):
        return None  # not a preflight, or an unknown path (Flask's 404)
    origin = request.headers["Origin"]
    if not _origin_allowed(origin):
        raise Forbidden("this origin may not call the API", {"origin": origin[:200]})
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = sorted(set(adapter.allowed_methods(request.path)) - {"HEAD", "OPTIONS"})
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    response.headers.update({
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
    })
    return response


def _has_credentials() -> bool:
    return "Authorization" in request.headers or "access_token" in request.args


def add_headers(response: Response) -> Response:
    """after_request: the security headers, and CORS headers for an allowed origin."""
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    settings = current_app.extensions[EXTENSION]
    if settings["production"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if response.mimetype == "application/json" and (
            _has_credentials() or request.path.startswith("/auth/")):
        response.headers.setdefault("Cache-Control", "no-store")
    if settings["origins"]:
        response.vary.add("Origin")  # caches must not serve one origin's answer to another
        origin = request.headers.get("Origin")
        if _origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def install(app: Flask, config: dict) -> None:
    """Register the hooks; call right after context.install (preflights skip the rest)."""
    app.extensions[EXTENSION] = {
        "origins": parse_origins(config.get("CORS_ORIGINS")),
        "production": str(config.get("ENV", "")).lower() == "production",
    }
    app.before_request(preflight)
    app.after_request(add_headers)
