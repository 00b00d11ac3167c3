"""Request models (pydantic v2) and the one place their errors become a 400.

Models are strict (a number where a string is expected is an error, nothing is
coerced) and forbid unknown fields, so a typo in a field name is reported instead
of silently ignored. The 400's details name every offending field:
`{"fields": [{"field": "email", "message": "..."}]}`, nested paths dotted.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
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
Email = Annotated[Text, Field(max_length=254), AfterValidator(_email_syntax)]
Password = Annotated[Text, Field(min_length=8, max_length=128)]
PersonName = Annotated[Text, Field(max_length=100)]
Secret = Annotated[Text, Field(min_length=1, max_length=1024)]


class Model(BaseModel):
    """Base of request models: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterRequest(Model):
    email: Email
    password: Password
    name: PersonName | None = None


class LoginRequest(Model):
    # Only the shape is checked: whether the account exists is the service's 401,
    # the same answer for an unknown email as for a wrong password.
    email: Annotated[Text, Field(min_length=1, max_length=254)]
    password: Annotated[Text, Field(min_length=1, max_length=128)]


class RefreshTokenRequest(Model):
    """Body of /auth/refresh and /auth/logout."""

    refresh_token: Secret


class ClientTokenRequest(Model):
    """OAuth2 client-credentials grant (RFC 6749 section 4.4), as form or JSON."""

    grant_type: Literal["client_credentials"]
    client_id: Annotated[Text, Field(min_length=1, max_length=255)]
    client_secret: Secret
    scope: Text | None = None  # allowed by RFC 6749; no scopes exist, so ignored


class CreateClientRequest(Model):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    role: Literal["client", "admin"] = "client"


def validate(model: type[M], data: dict) -> M:
    """`data` as a `model` instance, or ValidationError naming each bad field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        fields = [{"field": ".".join(str(part) for part in error["loc"]) or "body",
                   "message": error["msg"]}
                  for error in exc.errors(include_url=False, include_input=False)]
        raise ValidationError("request body is not valid", {"fields": fields}) from None
