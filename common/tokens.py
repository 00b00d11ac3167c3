"""Access tokens: issued by user_svc, verified by the gateway without an RPC.

HS256 is pinned: a token whose header names another algorithm (`none` included) is
refused, as is one with a wrong signature, issuer or audience, or past `exp`.
Claims: `sub` (user or API client id), `role`, `typ` ("user" or "client"), `email`
(users), `iss`, `aud`, `iat`, `exp`, `jti`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "typ", "iss", "aud", "iat", "exp", "jti"]
ROLES = ("customer", "admin", "client")


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    issuer: str
    audience: str
    access_ttl_s: int

    @classmethod
    def from_config(cls, config: dict) -> TokenSettings:
        return cls(secret=str(config["JWT_SECRET"]), issuer=str(config["JWT_ISSUER"]),
                   audience=str(config["JWT_AUDIENCE"]),
                   access_ttl_s=int(config["JWT_ACCESS_TTL_S"]))


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    role: str
    kind: str  # "user" or "client"
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def issue_access_token(settings: TokenSettings, principal: Principal, now: int) -> str:
    """A signed access token for `principal`, valid `access_ttl_s` from `now` (epoch s)."""
    claims = {"sub": principal.subject, "role": principal.role, "typ": principal.kind,
              "iss": settings.issuer, "aud": settings.audience, "iat": now,
              "exp": now + settings.access_ttl_s, "jti": str(uuid.uuid4())}
    if principal.email:
        claims["email"] = principal.email
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHM)


def verify_access_token(settings: TokenSettings, token: str) -> Principal:
    """The principal of a valid token; InvalidToken otherwise (never another error)."""
    try:
        claims = jwt.decode(token, settings.secret, algorithms=[ALGORITHM],
                            audience=settings.audience, issuer=settings.issuer,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise InvalidToken("invalid token") from exc
    if claims["role"] not in ROLES or claims["typ"] not in ("user", "client"):
        raise InvalidToken("invalid token")
    return Principal(subject=str(claims["sub"]), role=claims["role"], kind=claims["typ"],
                     email=claims.get("email"))
