"""The spec's paths: one `op(...)` per route of the contract (docs/http-api.md).

op() adds the answers that follow from how an operation is reached: any request may
be a 400, a body adds 413/415, a token 401 (and 403 for a role or kind it checks), a
call to a service 503/504. So each row states only what is particular to it.
"""

from __future__ import annotations

from gateway.openapi.components import ERRORS, ORDER_STATUSES, integer, ref, string

BEARER = [{"bearerAuth": []}, {"clientCredentials": []}]
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _json(schema: dict) -> dict:
    return {JSON: {"schema": schema}}


def answer(description: str, schema: str | None = None, *, media: str = JSON,
           headers: tuple[str, ...] = ()) -> dict:
    """A success answer: `schema` is a component name (JSON) or None (no body)."""
    found = {"description": description, "headers": {
        name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-ID", *headers)}}
    if schema is not None:
        found["content"] = {media: {"schema": ref(schema) if media == JSON else
                                    {"type": "string"}}}
    elif media != JSON:
        found["content"] = {media: {"schema": {"type": "string"}}}
    return found


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def path(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


LIST = (query("limit", integer(minimum=1, maximum=100, default=20), "page size, 1..100"),
        query("cursor", string(maxLength=200), "next_cursor of the previous page"))
CATALOG_FILTERS = (
    query("q", string(maxLength=200), "words of name or description, each a prefix; all "
          "must match (PostgreSQL full-text search, English stemming)"),
    query("category", string(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$"), "a category slug"),
    query("sort", string(enum=["name", "price", "-price", "newest"]),
          "name A-Z, cheapest first, dearest first, newest first (sku when absent)"))
SKU = path("sku", string(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
ORDER_ID = path("order_id", string(format="uuid"))
CLIENT_ID = path("client_id", string(pattern=r"^cl_[0-9a-f]{16}$"))
OIDC_PROVIDER = path("provider", string(pattern=r"^[a-z0-9-]{1,40}$"))
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "Same key and body: the same order again; other body: 422",
                   "schema": string(minLength=1, maxLength=255, pattern=r"^[\x20-\x7e]+$")}


def op(summary: str, tag: str, ok: dict, *, auth: bool = True, checks_role: bool = False,
       body: str | None = None, form: bool = False, body_required: bool = True,
       params: tuple = (), errors: tuple[int, ...] = (), rpc: bool = True,
       limited: bool = False) -> dict:
    """One operation. `ok` maps status -> answer(...)."""
    # 400 always: any request line or header block that is too long is refused
    # (gateway/protocol.py), whatever the operation.
    statuses = set(errors) | {400}
    if body is not None:
        statuses |= {413, 415}
    if auth:
        statuses.add(401)
    if checks_role:
        statuses.add(403)
    if rpc:
        statuses |= {503, 504}
    if limited:
        statuses.add(429)
    responses = dict(ok)
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    operation = {"tags": [tag], "summary": summary, "responses": responses,
                 "security": BEARER if auth else []}
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        content = {JSON: {"schema": ref(body)}}
        if form:
            content[FORM] = {"schema": ref(body)}
        operation["requestBody"] = {"required": body_required, "content": content}
    return operation


def paths() -> dict:
    """Every path of the contract, with its operations."""
    user_only = "customers and admins (users); API clients get 403"
    return {
        "/auth/register": {"post": op(
            "Create a customer account (409: email taken, any case)", "auth",
            {"201": answer("the account", "User")}, auth=False, body="RegisterRequest",
            errors=(409,), limited=True)},
        "/auth/login": {"post": op(
            "Email and password for a token pair (401 alike for unknown email and wrong "
            "password; 429 with Retry-After when sign-ins are throttled)", "auth",
            {"200": answer("a token pair", "TokenPair")}, auth=False, body="LoginRequest",
            errors=(401,), limited=True)},
        "/auth/refresh": {"post": op(
            "Rotate a refresh token (a spent one revokes its family: 401)", "auth",
            {"200": answer("a new token pair", "TokenPair")}, auth=False,
            body="RefreshTokenRequest", errors=(401,), limited=True)},
        "/auth/password/forgot": {"post": op(
            "Mail a single-use password-reset link (202 whatever the email)", "auth",
            {"202": answer("accepted")}, auth=False, body="ForgotPasswordRequest",
            limited=True)},
        "/auth/password/reset": {"post": op(
            "Spend a reset link: the new password, every session ended (spent, expired or "
            "unknown link: 400)", "auth", {"204": answer("reset")}, auth=False,
            body="ResetPasswordRequest", limited=True)},
        "/auth/password/change": {"post": op(
            "Change the password (" + user_only + "); the other sessions end, a wrong "
            "current password is 401", "auth", {"204": answer("changed")},
            checks_role=True, body="ChangePasswordRequest", limited=True)},
        "/auth/verify": {"post": op(
            "Confirm the account's email with the welcome mail's single-use link "
            "(spent, expired or unknown: 400)", "auth", {"204": answer("verified")},
            auth=False, body="VerifyEmailRequest", limited=True)},
        "/auth/logout": {"post": op(
            "Revoke a refresh token's family", "auth", {"204": answer("revoked")},
            auth=False, body="RefreshTokenRequest", limited=True)},
        "/auth/token": {"post": op(
            "OAuth2 client credentials: HTTP Basic, or the form or JSON body", "auth",
            {"200": answer("an access token", "ClientToken")}, auth=False,
            body="ClientTokenRequest", form=True, errors=(401,), limited=True)},
        "/auth/oidc/providers": {"get": op(
            "The OpenID providers this shop signs in with (empty: none configured)", "auth",
            {"200": answer("the providers", "OidcProviderList")}, auth=False, rpc=False,
            limited=True)},
        "/auth/oidc/{provider}/login": {"get": op(
            "Sign in with a provider: 302 to its sign-in page, the state cookie set (404: "
            "not configured)", "auth", {"302": answer("to the provider", headers=(
                "Location",))}, auth=False, rpc=False, params=(OIDC_PROVIDER,),
            errors=(404, 503), limited=True)},
        "/auth/oidc/{provider}/callback": {"get": op(
            "Where the provider sends the browser back: 302 to /#/oidc?code=... (a browser "
            "is sent to /#/login?error=... instead of an error)", "auth",
            {"302": answer("to the storefront", headers=("Location",))}, auth=False,
            params=(OIDC_PROVIDER, query("code", string(), "the provider's code"),
                    query("state", string(), "the state of this login"),
                    query("error", string(), "the provider's refusal")),
            errors=(401, 404), limited=True)},
        "/auth/oidc/exchange": {"post": op(
            "Spend an OpenID sign-in's one-time code for a token pair (spent, expired or "
            "unknown: 401)", "auth", {"200": answer("a token pair", "TokenPair")},
            auth=False, body="OidcExchangeRequest", errors=(401,), limited=True)},
        "/admin/clients": {
            "post": op("Create an API client; its secret is shown this once (admins)",
                       "admin", {"201": answer("the client and its secret", "NewClient")},
                       checks_role=True, body="CreateClientRequest"),
            "get": op("The API clients not revoked, no secrets (admins)", "admin",
                      {"200": answer("the clients", "ClientList")}, checks_role=True)},
        "/admin/clients/{client_id}": {"delete": op(
            "Revoke an API client: its tokens stop working within seconds (admins)",
            "admin", {"204": answer("revoked")}, checks_role=True, params=(CLIENT_ID,),
            errors=(404,))},
        "/users/me": {
            "get": op("The caller's profile (" + user_only + ")", "users",
                      {"200": answer("the profile", "Profile")}, checks_role=True,
                      errors=(404,)),
            "patch": op("Change the caller's name (null clears it)", "users",
                        {"200": answer("the profile", "Profile")}, checks_role=True,
                        body="UpdateProfileRequest", errors=(404,))},
        "/products": {
            "get": op("A page of the catalog: archived products are not listed", "catalog",
                      {"200": answer("products, by sku unless sorted", "ProductPage")},
                      auth=False, params=(*LIST, *CATALOG_FILTERS)),
            "post": op("Add a product and its stock (admins)", "catalog",
                       {"201": answer("the product", "ManagedProduct",
                                      headers=("Location",))},
                       checks_role=True, body="CreateProductRequest", errors=(409,))},
        "/products/{sku}": {
            "get": op("One product (an archived one: 404)", "catalog",
                      {"200": answer("the product", "Product")},
                      auth=False, params=(SKU,), errors=(404,)),
            "patch": op("Change the fields sent (admins); active: false archives the "
                        "product (not listed, not orderable), true brings it back",
                        "catalog", {"200": answer("the product", "ManagedProduct")},
                        checks_role=True, params=(SKU,), body="UpdateProductRequest",
                        errors=(404,))},
        "/categories": {"get": op(
            "The categories that have listed products, A to Z", "catalog",
            {"200": answer("categories", "CategoryList")}, auth=False)},
        "/admin/products": {"get": op(
            "The admin's catalog: archived products too, with `active` (admins)", "admin",
            {"200": answer("products", "ManagedProductPage")}, checks_role=True,
            params=(*LIST, *CATALOG_FILTERS))},
        "/admin/products/{sku}": {"get": op(
            "One product, archived or not (admins)", "admin",
            {"200": answer("the product", "ManagedProduct")}, checks_role=True,
            params=(SKU,), errors=(404,))},
        "/products/{sku}/restock": {"post": op(
            "Add units on hand (admins)", "catalog", {"200": answer("the stock", "Stock")},
            checks_role=True, params=(SKU,), body="RestockRequest", errors=(404,))},
        "/admin/inventory/{sku}": {"get": op(
            "Stock of one product (admins)", "admin", {"200": answer("the stock", "Stock")},
            checks_role=True, params=(SKU,), errors=(404,))},
        "/orders": {
            "post": op("Place an order (" + user_only + "); 400 names unknown skus; 409 "
                       "price_changed when expected_total_cents is not today's total",
                       "orders",
                       {"201": answer("the order, PENDING", "Order", headers=("Location",))},
                       checks_role=True, body="CreateOrderRequest", params=(IDEMPOTENCY_KEY,),
                       errors=(409, 422), limited=True),
            "get": op("Own orders, newest first (admins: every order, or ?user_id=)", "orders",
                      {"200": answer("a page of orders", "OrderPage")}, checks_role=True,
                      params=(*LIST, query("user_id", string(format="uuid"),
                                           "admins: this user's orders only"),
                              query("status", string(enum=ORDER_STATUSES),
                                    "admins: orders of this status only")))},
        "/orders/{order_id}": {"get": op(
            "One order (its owner or an admin; anyone else's is a 404)", "orders",
            {"200": answer("the order", "Order")}, checks_role=True, params=(ORDER_ID,),
            errors=(404,))},
        "/orders/{order_id}/timeline": {"get": op(
            "Every event that touched the order, in order", "orders",
            {"200": answer("the timeline", "Timeline")}, checks_role=True,
            params=(ORDER_ID,), errors=(404,))},
        "/orders/{order_id}/cancel": {"post": op(
            "Ask to cancel (409 once shipped, delivered or cancelled); body absent or {}",
            "orders", {"202": answer("the order as it is now", "Order")}, checks_role=True,
            params=(ORDER_ID,), body="CancelOrderRequest", body_required=False,
            errors=(404, 409))},
        **_notifications(user_only),
        **_admin(),
        **_pages(),
    }


def _notifications(user_only: str) -> dict:
    notification_id = path("notification_id", string(format="uuid"))
    status = query("status", string(enum=["pending", "sent", "failed"]), "only these")
    return {
        "/notifications": {"get": op(
            "Own notifications, newest first (" + user_only + ")", "notifications",
            {"200": answer("a page", "NotificationPage")}, checks_role=True, params=LIST)},
        "/admin/notifications": {"get": op(
            "The notification log of every user, with each one's recipient (admins)",
            "admin", {"200": answer("a page", "AdminNotificationPage")}, checks_role=True,
            params=(*LIST, status))},
        "/admin/notifications/{notification_id}/retry": {"post": op(
            "Send a notification again (admins); body absent or {}", "admin",
            {"200": answer("the notification", "Notification")}, checks_role=True,
            params=(notification_id,), body="RetryNotificationRequest", body_required=False,
            errors=(404, 409))},
    }


def _admin() -> dict:
    service = path("service", string(description="a service name, e.g. order_svc"))
    event_id = path("event_id", string(pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                                       description="the event_id of a listed message"))
    return {
        "/admin/users": {"get": op(
            "Accounts newest first, ?q= matching part of an email or name (admins)",
            "admin", {"200": answer("a page", "AccountPage")}, checks_role=True,
            params=(*LIST, query("q", string(maxLength=100), "part of an email or name")))},
        "/admin/payments": {"get": op(
            "payment_svc's records, newest first (admins)", "admin",
            {"200": answer("a page", "PaymentPage")}, checks_role=True,
            params=(*LIST, query("order_id", string(format="uuid"), "one order's only")))},
        "/admin/dead-letters": {"get": op(
            "Dead letters per service (admins)", "admin",
            {"200": answer("count and messages per service", "DeadLetters")},
            checks_role=True)},
        "/admin/dead-letters/{service}/replay": {"post": op(
            "Send a service's dead letters back to its handlers (admins)", "admin",
            {"200": answer("how many", "Replayed")}, checks_role=True, params=(service,),
            errors=(404,))},
        "/admin/dead-letters/{service}": {"delete": op(
            "Drop a service's dead letters (admins)", "admin",
            {"200": answer("how many", "Purged")}, checks_role=True, params=(service,),
            errors=(404,))},
        "/admin/dead-letters/{service}/{event_id}/replay": {"post": op(
            "Send one event's dead letter back to its handler (admins); 404 when none is "
            "kept", "admin", {"200": answer("how many (one per queue that gave up on it)",
                                           "Replayed")},
            checks_role=True, params=(service, event_id), errors=(404,))},
        "/admin/dead-letters/{service}/{event_id}": {"delete": op(
            "Drop one event's dead letter (admins); 404 when none is kept", "admin",
            {"200": answer("how many", "Purged")}, checks_role=True,
            params=(service, event_id), errors=(404,))},
    }


def _pages() -> dict:
    stream = op("Server-Sent Events of the caller's orders and notifications", "events",
                {"200": answer("text/event-stream, until the token expires",
                               media="text/event-stream")},
                checks_role=True, rpc=False, errors=(503,),
                params=(query("access_token", string(), "for EventSource: the token"),
                        query("last_event_id", string(), "resume after this event"),
                        {"name": "Last-Event-ID", "in": "header", "required": False,
                         "schema": string()}))
    stream["security"] = [*BEARER, {"accessTokenQuery": []}]
    text = "text/plain"
    return {
        "/events/stream": {"get": stream},
        "/health": {"get": op("200 while the process runs", "health",
                              {"200": answer("alive", "Health")}, auth=False, rpc=False)},
        "/ready": {"get": op("200 when RabbitMQ and every service answer in time; 503 names "
                             "what failed", "health", {"200": answer("ready", "Ready")},
                             auth=False, rpc=False, errors=(503,))},
        "/metrics": {"get": op("Prometheus text format (this host only: else 403)", "health",
                               {"200": answer("the metrics", media=text)}, auth=False,
                               rpc=False, errors=(403,))},
        "/openapi.json": {"get": op("This document", "docs",
                                    {"200": {"description": "OpenAPI 3.1",
                                             "content": _json({"type": "object"})}},
                                    auth=False, rpc=False)},
        "/docs": {"get": op("A page that renders this document", "docs",
                            {"200": answer("HTML", media="text/html")}, auth=False, rpc=False)},
        "/": {"get": op("The web storefront", "docs",
                        {"200": answer("HTML", media="text/html")}, auth=False, rpc=False)},
    }
