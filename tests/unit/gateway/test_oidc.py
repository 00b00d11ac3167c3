"""OpenID sign-in's parts that need no provider: which providers are offered, the state
cookie's seal, the exchange view. The whole flow against a real provider is
tests/e2e/test_oidc.py."""

from __future__ import annotations

import pytest

from gateway import create_app
from gateway.oidc import Pending, Providers
from gateway.routes import oidc as routes

GOOGLE = {"LABEL": "Google", "ISSUER": "https://accounts.google.com/",
          "CLIENT_ID": "id", "CLIENT_SECRET": "secret"}


def test_a_provider_is_offered_only_with_an_issuer_an_id_and_a_secret():
    assert Providers.from_config({"OIDC_PROVIDERS": {"google": {**GOOGLE,
                                                                "CLIENT_SECRET": ""}}}
                                 ).providers == {}
    found = Providers.from_config({"OIDC_PROVIDERS": {"google": GOOGLE, "kc": {
        **GOOGLE, "LABEL": None, "ISSUER": "https://sso.example/realms/shop"}}}).providers
    assert found["google"].issuer == "https://accounts.google.com"  # no trailing slash
    assert found["kc"].label == "Kc"
    assert Providers.from_config({}).providers == {}


@pytest.fixture
def configured(config, rpc, broker, hub):
    return create_app({**config, "OIDC_PROVIDERS": {"google": GOOGLE}}, rpc=rpc,
                      broker_check=broker, stream_hub=hub)


def test_the_providers_are_listed_for_the_login_page(client, configured):
    assert client.get("/auth/oidc/providers").get_json() == {"items": []}
    assert configured.test_client().get("/auth/oidc/providers").get_json() == {"items": [
        {"name": "google", "label": "Google", "login_url": "/auth/oidc/google/login"}]}


def test_a_provider_not_configured_is_a_404(client):
    for path in ("/auth/oidc/google/login", "/auth/oidc/google/callback?code=a&state=b"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"


def test_the_state_cookie_is_sealed_and_expires(configured, config):
    pending = Pending.new("google")
    with configured.app_context():
        sealed = routes._seal(pending, 60)
        assert routes._unseal(sealed) == pending
        assert pending.state not in sealed and pending.verifier not in sealed
        tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
        assert routes._unseal(tampered) is None
        assert routes._unseal(routes._seal(pending, -1)) is None  # expired
        assert routes._unseal("") is None and routes._unseal("not.a.cookie") is None
    other = create_app({**config, "JWT_SECRET": "another-secret-" + "x" * 32},
                       rpc=object(), broker_check=lambda: None)
    with other.app_context():
        assert routes._unseal(sealed) is None  # another gateway's secret


def test_the_exchange_spends_the_code_at_user_svc(client, rpc):
    rpc.answers[("user_svc", "redeem_login_code")] = {
        "access_token": "at", "refresh_token": "rt", "token_type": "Bearer",
        "expires_in": 900}
    answer = client.post("/auth/oidc/exchange", json={"code": "lc_abc"})
    assert answer.status_code == 200 and answer.get_json()["refresh_token"] == "rt"
    assert rpc.last().kwargs == {"code": "lc_abc"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.post("/auth/oidc/exchange", json={"code": 7}).status_code == 400
