"""/users/*: the signed-in user's own profile."""

from __future__ import annotations

from flask import Blueprint

from common.errors import Forbidden
from gateway import rpc
from gateway.auth import current_principal, require_auth
from gateway.routes import PROFILE_FIELDS, pick

bp = Blueprint("users", __name__, url_prefix="/users")

@bp.get("/me")
@require_auth()
def me():
    """The caller's profile {id, email, name, role, email_verified}; API clients have
    none (403)."""
    principal = current_principal()
    if principal.kind != "user":
        raise Forbidden("API clients have no user profile")
    user = rpc.call("user_svc", "get_user", user_id=principal.subject)
    return pick(user, PROFILE_FIELDS)
