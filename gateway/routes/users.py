"""/users/*: the signed-in user's own profile."""

from __future__ import annotations

from flask import Blueprint

from common.errors import Forbidden
from gateway import rpc
from gateway.auth import current_principal, require_auth
from gateway.body import json_body
from gateway.routes import PROFILE_FIELDS, pick
from gateway.schemas import UpdateProfileRequest

bp = Blueprint("users", __name__, url_prefix="/users")


def the_user() -> str:
    """The signed-in user's id; API clients have no profile (403)."""
    principal = current_principal()
    if principal.kind != "user":
        raise Forbidden("API clients have no user profile")
    return principal.subject


@bp.get("/me")
@require_auth()
def me():
    """The caller's profile {id, email, name, role, email_verified}."""
    user = rpc.call("user_svc", "get_user", user_id=the_user())
    return pick(user, PROFILE_FIELDS)


@bp.patch("/me")
@require_auth()
def update_me():
    """Change the caller's `name` (null clears it): the profile."""
    body = json_body(UpdateProfileRequest)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    user = rpc.call("user_svc", "update_profile", user_id=the_user(), **changes)
    return pick(user, PROFILE_FIELDS)
