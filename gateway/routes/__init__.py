"""HTTP routes, one blueprint per resource, and the helpers views share.

A view parses and validates its input (`json_body`, `query_args`), makes its RPC
call and shapes the answer with `pick` (so a field a service adds never leaks out
by accident).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from flask import Flask, Response, current_app, request
from pydantic import BaseModel

from gateway.schemas import validate

M = TypeVar("M", bound=BaseModel)

# The public shape of a user account (never the password hash, whatever else a
# service answer holds).
USER_FIELDS = ("id", "email", "name", "role")
PROFILE_FIELDS = (*USER_FIELDS, "email_verified")  # GET /users/me


def register(app: Flask) -> None:
    """Attach every blueprint; later resources add theirs to this list."""
    # Imported here: the route modules import this package's helpers below.
    from gateway import openapi
    from gateway.routes import (
        admin,
        auth,
        deadletters,
        events,
        health,
        notifications,
        oidc,
        orders,
        products,
        users,
        web,
    )

    for module in (health, auth, oidc, users, products, orders, notifications, admin,
                   deadletters, events, web, openapi):
        app.register_blueprint(module.bp)
    app.register_blueprint(notifications.admin_bp)
    app.register_blueprint(products.admin_bp)
    app.register_blueprint(products.categories_bp)


def pick(answer: Mapping, keys: Iterable[str], **overrides) -> dict:
    """The contract's fields of a service answer, plus fixed values."""
    shaped = {key: answer.get(key) for key in keys}
    shaped.update(overrides)
    return shaped


def query_args(model: type[M]) -> M:
    """The query string validated as `model` (a repeated parameter counts once: its first)."""
    return validate(model, request.args.to_dict(flat=True), what="query string")


def no_content() -> Response:
    """A 204 with no body (and so no Content-Type)."""
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    return response
