"""Identity rules of user_svc: pure functions, no nameko, no SQLAlchemy.

Passwords are bcrypt hashes of their SHA-256 (base64, 44 bytes: bcrypt reads only 72
bytes, so a longer password once logged in with any ending); refresh and client
secrets are random and stored as
sha256 (they carry 256 bits of entropy, so a slow hash adds nothing). Refresh tokens
rotate: each use spends the token and issues the next one of its family; a spent
token used again means it was stolen, and the whole family is revoked.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

import bcrypt
from email_validator import EmailNotValidError, validate_email

from common.tokens import SCOPES
from user_svc.exceptions import InvalidUserInput, OidcSignInRefused

PASSWORD_MIN, PASSWORD_MAX = 8, 128
# Hashes made since bcrypt is fed the password's SHA-256 carry this prefix; older ones
# are bcrypt of the password's first 72 bytes (LEGACY_BYTES).
PREHASHED = "sha256+"
LEGACY_BYTES = 72
NAME_MAX = 100
ROLES = ("customer", "admin")
CLIENT_ROLES = ("client", "admin")


def normalize_email(email) -> str:
    """The canonical (lower-case) form of an email address, or InvalidUserInput."""
    if not isinstance(email, str) or len(email) > 254:
        raise InvalidUserInput("email is not valid", {"field": "email"})
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidUserInput(f"email is not valid: {exc}", {"field": "email"}) from None
    return checked.normalized.lower()


def check_password(password) -> str:
    if (not isinstance(password, str) or "\x00" in password
            or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise InvalidUserInput(
            f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters",
            {"field": "password"})
    return password


def check_name(name) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or len(name.strip()) > NAME_MAX:
        raise InvalidUserInput(f"name must be at most {NAME_MAX} characters",
                               {"field": "name"})
    return name.strip() or None


def check_client_role(role) -> str:
    if role not in CLIENT_ROLES:
        raise InvalidUserInput(f"role must be one of {', '.join(CLIENT_ROLES)}",
                               {"field": "role"})
    return role


def _prehashed(password: str) -> bytes:
    """All of the password in 44 bytes, which bcrypt reads whole."""
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def hash_password(password: str, rounds: int) -> str:
    return PREHASHED + bcrypt.hashpw(_prehashed(password), bcrypt.gensalt(rounds)).decode()


@functools.lru_cache(maxsize=4)
def dummy_hash(rounds: int) -> str:
    """A hash no password matches, at the configured cost: a login for an unknown email
    checks against it, so it takes as long as a wrong password for a real account."""
    return hash_password(secrets.token_urlsafe(16), rounds)


def password_matches(password: str, password_hash: str | None) -> bool:
    """Whether `password`, all of it, is the one `password_hash` was made of.

    A hash from before the SHA-256 step only knows the first 72 bytes: it is checked
    the way it was made (bcrypt always runs, so timing tells nothing), and
    `needs_rehash` says to replace it, with the whole password, at that successful
    login. Until its owner logs in once, such an account still takes any password with
    the same first 72 bytes; refusing longer ones instead would lock out owners whose
    password is that long, with no reset to get back in.
    """
    if password_hash is None:  # an account that signs in with an OpenID provider only
        return False
    try:
        if password_hash.startswith(PREHASHED):
            return bcrypt.checkpw(_prehashed(password),
                                  password_hash[len(PREHASHED):].encode())
        return bcrypt.checkpw(password.encode()[:LEGACY_BYTES], password_hash.encode())
    except ValueError:  # a malformed stored hash matches nothing
        return False


def needs_rehash(password_hash: str) -> bool:
    return not password_hash.startswith(PREHASHED)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def new_verification_token() -> str:
    """The token of a welcome mail's verification link (stored as its sha256)."""
    return "ev_" + secrets.token_urlsafe(32)


def new_reset_token() -> str:
    """The token of a password-reset link (stored as its sha256)."""
    return "pr_" + secrets.token_urlsafe(32)


def link_expiry(now: datetime, ttl_s: int) -> datetime:
    """Until when a mailed link (verification, reset) made `now` works."""
    return now + timedelta(seconds=ttl_s)


def new_refresh_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


def new_client_credentials() -> tuple[str, str]:
    """(client_id, client_secret) for a new API client."""
    return "cl_" + secrets.token_hex(8), "cs_" + secrets.token_urlsafe(32)


class RefreshOutcome(Enum):
    ROTATE = "rotate"    # valid: spend it, issue the next of the family
    REUSE = "reuse"      # already spent: revoke the family, refuse
    INVALID = "invalid"  # unknown, expired or revoked: refuse


@dataclass(frozen=True)
class RefreshState:
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def decide_refresh(state: RefreshState | None, now: datetime) -> RefreshOutcome:
    """What presenting a refresh token in `state` at `now` leads to."""
    if state is None or state.revoked_at is not None:
        return RefreshOutcome.INVALID
    if state.used_at is not None:
        return RefreshOutcome.REUSE
    if state.expires_at <= now:
        return RefreshOutcome.INVALID
    return RefreshOutcome.ROTATE


def refresh_expiry(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)


def token_pair(access_token: str, refresh_token: str, expires_in: int) -> dict:
    """The contract's answer to login and refresh."""
    return {"access_token": access_token, "refresh_token": refresh_token,
            "token_type": "Bearer", "expires_in": expires_in}


def looks_like_uuid(value) -> bool:
    """Guard before a primary-key lookup: a malformed id is simply not found."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime of epoch `seconds` (the gateways speak epoch)."""
    return datetime.fromtimestamp(seconds, UTC)


USER_LIST_MAX, USER_QUERY_MAX = 100, 100


def check_user_query(query) -> str | None:
    if query is not None and (not isinstance(query, str) or len(query) > USER_QUERY_MAX
                              or "\x00" in query):
        raise InvalidUserInput(f"q must be text of at most {USER_QUERY_MAX} characters",
                               {"field": "q"})
    if query is None:
        return None
    return query.strip() or None


def check_limit(limit) -> int:
    if type(limit) is not int or not 1 <= limit <= USER_LIST_MAX:
        raise InvalidUserInput(f"limit must be an integer from 1 to {USER_LIST_MAX}",
                               {"field": "limit"})
    return limit


def check_scopes(scopes) -> list[str]:
    """The API client's scopes, sorted, each one of common.tokens.SCOPES."""
    if not isinstance(scopes, list | tuple) or not all(s in SCOPES for s in scopes):
        raise InvalidUserInput(f"scopes must be a list of: {', '.join(SCOPES)}",
                               {"field": "scopes"})
    return sorted(set(scopes))


# ---- signing in with an OpenID provider ----------------------------------------------
ISSUER_MAX, SUBJECT_MAX = 255, 255


class OidcOutcome(Enum):
    SIGN_IN = "sign_in"  # the provider's account is linked already: its user
    LINK = "link"        # an account has that verified email: link it, sign in
    CREATE = "create"    # nobody has that verified email: a new customer, linked


@dataclass(frozen=True)
class OidcClaims:
    """What a verified id_token says (the gateway verified it): checked shapes."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


def check_oidc_claims(issuer, subject, email, email_verified, name) -> OidcClaims:
    """The claims in the shapes we store, or InvalidUserInput. A name too long for an
    account is cut (the provider's, not the user's typing); a malformed email is None."""
    for field, value, limit in (("issuer", issuer, ISSUER_MAX),
                                ("subject", subject, SUBJECT_MAX)):
        if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
            raise InvalidUserInput(f"{field} must be text of 1 to {limit} characters",
                                   {"field": field})
    try:
        email = normalize_email(email) if email is not None else None
    except InvalidUserInput:
        email = None
    if not isinstance(name, str) or "\x00" in name:
        name = None
    return OidcClaims(issuer, subject, email, email_verified is True,
                      check_name(name[:NAME_MAX]) if name else None)


def decide_oidc_sign_in(linked: bool, claims: OidcClaims,
                        email_owner_role: str | None) -> OidcOutcome:
    """What a verified sign-in leads to. `linked`: (issuer, subject) is linked already;
    `email_owner_role`: the role of the account that has the claimed email, if any.

    A linked identity signs in as its user, whatever its email says now (the subject is
    the provider's account). Otherwise the email must be verified by the provider, or
    anyone could claim someone else's address: with an account of that email, it would
    be a takeover; without, a squat the owner could not undo. An admin account is never
    linked by email: its owner signs in with the password.
    """
    if linked:
        return OidcOutcome.SIGN_IN
    if claims.email is None:
        raise OidcSignInRefused("the sign-in provider gave no email address for this account",
                                {"reason": "no_email"})
    if not claims.email_verified:
        raise OidcSignInRefused("the sign-in provider has not verified this email address; "
                                "sign in with your password, or verify it there first",
                                {"reason": "email_unverified"})
    if email_owner_role is None:
        return OidcOutcome.CREATE
    if email_owner_role == "admin":
        raise OidcSignInRefused("an admin account signs in with its password",
                                {"reason": "admin_account"})
    return OidcOutcome.LINK


def new_login_code() -> str:
    """The single-use code an OpenID sign-in hands the storefront (stored as sha256)."""
    return "lc_" + secrets.token_urlsafe(32)
