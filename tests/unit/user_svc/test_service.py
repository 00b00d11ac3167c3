"""UserService entrypoints through worker_factory, on a real PostgreSQL session."""

import time

import pytest
from sqlalchemy import select

from common.db import utc_now
from common.tokens import TokenSettings, verify_access_token
from user_svc import domain
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
from user_svc.models import Outbox, RefreshToken, User


def test_register_stores_the_user_and_its_event_in_one_commit(users, session):
    user = users.register(email="Ann@Example.com", password="correct horse", name="Ann")

    assert user == {"id": user["id"], "email": "ann@example.com", "name": "Ann",
                    "role": "customer", "email_verified": False}
    stored = session.get(User, user["id"])
    assert stored.password_hash.startswith("sha256+$2b$04$")
    (row,) = session.scalars(select(Outbox)).all()
    assert row.event_type == "user.registered"
    assert row.correlation_id == "cid-1"
    assert row.payload["user_id"] == user["id"] and row.payload["email"] == "ann@example.com"


def test_an_email_registers_once_whatever_its_case(users):
    users.register(email="ann@example.com", password="correct horse")
    with pytest.raises(EmailTaken):
        users.register(email="ANN@example.com", password="another one")


def test_register_refuses_a_short_password(users, session):
    with pytest.raises(InvalidUserInput) as raised:
        users.register(email="ann@example.com", password="short")
    assert raised.value.details == {"field": "password"}
    assert session.scalars(select(User)).all() == []


def test_login_issues_a_verifiable_access_token(users, config):
    user = users.register(email="ann@example.com", password="correct horse")
    pair = users.login(email="ANN@example.com", password="correct horse")

    assert pair["token_type"] == "Bearer" and pair["expires_in"] == config["JWT_ACCESS_TTL_S"]
    principal = verify_access_token(TokenSettings.from_config(config), pair["access_token"])
    assert (principal.subject, principal.role, principal.kind) == (user["id"], "customer", "user")


def test_wrong_password_and_unknown_email_fail_alike(users):
    users.register(email="ann@example.com", password="correct horse")
    with pytest.raises(InvalidCredentials) as wrong:
        users.login(email="ann@example.com", password="wrong horse")
    with pytest.raises(InvalidCredentials) as unknown:
        users.login(email="nobody@example.com", password="correct horse")
    assert str(wrong.value) == str(unknown.value)


def test_refresh_rotates_and_a_reused_token_revokes_the_family(users, session):
    users.register(email="ann@example.com", password="correct horse")
    first = users.login(email="ann@example.com", password="correct horse")
    second = users.refresh(refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]

    with pytest.raises(InvalidRefreshToken):
        users.refresh(refresh_token=first["refresh_token"])  # stolen and replayed
    with pytest.raises(InvalidRefreshToken):
        users.refresh(refresh_token=second["refresh_token"])  # the family is gone
    session.expire_all()
    assert all(t.revoked_at for t in session.scalars(select(RefreshToken)))


def test_another_login_family_survives_a_revocation(users):
    users.register(email="ann@example.com", password="correct horse")
    laptop = users.login(email="ann@example.com", password="correct horse")
    phone = users.login(email="ann@example.com", password="correct horse")
    users.refresh(refresh_token=laptop["refresh_token"])
    with pytest.raises(InvalidRefreshToken):
        users.refresh(refresh_token=laptop["refresh_token"])
    assert users.refresh(refresh_token=phone["refresh_token"])["token_type"] == "Bearer"


def test_logout_revokes_and_is_idempotent(users):
    users.register(email="ann@example.com", password="correct horse")
    pair = users.login(email="ann@example.com", password="correct horse")
    users.logout(refresh_token=pair["refresh_token"])
    users.logout(refresh_token=pair["refresh_token"])
    users.logout(refresh_token="rt_never-issued")
    with pytest.raises(InvalidRefreshToken):
        users.refresh(refresh_token=pair["refresh_token"])


def test_api_clients_get_tokens_with_their_role(users, config):
    client = users.create_client(name="warehouse", role="admin")
    token = users.issue_client_token(client_id=client["client_id"],
                                     client_secret=client["client_secret"])
    principal = verify_access_token(TokenSettings.from_config(config), token["access_token"])
    assert (principal.subject, principal.role, principal.kind) == \
        (client["client_id"], "admin", "client")
    with pytest.raises(InvalidClientCredentials):
        users.issue_client_token(client_id=client["client_id"], client_secret="cs_wrong")
    with pytest.raises(InvalidClientCredentials):
        users.issue_client_token(client_id="cl_unknown", client_secret="cs_wrong")


@pytest.mark.parametrize("user_id", ["5f0c6b1e-8a51-4d2a-9a43-1c0f8f3b7d10", "not-a-uuid", 7])
def test_get_user_of_an_unknown_id_is_not_found(users, user_id):
    with pytest.raises(UserNotFound):
        users.get_user(user_id)


def test_the_admin_is_bootstrapped_once(users, session, config):
    users.ensure_admin()
    users.ensure_admin()
    (admin,) = session.scalars(select(User).where(User.role == "admin")).all()
    assert admin.email == config["ADMIN_EMAIL"]
    assert users.login(email=config["ADMIN_EMAIL"],
                       password=config["ADMIN_PASSWORD"])["token_type"] == "Bearer"


def test_an_unknown_email_costs_a_bcrypt_check_at_the_configured_cost(users, monkeypatch):
    # Timing must not tell an unknown email from a wrong password: both check one hash
    # of BCRYPT_ROUNDS (4 here) cost.
    checked = []
    real = domain.password_matches
    monkeypatch.setattr(domain, "password_matches",
                        lambda password, hashed: checked.append(hashed) or real(password, hashed))
    users.register(email="ann@example.com", password="correct horse")
    for email in ("nobody@example.com", "ann@example.com"):
        with pytest.raises(InvalidCredentials):
            users.login(email=email, password="wrong horse")
    assert [hashed[:14] for hashed in checked] == ["sha256+$2b$04$"] * 2


def test_a_taken_email_costs_the_same_bcrypt_hash_as_a_new_one(users, monkeypatch):
    hashed = []
    real = domain.hash_password
    monkeypatch.setattr(domain, "hash_password",
                        lambda password, rounds: hashed.append(rounds) or real(password, rounds))
    users.register(email="ann@example.com", password="correct horse")
    with pytest.raises(EmailTaken):
        users.register(email="ann@example.com", password="another one")
    assert hashed == [4, 4]


def test_a_login_password_longer_than_any_accepted_is_refused_not_cut(users):
    password = "p" * domain.PASSWORD_MAX
    users.register(email="long@example.com", password=password)
    assert users.login("long@example.com", password)["access_token"]
    # Logins once cut the password at 128 characters: this one matched.
    with pytest.raises(InvalidCredentials):
        users.login("long@example.com", password + "extra")


def test_a_login_replaces_a_hash_from_before_the_sha256_step(users, session):
    import bcrypt
    user = users.register(email="old@example.com", password="correct horse")
    stored = session.get(User, user["id"])
    stored.password_hash = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode()
    session.commit()
    assert users.login("old@example.com", "correct horse")["access_token"]
    session.expire_all()
    assert session.get(User, user["id"]).password_hash.startswith(domain.PREHASHED)
    assert users.login("old@example.com", "correct horse")["access_token"]



def test_a_logout_or_a_reused_refresh_token_is_a_revoked_session(users, config):
    settings = TokenSettings.from_config(config)
    users.register(email="ann@example.com", password="correct horse")
    first = users.login("ann@example.com", "correct horse")
    second = users.login("ann@example.com", "correct horse")
    sessions = [verify_access_token(settings, pair["access_token"]).session
                for pair in (first, second)]
    assert all(sessions) and sessions[0] != sessions[1]  # a session per login
    before = time.time() - 1
    assert users.revocations(before)["sessions"] == {}
    users.logout(first["refresh_token"])
    spent = users.refresh(second["refresh_token"])["refresh_token"]
    with pytest.raises(InvalidRefreshToken):
        users.refresh(second["refresh_token"])  # reuse: the family is revoked
    revoked = users.revocations(before)
    assert set(revoked["sessions"]) == set(sessions)
    assert all(before < at <= revoked["as_of"] for at in revoked["sessions"].values())
    assert users.revocations(revoked["as_of"] + 1)["sessions"] == {}
    assert spent  # the rotated pair came out before the reuse revoked it


def test_admins_list_and_revoke_api_clients(users):
    kept = users.create_client(name="warehouse")
    gone = users.create_client(name="old shop", role="admin")
    before = time.time() - 1
    users.revoke_client(gone["client_id"])
    users.revoke_client(gone["client_id"])  # again: nothing more
    listed = users.list_clients()["items"]
    assert [c["client_id"] for c in listed] == [kept["client_id"]]
    assert set(listed[0]) == {"client_id", "name", "role", "scopes", "created_at"}  # no secret
    assert set(users.revocations(before)["subjects"]) == {gone["client_id"]}
    with pytest.raises(InvalidClientCredentials):
        users.issue_client_token(gone["client_id"], gone["client_secret"])
    with pytest.raises(ClientNotFound):
        users.revoke_client("cl_ffffffffffffffff")


def test_the_welcome_mails_link_verifies_the_email_once(users, session):
    user = users.register(email="ann@example.com", password="correct horse")
    (row,) = session.scalars(select(Outbox)).all()
    token = row.payload["verification_token"]
    assert token.startswith("ev_") and session.get(User, user["id"]).verification_hash \
        == domain.hash_secret(token)  # only its hash is kept
    users.verify_email(token)
    assert users.get_user(user["id"])["email_verified"] is True
    for spent in (token, "ev_not-one-we-sent", None):
        with pytest.raises(InvalidVerificationToken):
            users.verify_email(spent)


def test_an_expired_verification_link_verifies_nothing(users, session, config):
    user = users.register(email="bob@example.com", password="correct horse")
    token = session.scalars(select(Outbox)).one().payload["verification_token"]
    stored = session.get(User, user["id"])
    stored.verification_expires_at = stored.created_at  # long gone
    session.commit()
    with pytest.raises(InvalidVerificationToken):
        users.verify_email(token)
    assert users.get_user(user["id"])["email_verified"] is False


def test_a_password_change_ends_the_other_sessions_only(users, config):
    settings = TokenSettings.from_config(config)
    user = users.register(email="ann@example.com", password="correct horse")
    here, elsewhere = (users.login("ann@example.com", "correct horse") for _ in range(2))
    session = verify_access_token(settings, here["access_token"]).session
    before = time.time() - 1
    with pytest.raises(InvalidCredentials):
        users.change_password(user["id"], session, "wrong horse", "battery staple")
    with pytest.raises(InvalidUserInput):
        users.change_password(user["id"], session, "correct horse", "short")
    users.change_password(user["id"], session, "correct horse", "battery staple")
    other = verify_access_token(settings, elsewhere["access_token"]).session
    assert set(users.revocations(before)["sessions"]) == {other}
    assert users.refresh(here["refresh_token"])["access_token"]  # this session goes on
    with pytest.raises(InvalidRefreshToken):
        users.refresh(elsewhere["refresh_token"])
    with pytest.raises(InvalidCredentials):
        users.login("ann@example.com", "correct horse")
    assert users.login("ann@example.com", "battery staple")["access_token"]


def test_a_user_changes_their_name_and_nothing_else(users):
    user = users.register(email="ann@example.com", password="correct horse", name="Ann")
    assert users.update_profile(user["id"], name="Ann B.")["name"] == "Ann B."
    assert users.update_profile(user["id"], name=None)["name"] is None
    assert users.update_profile(user["id"])["email"] == "ann@example.com"
    with pytest.raises(InvalidUserInput):
        users.update_profile(user["id"], role="admin")
    with pytest.raises(InvalidUserInput):
        users.update_profile(user["id"], name="x" * 101)
    with pytest.raises(UserNotFound):
        users.update_profile("6d1f0c4e-0000-4000-8000-00000000ffff", name="x")


def test_a_refresh_token_added_to_a_revoked_family_does_not_revive_it(users, session):
    from user_svc import store
    user = users.register(email="ann@example.com", password="correct horse")
    pair = users.login("ann@example.com", "correct horse")
    family = session.scalars(select(RefreshToken.family_id)).first()
    users.logout(pair["refresh_token"])
    # A refresh that raced the logout committed its new token after the revoke.
    late = store.add_refresh_token(session, user["id"], family, utc_now(), 3600)
    session.commit()
    with pytest.raises(InvalidRefreshToken):
        users.refresh(late)


def test_admins_find_accounts_by_part_of_an_email_or_name_page_by_page(users):
    for email, name in [("ann@example.com", "Ann Lee"), ("bob@shop.example", "Bob"),
                        ("carl_100%@example.com", None)]:
        users.register(email=email, password="correct horse", name=name)
    first = users.list_users(limit=2)
    second = users.list_users(limit=2, cursor=first["next_cursor"])
    emails = [u["email"] for u in first["items"] + second["items"]]
    assert emails == ["carl_100%@example.com", "bob@shop.example", "ann@example.com"]
    assert second["next_cursor"] is None
    assert set(first["items"][0]) == {"id", "email", "name", "role", "created_at"}
    assert [u["email"] for u in users.list_users(q="LEE")["items"]] == ["ann@example.com"]
    assert [u["email"] for u in users.list_users(q="shop")["items"]] == ["bob@shop.example"]
    # % and _ are themselves, not wildcards.
    assert [u["email"] for u in users.list_users(q="_100%")["items"]] == [
        "carl_100%@example.com"]
    assert users.list_users(q="%")["items"][0]["email"] == "carl_100%@example.com"
    assert len(users.list_users(q="%")["items"]) == 1


@pytest.mark.parametrize("query, field", [
    ({"q": "x" * 101}, "q"), ({"q": 5}, "q"), ({"limit": 0}, "limit"),
    ({"limit": "3"}, "limit"), ({"cursor": "garbage"}, "cursor")])
def test_bad_account_queries_name_the_field(users, query, field):
    with pytest.raises(InvalidUserInput) as raised:
        users.list_users(**query)
    assert raised.value.details == {"field": field}


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(users, session):
    user = users.register(email="ann@example.com", password="correct horse")
    pair = users.login("ann@example.com", "correct horse")
    before = time.time() - 1
    assert users.request_password_reset("nobody@example.com") is None  # same answer
    assert users.request_password_reset("not an email") is None
    users.request_password_reset(" ANN@example.com ")
    (row,) = session.scalars(select(Outbox).where(
        Outbox.event_type == "user.password_reset_requested")).all()
    token = row.payload["reset_token"]
    assert token.startswith("pr_") and row.payload["email"] == "ann@example.com"
    with pytest.raises(InvalidUserInput):
        users.reset_password(token, "short")
    assert users.reset_password(token, "battery staple") == {"email": "ann@example.com"}
    with pytest.raises(InvalidResetToken):
        users.reset_password(token, "another one")  # spent
    session.rollback()  # what the worker's teardown does
    assert users.revocations(before)["sessions"]  # every session ended
    with pytest.raises(InvalidRefreshToken):
        users.refresh(pair["refresh_token"])
    assert users.login("ann@example.com", "battery staple")["access_token"]
    assert users.get_user(user["id"])["email_verified"] is True  # the link reached it


def test_an_expired_reset_link_changes_nothing(users, session):
    user = users.register(email="bob@example.com", password="correct horse")
    users.request_password_reset("bob@example.com")
    token = session.scalars(select(Outbox).where(
        Outbox.event_type == "user.password_reset_requested")).one().payload["reset_token"]
    stored = session.get(User, user["id"])
    stored.reset_expires_at = stored.created_at
    session.commit()
    with pytest.raises(InvalidResetToken):
        users.reset_password(token, "battery staple")
    assert users.login("bob@example.com", "correct horse")["access_token"]


def test_a_warehouse_client_gets_its_scopes_in_its_tokens(users, config):
    created = users.create_client(name="warehouse",
                                  scopes=["inventory:write", "inventory:read"])
    assert created["scopes"] == ["inventory:read", "inventory:write"]
    token = users.issue_client_token(created["client_id"], created["client_secret"])
    principal = verify_access_token(TokenSettings.from_config(config), token["access_token"])
    assert principal.scopes == {"inventory:read", "inventory:write"}
    for bad in (["root"], "inventory:read", [5]):
        with pytest.raises(InvalidUserInput) as raised:
            users.create_client(name="x", scopes=bad)
        assert raised.value.details == {"field": "scopes"}
