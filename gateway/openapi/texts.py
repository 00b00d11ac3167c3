"""Each operation's `operationId` and `description` (Markdown, rendered by /docs).

    TEXTS["post /orders"] == ("createOrder", "...")

paths.py states what an operation takes and answers; this says what it is for and
what a client should know, in the words a client reads. The summaries stay short
(/docs lists them); descriptions may hold lists, `code` and links. A test checks that
every operation has both and that this table names no operation that does not exist.
"""

from __future__ import annotations

USERS_ONLY = ("Signed-in **users** only (customers and admins); an API client's token "
              "is a 403.")
ADMINS = "Admins only: a user or API client of role `admin` (else 403)."

TEXTS: dict[str, tuple[str, str]] = {
    # ---- auth ---------------------------------------------------------------------
    "post /auth/register": ("register", """\
Create a **customer** account. The email is unique whatever its case (a taken one is
a 409: a sign-up form has to say so). The password is 8 to 128 characters; every
character counts. A welcome mail with a confirmation link goes to the address."""),
    "post /auth/login": ("login", """\
Trade an email and password for a token pair: an `access_token` (send it as
`Authorization: Bearer ...`, valid `expires_in` seconds) and a `refresh_token`.

- An unknown email and a wrong password get the same 401.
- Repeated failures are slowed down per account and address: 429 with `Retry-After`."""),
    "post /auth/refresh": ("refreshTokens", """\
Rotate a refresh token: a new pair, and the one sent stops working. Sending a spent
refresh token again is taken as theft: 401, and every token of that session is revoked."""),
    "post /auth/logout": ("logout", """\
End the session the refresh token belongs to. Its access tokens are refused within
seconds, and its open live streams close."""),
    "post /auth/password/forgot": ("forgotPassword", """\
Ask for a password-reset mail. Always 202, so the answer never tells whether an
account exists; a known address gets a single-use link valid 30 minutes."""),
    "post /auth/password/reset": ("resetPassword", """\
Set a new password with the token of the reset link. Every session of the account
ends. A spent, expired or unknown token is a 400."""),
    "post /auth/password/change": ("changePassword", """\
Change your password, giving the current one (a wrong one is a 401). Your other
sessions end; this one goes on. """ + USERS_ONLY),
    "post /auth/verify": ("verifyEmail", """\
Confirm the account's email with the token of the welcome mail's link; `GET
/users/me` then shows `email_verified: true`."""),
    "post /auth/token": ("clientToken", """\
OAuth2 **client credentials** for API clients: `grant_type=client_credentials` with
the client's id and secret, either in HTTP Basic auth or in the body (form or JSON),
not both. The answer holds an access token only (no refresh token)."""),
    "get /auth/oidc/providers": ("listOidcProviders", """\
The OpenID Connect providers this shop is set up for (`OIDC_<PROVIDER>_*`): a sign-in
page shows a button for each, linking to its `login_url`. Empty when none is set up."""),
    "get /auth/oidc/{provider}/login": ("startOidcSignIn", """\
For a browser, not a script: a 302 to the provider's sign-in page (authorization code
with PKCE S256, a `state` and a `nonce`). They are kept in a short-lived, encrypted,
httponly `SameSite=Lax` cookie that the callback checks."""),
    "get /auth/oidc/{provider}/callback": ("finishOidcSignIn", """\
The provider sends the browser here. The state is compared with the cookie's, the code
exchanged, the id_token verified (signature, issuer, audience, expiry, nonce), and the
account found by the provider's id or a **verified** email, or made. The answer is a
302 to `/#/oidc?code=...`: a single-use code valid about a minute, never the tokens.
A browser whose sign-in fails is sent to `/#/login?error=...` in plain words; any
other client gets the error (401 for a sign-in that cannot be accepted)."""),
    "post /auth/oidc/exchange": ("exchangeOidcCode", """\
Trade the one-time code of an OpenID sign-in for a token pair, as `POST /auth/login`
answers. The code works once (a second try is a 401)."""),
    # ---- users --------------------------------------------------------------------
    "get /users/me": ("getMe", "Your own profile, with whether the email is confirmed. "
                      + USERS_ONLY),
    "patch /users/me": ("updateMe", """\
Change your name (`null` clears it). Any other field is a 400: the email and the role
are not yours to change here. """ + USERS_ONLY),
    # ---- catalog ------------------------------------------------------------------
    "get /products": ("listProducts", """\
A page of the catalog, to anyone. Archived products are never listed.

- `q`: words of the name or description, each a word prefix, all of them required
  (`q=green tea` finds "Green Tea Sencha").
- `category`: one category slug (see `GET /categories`).
- `sort`: `name`, `price`, `-price` (dearest first) or `newest`; by sku otherwise.

`available` is on hand minus reserved: a hint for the cart, checked again when the
order is placed."""),
    "post /products": ("createProduct", """\
Add a product with its opening `stock`. Prices are integer minor units (`450` is
$4.50). A sku taken already is a 409. """ + ADMINS + " (Or a client with the "
                       "`catalog:write` scope.)"),
    "get /products/{sku}": ("getProduct", """\
One product. An archived product is a 404 here, as if it did not exist; admins see
it at `GET /admin/products/{sku}`."""),
    "patch /products/{sku}": ("updateProduct", """\
Change only the fields sent: `name`, `description`, `price_cents`, `category`,
`image_url`, `active`. `active: false` archives the product (not listed, and an order
for it is a 400 like an unknown sku); `true` brings it back. A new price applies to
orders placed from then on: a client that sends `expected_total_cents` learns of it
with a 409 `price_changed`. """ + ADMINS),
    "get /categories": ("listCategories", """\
The categories that have at least one listed product, A to Z, with how many: what a
storefront's filter offers."""),
    "get /admin/products": ("adminListProducts", """\
The catalog as an admin sees it: archived products too, each with `active`. Same
filters and sorts as `GET /products`. """ + ADMINS),
    "get /admin/products/{sku}": ("adminGetProduct", "One product, archived or not, "
                                  "with `active`. " + ADMINS),
    "post /products/{sku}/restock": ("restockProduct", """\
Add `quantity` units on hand; the answer is the stock after it. """ + ADMINS
                                     + " (Or a client with `inventory:write`.)"),
    "get /admin/inventory/{sku}": ("getStock", """\
The stock of one product: `on_hand`, `reserved` (held for orders not yet paid) and
`available`. """ + ADMINS + " (Or a client with `inventory:read`.)"),
    # ---- orders -------------------------------------------------------------------
    "post /orders": ("createOrder", """\
Place an order. The answer is 201 with the order `PENDING`; it then moves on by
itself (follow it with `GET /events/stream` or `GET /orders/{order_id}`).

- `items`: 1 to 50 lines of `{sku, quantity}`; an unknown or archived sku is a 400
  naming it.
- `payment.token`: the card token (test tokens: `tok_ok`, `tok_declined`,
  `tok_insufficient_funds`, `tok_flaky`, `tok_slow`).
- `shipping_address`: where the parcel goes; `country` is an ISO 3166-1 alpha-2 code.
- `expected_total_cents`: the total the customer was shown. If today's prices make
  another total the answer is 409 `price_changed` with `details: {total_cents, items:
  [{sku, unit_price_cents}]}`, and no order is made.
- `Idempotency-Key`: send one per checkout and repeat it when retrying. The same key
  with the same body answers the same order again; with another body, 422.

""" + USERS_ONLY),
    "get /orders": ("listOrders", """\
Your orders, newest first. Admins see every order (each with the customer's
`user_email`) and may narrow them with `user_id` and `status`; a customer asking for
another `user_id` gets a 403."""),
    "get /orders/{order_id}": ("getOrder", """\
One order with its lines (prices as they were when it was placed), its payment, its
shipment and its shipping address. Someone else's order is a 404, not a 403: its
existence is not confirmed."""),
    "get /orders/{order_id}/timeline": ("getOrderTimeline", """\
Every event that touched the order, oldest first: `{type, at, data}` for
`order.created`, `inventory.reserved`, `payment.succeeded`, `delivery.shipped`, and so
on. Useful to see why an order was cancelled."""),
    "post /orders/{order_id}/cancel": ("cancelOrder", """\
Ask to cancel an order (its owner or an admin). 202 means the parcel will not leave:
the stock is released and a captured payment refunded, shortly after. Once the order
is `SHIPPED`, `DELIVERED` or `CANCELLED` the answer is 409. The body is absent or
`{}`."""),
    # ---- notifications ------------------------------------------------------------
    "get /notifications": ("listNotifications", """\
The mails and messages sent to you, newest first, with their status (`pending`,
`sent`, `failed`). """ + USERS_ONLY),
    "get /admin/notifications": ("adminListNotifications", """\
Every notification, newest first, with its recipient (an email address, or the phone
of an SMS), order, attempts and last error; `status=failed` lists the ones to look
at. """ + ADMINS),
    "post /admin/notifications/{notification_id}/retry": ("retryNotification", """\
Send a notification again now (one that failed, typically). 409 when its state does
not allow it. """ + ADMINS),
    # ---- admin --------------------------------------------------------------------
    "post /admin/clients": ("createClient", """\
Create an API client for another system. The `client_secret` is in this answer only:
keep it. Role `client` gets the public routes plus its `scopes`
(`inventory:read`, `inventory:write`, `catalog:write`); role `admin` gets every admin
route. """ + ADMINS),
    "get /admin/clients": ("listClients", "The API clients not revoked, with their "
                           "role and scopes, never their secrets. " + ADMINS),
    "delete /admin/clients/{client_id}": ("revokeClient", """\
Revoke an API client: its tokens are refused within seconds and it cannot get new
ones. """ + ADMINS),
    "get /admin/users": ("listUsers", """\
The accounts, newest first; `q` matches part of an email or a name, any case. """
                         + ADMINS),
    "get /admin/payments": ("listPayments", """\
payment_svc's records: one per order that reached payment, with its status
(`PENDING`, `CAPTURED`, `FAILED`, `REFUNDED`), amounts and provider attempts;
`order_id` narrows it to one order. """ + ADMINS),
    "get /admin/dead-letters": ("listDeadLetters", """\
Per service, the events its handlers gave up on after every retry, with the error and
attempts. Looking changes nothing. Fix the cause, then replay; or purge what must not
run. """ + ADMINS),
    "post /admin/dead-letters/{service}/replay": ("replayDeadLetters", """\
Send every dead letter of a service back to the handler that gave up on it. Handlers
are idempotent, so an event that did get through before changes nothing. """ + ADMINS),
    "delete /admin/dead-letters/{service}": ("purgeDeadLetters", "Drop every dead letter "
                                             "of a service, for good. " + ADMINS),
    "post /admin/dead-letters/{service}/{event_id}/replay": ("replayDeadLetter", """\
Send one event's dead letter back to its handler; 404 when none is kept for that
event. """ + ADMINS),
    "delete /admin/dead-letters/{service}/{event_id}": ("purgeDeadLetter", """\
Drop one event's dead letter; 404 when none is kept for that event. """ + ADMINS),
    # ---- live stream and operations ------------------------------------------------
    "get /events/stream": ("streamEvents", """\
Server-Sent Events (`text/event-stream`) of **your** orders and notifications, as they
happen. Browsers' `EventSource` cannot send headers: pass `?access_token=` instead.

Events (each with an `id:` line, the event's id):

- `order.status`: `{"order_id", "status", "reason"}`, at each step of an order
  (`RESERVED`, `CONFIRMED`, `SHIPPED`, `DELIVERED`, `CANCELLED` with its reason).
- `notification`: `{"id", "kind", "subject"}`, when a mail to you was sent (or failed).
- `: heartbeat`: a comment every 15 seconds of silence; ignore it.

To resume, reconnect with `Last-Event-ID` (or `?last_event_id=`): the events after
that id are sent first, also from another gateway process. An id no longer known
replays nothing: re-read the orders you follow. The stream ends when the token
expires; reconnect with a fresh one. At most 5 streams per user (the 6th: 429)."""),
    "get /health": ("health", "200 while the gateway process runs: a liveness probe. "
                    "It asks nothing of the services."),
    "get /ready": ("ready", """\
200 when RabbitMQ and every service (each checking its own database) answered within
2 seconds; otherwise 503 naming what failed. A readiness check for the whole shop, not
for taking one gateway out of a load balancer. `breakers` gives this gateway process's
circuit breaker of each service: `closed`, `open` (its calls answer 503 at once) or
`half_open` (one call probes whether the service is back)."""),
    "get /metrics": ("metrics", "Prometheus text format: requests, durations, open "
                     "streams, RPCs in flight, shed requests, circuit breakers. Only "
                     "clients on "
                     "`METRICS_ALLOWED_NETWORKS` (this host by default); others get 403."),
    "get /openapi.json": ("openapi", "This document: OpenAPI 3.1, the reference of the "
                          "HTTP API."),
    "get /docs": ("docs", "A page that renders this document, where each operation can "
                  "be tried."),
    "get /": ("storefront", "The web storefront: plain JavaScript on this same API."),
}
