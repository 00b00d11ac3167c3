"""/admin/*: operations reserved to the admin role."""

from __future__ import annotations

from flask import Blueprint

from gateway import rpc
from gateway.auth import require_auth
from gateway.body import json_body
from gateway.routes import pick
from gateway.routes.products import STOCK_FIELDS, path_sku
from gateway.schemas import CreateClientRequest

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.post("/clients")
@require_auth(role="admin")
def create_client():
    """Register an API client: 201 {client_id, client_secret, name, role}.

    The secret is in this answer only: user_svc keeps just its hash.
    """
    body = json_body(CreateClientRequest)
    client = rpc.call("user_svc", "create_client", name=body.name, role=body.role)
    shaped = pick(client, ("client_id", "client_secret"),
                  name=client.get("name", body.name), role=client.get("role", body.role))
    return shaped, 201


@bp.get("/inventory/<sku>")
@require_auth(role="admin")
def inventory(sku: str):
    """Stock of one product: {sku, on_hand, reserved, available}; 404."""
    stock = rpc.call("inventory_svc", "get_stock", sku=path_sku(sku))
    return pick(stock, STOCK_FIELDS)
