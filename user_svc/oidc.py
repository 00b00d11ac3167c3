"""user_svc's RPC of signing in with an OpenID provider (a mixin of UserService).

    n.rpc.user_svc.oidc_sign_in(issuer="https://accounts.google.com", subject="1234",
                                email="ann@example.com", email_verified=True, name="Ann")
    -> {"code": "lc_...", "user_id": "...", "outcome": "create"}
    n.rpc.user_svc.redeem_login_code(code="lc_...") -> the token pair of /auth/login

The gateway verifies the id_token (gateway/oidc.py); the rules of who signs in as whom
are domain.decide_oidc_sign_in. The code lives here, not in a gateway's memory, so any
gateway process may redeem what another issued.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from common import events
from common.db import new_id, utc_now
from common.entrypoints import rpc
from user_svc import domain, store
from user_svc.exceptions import InvalidLoginCode, InvalidUserInput, OidcSignInRefused
from user_svc.models import OidcIdentity, Outbox, User

log = logging.getLogger(__name__)


class OidcSignInRpc:
    """Needs the service's db, config, correlation_id and _pair (service.py)."""

    @rpc(expected_exceptions=(InvalidUserInput, OidcSignInRefused))
    def oidc_sign_in(self, issuer, subject, email=None, email_verified=False, name=None):
        """Find or create the account of a verified OpenID sign-in and give it a login
        code: {code, user_id, outcome: sign_in | link | create}. OidcSignInRefused (401)
        for an unverified email, none, or an admin's; a new account is a customer whose
        email is verified, without a password, announced by `user.registered`."""
        claims = domain.check_oidc_claims(issuer, subject, email, email_verified, name)
        for attempt in (1, 2):  # a concurrent first sign-in of the same person may win
            try:
                user, outcome = self._oidc_user(claims)
                code = domain.new_login_code()
                now = utc_now()
                store.add_login_code(self.db, user.id, code, now + timedelta(
                    seconds=int(self.config.get("OIDC_LOGIN_CODE_TTL_S", 60))), now)
                self.db.commit()
            except IntegrityError:
                self.db.rollback()
                if attempt == 2:
                    raise
                continue
            log.info("OpenID sign-in (%s) of user %s by %s", outcome.value, user.id, issuer)
            return {"code": code, "user_id": user.id, "outcome": outcome.value}

    def _oidc_user(self, claims: domain.OidcClaims) -> tuple[User, domain.OidcOutcome]:
        linked = store.linked_user(self.db, claims.issuer, claims.subject)
        owner = None if linked or claims.email is None else store.user_by_email(
            self.db, claims.email)
        outcome = domain.decide_oidc_sign_in(linked is not None, claims,
                                             owner.role if owner else None)
        if outcome is domain.OidcOutcome.SIGN_IN:
            return linked, outcome
        if outcome is domain.OidcOutcome.CREATE:
            owner = User(id=new_id(), email=claims.email, name=claims.name,
                         password_hash=None, email_verified=True, role="customer")
            self.db.add(owner)
            self.db.add(Outbox.of(events.UserRegistered(
                user_id=owner.id, email=owner.email, name=owner.name,
                verification_token=None, correlation_id=self.correlation_id)))
            self.db.flush()
        else:  # LINK: the provider vouches for the address, as our link would
            owner.email_verified = True
        self.db.add(OidcIdentity(issuer=claims.issuer, subject=claims.subject,
                                 user_id=owner.id, email=claims.email))
        return owner, outcome

    @rpc(expected_exceptions=InvalidLoginCode)
    def redeem_login_code(self, code):
        """Spend a login code for a token pair (a new session), as login answers.
        InvalidLoginCode (401) when it is unknown, spent or expired."""
        user_id = store.spend_login_code(self.db, code, utc_now()) \
            if isinstance(code, str) else None
        if user_id is None:
            self.db.rollback()
            raise InvalidLoginCode("this sign-in link is spent or expired; please sign in "
                                   "again")
        pair = self._pair(self.db.get(User, user_id), family_id=new_id())
        self.db.commit()
        return pair
