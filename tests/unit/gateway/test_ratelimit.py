"""Rate limits through the app: per address on /auth/*, per email on registration,
per user on POST /orders, the sign-in throttle; 429 in the error format with
Retry-After."""

from __future__ import annotations

import base64
import uuid

import pytest

from common.errors import Unauthorized
from gateway import create_app
from gateway.stream import EventHub
from tests.unit.gateway.support import bearer, error_of

LOGIN = {"email": "ann@example.com", "password": "correct horse"}
PAIR = {"access_token": "at", "refresh_token": "rt", "expires_in": 900}
ORDER = {"id": "22222222-2222-4222-8222-222222222222", "user_id": "u", "status": "PENDING",
         "items": [], "total_cents": 0, "currency": "USD"}


def limited(config, rpc, **limits):
    """A test client of an app with these limit settings (others generous)."""
    settings = {"RATE_LIMIT_AUTH": "1000/minute", "RATE_LIMIT_ACCOUNT": "1000/minute",
                "RATE_LIMIT_ORDERS": "1000/minute", "SIGN_IN_FAILURES_PER_CLIENT": "1000/minute",
                "SIGN_IN_FAILURES_PER_ACCOUNT": "1000/minute", **limits}
    app = create_app({**config, **settings}, rpc=rpc, broker_check=lambda: None,
                     stream_hub=EventHub())
    return app.test_client()


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_429(response) -> int:
    assert response.status_code == 429, response.data
    error = error_of(response)
    assert error["code"] == "rate_limited"
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= 15 * 60
    assert error["details"]["retry_after_s"] == retry
    assert response.headers["X-Request-ID"]
    return retry


def test_auth_routes_share_one_bucket_per_address(config, rpc):
    rpc.answers[("user_svc", "login")] = PAIR
    rpc.answers[("user_svc", "logout")] = None
    client = limited(config, rpc, RATE_LIMIT_AUTH="3/minute")
    me = from_address("10.0.0.1")
    assert client.post("/auth/login", json=LOGIN, **me).status_code == 200
    assert client.post("/auth/logout", json={"refresh_token": "r"}, **me).status_code == 204
    assert client.post("/auth/refresh", json={}, **me).status_code == 400  # counts too
    retry = assert_429(client.post("/auth/login", json=LOGIN, **me))
    assert retry <= 60
    assert_429(client.post("/auth/logout", json={"refresh_token": "r"}, **me))
    # Another address has its own bucket; routes outside /auth/* are not limited by it.
    assert client.post("/auth/login", json=LOGIN, **from_address("10.0.0.2")).status_code == 200
    assert client.get("/health", **me).status_code == 200
    assert len(rpc.calls) == 3


def test_registrations_are_limited_per_email_and_never_count_against_signing_in(config, rpc):
    rpc.answers[("user_svc", "register")] = {"id": "u", "email": "ann@example.com",
                                             "name": None, "role": "customer"}
    rpc.answers[("user_svc", "login")] = PAIR
    client = limited(config, rpc, RATE_LIMIT_ACCOUNT="2/minute",
                     SIGN_IN_FAILURES_PER_ACCOUNT="2/minute")
    for address in ("10.0.1.1", "10.0.1.2"):
        client.post("/auth/register", json=LOGIN, **from_address(address))
    # Same email, other case and spaces, third address: still the same email.
    shouted = {**LOGIN, "email": "  ANN@example.COM "}
    assert_429(client.post("/auth/register", json=shouted, **from_address("10.0.1.3")))
    # Ten bogus sign-ups with the victim's email once locked the victim's login.
    assert client.post("/auth/login", json=LOGIN).status_code == 200
    assert client.post("/auth/register", json={**LOGIN, "email": "bob@example.com"}
                       ).status_code == 201


def test_client_credentials_are_throttled_per_client_id(config, rpc):
    rpc.answers[("user_svc", "issue_client_token")] = Unauthorized("invalid client credentials")
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_CLIENT="2/minute")
    form = {"grant_type": "client_credentials", "client_id": "c-1", "client_secret": "s"}
    for _ in range(2):
        assert client.post("/auth/token", data=form).status_code == 401
    assert_429(client.post("/auth/token", data=form))
    rpc.answers[("user_svc", "issue_client_token")] = {"access_token": "t", "expires_in": 9}
    # The client itself, from its own address, is not locked out by a guesser's.
    assert client.post("/auth/token", data=form, **from_address("10.0.2.9")).status_code == 200
    assert client.post("/auth/token", data={**form, "client_id": "c-2"}).status_code == 200


def test_a_body_without_an_account_gets_its_400_not_a_429(config, rpc):
    client = limited(config, rpc, RATE_LIMIT_ACCOUNT="1/minute",
                     SIGN_IN_FAILURES_PER_CLIENT="1/minute")
    for _ in range(3):
        assert client.post("/auth/login", json={"password": "x"}).status_code == 400
        assert client.post("/auth/login", data=b"{not json",
                           content_type="application/json").status_code == 400


def test_a_guesser_is_slowed_per_address_and_the_owner_still_gets_in(config, rpc):
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_CLIENT="3/minute;5/hour")
    guesser, owner = from_address("10.0.3.1"), from_address("10.0.3.2")
    for _ in range(3):
        assert client.post("/auth/login", json=LOGIN, **guesser).status_code == 401
    # The fourth guess is refused before the password is checked...
    calls = len(rpc.calls)
    assert_429(client.post("/auth/login", json=LOGIN, **guesser))
    assert len(rpc.calls) == calls
    # ...while the owner, elsewhere, mistypes once and then gets in: nothing is locked.
    assert client.post("/auth/login", json=LOGIN, **owner).status_code == 401
    rpc.answers[("user_svc", "login")] = PAIR
    assert client.post("/auth/login", json=LOGIN, **owner).status_code == 200
    # A success forgives that address's misses: the owner's count starts over.
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    for _ in range(3):
        assert client.post("/auth/login", json=LOGIN, **owner).status_code == 401


def test_guessing_from_many_addresses_meets_the_accounts_ceiling(config, rpc):
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_ACCOUNT="4/15 minutes")
    for n in range(4):
        assert client.post("/auth/login", json=LOGIN,
                           **from_address(f"10.0.4.{n}")).status_code == 401
    retry = assert_429(client.post("/auth/login", json=LOGIN, **from_address("10.0.4.9")))
    assert 60 < retry <= 15 * 60
    other = {**LOGIN, "email": "bob@example.com"}
    assert client.post("/auth/login", json=other).status_code == 401  # its own account


def test_guesses_sent_at_once_cannot_all_pass_the_count(config, rpc):
    # Each guess is counted before its password is checked: here every check starts the
    # next guess before it answers, as eight parallel requests would interleave.
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_CLIENT="5/minute")
    answers, sent = [], [1]

    def check(email, password):
        while sent[0] < 8:  # eight guesses in all, each sent while this one is checked
            sent[0] += 1
            answers.append(client.post("/auth/login", json=LOGIN).status_code)
        raise Unauthorized("wrong email or password")

    rpc.answers[("user_svc", "login")] = check
    answers.append(client.post("/auth/login", json=LOGIN).status_code)
    assert sorted(answers) == [401] * 5 + [429] * 3
    assert len(rpc.calls) == 5


def test_orders_are_limited_per_user(config, rpc, make_token):
    rpc.answers[("order_svc", "create_order")] = ORDER
    client = limited(config, rpc, RATE_LIMIT_ORDERS="2/minute")
    ann, bob = (bearer(make_token(subject=str(uuid.uuid4()))) for _ in range(2))
    body = {"items": [{"sku": "SKU-1", "quantity": 1}]}
    for _ in range(2):
        assert client.post("/orders", json=body, headers=ann).status_code == 201
    assert_429(client.post("/orders", json=body, headers=ann))
    assert client.post("/orders", json=body, headers=bob).status_code == 201
    # Reading is not limited by it.
    rpc.answers[("order_svc", "list_orders")] = {"items": [], "next_cursor": None}
    assert client.get("/orders", headers=ann).status_code == 200


def test_orders_without_a_valid_token_are_still_401(config, rpc):
    client = limited(config, rpc, RATE_LIMIT_ORDERS="1/minute")
    assert client.post("/orders", json={}).status_code == 401
    assert client.post("/orders", json={}, headers=bearer("x.y.z")).status_code == 429


@pytest.mark.parametrize("storage", ["memory://", "redis://127.0.0.1:6379"])
def test_storage_is_pluggable(config, rpc, storage):
    import redis

    if storage.startswith("redis"):  # Redis runs beside RabbitMQ and PostgreSQL here
        assert redis.Redis.from_url(storage, socket_timeout=1).ping(), \
            "start Redis: redis-server --daemonize yes"
    rpc.answers[("user_svc", "login")] = PAIR
    address = from_address(f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")
    first = limited(config, rpc, RATE_LIMIT_AUTH="2/minute", RATE_LIMIT_STORAGE_URI=storage)
    email = {**LOGIN, "email": f"{uuid.uuid4().hex}@example.com"}
    assert first.post("/auth/login", json=email, **address).status_code == 200
    # A second app (another gateway process) shares the counters only through Redis.
    second = limited(config, rpc, RATE_LIMIT_AUTH="2/minute", RATE_LIMIT_STORAGE_URI=storage)
    assert second.post("/auth/login", json=email, **address).status_code == 200
    third = second.post("/auth/login", json=email, **address)
    if storage.startswith("redis"):
        assert_429(third)
    else:
        assert third.status_code == 200


@pytest.mark.parametrize("setting", ["RATE_LIMIT_AUTH", "RATE_LIMIT_ACCOUNT",
                                     "RATE_LIMIT_ORDERS", "SIGN_IN_FAILURES_PER_CLIENT",
                                     "SIGN_IN_FAILURES_PER_ACCOUNT"])
def test_a_limit_that_does_not_parse_stops_the_start(config, rpc, setting):
    with pytest.raises(ValueError, match=setting):
        limited(config, rpc, **{setting: "thirty a minute"})


def test_a_basic_header_on_login_does_not_move_the_guesses_to_another_count(config, rpc):
    # Each guess once counted under the Basic header's made-up client id instead.
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_CLIENT="2/minute")
    for n in range(2):
        header = {"Authorization": "Basic " + base64.b64encode(f"cl_{n}:x".encode()).decode()}
        assert client.post("/auth/login", json=LOGIN, headers=header).status_code == 401
    assert_429(client.post("/auth/login", json=LOGIN,
                           headers={"Authorization": "Basic Y2xfOTp4"}))


def test_an_address_that_signed_in_before_is_not_held_by_the_accounts_ceiling(config, rpc):
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_ACCOUNT="3/15 minutes")
    home = from_address("10.0.5.1")
    rpc.answers[("user_svc", "login")] = PAIR
    assert client.post("/auth/login", json=LOGIN, **home).status_code == 200
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    for n in range(3):  # a botnet fills the account's ceiling
        client.post("/auth/login", json=LOGIN, **from_address(f"10.0.5.{10 + n}"))
    assert_429(client.post("/auth/login", json=LOGIN, **from_address("10.0.5.99")))
    rpc.answers[("user_svc", "login")] = PAIR
    assert client.post("/auth/login", json=LOGIN, **home).status_code == 200  # the owner


def test_an_ipv6_host_counts_as_its_64(config, rpc):
    rpc.answers[("user_svc", "login")] = Unauthorized("wrong email or password")
    client = limited(config, rpc, SIGN_IN_FAILURES_PER_CLIENT="2/minute")
    for n in (1, 2):
        assert client.post("/auth/login", json=LOGIN,
                           **from_address(f"2001:db8:1:2::{n}")).status_code == 401
    assert_429(client.post("/auth/login", json=LOGIN, **from_address("2001:db8:1:2::ffff")))
