"""Signing in with an OpenID provider: the linking rules (pure) and the RPCs through
worker_factory on a real PostgreSQL session."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from common.db import utc_now
from user_svc import domain, store
from user_svc.domain import OidcOutcome, check_oidc_claims, decide_oidc_sign_in
from user_svc.exceptions import (
    InvalidCredentials,
    InvalidLoginCode,
    InvalidUserInput,
    OidcSignInRefused,
)
from user_svc.models import LoginCode, OidcIdentity, Outbox, User

GOOGLE = "https://accounts.google.com"


def claims(verified=True, email="ann@example.com"):
    return check_oidc_claims(GOOGLE, "sub-1", email, verified, "Ann")


# ---- the rules -----------------------------------------------------------------------

def test_a_linked_identity_signs_in_whatever_its_email_says_now():
    assert decide_oidc_sign_in(True, claims(verified=False), None) is OidcOutcome.SIGN_IN
    assert decide_oidc_sign_in(True, claims(email=None), "admin") is OidcOutcome.SIGN_IN


def test_a_verified_email_links_a_customer_or_creates_one():
    assert decide_oidc_sign_in(False, claims(), "customer") is OidcOutcome.LINK
    assert decide_oidc_sign_in(False, claims(), None) is OidcOutcome.CREATE


@pytest.mark.parametrize("owner", ["customer", None])
def test_an_unverified_email_neither_takes_over_nor_squats(owner):
    with pytest.raises(OidcSignInRefused, match="not verified"):
        decide_oidc_sign_in(False, claims(verified=False), owner)


def test_no_email_and_an_admins_email_are_refused():
    with pytest.raises(OidcSignInRefused, match="no email"):
        decide_oidc_sign_in(False, claims(email=None), None)
    with pytest.raises(OidcSignInRefused, match="admin"):
        decide_oidc_sign_in(False, claims(), "admin")


def test_claims_are_checked_and_normalised():
    found = check_oidc_claims(GOOGLE, "s", " Ann@Example.COM", True, "x" * 300)
    assert found.email == "ann@example.com" and found.name == "x" * domain.NAME_MAX
    assert check_oidc_claims(GOOGLE, "s", "not an email", True, None).email is None
    # Only a real true is verified (not "yes", 1 or "true" sent along by a caller).
    assert check_oidc_claims(GOOGLE, "s", "a@example.com", "true", None).email_verified is False
    for issuer, subject in (("", "s"), (GOOGLE, ""), (GOOGLE, "s" * 256), (GOOGLE, 7)):
        with pytest.raises(InvalidUserInput):
            check_oidc_claims(issuer, subject, None, True, None)


def test_an_account_without_a_password_matches_none():
    assert domain.password_matches("correct horse", None) is False


# ---- the RPCs --------------------------------------------------------------------------

def test_a_first_sign_in_creates_a_verified_customer_without_a_password(users, session):
    signed = users.oidc_sign_in(issuer=GOOGLE, subject="g-1", email="Gia@Example.com",
                                email_verified=True, name="Gia")
    assert signed["outcome"] == "create" and signed["code"].startswith("lc_")
    user = session.get(User, signed["user_id"])
    assert (user.email, user.email_verified, user.password_hash, user.role) == (
        "gia@example.com", True, None, "customer")
    (event,) = session.scalars(select(Outbox)).all()
    assert event.event_type == "user.registered"
    assert event.payload["verification_token"] is None  # nothing left to verify
    with pytest.raises(InvalidCredentials):  # no password signs in to it
        users.login(email="gia@example.com", password="anything at all")
    again = users.oidc_sign_in(issuer=GOOGLE, subject="g-1", email="gia@example.com",
                               email_verified=True)
    assert (again["outcome"], again["user_id"]) == ("sign_in", signed["user_id"])


def test_a_verified_email_links_the_existing_account(users, session):
    made = users.register(email="ann@example.com", password="correct horse")
    signed = users.oidc_sign_in(issuer=GOOGLE, subject="g-2", email="ann@example.com",
                                email_verified=True)
    assert (signed["outcome"], signed["user_id"]) == ("link", made["id"])
    link = session.get(OidcIdentity, (GOOGLE, "g-2"))
    assert link.user_id == made["id"] and session.get(User, made["id"]).email_verified


def test_an_unverified_email_is_refused_and_links_nothing(users, session):
    users.register(email="ann@example.com", password="correct horse")
    with pytest.raises(OidcSignInRefused):
        users.oidc_sign_in(issuer=GOOGLE, subject="evil", email="ann@example.com",
                           email_verified=False)
    assert session.scalars(select(OidcIdentity)).all() == []
    assert session.scalars(select(LoginCode)).all() == []


def test_a_login_code_is_spent_once_for_a_token_pair(users):
    signed = users.oidc_sign_in(issuer=GOOGLE, subject="g-3", email="bo@example.com",
                                email_verified=True)
    pair = users.redeem_login_code(code=signed["code"])
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    for code in (signed["code"], "lc_unknown", None):
        with pytest.raises(InvalidLoginCode):
            users.redeem_login_code(code=code)


def test_an_expired_login_code_is_refused_and_swept(users, session):
    signed = users.oidc_sign_in(issuer=GOOGLE, subject="g-4", email="cy@example.com",
                                email_verified=True)
    row = session.scalars(select(LoginCode)).one()
    row.expires_at = utc_now() - timedelta(seconds=1)
    session.commit()
    with pytest.raises(InvalidLoginCode):
        users.redeem_login_code(code=signed["code"])
    store.add_login_code(session, signed["user_id"], "lc_next", utc_now(), utc_now())
    session.commit()
    assert [r.code_hash for r in session.scalars(select(LoginCode))] == [
        domain.hash_secret("lc_next")]
