"""Queries of user_svc, kept out of the entrypoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from user_svc.domain import RefreshState, hash_secret, new_refresh_token, refresh_expiry
from user_svc.models import ApiClient, LoginCode, OidcIdentity, RefreshToken, User


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email)).first()


# A mailed single-use link's columns: (its token's sha256, until when it works).
LINKS = {"verify": (User.verification_hash, User.verification_expires_at),
         "reset": (User.reset_hash, User.reset_expires_at)}


def user_by_link(session: Session, link: str, token_hash: str, now: datetime) -> User | None:
    """The user whose unused, unexpired `link` ("verify" or "reset") has this hash,
    locked."""
    hash_column, expires_column = LINKS[link]
    return session.scalars(
        select(User).where(hash_column == token_hash, expires_column > now)
        .with_for_update()).first()


def locked_user(session: Session, user_id: str) -> User | None:
    return session.scalars(select(User).where(User.id == user_id).with_for_update()).first()


def email_exists(session: Session, email: str) -> bool:
    return bool(session.scalar(select(func.count()).where(User.email == email)))


def locked_refresh_token(session: Session, token: str) -> RefreshToken | None:
    """The token's row, locked: two uses racing each other are decided one by one."""
    return session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == hash_secret(token))
        .with_for_update()
    ).first()


def refresh_state(record: RefreshToken | None) -> RefreshState | None:
    if record is None:
        return None
    return RefreshState(expires_at=record.expires_at, used_at=record.used_at,
                        revoked_at=record.revoked_at)


def add_refresh_token(session: Session, user_id: str, family_id: str, now: datetime,
                      ttl_s: int) -> str:
    """Store a new refresh token of `family_id`; return the token itself (shown once)."""
    token = new_refresh_token()
    session.add(RefreshToken(user_id=user_id, family_id=family_id,
                             token_hash=hash_secret(token), issued_at=now,
                             expires_at=refresh_expiry(now, ttl_s)))
    return token


def revoke_family(session: Session, family_id: str) -> None:
    """Revoke the family's tokens, stamped with the database's clock as the UPDATE runs
    (after any lock wait), which the gateways' look-back covers (gateway/revocations.py)."""
    session.execute(update(RefreshToken)
                    .where(RefreshToken.family_id == family_id,
                           RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=func.clock_timestamp()))


def active_client(session: Session, client_id: str) -> ApiClient | None:
    client = session.get(ApiClient, client_id)
    return client if client is not None and client.revoked_at is None else None


def sessions_revoked_since(session: Session, since: datetime) -> dict[str, datetime]:
    """{family id: when it was revoked} of the refresh-token families revoked after
    `since` (a family is a user's session)."""
    rows = session.execute(
        select(RefreshToken.family_id, func.max(RefreshToken.revoked_at))
        .where(RefreshToken.revoked_at > since).group_by(RefreshToken.family_id))
    return dict(rows.all())


def clients_revoked_since(session: Session, since: datetime) -> dict[str, datetime]:
    """{client id: when it was revoked} of the API clients revoked after `since`."""
    rows = session.execute(select(ApiClient.client_id, ApiClient.revoked_at)
                           .where(ApiClient.revoked_at > since))
    return dict(rows.all())


def clients(session: Session) -> list[ApiClient]:
    """The API clients not revoked, oldest first."""
    return list(session.scalars(select(ApiClient).where(ApiClient.revoked_at.is_(None))
                                .order_by(ApiClient.created_at, ApiClient.client_id)))


def revoke_sessions(session: Session, user_id: str, keep: str | None = None) -> None:
    """Revoke every refresh-token family (session) of the user but `keep` (stamped as
    revoke_family's are)."""
    query = (update(RefreshToken)
             .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)))
    if keep is not None:
        query = query.where(RefreshToken.family_id != keep)
    session.execute(query.values(revoked_at=func.clock_timestamp()))


def family_revoked(session: Session, family_id: str) -> bool:
    """Whether any token of the family is revoked: a token added by a refresh that raced
    the logout (or the reuse) must not revive the session."""
    return bool(session.scalar(select(func.count()).where(
        RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))))


def replace_password_hash(session: Session, user_id: str, old: str, new: str) -> None:
    """Set `new` unless the stored hash is no longer `old` (compare and set)."""
    session.execute(update(User).where(User.id == user_id, User.password_hash == old)
                    .values(password_hash=new))


def page_of_users(session: Session, query: str | None, limit: int,
                  before: tuple[datetime, str] | None) -> list[User]:
    """`limit + 1` users, newest first, after the cursor position `before`; `query`
    matches part of the email or the name, case-insensitively (taken literally: % and _
    match themselves)."""
    statement = (select(User).order_by(User.created_at.desc(), User.id.desc())
                 .limit(limit + 1))
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(User.email.ilike(pattern, escape="\\"),
                                        User.name.ilike(pattern, escape="\\")))
    if before is not None:
        statement = statement.where(tuple_(User.created_at, User.id) < before)
    return list(session.scalars(statement))


def linked_user(session: Session, issuer: str, subject: str) -> User | None:
    """The user an OpenID provider's account (issuer, subject) is linked to."""
    return session.scalars(select(User).join(OidcIdentity, OidcIdentity.user_id == User.id)
                           .where(OidcIdentity.issuer == issuer,
                                  OidcIdentity.subject == subject)).first()


def add_login_code(session: Session, user_id: str, code: str, expires_at: datetime,
                   now: datetime) -> None:
    """Store a login code (its sha256); the expired ones go at the same time."""
    session.execute(delete(LoginCode).where(LoginCode.expires_at <= now))
    session.add(LoginCode(code_hash=hash_secret(code), user_id=user_id,
                          expires_at=expires_at))


def spend_login_code(session: Session, code: str, now: datetime) -> str | None:
    """The user id of an unexpired login code, which is deleted (single use: of two
    concurrent redemptions, one gets it), or None."""
    return session.execute(delete(LoginCode).where(
        LoginCode.code_hash == hash_secret(code), LoginCode.expires_at > now)
        .returning(LoginCode.user_id)).scalar()
