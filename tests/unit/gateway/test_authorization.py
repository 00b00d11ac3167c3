"""Authorization on every route, found by walking the app's url_map (so a new route
cannot slip through): each is in the public allow-list or answers 401 without a token;
admin routes refuse customers and API clients without the admin role; routes about a
user's own things refuse API clients. The README table "Who may call what" says the same.
"""

from __future__ import annotations

import re

import pytest

from common.config import load_config
from gateway import create_app
from gateway.stream import EventHub
from tests.unit.gateway.support import StubRpc, bearer, error_of

# (method, rule) anyone may call. Adding a route here is a security decision: say why.
PUBLIC = {
    ("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json"),  # pages and the spec
    ("GET", "/health"), ("GET", "/ready"),  # probes
    ("GET", "/metrics"),  # limited to this host by address (gateway/metrics.py), not by token
    ("GET", "/products"), ("GET", "/products/<sku>"), ("GET", "/categories"),  # the catalog
    ("POST", "/auth/register"), ("POST", "/auth/login"), ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"), ("POST", "/auth/token"),  # how one gets a token
    ("POST", "/auth/verify"),  # the welcome mail's link: the token is the credential
    ("POST", "/auth/password/forgot"), ("POST", "/auth/password/reset"),  # ditto, by mail
    # signing in with an OpenID provider: the state cookie, then the one-time code
    ("GET", "/auth/oidc/providers"), ("GET", "/auth/oidc/<provider>/login"),
    ("GET", "/auth/oidc/<provider>/callback"), ("POST", "/auth/oidc/exchange"),
}
# Catalog writes are the admin's too, outside /admin.
ADMIN_ONLY_OUTSIDE_ADMIN = {("POST", "/products"), ("PATCH", "/products/<sku>"),
                            ("POST", "/products/<sku>/restock")}
# A signed-in user's own things: API clients (which are no user) get 403.
USERS_ONLY = {("GET", "/users/me"), ("PATCH", "/users/me"), ("POST", "/auth/password/change"),
              ("GET", "/orders"), ("POST", "/orders"),
              ("GET", "/orders/<order_id>"), ("GET", "/orders/<order_id>/timeline"),
              ("POST", "/orders/<order_id>/cancel"), ("GET", "/notifications"),
              ("GET", "/events/stream")}
ADMIN_READS = {("GET", "/orders"), ("GET", "/orders/<order_id>"),
               ("GET", "/orders/<order_id>/timeline"), ("POST", "/orders/<order_id>/cancel")}
NOT_ROUTES = {"static"}  # the storefront's files: no API behind them

SAMPLE_ARGS = {"sku": "SKU-1", "order_id": "22222222-2222-4222-8222-222222222222",
               "notification_id": "33333333-3333-4333-8333-333333333333",
               "service": "user_svc", "client_id": "cl_0123456789abcdef",
               "event_id": "44444444-4444-4444-8444-444444444444"}


class AnswersEverything(StubRpc):
    """Any RPC answers {}: enough for a view that got past authorization."""

    def call(self, service, method, *args, correlation_id=None, **kwargs):
        self.calls.append((service, method))
        return {}


def _app(config, rpc):
    app = create_app(config, rpc=rpc, broker_check=lambda: None, stream_hub=EventHub())
    return app


def routes(config) -> list[tuple[str, str]]:
    """Every (method, rule) the app serves, HEAD and OPTIONS aside."""
    app = _app(config, StubRpc())
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                  if rule.endpoint not in NOT_ROUTES
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def url(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: SAMPLE_ARGS[m.group(1)], rule)


def call(client, method, rule, headers=None):
    return client.open(url(rule), method=method, headers=headers or {})


def protected(config):
    return [route for route in routes(config) if route not in PUBLIC]


def admin_only(config):
    return [r for r in protected(config) if r[1].startswith("/admin/")
            or r in ADMIN_ONLY_OUTSIDE_ADMIN]


def test_every_route_is_public_or_protected(config):
    served = set(routes(config))
    assert served >= PUBLIC, f"allow-listed but not served: {sorted(PUBLIC - served)}"
    classified = PUBLIC | USERS_ONLY | set(admin_only(config))
    assert served <= classified, f"routes nobody classified: {sorted(served - classified)}"


@pytest.mark.parametrize("method, rule", [pytest.param(*r, id=" ".join(r))
                                          for r in protected(load_config())])
def test_without_a_token_it_is_401(config, rpc, method, rule):
    response = call(_app(config, rpc).test_client(), method, rule)
    assert response.status_code == 401, (method, rule, response.data)
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert rpc.calls == []


def test_admin_routes_refuse_customers_and_plain_api_clients(config, rpc, make_token):
    client = _app(config, rpc).test_client()
    for token in (make_token(role="customer"), make_token(role="client", kind="client",
                                                          subject="cl_0000000000000001")):
        for method, rule in admin_only(config):
            response = call(client, method, rule, bearer(token))
            assert response.status_code == 403, (method, rule, response.data)
            assert error_of(response)["code"] == "forbidden"
    assert rpc.calls == []


def test_admins_get_past_authorization_users_and_api_clients_alike(config, make_token):
    rpc = AnswersEverything()
    client = _app(config, rpc).test_client()
    for token in (make_token(role="admin"),
                  make_token(role="admin", kind="client", subject="cl_00000000000000ad")):
        for method, rule in admin_only(config):
            response = call(client, method, rule, bearer(token))
            assert response.status_code not in (401, 403), (method, rule, response.data)


def test_users_own_routes_refuse_api_clients(config, rpc, make_token):
    client = _app(config, rpc).test_client()
    for role in ("client", "admin"):
        token = make_token(role=role, kind="client", subject="cl_0000000000000001")
        # An admin API client reads and cancels anyone's orders, like an admin user.
        routes_of_users = USERS_ONLY - ADMIN_READS if role == "admin" else USERS_ONLY
        for method, rule in sorted(routes_of_users):
            response = call(client, method, rule, bearer(token))
            assert response.status_code == 403, (role, method, rule, response.data)
    assert rpc.calls == []
