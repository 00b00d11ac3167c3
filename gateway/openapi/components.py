"""The spec's components: request bodies (from the pydantic models the views validate
with, so the spec cannot drift from the validation), answers, errors, security schemes.
"""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from common.tokens import SCOPES
from gateway import schemas

# Every request body model, under its class name.
REQUEST_MODELS = (
    schemas.RegisterRequest, schemas.LoginRequest, schemas.RefreshTokenRequest,
    schemas.ClientTokenRequest, schemas.CreateClientRequest, schemas.CreateProductRequest,
    schemas.UpdateProductRequest, schemas.RestockRequest, schemas.CreateOrderRequest,
    schemas.CancelOrderRequest, schemas.RetryNotificationRequest,
    schemas.VerifyEmailRequest, schemas.ChangePasswordRequest, schemas.UpdateProfileRequest,
    schemas.ForgotPasswordRequest, schemas.ResetPasswordRequest, schemas.OidcExchangeRequest,
)

ERROR_CODES = ["validation_error", "unauthorized", "forbidden", "not_found",
               "method_not_allowed", "conflict", "price_changed", "idempotency_conflict",
               "payload_too_large",
               "unsupported_media_type", "rate_limited", "service_unavailable",
               "upstream_timeout"]
# status -> (component name, description)
ERRORS = {
    400: ("BadRequest", "validation_error: details.fields names each bad field"),
    401: ("Unauthorized", "unauthorized: no, or an invalid, expired or forged token"),
    403: ("Forbidden", "forbidden: the token's role or kind may not do this"),
    404: ("NotFound", "not_found"),
    409: ("Conflict", "conflict; on POST /orders, price_changed: expected_total_cents is not "
          "today's total, details {total_cents, items: [{sku, unit_price_cents}]} are "
          "today's prices, and no order was made"),
    413: ("PayloadTooLarge", "payload_too_large: the body is over MAX_BODY_BYTES"),
    415: ("UnsupportedMediaType", "unsupported_media_type: send JSON"),
    422: ("IdempotencyConflict", "idempotency_conflict: same Idempotency-Key, other body"),
    429: ("RateLimited", "rate_limited: retry after Retry-After seconds"),
    503: ("ServiceUnavailable", "service_unavailable: a service behind the gateway is down, "
          "or at capacity (the request was shed, nothing done); retry after Retry-After seconds"),
    504: ("UpstreamTimeout", "upstream_timeout: a service did not answer in time"),
}


def string(nullable: bool = False, **extra) -> dict:
    return {"type": ["string", "null"] if nullable else "string", **extra}


def integer(nullable: bool = False, **extra) -> dict:
    return {"type": ["integer", "null"] if nullable else "integer", **extra}


def obj(properties: dict, nullable: bool = False, closed: bool = True) -> dict:
    """An object with exactly these properties, all present (answers never omit one)."""
    schema = {"type": ["object", "null"] if nullable else "object", "properties": properties,
              "required": list(properties)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def page(item: str) -> dict:
    return obj({"items": {"type": "array", "items": ref(item)},
                "next_cursor": string(nullable=True)})


ROLES = ["customer", "admin"]
ORDER_STATUSES = ["PENDING", "RESERVED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"]
CANCEL_REASONS = ["out_of_stock", "payment_declined", "customer_request", "expired", None]

PRODUCT = {"sku": string(), "name": string(), "description": string(True),
           "price_cents": integer(minimum=1), "currency": string(),
           "available": integer(minimum=0),
           "category": string(True, description="a slug: tea, brewing-gear"),
           "image_url": string(True, description="an http(s) URL or a path on this site")}

ANSWERS = {
    "Error": obj({"error": obj({
        "code": string(enum=ERROR_CODES), "message": string(minLength=1),
        "details": {"type": "object"}})}),
    "User": obj({"id": string(format="uuid"), "email": string(), "name": string(True),
                 "role": string(enum=ROLES)}),
    "Profile": obj({"id": string(format="uuid"), "email": string(), "name": string(True),
                    "role": string(enum=ROLES), "email_verified": {"type": "boolean"}}),
    "TokenPair": obj({"access_token": string(), "refresh_token": string(),
                      "token_type": string(const="Bearer"), "expires_in": integer(minimum=1)}),
    "OidcProviderList": obj({"items": {"type": "array", "items": obj({
        "name": string(), "label": string(), "login_url": string()})}}),
    "ClientToken": obj({"access_token": string(), "token_type": string(const="Bearer"),
                        "expires_in": integer(minimum=1)}),
    "NewClient": obj({"client_id": string(), "client_secret": string(), "name": string(),
                      "role": string(enum=["client", "admin"]),
                      "scopes": {"type": "array", "items": string(enum=list(SCOPES))}}),
    "Client": obj({"client_id": string(), "name": string(),
                   "role": string(enum=["client", "admin"]),
                   "scopes": {"type": "array", "items": string(enum=list(SCOPES))},
                   "created_at": string(format="date-time")}),
    "ClientList": obj({"items": {"type": "array", "items": ref("Client")}}),
    "Account": obj({"id": string(format="uuid"), "email": string(), "name": string(True),
                    "role": string(enum=ROLES), "created_at": string(format="date-time")}),
    "AccountPage": page("Account"),
    "Product": obj(PRODUCT),
    "ProductPage": page("Product"),
    # What an admin's writes and the admin's catalog answer: the product and whether it
    # is listed (false: archived).
    "ManagedProduct": obj({**PRODUCT, "active": {"type": "boolean"}}),
    "ManagedProductPage": page("ManagedProduct"),
    "CategoryList": obj({"items": {"type": "array", "items": obj(
        {"category": string(), "products": integer(minimum=1)})}}),
    "Stock": obj({"sku": string(), "on_hand": integer(minimum=0),
                  "reserved": integer(minimum=0), "available": integer(minimum=0)}),
    "OrderItem": obj({"sku": string(), "name": string(), "quantity": integer(minimum=1),
                      "unit_price_cents": integer(), "line_total_cents": integer()}),
    "Order": obj({
        "id": string(format="uuid"), "user_id": string(), "status": string(enum=ORDER_STATUSES),
        "cancel_reason": {"enum": CANCEL_REASONS},
        "items": {"type": "array", "items": ref("OrderItem")},
        "total_cents": integer(), "currency": string(),
        "payment": obj({"status": string(), "amount_cents": integer(True),
                        "refunded_cents": integer(True)}, nullable=True),
        "shipment": obj({"status": string(), "carrier": string(True),
                         "tracking_number": string(True)}, nullable=True),
        "shipping_address": obj({
            "name": string(), "line1": string(), "line2": string(True), "city": string(),
            "postal_code": string(), "country": string(pattern="^[A-Z]{2}$"),
            "phone": string(True)}, nullable=True),
        "created_at": string(format="date-time"), "updated_at": string(format="date-time")}),
    "OrderPage": page("Order"),
    "Timeline": obj({"items": {"type": "array", "items": obj({
        "type": string(), "at": string(format="date-time"), "data": {"type": "object"}})}}),
    "Notification": obj({"id": string(format="uuid"), "kind": string(), "channel": string(),
                         "subject": string(True), "status": string(),
                         "created_at": string(format="date-time"),
                         "sent_at": string(True, format="date-time")}),
    "NotificationPage": page("Notification"),
    # The admin's log: whom it went to (an email address, or the phone of an SMS) and
    # how its sending goes.
    "AdminNotification": obj({
        "id": string(format="uuid"), "kind": string(), "channel": string(),
        "subject": string(True), "status": string(),
        "created_at": string(format="date-time"), "sent_at": string(True, format="date-time"),
        "recipient": string(), "user_id": string(), "order_id": string(True),
        "attempts": integer(minimum=0), "last_error": string(True)}),
    "AdminNotificationPage": page("AdminNotification"),
    "Payment": obj({"id": string(), "order_id": string(), "status": string(),
                    "amount_cents": integer(True), "refunded_cents": integer(True),
                    "attempts": integer(True)}),
    "PaymentPage": page("Payment"),
    "DeadLetters": obj({
        "services": {"type": "object", "additionalProperties": obj({
            "count": integer(minimum=0),
            "messages": {"type": "array", "items": obj({
                "event_type": string(True), "event_id": string(True), "error": string(True),
                "attempts": integer(True)})}})},
        "total": integer(minimum=0)}),
    "Replayed": obj({"replayed": integer(minimum=0)}),
    "Purged": obj({"purged": integer(minimum=0)}),
    "Health": obj({"status": string(const="ok")}),
    "Ready": obj({"status": string(const="ready"),
                  "checks": {"type": "object", "additionalProperties": string()},
                  "breakers": {"type": "object", "additionalProperties": string(
                      enum=["closed", "open", "half_open"])}}),
}
# An admin's orders also carry the customer's email (not required: customers never get it).
ANSWERS["Order"]["properties"]["user_email"] = string(
    description="admins only: the customer's email when the order was placed")

HEADERS = {
    "X-Request-ID": {"description": "The client's X-Request-ID, or a new id: the correlation "
                                    "id of everything the request causes",
                     "schema": string()},
    "Location": {"description": "Where the created resource is", "schema": string()},
    "Retry-After": {"description": "Seconds to wait before trying again",
                    "schema": integer(minimum=1)},
    "WWW-Authenticate": {"description": "The scheme to use: Bearer", "schema": string()},
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token from POST /auth/login, /auth/refresh "
                                  "or /auth/token (HS256, 15 minutes by default)"},
    "clientCredentials": {"type": "oauth2", "description": "OAuth2 client credentials "
                          "(API clients created by an admin at POST /admin/clients)",
                          "flows": {"clientCredentials": {"tokenUrl": "/auth/token",
                                                          "scopes": {}}}},
    "accessTokenQuery": {"type": "apiKey", "in": "query", "name": "access_token",
                         "description": "GET /events/stream only: for browsers' EventSource"},
}


def request_schemas() -> dict:
    """JSON Schemas of the request models (and the models they nest), by class name."""
    _, defs = models_json_schema([(model, "validation") for model in REQUEST_MODELS],
                                 ref_template="#/components/schemas/{model}")
    return defs["$defs"]


def error_responses() -> dict:
    responses = {}
    for status, (name, description) in ERRORS.items():
        headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
        if status == 401:
            headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}
        if status in (429, 503):
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        responses[name] = {"description": description, "headers": headers,
                           "content": {"application/json": {"schema": ref("Error")}}}
    return responses


def components() -> dict:
    return {"schemas": {**request_schemas(), **ANSWERS}, "responses": error_responses(),
            "headers": HEADERS, "securitySchemes": SECURITY_SCHEMES}
