"""/admin/*: operations reserved to the admin role."""

from __future__ import annotations

from flask import Blueprint

from common.errors import NotFound
from common.tokens import SUBJECTS
from gateway import rpc
from gateway.auth import require_auth
from gateway.body import json_body
from gateway.routes import no_content, pick, query_args
from gateway.routes.products import STOCK_FIELDS, path_sku
from gateway.schemas import CreateClientRequest, PaymentListQuery, UserListQuery

bp = Blueprint("admin", __name__, url_prefix="/admin")

CLIENT_FIELDS = ("client_id", "name", "role", "scopes", "created_at")
ACCOUNT_FIELDS = ("id", "email", "name", "role", "created_at")
PAYMENT_FIELDS = ("id", "order_id", "status", "amount_cents", "refunded_cents", "attempts")


@bp.post("/clients")
@require_auth(role="admin")
def create_client():
    """Register an API client: 201 {client_id, client_secret, name, role}.

    The secret is in this answer only: user_svc keeps just its hash.
    """
    body = json_body(CreateClientRequest)
    client = rpc.call("user_svc", "create_client", name=body.name, role=body.role,
                      scopes=list(body.scopes))
    shaped = pick(client, ("client_id", "client_secret"),
                  name=client.get("name", body.name), role=client.get("role", body.role),
                  scopes=client.get("scopes", sorted(body.scopes)))
    return shaped, 201


def path_client_id(client_id: str) -> str:
    """The client id of a URL path, or NotFound when it is not one user_svc issues."""
    if SUBJECTS["client"].fullmatch(client_id) is None:
        raise NotFound("no such API client")
    return client_id


@bp.get("/users")
@require_auth(role="admin")
def users():
    """Accounts newest first {id, email, name, role, created_at}; `?q=` matches part of
    the email or the name; `?limit=&cursor=` pages."""
    query = query_args(UserListQuery)
    page = rpc.call("user_svc", "list_users", q=query.q, limit=query.limit,
                    cursor=query.cursor)
    return {"items": [pick(user, ACCOUNT_FIELDS) for user in page.get("items") or []],
            "next_cursor": page.get("next_cursor")}


@bp.get("/clients")
@require_auth(role="admin")
def list_clients():
    """The API clients not revoked: {items: [{client_id, name, role, created_at}]}."""
    clients = rpc.call("user_svc", "list_clients")
    return {"items": [pick(client, CLIENT_FIELDS) for client in clients.get("items", [])]}


@bp.delete("/clients/<client_id>")
@require_auth(role="admin")
def revoke_client(client_id: str):
    """Revoke an API client: 204; its tokens stop working within seconds (404 if unknown)."""
    rpc.call("user_svc", "revoke_client", client_id=path_client_id(client_id))
    return no_content()


@bp.get("/inventory/<sku>")
@require_auth(role="admin", scope="inventory:read")
def inventory(sku: str):
    """Stock of one product: {sku, on_hand, reserved, available}; 404."""
    stock = rpc.call("inventory_svc", "get_stock", sku=path_sku(sku))
    return pick(stock, STOCK_FIELDS)


@bp.get("/payments")
@require_auth(role="admin")
def payments():
    """payment_svc's records {id, order_id, status, amount_cents, refunded_cents, attempts}.

    `?order_id=` (a UUID, else 400) narrows them to one order; `?limit=&cursor=` pages.
    """
    query = query_args(PaymentListQuery)
    page = rpc.call("payment_svc", "list_payments", order_id=query.order_id,
                    limit=query.limit, cursor=query.cursor)
    return {"items": [pick(payment, PAYMENT_FIELDS) for payment in page.get("items") or []],
            "next_cursor": page.get("next_cursor")}
