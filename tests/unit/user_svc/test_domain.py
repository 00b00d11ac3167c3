"""Identity rules, without fixtures."""

from datetime import UTC, datetime, timedelta

import pytest

from user_svc import domain
from user_svc.domain import RefreshOutcome, RefreshState, decide_refresh
from user_svc.exceptions import InvalidUserInput

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("raw, normal", [
    ("Ann@Example.COM", "ann@example.com"),
    ("  bob@example.org ", "bob@example.org"),
])
def test_emails_are_normalised_to_lower_case(raw, normal):
    assert domain.normalize_email(raw) == normal


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@", "@b.com", None, 42, "a" * 250 + "@b.com"])
def test_bad_emails_are_refused_naming_the_field(bad):
    with pytest.raises(InvalidUserInput) as raised:
        domain.normalize_email(bad)
    assert raised.value.details == {"field": "email"}


@pytest.mark.parametrize("bad", ["short", "", None, 12345678, "x" * 129, "has\x00nul-byte"])
def test_passwords_outside_the_policy_are_refused(bad):
    with pytest.raises(InvalidUserInput):
        domain.check_password(bad)


def test_a_password_of_eight_characters_is_accepted():
    assert domain.check_password("12345678") == "12345678"


def test_password_hashes_verify_and_differ_per_hash():
    first, second = (domain.hash_password("correct horse", 4) for _ in range(2))
    assert first != second
    assert domain.password_matches("correct horse", first)
    assert not domain.password_matches("wrong horse", first)
    assert not domain.password_matches("anything", "not-a-bcrypt-hash")


def test_long_passwords_hash_despite_bcrypts_72_byte_limit():
    password = "é" * 100  # 200 bytes
    assert domain.password_matches(password, domain.hash_password(password, 4))


@pytest.mark.parametrize("password, other", [
    ("a" * 72 + "right", "a" * 72 + "wrong"),   # bcrypt alone once accepted both
    ("é" * 36 + "tail", "é" * 36 + "other"),    # 72 bytes of multi-byte characters
])
def test_two_passwords_sharing_the_first_72_bytes_are_two_passwords(password, other):
    stored = domain.hash_password(password, 4)
    assert domain.password_matches(password, stored)
    assert not domain.password_matches(other, stored)


def test_a_hash_from_before_the_sha256_step_matches_up_to_72_bytes_and_wants_a_rehash():
    import bcrypt
    legacy = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode()
    assert domain.password_matches("correct horse", legacy)
    assert domain.needs_rehash(legacy) and not domain.needs_rehash(
        domain.hash_password("correct horse", 4))
    long_legacy = bcrypt.hashpw(("a" * 72).encode(), bcrypt.gensalt(4)).decode()
    # It knows only 72 bytes: checked as it was made, then replaced at that login.
    assert domain.password_matches("a" * 72 + "owner's tail", long_legacy)
    assert not domain.password_matches("b" * 72, long_legacy)


def test_secrets_are_compared_by_hash():
    secret_hash = domain.hash_secret("cs_abc")
    assert domain.secret_matches("cs_abc", secret_hash)
    assert not domain.secret_matches("cs_abd", secret_hash)


def state(expires_in=60, used=False, revoked=False):
    return RefreshState(expires_at=NOW + timedelta(seconds=expires_in),
                        used_at=NOW if used else None, revoked_at=NOW if revoked else None)


@pytest.mark.parametrize("token_state, outcome", [
    (state(), RefreshOutcome.ROTATE),
    (state(used=True), RefreshOutcome.REUSE),
    (state(used=True, revoked=True), RefreshOutcome.INVALID),
    (state(revoked=True), RefreshOutcome.INVALID),
    (state(expires_in=0), RefreshOutcome.INVALID),
    (None, RefreshOutcome.INVALID),
])
def test_refresh_decisions(token_state, outcome):
    assert decide_refresh(token_state, NOW) is outcome


def test_a_spent_token_is_reuse_even_after_it_expired():
    assert decide_refresh(state(expires_in=-10, used=True), NOW) is RefreshOutcome.REUSE


def test_client_roles_are_limited():
    assert domain.check_client_role("admin") == "admin"
    with pytest.raises(InvalidUserInput):
        domain.check_client_role("customer")


def test_uuid_guard():
    assert domain.looks_like_uuid("5f0c6b1e-8a51-4d2a-9a43-1c0f8f3b7d10")
    assert not domain.looks_like_uuid("nope")
    assert not domain.looks_like_uuid(None)
