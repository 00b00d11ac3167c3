"""user_svc's tables: users, refresh tokens, API clients, OpenID identities and login
codes, and its outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    # Stored normalised (lower case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    # None: the account signs in with an OpenID provider only (until a password reset).
    password_hash: Mapped[str | None] = mapped_column(String(72))
    role: Mapped[str] = mapped_column(String(16), default="customer")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # Set by the single-use link of the welcome mail (POST /auth/verify).
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # sha256 of that link's token while it is unused, and until when it is valid.
    verification_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    verification_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # sha256 of the last password-reset link's token while it is unused, and its expiry.
    reset_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reset_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role,
                "email_verified": self.email_verified}

    def account_dict(self) -> dict:
        """The account as GET /admin/users lists it."""
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role,
                "created_at": self.created_at.isoformat()}


class RefreshToken(Base):
    """One refresh token; a login starts a family, each rotation adds to it."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    family_id: Mapped[str] = mapped_column(Uuid(as_uuid=False), index=True)
    # sha256 of the token: a leaked table gives no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Indexed: the gateways ask every few seconds which sessions were revoked lately.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class ApiClient(Base):
    """A machine client created by an admin (OAuth2 client credentials)."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="client")
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # OAuth2-style, space-separated (common.tokens.SCOPES): what a `client` may call.
    scopes: Mapped[str] = mapped_column(String(255), default="")

    def to_dict(self) -> dict:
        """The client as GET /admin/clients lists it (never its secret)."""
        return {"client_id": self.client_id, "name": self.name, "role": self.role,
                "scopes": self.scopes.split(), "created_at": self.created_at.isoformat()}


class OidcIdentity(Base):
    """An account at an OpenID provider (issuer, subject) that signs in as one of ours."""

    __tablename__ = "oidc_identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    # The verified email it was linked by (for the record; the link is the subject).
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LoginCode(Base):
    """A single-use code the storefront spends for a token pair after an OpenID sign-in:
    shared by every gateway process, gone once redeemed."""

    __tablename__ = "login_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass
