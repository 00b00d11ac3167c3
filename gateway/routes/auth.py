"""/auth/*: registration, login, refresh-token rotation, logout, client credentials.

user_svc owns accounts and tokens; these views validate input and shape answers.
"""

from __future__ import annotations

from flask import Blueprint

from common.errors import Forbidden, ValidationError
from gateway import ratelimit, rpc
from gateway.auth import basic_credentials, current_principal, require_auth
from gateway.body import accepts_form, json_body, json_or_form_body
from gateway.routes import USER_FIELDS, no_content, pick
from gateway.schemas import (
    ChangePasswordRequest,
    ClientTokenRequest,
    ForgotPasswordRequest,
    LoginRequest,
    OidcExchangeRequest,
    RefreshTokenRequest,
    RegisterRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
    validate,
)
from gateway.state import state

bp = Blueprint("auth", __name__, url_prefix="/auth")

PAIR_FIELDS = ("access_token", "refresh_token", "token_type", "expires_in")
CLIENT_TOKEN_FIELDS = ("access_token", "token_type", "expires_in")


def _tokens(answer: dict, fields: tuple[str, ...]) -> dict:
    shaped = pick(answer, fields, token_type="Bearer")
    if shaped["expires_in"] is None:  # the access TTL is shared config, so we know it
        shaped["expires_in"] = state().tokens.access_ttl_s
    return shaped


@bp.post("/register")
def register():
    """Create a customer account: 201 {id, email, name, role}."""
    body = json_body(RegisterRequest)
    user = rpc.call("user_svc", "register", email=body.email, password=body.password,
                    name=body.name)
    return pick(user, USER_FIELDS), 201


@bp.post("/login")
def login():
    """Exchange email and password for an access and a refresh token."""
    body = json_body(LoginRequest)
    pair = rpc.call("user_svc", "login", email=body.email, password=body.password)
    return _tokens(pair, PAIR_FIELDS)


@bp.post("/oidc/exchange")
def oidc_exchange():
    """Spend the one-time code an OpenID sign-in left in the storefront's URL
    (routes/oidc.py) for a token pair; 401 when unknown, spent or expired."""
    body = json_body(OidcExchangeRequest)
    pair = rpc.call("user_svc", "redeem_login_code", code=body.code)
    return _tokens(pair, PAIR_FIELDS)


@bp.post("/refresh")
def refresh():
    """Rotate a refresh token: a new pair; the old refresh token stops working."""
    body = json_body(RefreshTokenRequest)
    pair = rpc.call("user_svc", "refresh", refresh_token=body.refresh_token)
    return _tokens(pair, PAIR_FIELDS)


@bp.post("/password/forgot")
def forgot_password():
    """Mail a reset link to the account of that email, if any: 202 either way."""
    body = json_body(ForgotPasswordRequest)
    rpc.call("user_svc", "request_password_reset", email=body.email)
    return {}, 202


@bp.post("/password/reset")
def reset_password():
    """Spend a reset link: 204; every session of the account ends, and its sign-in
    count is forgiven (a reset unlocks what guessers ran up)."""
    body = json_body(ResetPasswordRequest)
    reset = rpc.call("user_svc", "reset_password", token=body.token, password=body.password)
    ratelimit.forgive_sign_ins(f"email:{reset['email']}")
    return no_content()


@bp.post("/password/change")
@require_auth()
def change_password():
    """The signed-in user's new password: 204; their other sessions end (401 for a
    wrong current password, 403 for API clients)."""
    principal = current_principal()
    if principal.kind != "user":
        raise Forbidden("API clients have no password")
    body = json_body(ChangePasswordRequest)
    rpc.call("user_svc", "change_password", user_id=principal.subject,
             session=principal.session, current_password=body.current_password,
             new_password=body.new_password)
    return no_content()


@bp.post("/verify")
def verify_email():
    """Spend the welcome mail's link: 204, and /users/me shows email_verified."""
    body = json_body(VerifyEmailRequest)
    rpc.call("user_svc", "verify_email", token=body.token)
    return no_content()


@bp.post("/logout")
def logout():
    """Revoke a refresh token: 204."""
    body = json_body(RefreshTokenRequest)
    rpc.call("user_svc", "logout", refresh_token=body.refresh_token)
    return no_content()


@bp.post("/token")
@accepts_form
def client_token():
    """OAuth2 client credentials -> {access_token, token_type, expires_in}.

    The client authenticates with HTTP Basic (what OAuth2 libraries send by default:
    RFC 6749 section 2.3.1, id and secret form-urlencoded) or with `client_id` and
    `client_secret` in the form or JSON body; never both (400).
    """
    body = json_or_form_body(ClientTokenRequest)
    client_id, client_secret = client_credentials(body)
    token = rpc.call("user_svc", "issue_client_token", client_id=client_id,
                     client_secret=client_secret)
    return _tokens(token, CLIENT_TOKEN_FIELDS)


def client_credentials(body: ClientTokenRequest) -> tuple[str, str]:
    """(client_id, client_secret) of the Basic header or of the body, or a 400."""
    basic = basic_credentials()
    if basic is not None:
        if body.client_id is not None or body.client_secret is not None:
            raise ValidationError("send the client's credentials one way: Basic or body",
                                  {"fields": [{"field": "client_id",
                                               "message": "also in the Authorization header"}]})
        client_id, secret = basic
        # The body's rules, for the header too: a NUL or an endless id is a 400.
        validate(ClientTokenRequest, {"grant_type": body.grant_type,
                                      "client_id": client_id, "client_secret": secret})
        return client_id, secret
    missing = [name for name in ("client_id", "client_secret") if getattr(body, name) is None]
    if missing:
        raise ValidationError("the client's credentials are missing", {"fields": [
            {"field": name, "message": "required (or HTTP Basic)"} for name in missing]})
    return body.client_id, body.client_secret
