"""/orders/*: placing, reading, following and cancelling orders.

order_svc owns orders; these views validate input, decide whose orders the caller
may see and shape answers. Customers are scoped to themselves: the views pass
`user_id=<the caller>` and order_svc answers NotFound for anyone else's order, so a
customer never learns that it exists. Admins (users or API clients with the admin
role) pass `user_id=None` and see every order. An id in the path that is not a UUID
is a 404 without asking the service.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, request

from common.errors import Forbidden, NotFound, ValidationError
from common.tokens import Principal
from gateway import rpc
from gateway.auth import current_principal, require_auth
from gateway.body import json_body
from gateway.routes import pick, query_args
from gateway.schemas import (
    UUID,
    CancelOrderRequest,
    CreateOrderRequest,
    OrderListQuery,
)

bp = Blueprint("orders", __name__, url_prefix="/orders")

# API clients with the plain "client" role have no orders: they are refused (403).
READERS = ("customer", "admin")
DEFAULT_PAYMENT_TOKEN = "tok_ok"
IDEMPOTENCY_KEY = "Idempotency-Key"
_VALID_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")

ORDER_FIELDS = ("id", "user_id", "status", "cancel_reason", "items", "total_cents",
                "currency", "payment", "shipment", "shipping_address", "created_at",
                "updated_at")
ITEM_FIELDS = ("sku", "name", "quantity", "unit_price_cents", "line_total_cents")
PAYMENT_FIELDS = ("status", "amount_cents", "refunded_cents")
SHIPMENT_FIELDS = ("status", "carrier", "tracking_number")
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country", "phone")
EVENT_FIELDS = ("type", "at", "data")


def shape_order(order: dict, admin: bool = False) -> dict:
    """The contract's order, nested blocks included (null payment, shipment and
    shipping address stay null); an admin also gets the customer's `user_email`."""
    payment, shipment = order.get("payment"), order.get("shipment")
    address = order.get("shipping_address")
    shaped = pick(order, ORDER_FIELDS,
                  items=[pick(item, ITEM_FIELDS) for item in order.get("items") or []],
                  payment=pick(payment, PAYMENT_FIELDS) if payment else None,
                  shipment=pick(shipment, SHIPMENT_FIELDS) if shipment else None,
                  shipping_address=pick(address, ADDRESS_FIELDS) if address else None)
    if admin:
        shaped["user_email"] = order.get("user_email")
    return shaped


def path_order_id(order_id: str) -> str:
    """The order id of a URL path (lower-cased), or NotFound when it is not a UUID."""
    if UUID.fullmatch(order_id) is None:
        raise NotFound("no such order")
    return order_id.lower()


def owner_scope(principal: Principal) -> str | None:
    """The `user_id` a read is limited to: the caller, or None (every user) for admins."""
    return None if principal.is_admin else principal.subject


def idempotency_key() -> str | None:
    """The request's `Idempotency-Key` (1-255 printable ASCII), None if absent, else 400."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and _VALID_IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise ValidationError(f"the {IDEMPOTENCY_KEY} header is not valid", {"fields": [
            {"field": IDEMPOTENCY_KEY, "message": "must be 1 to 255 printable ASCII characters"}]})
    return key


@bp.post("")
@require_auth(role=READERS)
def create_order():
    """Place an order for the caller: 201 the order (PENDING), Location; users only.

    The same Idempotency-Key with the same body answers the same order again; with
    another body it is a 422 idempotency_conflict (order_svc decides both). An
    `expected_total_cents` other than today's total is a 409 price_changed with today's
    prices, and no order.
    """
    principal = current_principal()
    if principal.kind != "user":
        raise Forbidden("API clients cannot place orders: orders belong to users")
    # Without a client key the request still gets one of its own: nameko redelivers an
    # RPC whose reply was lost (a broker restart), and that must not make two orders.
    key = idempotency_key() or f"auto-{uuid.uuid4()}"
    body = json_body(CreateOrderRequest)
    # Sent only when given: an order_svc not yet upgraded takes the call as before.
    given = {"expected_total_cents": body.expected_total_cents,
             "shipping_address": body.shipping_address.model_dump()
             if body.shipping_address else None}
    optional = {name: value for name, value in given.items() if value is not None}
    order = rpc.call("order_svc", "create_order", user_id=principal.subject,
                     user_email=principal.email,
                     items=[{"sku": line.sku, "quantity": line.quantity} for line in body.items],
                     payment_token=body.payment.token if body.payment else DEFAULT_PAYMENT_TOKEN,
                     idempotency_key=key, **optional)
    shaped = shape_order(order)
    return shaped, 201, {"Location": f"/orders/{shaped['id']}"}


@bp.get("")
@require_auth(role=READERS)
def list_orders():
    """A page of orders, newest first: the caller's own, or (admins) `?user_id=`'s or all;
    `?status=` keeps one status."""
    query = query_args(OrderListQuery)
    principal = current_principal()
    user_id = owner_scope(principal)
    if user_id is None:
        user_id = query.user_id
    elif query.user_id not in (None, user_id.lower()):
        raise Forbidden("customers may list their own orders only")
    # Sent only when given: an order_svc not yet upgraded takes the call as before.
    status = {"status": query.status} if query.status else {}
    page = rpc.call("order_svc", "list_orders", user_id=user_id, limit=query.limit,
                    cursor=query.cursor, **status)
    return {"items": [shape_order(order, principal.is_admin)
                      for order in page.get("items") or []],
            "next_cursor": page.get("next_cursor")}


@bp.get("/<order_id>")
@require_auth(role=READERS)
def get_order(order_id: str):
    """One order (its owner or an admin); 404 for an unknown order or someone else's."""
    principal = current_principal()
    order = rpc.call("order_svc", "get_order", order_id=path_order_id(order_id),
                     user_id=owner_scope(principal))
    return shape_order(order, principal.is_admin)


@bp.get("/<order_id>/timeline")
@require_auth(role=READERS)
def timeline(order_id: str):
    """Every event that touched the order, in order: {items: [{type, at, data}]}."""
    answer = rpc.call("order_svc", "get_timeline", order_id=path_order_id(order_id),
                      user_id=owner_scope(current_principal()))
    return {"items": [pick(event, EVENT_FIELDS) for event in answer.get("items") or []]}


@bp.post("/<order_id>/cancel")
@require_auth(role=READERS)
def cancel_order(order_id: str):
    """Ask to cancel: 202 the order as it is now; 409 once shipped, delivered or cancelled.

    The body may be absent or `{}`.
    """
    order_id = path_order_id(order_id)
    json_body(CancelOrderRequest)
    order = rpc.call("order_svc", "cancel_order", order_id=order_id,
                     user_id=owner_scope(current_principal()))
    return shape_order(order), 202
