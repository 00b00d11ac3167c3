"""Examples for the spec: request bodies (what /docs puts in its "Try it" form, and what
schemathesis sends first), answers, and the live stream's events.

The demo catalog's products (TEA-SENCHA-100 at $12.50) make the examples work as sent
against a `make run`. A test validates every answer example against its schema.
"""

from __future__ import annotations

from gateway.openapi.components import obj, string

ORDER_ID = "3f2c1a9e-5b7d-4c1e-9a2b-8d6f0e4c7a11"
USER_ID = "0b5f8e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
NOTIFICATION_ID = "8f3e2a4b-0c6d-4e5f-9a7b-3c4d5e6f7081"
SENCHA = {"sku": "TEA-SENCHA-100", "name": "Sencha Green Tea, 100 g",
          "description": "Steamed Japanese green tea from Shizuoka: grassy, bright and a "
                         "little sweet.",
          "price_cents": 1250, "currency": "USD", "available": 118, "category": "tea",
          "image_url": "/static/img/products/TEA-SENCHA-100.svg"}
ADDRESS = {"name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
           "postal_code": "LS1 1AA", "country": "GB", "phone": None}
ORDER = {
    "id": ORDER_ID, "user_id": USER_ID, "status": "CONFIRMED", "cancel_reason": None,
    "items": [{"sku": "TEA-SENCHA-100", "name": "Sencha Green Tea, 100 g", "quantity": 2,
               "unit_price_cents": 1250, "line_total_cents": 2500}],
    "total_cents": 2500, "currency": "USD",
    "payment": {"status": "CAPTURED", "amount_cents": 2500, "refunded_cents": 0},
    "shipment": {"status": "PROCESSING", "carrier": None, "tracking_number": None},
    "shipping_address": ADDRESS,
    "created_at": "2026-11-30T10:15:00+00:00", "updated_at": "2026-11-30T10:15:02+00:00"}

# Request bodies, by "method path".
REQUESTS = {
    "post /auth/register": {"email": "ann@example.com", "password": "correct horse",
                            "name": "Ann"},
    "post /auth/login": {"email": "ann@example.com", "password": "correct horse"},
    "post /auth/token": {"grant_type": "client_credentials", "client_id": "cl_0123456789abcdef",
                         "client_secret": "cs_..."},
    "post /auth/password/forgot": {"email": "ann@example.com"},
    "post /auth/password/change": {"current_password": "the current one",
                                   "new_password": "battery staple"},
    "patch /users/me": {"name": "Ann Lee"},
    "post /admin/clients": {"name": "warehouse", "role": "client",
                            "scopes": ["inventory:read", "inventory:write"]},
    "post /products": {"sku": "TEA-NEW-1", "name": "New tea", "price_cents": 450,
                       "stock": 10, "category": "tea"},
    "patch /products/{sku}": {"price_cents": 1290, "category": "tea",
                              "image_url": "/static/img/products/TEA-SENCHA-100.svg"},
    "post /products/{sku}/restock": {"quantity": 10},
    "post /orders": {"items": [{"sku": "TEA-SENCHA-100", "quantity": 2}],
                     "payment": {"token": "tok_ok"},
                     "shipping_address": {k: v for k, v in ADDRESS.items() if v is not None},
                     "expected_total_cents": 2500},
}

# Answers, by "method path" and status.
ANSWERS = {
    ("post /auth/register", "201"): {"id": USER_ID, "email": "ann@example.com",
                                     "name": "Ann", "role": "customer"},
    ("post /auth/login", "200"): {"access_token": "eyJhbGciOiJIUzI1NiIs...",
                                  "refresh_token": "rt_...", "token_type": "Bearer",
                                  "expires_in": 900},
    ("get /products", "200"): {"items": [SENCHA], "next_cursor": "VEVBLVNFTkNIQS0xMDA"},
    ("get /products/{sku}", "200"): SENCHA,
    ("get /categories", "200"): {"items": [{"category": "coffee", "products": 5},
                                           {"category": "tea", "products": 6}]},
    ("post /orders", "201"): {**ORDER, "status": "PENDING", "payment": None,
                              "shipment": None},
    ("get /orders/{order_id}", "200"): ORDER,
    ("get /admin/inventory/{sku}", "200"): {"sku": "TEA-SENCHA-100", "on_hand": 120,
                                            "reserved": 2, "available": 118},
}

# Errors, on the shared error answers: component name -> {example name: body}.
ERRORS = {
    "BadRequest": {"validation_error": {"error": {
        "code": "validation_error", "message": "shipping_address.country: not an ISO "
        "3166-1 alpha-2 country code", "details": {"fields": [{
            "field": "shipping_address.country",
            "message": "not an ISO 3166-1 alpha-2 country code"}]}}}},
    "Conflict": {
        "price_changed": {"error": {
            "code": "price_changed", "message": "prices changed since the cart was priced",
            "details": {"total_cents": 2580,
                        "items": [{"sku": "TEA-SENCHA-100", "unit_price_cents": 1290}]}}},
        "conflict": {"error": {"code": "conflict",
                               "message": "an order SHIPPED cannot be cancelled",
                               "details": {}}}},
    "RateLimited": {"rate_limited": {"error": {
        "code": "rate_limited", "message": "too many requests (60 per 1 minute); retry "
        "after 12 s", "details": {"limit": "60 per 1 minute", "retry_after_s": 12}}}},
}

# The live stream: what each `event:` carries in its `data:` line.
STREAM_SCHEMAS = {
    "OrderStatusEvent": obj({"order_id": string(format="uuid"), "status": string(enum=[
        "RESERVED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"]),
        "reason": string(True, description="why it was cancelled (out_of_stock, "
                                           "payment_declined, customer_request, expired)")}),
    "NotificationEvent": obj({"id": string(format="uuid"), "kind": string(
        description="order_confirmed, order_cancelled, order_shipped, order_delivered, "
                    "welcome, ..."), "subject": string(True)}),
}
STREAM_EXAMPLE = f"""\
: connected
retry: 3000

id: 6d1c0f2e-8a4b-4c3d-9e5f-1a2b3c4d5e6f
event: order.status
data: {{"order_id":"{ORDER_ID}","status":"CONFIRMED","reason":null}}

id: 7e2d1f3a-9b5c-4d4e-8f6a-2b3c4d5e6f70
event: notification
data: {{"id":"{NOTIFICATION_ID}","kind":"order_confirmed","subject":"Order 3f2c1a9e confirmed"}}

: heartbeat

"""


def apply(paths: dict, components: dict) -> None:
    """Put the examples into `paths` and `components` (both changed in place)."""
    for key, body in REQUESTS.items():
        method, path = key.split(" ", 1)
        paths[path][method]["requestBody"]["content"]["application/json"]["example"] = body
    for (key, status), body in ANSWERS.items():
        method, path = key.split(" ", 1)
        paths[path][method]["responses"][status]["content"]["application/json"][
            "example"] = body
    for name, examples in ERRORS.items():
        components["responses"][name]["content"]["application/json"]["examples"] = {
            label: {"value": body} for label, body in examples.items()}
    components["schemas"].update(STREAM_SCHEMAS)
    stream = paths["/events/stream"]["get"]["responses"]["200"]
    stream["content"]["text/event-stream"] = {
        "schema": {"type": "string", "description": "SSE messages; each `data:` line is "
                   "the JSON of OrderStatusEvent (event: order.status) or "
                   "NotificationEvent (event: notification)"},
        "example": STREAM_EXAMPLE}
