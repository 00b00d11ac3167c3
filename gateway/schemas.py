"""Request models (pydantic v2) and the one place their errors become a 400.

Models are strict (a number where a string is expected is an error, nothing is
coerced) and forbid unknown fields, so a typo in a field name is reported instead
of silently ignored. The 400's details name every offending field:
`{"fields": [{"field": "email", "message": "..."}]}`, nested paths dotted.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from common.errors import ValidationError

M = TypeVar("M", bound=BaseModel)


def _plain_text(value: str) -> str:
    # PostgreSQL refuses NUL in text and lone surrogates cannot be encoded: letting
    # either through would turn bad input into a 500 deep inside a service.
    if "\x00" in value:
        raise PydanticCustomError("text", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text", "must be valid Unicode text") from None
    return value


def _email_syntax(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise PydanticCustomError("email", "not a valid email address: {reason}",
                                  {"reason": str(exc)}) from None
    return value


Text = Annotated[str, AfterValidator(_plain_text)]
# json_schema_extra: what the OpenAPI document (gateway/openapi) tells clients and fuzzers.
Email = Annotated[Text, Field(max_length=254, json_schema_extra={"format": "email"}),
                  AfterValidator(_email_syntax)]
Password = Annotated[Text, Field(min_length=8, max_length=128)]
PersonName = Annotated[Text, Field(max_length=100)]
Secret = Annotated[Text, Field(min_length=1, max_length=1024)]

# A sku: also checked on paths (routes/products.py), where a mismatch is a 404.
SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
Sku = Annotated[str, Field(pattern=f"^{SKU.pattern}$")]
# Length constraints before the text check, so they apply to the str itself: the name
# is stripped first, and messages speak of characters.
ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=200), AfterValidator(_plain_text)]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_plain_text)]
PriceCents = Annotated[int, Field(ge=1, le=1_000_000_000)]  # strict: true/false refused
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Quantity = Annotated[int, Field(ge=1, le=1_000_000_000)]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000)]
# Opaque: the service judges the rest.
# A category slug ("tea", "brewing-gear"), and an image as an http(s) URL or a path on
# this site; inventory_svc.domain holds the same rules (check_category, check_image_url).
Category = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
ImageUrl = Annotated[str, Field(max_length=500, pattern=r"^(https?://\S+|/[^/\s]\S*)$")]
Cursor = Annotated[str, Field(max_length=200), AfterValidator(_plain_text)]


# An order, user or payment id: a UUID in its usual 8-4-4-4-12 hex form.
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _uuid(value: str) -> str:
    if UUID.fullmatch(value) is None:
        raise PydanticCustomError("uuid", "must be a UUID")
    return value.lower()


Uuid = Annotated[str, AfterValidator(_uuid)]
OrderQuantity = Annotated[int, Field(ge=1, le=1000)]
# Any printable ASCII: which tokens exist is payment_svc's business.
PaymentToken = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")]


def _query_int(value):
    # Query values are strings: digits become an int (range checked by the model),
    # anything else ("x", "1.5", " 5") stays a string for strict mode to refuse.
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value):
        return int(value)
    return value


def _blank_is_none(value):
    return None if value == "" else value


class Model(BaseModel):
    """Base of request models: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterRequest(Model):
    email: Email
    password: Password
    name: PersonName | None = None


class ChangePasswordRequest(Model):
    current_password: Annotated[Text, Field(min_length=1, max_length=128)]
    new_password: Password


class UpdateProfileRequest(Model):
    """Body of PATCH /users/me: a field left out is left as it is; `name: null` clears."""

    name: PersonName | None = None


class ForgotPasswordRequest(Model):
    # Only the shape: an unknown or malformed email gets the same 202 as a known one.
    email: Annotated[Text, Field(min_length=1, max_length=254)]


class ResetPasswordRequest(Model):
    token: Secret
    password: Password


class VerifyEmailRequest(Model):
    """Body of /auth/verify: the token of the welcome mail's link."""

    token: Secret


class LoginRequest(Model):
    # Only the shape is checked: whether the account exists is the service's 401,
    # the same answer for an unknown email as for a wrong password.
    email: Annotated[Text, Field(min_length=1, max_length=254)]
    password: Annotated[Text, Field(min_length=1, max_length=128)]


class OidcExchangeRequest(Model):
    """Body of /auth/oidc/exchange: the one-time code of an OpenID sign-in."""

    code: Annotated[Text, Field(min_length=1, max_length=200)]


class RefreshTokenRequest(Model):
    """Body of /auth/refresh and /auth/logout."""

    refresh_token: Secret


class ClientTokenRequest(Model):
    """OAuth2 client-credentials grant (RFC 6749 section 4.4), as form or JSON."""

    grant_type: Literal["client_credentials"]
    # Absent when the client authenticates with HTTP Basic (gateway/routes/auth.py).
    client_id: Annotated[Text, Field(min_length=1, max_length=255)] | None = None
    client_secret: Secret | None = None
    scope: Text | None = None  # allowed by RFC 6749; no scopes exist, so ignored


class CreateClientRequest(Model):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    role: Literal["client", "admin"] = "client"
    # What a `client` may call beyond the public routes (common.tokens.SCOPES).
    scopes: list[Literal["inventory:read", "inventory:write", "catalog:write"]] = []


class ListQuery(BaseModel):
    """`?limit=1..100&cursor=` of a list; `cursor=` means none, other parameters are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    limit: Annotated[int, BeforeValidator(_query_int), Field(ge=1, le=100)] = 20
    cursor: Annotated[Cursor | None, BeforeValidator(_blank_is_none)] = None


class ProductListQuery(ListQuery):
    """GET /products: a page, narrowed by `q` (words of name or description) and
    `category`, in `sort` order (name, price, -price, newest; sku when absent)."""

    q: Annotated[Annotated[Text, Field(max_length=200)] | None,
                 BeforeValidator(_blank_is_none)] = None
    category: Annotated[Category | None, BeforeValidator(_blank_is_none)] = None
    sort: Annotated[Literal["name", "price", "-price", "newest"] | None,
                    BeforeValidator(_blank_is_none)] = None


class CreateProductRequest(Model):
    sku: Sku
    name: ProductName
    description: Description | None = None
    price_cents: PriceCents
    currency: Currency = "USD"
    stock: Stock = 0
    category: Category | None = None
    image_url: ImageUrl | None = None


class UpdateProductRequest(Model):
    """Only the fields sent are changed: absent means unchanged (a null name, price or
    `active` is refused; a null description, category or image_url clears it).
    `active: false` archives the product: not listed, not orderable."""

    name: ProductName = None
    description: Description | None = None
    price_cents: PriceCents = None
    category: Category | None = None
    image_url: ImageUrl | None = None
    active: bool = None


class RestockRequest(Model):
    quantity: Quantity


class OrderLine(Model):
    sku: Sku
    quantity: OrderQuantity


class PaymentDetails(Model):
    token: PaymentToken


class ShippingAddress(Model):
    """Where an order ships; order_svc checks the country against ISO 3166-1."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    line2: Annotated[str, Field(max_length=200)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=100)]
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern="^[A-Za-z]{2}$")]
    phone: Annotated[str, Field(min_length=5, max_length=30)] | None = None


class CreateOrderRequest(Model):
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=50)]
    payment: PaymentDetails | None = None
    # The total the client showed its user; other prices today -> 409 price_changed.
    expected_total_cents: Annotated[int, Field(ge=0, le=10**15)] | None = None
    shipping_address: ShippingAddress | None = None


class CancelOrderRequest(Model):
    """No fields: the body may be absent or `{}`, anything else is refused."""


class OrderListQuery(ListQuery):
    """ListQuery plus `?user_id=` (admins: any user; customers: only themselves) and
    `?status=` (one order status; `status=` means any)."""

    user_id: Annotated[Uuid | None, BeforeValidator(_blank_is_none)] = None
    status: Annotated[Literal["PENDING", "RESERVED", "CONFIRMED", "SHIPPED", "DELIVERED",
                              "CANCELLED"] | None, BeforeValidator(_blank_is_none)] = None


class PaymentListQuery(ListQuery):
    """ListQuery plus `?order_id=`."""

    order_id: Annotated[Uuid | None, BeforeValidator(_blank_is_none)] = None


class UserListQuery(ListQuery):
    """ListQuery plus `?q=`: part of an email or a name (`q=` means everyone)."""

    q: Annotated[Annotated[Text, Field(max_length=100)] | None,
                 BeforeValidator(_blank_is_none)] = None


class NotificationListQuery(ListQuery):
    """ListQuery plus `?status=pending|sent|failed` (`status=` means any)."""

    status: Annotated[Literal["pending", "sent", "failed"] | None,
                      BeforeValidator(_blank_is_none)] = None


class RetryNotificationRequest(Model):
    """No fields: the body may be absent or `{}`, anything else is refused."""


class EmptyRequest(Model):
    """No fields: the body may be absent or `{}`, anything else is refused."""


def validate(model: type[M], data: dict, what: str = "request body") -> M:
    """`data` as a `model` instance, or ValidationError naming each bad field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        fields = [{"field": ".".join(str(part) for part in error["loc"]) or "body",
                   "message": error["msg"]}
                  for error in exc.errors(include_url=False, include_input=False)]
        raise ValidationError(f"{what} is not valid", {"fields": fields}) from None
