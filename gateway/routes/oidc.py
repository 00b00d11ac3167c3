"""/auth/oidc/*: sign in with an OpenID Connect provider (gateway/oidc.py).

    GET /auth/oidc/providers           {items: [{name, label, login_url}]}: the configured
    GET /auth/oidc/{provider}/login    302 to the provider, with the state cookie set
    GET /auth/oidc/{provider}/callback 302 to /#/oidc?code=<one-time code>
    POST /auth/oidc/exchange {code}    the token pair (routes/auth.py)

The login's `state`, `nonce` and PKCE verifier ride in a cookie, encrypted and
authenticated with a key derived from JWT_SECRET (JWE dir + A256GCM), httponly,
SameSite=Lax (it must come back on the provider's top-level redirect), only sent to
/auth/oidc/ and good for OIDC_STATE_TTL_S. The callback compares its state with the
query's in constant time. Tokens never go into a URL: the storefront gets a single-use
code (user_svc, OIDC_LOGIN_CODE_TTL_S) in the fragment, which no server sees.

Failures: a browser (it asks for HTML) is sent back to `/#/login?error=<reason>`, a code
the login page says in plain words (a message of ours in the URL would let any link put
its own words on our page); any other client gets the contract's error (400
validation_error, 401 unauthorized with details.reason, 404 for a provider not
configured, 503 when the provider cannot be reached).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, request, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import OctKey

from common.errors import (
    NotFound,
    ServiceError,
    ServiceUnavailable,
    UpstreamTimeout,
    ValidationError,
)
from gateway import rpc
from gateway.oidc import OidcFailure, Pending, Provider, Providers
from gateway.state import state

log = logging.getLogger(__name__)

bp = Blueprint("oidc", __name__, url_prefix="/auth/oidc")
EXTENSION = "gateway.oidc"
COOKIE, COOKIE_PATH = "oidc_login", "/auth/oidc/"
SEALED = {"alg": "dir", "enc": "A256GCM"}
REASON = re.compile(r"[a-z_]{1,40}")


@bp.record_once
def _setup(setup_state) -> None:
    config = setup_state.app.extensions["gateway"].config
    setup_state.app.extensions[EXTENSION] = Providers.from_config(config)


def _providers() -> Providers:
    return current_app.extensions[EXTENSION]


def _provider(name: str) -> Provider:
    found = _providers().get(name)
    if found is None:
        raise NotFound("no such sign-in provider is configured", {"provider": name[:40]})
    return found


def _redirect_uri(name: str) -> str:
    """What the provider sends the browser back to (registered with it as is)."""
    return f"{str(state().config['PUBLIC_URL']).rstrip('/')}/auth/oidc/{name}/callback"


def _cookie_key() -> OctKey:
    # Its own key: the JWT secret signs access tokens; this derivation only seals cookies.
    secret = str(state().config["JWT_SECRET"]).encode()
    return OctKey.import_key(hmac.new(secret, b"oidc-login-cookie", hashlib.sha256).digest())


def _seal(pending: Pending, ttl_s: int) -> str:
    claims = {"p": pending.provider, "s": pending.state, "n": pending.nonce,
              "v": pending.verifier, "exp": int(time.time()) + ttl_s}
    return jwt.encode(SEALED, claims, _cookie_key(), registry=JWERegistry())


def _unseal(value: str | None) -> Pending | None:
    """The cookie's login, or None when it is missing, forged, altered or expired."""
    if not value:
        return None
    try:
        claims = jwt.decode(value, _cookie_key(), registry=JWERegistry()).claims
        jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)
        return Pending(claims["p"], claims["s"], claims["n"], claims["v"])
    except (JoseError, ValueError, KeyError, TypeError):
        return None


@bp.get("/providers")
def list_providers():
    """The providers this shop offers: {items: [{name, label, login_url}]}."""
    return {"items": [{"name": p.name, "label": p.label,
                       "login_url": url_for("oidc.login", provider=p.name)}
                      for p in _providers().providers.values()]}


@bp.get("/<provider>/login")
def login(provider: str):
    """302 to the provider's sign-in page; the state cookie set."""
    found = _provider(provider)
    url, pending = _providers().begin(found.name, _redirect_uri(found.name))
    ttl_s = int(state().config.get("OIDC_STATE_TTL_S", 600))
    response = redirect(url, 302)
    response.set_cookie(COOKIE, _seal(pending, ttl_s), max_age=ttl_s, path=COOKIE_PATH,
                        httponly=True, samesite="Lax", secure=_secure())
    return response


@bp.get("/<provider>/callback")
def callback(provider: str):
    """The provider's answer: 302 to the storefront with a one-time code."""
    try:
        code = _finish(provider)
    except ServiceError as exc:
        log.info("OpenID sign-in with %s refused: %s %s %s", provider[:40], exc, exc.details,
                 getattr(exc, "detail", ""))
        if not _wants_html():
            raise
        return _forget(redirect("/#/login?" + urlencode({"error": _reason(exc)}), 302))
    return _forget(redirect("/#/oidc?" + urlencode({"code": code}), 302))


def _finish(name: str) -> str:
    found, args = _provider(name), request.args
    if "error" in args:  # the user said no, or the provider refused
        cancelled = args.get("error") == "access_denied"
        raise OidcFailure("sign-in was cancelled" if cancelled else
                          "the sign-in provider refused this sign-in",
                          "cancelled" if cancelled else "provider_refused",
                          args.get("error", "")[:100])
    missing = [key for key in ("state", "code") if not args.get(key)]
    if missing:
        raise ValidationError("the provider's answer is incomplete", {"fields": [
            {"field": key, "message": "required"} for key in missing]})
    pending = _unseal(request.cookies.get(COOKIE))
    if pending is None or pending.provider != found.name or not hmac.compare_digest(
            pending.state.encode(), args["state"].encode()):
        raise OidcFailure("this sign-in expired or was started elsewhere; please try again",
                          "state_mismatch")
    identity = _providers().finish(found.name, pending, args["code"], _redirect_uri(found.name))
    answer = rpc.call("user_svc", "oidc_sign_in", issuer=identity.issuer,
                      subject=identity.subject, email=identity.email,
                      email_verified=identity.email_verified, name=identity.name)
    return answer["code"]


def _reason(exc: ServiceError) -> str:
    """The failure's code for the login page (details.reason of ours and user_svc's)."""
    reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
    if isinstance(reason, str) and REASON.fullmatch(reason):
        return reason
    if isinstance(exc, ServiceUnavailable | UpstreamTimeout):
        return "unavailable"
    return "incomplete" if isinstance(exc, ValidationError) else "failed"


def _wants_html() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _secure() -> bool:
    return request.is_secure or str(state().config.get("PUBLIC_URL", "")).startswith("https:")


def _forget(response: Response) -> Response:
    """The state cookie is spent: the same login cannot be finished twice."""
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax",
                           secure=_secure())
    return response
