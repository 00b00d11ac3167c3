"""user_svc: accounts, passwords, tokens and API clients.

    n.rpc.user_svc.register(email="ann@example.com", password="correct horse")
    n.rpc.user_svc.login(email="ann@example.com", password="correct horse")
"""

from __future__ import annotations

import logging
import time

from eventlet import tpool
from nameko.dependency_providers import Config
from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError

from common import cursors, deadletters, events
from common.db import DatabaseSession, new_id, one_statement, utc_now
from common.entrypoints import on_start, rpc
from common.logging import LogContext
from common.metrics import Metrics
from common.outbox import OutboxRelay
from common.production import ProductionGuard
from common.tokens import Principal, TokenSettings, issue_access_token
from user_svc import domain, oidc, store
from user_svc.exceptions import (
    ClientNotFound,
    EmailTaken,
    InvalidClientCredentials,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetToken,
    InvalidUserInput,
    InvalidVerificationToken,
    UserNotFound,
)
from user_svc.models import ApiClient, Base, DeadLetter, Outbox, User

log = logging.getLogger(__name__)

# Compared against when the client id is unknown (client secrets are sha256, not bcrypt).
_NO_SECRET_HASH = "0" * 64


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class UserService(deadletters.DeadLetterRpc, oidc.OidcSignInRpc):
    name = "user_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()
    # ENV=production with the shipped JWT secret or admin password: no start at all.
    guard = ProductionGuard()

    # bcrypt is CPU-bound C code: in a real thread it does not stall the event loop.
    def _hash(self, password: str) -> str:
        return tpool.execute(domain.hash_password, password, int(self.config["BCRYPT_ROUNDS"]))

    def _dummy_hash(self) -> str:
        # Same cost as real hashes, so an unknown email costs what a wrong password does.
        return domain.dummy_hash(int(self.config["BCRYPT_ROUNDS"]))

    def _locked_user(self, user_id) -> User:
        """The user's row, locked; UserNotFound if there is none."""
        user = store.locked_user(self.db, user_id) if domain.looks_like_uuid(user_id) else None
        if user is None:
            raise UserNotFound("no such user")
        return user

    def _tokens(self) -> TokenSettings:
        return TokenSettings.from_config(self.config)

    def _pair(self, user: User, family_id: str) -> dict:
        now = utc_now()
        refresh = store.add_refresh_token(self.db, user.id, family_id, now,
                                          int(self.config["JWT_REFRESH_TTL_S"]))
        settings = self._tokens()
        access = issue_access_token(
            settings, Principal(user.id, user.role, "user", user.email, session=family_id),
            int(time.time()))
        return domain.token_pair(access, refresh, settings.access_ttl_s)

    @rpc(expected_exceptions=(InvalidUserInput, EmailTaken))
    def register(self, email, password, name=None):
        """Create a customer account; emits `user.registered`."""
        email = domain.normalize_email(email)
        password, name = domain.check_password(password), domain.check_name(name)
        # Hashed before the lookup: a taken email costs the same bcrypt as a new one, so
        # the 409 the contract requires is not also given away by a faster answer.
        password_hash = self._hash(password)
        if store.email_exists(self.db, email):
            raise EmailTaken("an account with this email already exists")
        token = domain.new_verification_token()
        user = User(id=new_id(), email=email, name=name, password_hash=password_hash,
                    email_verified=False, verification_hash=domain.hash_secret(token),
                    verification_expires_at=domain.link_expiry(
                        utc_now(), int(self.config["EMAIL_VERIFY_TTL_S"])))
        self.db.add(user)
        self.db.add(Outbox.of(events.UserRegistered(
            user_id=user.id, email=email, name=name, verification_token=token,
            correlation_id=self.correlation_id)))
        try:
            self.db.commit()
        except IntegrityError:  # a concurrent registration of the same email won
            self.db.rollback()
            raise EmailTaken("an account with this email already exists") from None
        log.info("user %s registered", user.id)
        return user.to_dict()

    @rpc(expected_exceptions=InvalidCredentials)
    def login(self, email, password):
        """Check the password; return an access token and a new refresh-token family."""
        if not isinstance(email, str) or not isinstance(password, str):
            raise InvalidCredentials("wrong email or password")
        user = store.user_by_email(self.db, email.strip().lower())
        # A password too long to have been accepted, or an account without a password
        # (OpenID sign-in only), costs a check all the same (timing).
        known = (user is not None and user.password_hash is not None
                 and len(password) <= domain.PASSWORD_MAX)
        matches = tpool.execute(domain.password_matches, password,
                                user.password_hash if known else self._dummy_hash())
        if not known or not matches:
            raise InvalidCredentials("wrong email or password")
        if domain.needs_rehash(user.password_hash):  # a hash of before the SHA-256 step
            # Only if it is still the one checked: a password change meanwhile wins.
            store.replace_password_hash(self.db, user.id, user.password_hash,
                                        self._hash(password))
        pair = self._pair(user, family_id=new_id())
        self.db.commit()
        return pair

    @rpc(expected_exceptions=InvalidVerificationToken)
    def verify_email(self, token):
        """Spend the welcome mail's link: the account's email is verified. A token that
        is unknown, spent or expired is InvalidVerificationToken (400)."""
        user = store.user_by_link(self.db, "verify", domain.hash_secret(token), utc_now()) \
            if isinstance(token, str) else None
        if user is None:
            raise InvalidVerificationToken("this link is spent, expired or not one we sent")
        user.email_verified, user.verification_hash = True, None
        self.db.commit()

    @rpc
    def request_password_reset(self, email):
        """Mail a single-use reset link to the account of `email`, if there is one
        (user.password_reset_requested); the same answer (None) either way, so the
        caller learns nothing about which emails have accounts."""
        try:
            email = domain.normalize_email(email)
        except InvalidUserInput:
            return None
        user = store.user_by_email(self.db, email)
        if user is not None:
            token = domain.new_reset_token()
            user.reset_hash = domain.hash_secret(token)
            user.reset_expires_at = domain.link_expiry(
                utc_now(), int(self.config["PASSWORD_RESET_TTL_S"]))
            self.db.add(Outbox.of(events.PasswordResetRequested(
                user_id=user.id, email=user.email, reset_token=token,
                correlation_id=self.correlation_id)))
        self.db.commit()

    @rpc(expected_exceptions=(InvalidUserInput, InvalidResetToken))
    def reset_password(self, token, password):
        """Spend a reset link: the new password, every session of the account ended,
        the email verified (the link reached its mailbox): {"email"} (the gateway
        forgives that account's sign-in count). InvalidResetToken (400) if it is
        unknown, spent or expired."""
        password = domain.check_password(password)
        user = store.user_by_link(self.db, "reset", domain.hash_secret(token), utc_now()) \
            if isinstance(token, str) else None
        if user is None:
            raise InvalidResetToken("this link is spent, expired or not one we sent")
        user.password_hash = self._hash(password)
        user.reset_hash, user.email_verified = None, True
        store.revoke_sessions(self.db, user.id)
        self.db.commit()
        return {"email": user.email}

    @rpc(expected_exceptions=(InvalidCredentials, InvalidUserInput, UserNotFound))
    def change_password(self, user_id, session, current_password, new_password):
        """Replace the password when `current_password` is right (else
        InvalidCredentials, 401); every other session of the account ends (the gateways
        refuse their tokens within seconds), the caller's `session` goes on."""
        user = self._locked_user(user_id)
        new_password = domain.check_password(new_password)
        matches = isinstance(current_password, str) and tpool.execute(
            domain.password_matches, current_password, user.password_hash)
        if not matches:
            raise InvalidCredentials("the current password is wrong")
        user.password_hash = self._hash(new_password)
        store.revoke_sessions(self.db, user.id, keep=session)
        self.db.commit()

    @rpc(expected_exceptions=(InvalidUserInput, UserNotFound))
    def update_profile(self, user_id, **changes):
        """Change what a user may change of their profile (`name`; None clears it): the
        profile."""
        user = self._locked_user(user_id)
        unknown = set(changes) - {"name"}
        if unknown:
            raise InvalidUserInput(f"cannot change {', '.join(sorted(unknown))}",
                                   {"field": sorted(unknown)[0]})
        if "name" in changes:
            user.name = domain.check_name(changes["name"])
        self.db.commit()
        return user.to_dict()

    @rpc(expected_exceptions=InvalidRefreshToken)
    def refresh(self, refresh_token):
        """Spend a refresh token for a new pair; a spent one revokes its whole family."""
        if not isinstance(refresh_token, str):
            raise InvalidRefreshToken("invalid refresh token")
        now = utc_now()
        record = store.locked_refresh_token(self.db, refresh_token)
        outcome = domain.decide_refresh(store.refresh_state(record), now)
        if outcome is domain.RefreshOutcome.REUSE:
            store.revoke_family(self.db, record.family_id)
            self.db.commit()
            log.warning("refresh token reused: family %s revoked", record.family_id)
        if outcome is not domain.RefreshOutcome.ROTATE or store.family_revoked(
                self.db, record.family_id):
            raise InvalidRefreshToken("invalid refresh token")
        record.used_at = now
        pair = self._pair(self.db.get(User, record.user_id), record.family_id)
        self.db.commit()
        return pair

    @rpc
    def logout(self, refresh_token):
        """Revoke the token's family; unknown tokens are ignored (logout is idempotent)."""
        record = store.locked_refresh_token(self.db, refresh_token) \
            if isinstance(refresh_token, str) else None
        if record is not None:
            store.revoke_family(self.db, record.family_id)
        self.db.commit()

    @rpc(expected_exceptions=InvalidUserInput)
    def create_client(self, name, role="client", scopes=()):
        """Create an API client with `scopes` (common.tokens.SCOPES); its secret is
        returned this once and stored hashed."""
        name, role = domain.check_name(name), domain.check_client_role(role)
        scopes = domain.check_scopes(scopes)
        if not name:
            raise InvalidUserInput("name is required", {"field": "name"})
        client_id, secret = domain.new_client_credentials()
        self.db.add(ApiClient(client_id=client_id, name=name, role=role,
                              secret_hash=domain.hash_secret(secret), scopes=" ".join(scopes)))
        self.db.commit()
        return {"client_id": client_id, "client_secret": secret, "name": name, "role": role,
                "scopes": scopes}

    @rpc(expected_exceptions=InvalidUserInput)
    def list_users(self, q=None, limit=20, cursor=None):
        """Accounts newest first, `q` matching part of the email or name: {items: [{id,
        email, name, role, created_at}], next_cursor}."""
        query, limit = domain.check_user_query(q), domain.check_limit(limit)
        try:
            before = cursors.decode_position(cursor) if cursor else None
        except cursors.InvalidCursor as exc:
            raise InvalidUserInput(str(exc), {"field": "cursor"}) from None
        with one_statement(self.db):
            page = store.page_of_users(self.db, query, limit, before)
        last = page[limit - 1] if len(page) > limit else None
        return {"items": [user.account_dict() for user in page[:limit]],
                "next_cursor": cursors.encode_position(last.created_at, last.id)
                if last else None}

    @rpc
    def list_clients(self):
        """The API clients not revoked, oldest first: {items: [{client_id, name, role,
        created_at}]} (no secrets)."""
        with one_statement(self.db):
            return {"items": [client.to_dict() for client in store.clients(self.db)]}

    @rpc(expected_exceptions=ClientNotFound)
    def revoke_client(self, client_id):
        """Revoke an API client: no new tokens, and the gateways refuse its tokens
        within seconds (see `revocations`). Revoking it again is a no-op."""
        client = self.db.get(ApiClient, client_id) if isinstance(client_id, str) else None
        if client is None:
            raise ClientNotFound("no such API client", {"client_id": client_id})
        if client.revoked_at is None:
            client.revoked_at = func.clock_timestamp()  # the database's clock, see store
        self.db.commit()

    @rpc
    def revocations(self, since):
        """What was revoked after `since` (epoch seconds): {as_of, sessions: {session
        id: revoked at}, subjects: {client id: revoked at}}, times in epoch seconds.

        The gateways ask every few seconds (gateway/revocations.py) and refuse the access
        tokens of a revoked session (logout, refresh-token reuse) or subject (an API
        client) from then on.
        """
        as_of = utc_now()
        after = domain.from_epoch(since) if isinstance(since, int | float) else as_of
        with one_statement(self.db):
            sessions = store.sessions_revoked_since(self.db, after)
            subjects = store.clients_revoked_since(self.db, after)
        return {"as_of": as_of.timestamp(),
                "sessions": {sid: at.timestamp() for sid, at in sessions.items()},
                "subjects": {cid: at.timestamp() for cid, at in subjects.items()}}

    @rpc(expected_exceptions=InvalidClientCredentials)
    def issue_client_token(self, client_id, client_secret):
        """OAuth2 client credentials: an access token for an API client."""
        client = store.active_client(self.db, client_id) if isinstance(client_id, str) else None
        valid = isinstance(client_secret, str) and domain.secret_matches(
            client_secret, client.secret_hash if client else _NO_SECRET_HASH)
        if client is None or not valid:
            raise InvalidClientCredentials("invalid client credentials")
        settings = self._tokens()
        principal = Principal(client.client_id, client.role, "client",
                              scopes=frozenset(client.scopes.split()))
        token = issue_access_token(settings, principal, int(time.time()))
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": settings.access_ttl_s}

    @rpc(expected_exceptions=UserNotFound)
    def get_user(self, user_id):
        """A user's public profile."""
        user = self.db.get(User, user_id) if domain.looks_like_uuid(user_id) else None
        if user is None:
            raise UserNotFound("no such user")
        return user.to_dict()

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}

    @on_start
    def ensure_admin(self):
        """Create the admin from ADMIN_EMAIL/ADMIN_PASSWORD if no account has that email."""
        tpool.execute(self._dummy_hash)  # computed now, not in the first login's time
        email = domain.normalize_email(self.config["ADMIN_EMAIL"])
        if store.email_exists(self.db, email):
            return
        # Its address is the operator's own configuration: nothing to verify.
        self.db.add(User(id=new_id(), email=email, name="Administrator", role="admin",
                         email_verified=True,
                         password_hash=self._hash(str(self.config["ADMIN_PASSWORD"]))))
        try:
            self.db.commit()
            log.info("admin account %s created", email)
        except IntegrityError:  # another process of this service created it first
            self.db.rollback()
