"""Access tokens: issued by user_svc, verified by the gateway without an RPC.

HS256 is pinned: a token whose header names another algorithm (`none` included) is
refused, as is one with a wrong signature, issuer or audience, or past `exp`.
Claims: `sub` (user or API client id), `role`, `typ` ("user" or "client"), `email`
(users), `sid` (users: the session, i.e. the refresh-token family, which logout and
reuse detection revoke), `iss`, `aud`, `iat`, `exp`, `jti`. A signed token is still
checked for shape (a user's `sub` and `sid` UUIDs, a client's `cl_` and hex, `email` a
short string), so no claim reaches a service or a database in a shape it was never
issued in (a 65+ character `sub` once answered 500 on POST /orders).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import jwt

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "typ", "iss", "aud", "iat", "exp", "jti"]
ROLES = ("customer", "admin", "client")
ROLES_OF = {"user": ("customer", "admin"), "client": ("client", "admin")}
# What an API client of role `client` may be given beyond the public routes (README).
SCOPES = ("inventory:read", "inventory:write", "catalog:write")
# What user_svc issues: users are UUIDs, API clients `cl_` + 16 hex (domain.py).
SUBJECTS = {"user": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
            "client": re.compile(r"cl_[0-9a-f]{16}")}
MAX_EMAIL_CHARS = 254


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
    session: str | None = None  # a user's session id (`sid`): its refresh-token family
    # An API client's scopes (`scope`, space-separated): admin routes it may call.
    scopes: frozenset[str] = field(default=frozenset(), compare=False)
    # When its token was issued (epoch s), for revocations by subject; not identity.
    issued_at: int | None = field(default=None, compare=False)

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
    if principal.session:
        claims["sid"] = principal.session
    if principal.scopes:
        claims["scope"] = " ".join(sorted(principal.scopes))
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
    if not well_shaped(claims):
        raise InvalidToken("invalid token")
    return Principal(subject=claims["sub"], role=claims["role"], kind=claims["typ"],
                     email=claims.get("email"), session=claims.get("sid"),
                     scopes=frozenset((claims.get("scope") or "").split()),
                     issued_at=claims["iat"])


def well_shaped(claims: dict) -> bool:
    """Whether the claims have the shapes user_svc issues them in."""
    kind, subject, email = claims["typ"], claims["sub"], claims.get("email")
    if not isinstance(kind, str) or kind not in SUBJECTS or claims["role"] not in ROLES_OF[kind]:
        return False
    if not isinstance(subject, str) or SUBJECTS[kind].fullmatch(subject) is None:
        return False
    scope = claims.get("scope")
    if scope is not None and (kind != "client" or not isinstance(scope, str)
                              or not set(scope.split()) <= set(SCOPES)):
        return False
    session = claims.get("sid")
    if session is not None and (not isinstance(session, str) or SUBJECTS["user"].fullmatch(
            session) is None):
        return False
    return email is None or isinstance(email, str) and 3 <= len(email) <= MAX_EMAIL_CHARS
