"""Bearer-token authentication, checked locally (no RPC per request).

    @bp.get("/admin/thing")
    @require_auth(role="admin")
    def thing():
        principal = current_principal()

Missing or malformed `Authorization`, or a token that fails verification (bad
signature, wrong algorithm, issuer or audience, expired) is a 401 carrying
`WWW-Authenticate: Bearer` (added by gateway/errors.py); a valid token with the
wrong role is a 403.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote_plus

import jwt
from flask import g, request

from common.errors import Forbidden, Unauthorized
from common.tokens import InvalidToken, Principal, verify_access_token
from gateway.state import state

# RFC 6750 section 2.1: "Bearer" 1*SP b64token
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def bearer_token() -> str:
    """The token of the request's `Authorization: Bearer` header, or Unauthorized."""
    match = _BEARER.fullmatch(request.headers.get("Authorization", "").strip())
    if match is None:
        raise Unauthorized("missing or malformed Authorization header; "
                           "expected 'Bearer <access_token>'")
    return match.group(1)


def basic_credentials() -> tuple[str, str] | None:
    """The (id, secret) of an `Authorization: Basic` header, each form-urlencoded first
    as RFC 6749 section 2.3.1 has OAuth2 clients send them, or None."""
    basic = request.authorization
    if basic is None or basic.type != "basic":
        return None
    return unquote_plus(basic.username or ""), unquote_plus(basic.password or "")


def bearer_or_query_token(param: str = "access_token") -> str:
    """The bearer token of the header or, only when no `Authorization` header is sent,
    of the query parameter `param` (for browsers' EventSource, which cannot set headers).

    Only for routes that need it (the live stream): a token in a URL ends up in
    browser history and proxy logs. Our access log records the path without the query.
    """
    if "Authorization" in request.headers or param not in request.args:
        return bearer_token()
    token = request.args.get(param, "").strip()
    if _BEARER.fullmatch(f"Bearer {token}") is None:
        raise Unauthorized(f"malformed {param} query parameter; expected an access token")
    return token


def token_expiry(token: str) -> int | None:
    """The `exp` (epoch seconds) of a token principal_from has already verified."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return exp if isinstance(exp, int) else None


def principal_from(token: str) -> Principal:
    """The principal of a valid access token not revoked (gateway/revocations.py), or
    Unauthorized."""
    gateway = state()
    try:
        principal = verify_access_token(gateway.tokens, token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    if gateway.revocations.covers(principal):
        raise Unauthorized("token revoked")
    return principal


def require_auth(role: str | Iterable[str] | None = None, scope: str | None = None
                 ) -> Callable:
    """Decorator: the view needs a valid token, and one of `role` if given, or else an
    API client's `scope` (common.tokens.SCOPES) when one is named.

    The verified Principal is put in `flask.g.principal`.
    """
    roles = None if role is None else ({role} if isinstance(role, str) else set(role))

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = principal_from(bearer_token())
            if roles is not None and principal.role not in roles and not (
                    scope is not None and scope in principal.scopes):
                raise Forbidden("this action needs the role " + " or ".join(sorted(roles))
                                + (f" or the scope {scope}" if scope else ""))
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper

    return decorate


def current_principal() -> Principal:
    """The principal that require_auth verified for this request."""
    return g.principal
